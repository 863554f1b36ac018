"""OCI image-layout directories (https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
as a registry: `Layouts(root)` holds one layout per repository, `root/<repository>/` with its
`oci-layout`, its `index.json` (whose descriptors carry the tag as `org.opencontainers.image.ref.name`)
and its `blobs/<algorithm>/<hex>`. It has the methods of client.Registry that copy.py and extract.py
call, so an image is copied from or into a layout, or a file read out of one, by the same code.

Writes are atomic: a blob or index.json is written to a temporary file in the layout and renamed into
place; a blob only once its bytes hashed to its digest and added up to its size (copy.verified).
Updates of index.json (read, change, replace) hold an exclusive flock on `index.json.lock`, so writers
on one machine do not lose each other's tags. Errors: ImageNotFound (no such layout, tag or blob),
DigestMismatch, RegistryError (a layout that cannot be read or is corrupt), each naming the path.

`open_registry` is the one place that chooses between a layout and a Registry. Called by
reconcile/image.py and reconcile/sqlite.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from appmod_operator import config
from appmod_operator.errors import DigestMismatch, ImageNotFound, RegistryError
from appmod_operator.registry import media
from appmod_operator.registry.client import CHUNK, Registry
from appmod_operator.registry.copy import verified
from appmod_operator.registry.media import Manifest
from appmod_operator.registry.reference import LAYOUT, is_layout

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
REF_NAME = "org.opencontainers.image.ref.name"
_DIGEST = re.compile(r"^(?:(sha256):([0-9a-f]{64})|(sha512):([0-9a-f]{128}))$")


def open_registry(host: str, *, side: str, credentials: tuple[str, str] | None = None,
                  insecure: bool = False) -> Registry | Layouts:
    """The client of `host`: Layouts for `oci:DIR` (credentials and insecure mean nothing there), else
    a Registry, which sends credentials only to token services of its own or APPMOD_TOKEN_REALMS."""
    if is_layout(host):
        return Layouts(Path(host.removeprefix(LAYOUT)), side)
    return Registry(host, side=side, credentials=credentials, insecure=insecure,
                    trusted_realms=config.current().token_realms)


class Layouts:
    """The layout directories under `root`, one per repository. `side` names them in errors."""

    def __init__(self, root: Path, side: str):
        self.root, self.side = Path(os.path.abspath(root)), side
        self.host = f"{LAYOUT}{self.root}"

    def __repr__(self) -> str:
        return f"Layouts({str(self.root)!r}, side={self.side!r})"

    def credentials_dict(self) -> dict | None:
        return None

    def close(self) -> None:
        pass

    # Manifests

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        layout = self._layout(repository)
        if reference.startswith("sha256:"):
            data = self._read_small(layout, reference)
            entry = next((d for d in self._index(layout)["manifests"] if d.get("digest") == reference), {})
            media_type = entry.get("mediaType") or _media_type_of(data)
        else:
            entry = self._tagged(layout, reference)
            if entry is None:
                raise ImageNotFound(f"{self._name(layout, reference)} was not found at {self.side} {layout}: "
                                    f"its {INDEX_FILE} tags no manifest {reference!r}")
            data = self._read_small(layout, entry["digest"])
            media_type = entry.get("mediaType") or _media_type_of(data)
            if len(data) != entry.get("size", len(data)):
                raise DigestMismatch(f"{layout}: the manifest tagged {reference!r} is {len(data)} bytes, "
                                     f"its descriptor says {entry['size']}")
        media.check_media_type(media_type, self._name(layout, reference))
        return Manifest(data, media_type, media.digest_of(data))

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest under `reference`, or None when the layout (or the tag, or the manifest) is absent."""
        layout = self._layout(repository)
        if not layout.exists():
            return None
        if reference.startswith("sha256:"):
            return reference if self._blob(layout, reference).is_file() else None
        entry = self._tagged(layout, reference)
        return entry["digest"] if entry else None

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> None:
        """Stores the exact bytes as a blob; a tag also gets its descriptor in index.json, replacing the
        one the tag had. A manifest put by digest only (an index's child) is reached through its index."""
        if reference.startswith("sha256:") and reference != manifest.digest:
            raise DigestMismatch(f"{self.host}/{repository}@{reference}: the manifest hashes to {manifest.digest}")
        if not self.blob_exists(repository, manifest.digest):
            self.upload_blob(repository, manifest.digest, len(manifest.data), [manifest.data])
        if reference.startswith("sha256:"):
            return
        layout = self._create(repository)
        descriptor = {"mediaType": manifest.media_type, "digest": manifest.digest, "size": len(manifest.data),
                      "annotations": {REF_NAME: reference}}
        with self._index_lock(layout):
            index = self._index(layout)
            index["manifests"] = [d for d in index["manifests"]
                                  if (d.get("annotations") or {}).get(REF_NAME) != reference] + [descriptor]
            _write(layout, layout / INDEX_FILE, [json.dumps(index, indent=2).encode()])

    # Blobs

    def blob_exists(self, repository: str, digest: str) -> bool:
        return self._blob(self._layout(repository), digest).is_file()

    def read_blob(self, repository: str, digest: str) -> Iterator[bytes]:
        """The blob's bytes, streamed; the caller verifies the digest (copy.verified)."""
        path = self._blob(self._layout(repository), digest)
        try:
            f = path.open("rb")
        except FileNotFoundError:
            raise ImageNotFound(f"blob {digest} was not found at {self.side}: no file {path}") from None
        except OSError as e:
            raise RegistryError(f"{self.side}: cannot read {path}: {e.strerror}") from None
        with f:
            while chunk := f.read(CHUNK):
                yield chunk

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Always False: a blob from another layout is copied through its digest check like any other."""
        return False

    def upload_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        """Writes the blob from `chunks`; it appears under its digest only if the bytes verified."""
        layout = self._create(repository)
        path = self._blob(layout, digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(layout, path, verified(chunks, digest, size))

    # The directories

    def _layout(self, repository: str) -> Path:
        parts = repository.split("/")
        if not repository or any(p in ("", ".", "..") for p in parts):
            raise ImageNotFound(f"{repository!r} cannot name a layout directory under {self.side} {self.root}")
        return self.root.joinpath(*parts)

    def _create(self, repository: str) -> Path:
        """The layout directory, made with its oci-layout, index.json and blobs/ on first write."""
        layout = self._layout(repository)
        if (layout / LAYOUT_FILE).is_file():
            return layout
        (layout / "blobs").mkdir(parents=True, exist_ok=True)
        with self._index_lock(layout):
            if not (layout / INDEX_FILE).exists():
                index = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": []}
                _write(layout, layout / INDEX_FILE, [json.dumps(index, indent=2).encode()])
            if not (layout / LAYOUT_FILE).exists():  # last: its presence says the layout is complete
                _write(layout, layout / LAYOUT_FILE, [json.dumps(LAYOUT_VERSION).encode()])
        return layout

    def _blob(self, layout: Path, digest: str) -> Path:
        match = _DIGEST.match(digest)
        if not match:
            raise RegistryError(f"{self.side} {layout}: {digest!r} is not a digest this layout can hold")
        algorithm, hex_digits = (g for g in match.groups() if g)
        return layout / "blobs" / algorithm / hex_digits

    def _index(self, layout: Path) -> dict:
        """index.json, checked to be a layout's index; ImageNotFound when there is no layout at all."""
        if not layout.is_dir():
            raise ImageNotFound(f"{self.side} {self.root} has no OCI image layout {layout}")
        try:
            version, index = (json.loads((layout / name).read_bytes()) for name in (LAYOUT_FILE, INDEX_FILE))
        except FileNotFoundError as e:
            raise RegistryError(f"{layout} is not an OCI image layout: it has no {Path(e.filename).name}") from None
        except OSError as e:
            raise RegistryError(f"{self.side}: cannot read {e.filename}: {e.strerror}") from None
        except ValueError as e:
            raise RegistryError(f"{layout} is a corrupt OCI image layout: {e}") from None
        if not isinstance(version, dict) or "imageLayoutVersion" not in version:
            raise RegistryError(f"{layout / LAYOUT_FILE} has no imageLayoutVersion")
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise RegistryError(f"{layout / INDEX_FILE} is not an image index (no manifests list)")
        return index

    def _tagged(self, layout: Path, tag: str) -> dict | None:
        return next((d for d in self._index(layout)["manifests"]
                     if (d.get("annotations") or {}).get(REF_NAME) == tag), None)

    def _read_small(self, layout: Path, digest: str) -> bytes:
        """A manifest's bytes, checked against their digest."""
        path = self._blob(layout, digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self._index(layout)  # no layout at all says so first
            raise ImageNotFound(f"manifest {digest} was not found at {self.side}: no file {path}") from None
        except OSError as e:
            raise RegistryError(f"{self.side}: cannot read {path}: {e.strerror}") from None
        if media.digest_of(data) != digest:
            raise DigestMismatch(f"{path}: the manifest hashes to {media.digest_of(data)}")
        return data

    def _name(self, layout: Path, reference: str) -> str:
        return f"{LAYOUT}{layout}" + (f"@{reference}" if reference.startswith("sha256:") else f":{reference}")

    @contextmanager
    def _index_lock(self, layout: Path) -> Iterator[None]:
        layout.mkdir(parents=True, exist_ok=True)
        with (layout / f"{INDEX_FILE}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield  # closing the file releases the lock


def _media_type_of(data: bytes) -> str:
    """A manifest's own mediaType field, else what its shape says (OCI allows leaving the field out)."""
    try:
        parsed = json.loads(data)
    except ValueError:
        return ""
    if not isinstance(parsed, dict):
        return ""
    return parsed.get("mediaType") or (media.OCI_INDEX if "manifests" in parsed else
                                       media.OCI_MANIFEST if "config" in parsed else "")


def _write(layout: Path, path: Path, chunks: Iterable[bytes]) -> None:
    """Writes `chunks` to a temporary file at the layout's top, then renames it to `path`; an error
    from `chunks` (a digest mismatch) leaves nothing behind."""
    with tempfile.NamedTemporaryFile(dir=layout, prefix=".tmp-", delete=False) as out:
        try:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
            os.chmod(out.name, 0o644)  # a temporary file is 0600; other tools and users read a layout too
        except BaseException:
            out.close()
            Path(out.name).unlink(missing_ok=True)
            raise
    os.replace(out.name, path)

