"""One file out of an image's layers, without a Docker engine: the SQLite database named by
`spec.source.database.sqlite.pathInImage`.

Layers are read from the top down, the way an overlay filesystem resolves a path: the first layer
that holds the file wins, unless a layer above it deleted it with a whiteout (`.wh.<name>` for the
file or a parent directory) or hid its directory with an opaque whiteout (`.wh..wh..opq`)
(https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts). Each layer is streamed
through its digest check into a temporary file next to the destination, which is renamed into place
only after the whole layer verified. Called by reconcile/ (the migration step).
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from appmod_operator.errors import FileNotInImage
from appmod_operator.registry.client import Registry
from appmod_operator.registry.copy import verified
from appmod_operator.registry.media import Manifest
from appmod_operator.registry.reference import Reference

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def extract_file(source: Registry, ref: Reference, platform: str, path: str, destination: Path) -> Manifest:
    """Writes the file at `path` in the image to `destination`; returns the image's manifest (its digest
    says which image the file came from)."""
    image = source.get_manifest(ref.repository, ref.reference)
    if image.is_index:
        image = source.get_manifest(ref.repository, image.child_for(platform, str(ref))["digest"])
    wanted, state = PurePosixPath(path.lstrip("/")), "absent"
    for blob in reversed(image.layers()):
        state = _search_layer(source, ref.repository, blob, wanted, destination)
        if state == "found":
            return image
        if state == "deleted":
            break
    raise FileNotInImage(f"{path} is not in image {ref} ({image.digest})"
                         + (", deleted by a whiteout in a later layer" if state == "deleted" else ""))


def _search_layer(source: Registry, repository: str, blob: dict, wanted: PurePosixPath, destination: Path) -> str:
    """"found" (written to destination), "deleted" (a whiteout hides it from lower layers) or "absent"."""
    stream = ChunkReader(verified(source.read_blob(repository, blob["digest"]), blob["digest"], blob["size"]))
    found, deleted = None, False
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=destination.parent, prefix=f".{destination.name}.", delete=False) as out:
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as tar:
                for member in tar:
                    name = PurePosixPath(os.path.normpath(member.name.lstrip("/")))
                    if name == wanted and member.isfile():
                        shutil.copyfileobj(tar.extractfile(member), out, 1 << 20)
                        found = member
                    elif _hides(name, wanted):
                        deleted = True
            stream.drain()  # the digest is checked at the end of the blob, before anything is kept
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    if found is None:
        Path(out.name).unlink()
        return "deleted" if deleted else "absent"
    os.replace(out.name, destination)
    return "found"


def _hides(name: PurePosixPath, wanted: PurePosixPath) -> bool:
    """Whether entry `name` is a whiteout of `wanted` or of one of its directories, or makes one of
    those directories opaque."""
    if name.name == OPAQUE:
        return name.parent in wanted.parents
    if name.name.startswith(WHITEOUT):
        removed = name.parent / name.name[len(WHITEOUT):]
        return removed == wanted or removed in wanted.parents
    return False


class ChunkReader:
    """A file-like view of a chunk iterator, for tarfile's streaming mode (which reads a few KiB at a
    time: each read copies only what it returns)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks, self._chunk, self._at = chunks, b"", 0

    def read(self, size: int = -1) -> bytes:
        parts = []
        while size != 0:
            if self._at == len(self._chunk):
                self._chunk, self._at = next(self._chunks, b""), 0
                if not self._chunk:
                    break
            end = len(self._chunk) if size < 0 else min(len(self._chunk), self._at + size)
            parts.append(self._chunk[self._at:end])
            size -= (end - self._at) if size > 0 else 0
            self._at = end
        return b"".join(parts)

    def drain(self) -> None:
        for _ in self._chunks:
            pass
