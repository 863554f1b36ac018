"""The daemonless image copy: from a source registry into an ECR repository, by digest.

Order makes a rerun safe: blobs first (each verified against its digest while it streams; one that the
target already has is skipped, or mounted when both sides are the same registry), child manifests by
digest, and the tagged manifest last, so the tag appears only once everything it points at is there.
A crash at any moment leaves at most an unfinished upload session, which the registry expires.
Called by reconcile/image.py and benchmarks/image_copy.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Event, Lock

from appmod_operator.errors import CopyStopped, DigestMismatch
from appmod_operator.registry.client import Registry
from appmod_operator.registry.media import Manifest
from appmod_operator.registry.reference import Reference

PARALLEL_BLOBS = 4
Progress = Callable[[str, int, int], None]  # (blob digest, bytes sent, its size)


@dataclass
class CopyReport:
    """What a copy did. `digest` is the pushed manifest's digest, equal to the source's."""

    digest: str = ""
    source_digest: str = ""
    tag: str = ""
    bytes_sent: int = 0
    blobs_sent: int = 0
    blobs_skipped: int = 0
    blobs_mounted: int = 0
    manifests: list[str] = field(default_factory=list)
    progress: Progress = field(default=lambda *_: None, repr=False, compare=False)
    stop: Event = field(default_factory=Event, repr=False, compare=False)
    _lock: Lock = field(default_factory=Lock, repr=False, compare=False)

    def count(self, sent: int = 0, skipped: int = 0, mounted: int = 0, size: int = 0) -> None:
        with self._lock:
            self.blobs_sent, self.blobs_skipped, self.blobs_mounted = (
                self.blobs_sent + sent, self.blobs_skipped + skipped, self.blobs_mounted + mounted)
            self.bytes_sent += size


def target_tag(source: Reference, digest: str) -> str:
    """`<source tag>-<12 hex of the digest>`: one tag per digest, so an IMMUTABLE repository accepts a new
    image when the source's tag moves, and a rerun pushes the same tag again."""
    return f"{source.tag or 'image'}-{digest.removeprefix('sha256:')[:12]}"


def copy_image(source: Registry, ref: Reference, target: Registry, repository: str, platform: str | None,
               progress: Progress | None = None, stop: Event | None = None) -> CopyReport:
    """Copies `ref` into `repository` on `target`: the image for `platform` from an index, or the
    whole index when `platform` is None. `progress(blob, bytes sent, size)` is told as bytes go out; once
    `stop` is set, a blob being sent fails before its upload commits (CopyStopped) and the tag is not pushed."""
    report = CopyReport(progress=progress or (lambda *_: None), stop=stop or Event())
    top = source.get_manifest(ref.repository, ref.reference)
    if top.is_index and platform:
        child = top.child_for(platform, str(ref))
        top = source.get_manifest(ref.repository, child["digest"])
    report.digest = report.source_digest = top.digest
    report.tag = target_tag(ref, top.digest)
    if target.manifest_digest(repository, report.tag) == top.digest:
        return report  # copied before: every blob and child is there, since the tag is pushed last
    children = [source.get_manifest(ref.repository, c["digest"]) for c in top.children()] if top.is_index else []
    blobs = {b["digest"]: b for m in (children or [top]) for b in m.blobs()}
    with ThreadPoolExecutor(PARALLEL_BLOBS, thread_name_prefix="blob") as pool:
        list(pool.map(lambda b: _copy_blob(source, ref.repository, target, repository, b, report), blobs.values()))
    for child in children:
        target.put_manifest(repository, child.digest, child)
        report.manifests.append(child.digest)
    target.put_manifest(repository, report.tag, top)
    report.manifests.append(top.digest)
    return report


def _copy_blob(source: Registry, from_repository: str, target: Registry, repository: str, blob: dict,
               report: CopyReport) -> None:
    digest, size = blob["digest"], blob["size"]
    if target.blob_exists(repository, digest):
        report.count(skipped=1)
    elif source is target and target.mount_blob(repository, digest, from_repository):
        report.count(mounted=1)
    else:
        chunks = verified(source.read_blob(from_repository, digest), digest, size)
        target.upload_blob(repository, digest, size, _watched(chunks, digest, size, report))
        report.count(sent=1, size=size)


def _watched(chunks: Iterable[bytes], digest: str, size: int, report: CopyReport) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        if report.stop.is_set():
            raise CopyStopped(f"the copy was stopped while sending blob {digest}")
        sent += len(chunk)
        report.progress(digest, sent, size)
        yield chunk


def verified(chunks: Iterable[bytes], digest: str, size: int) -> Iterator[bytes]:
    """Passes the chunks through, and raises DigestMismatch at the end (before the caller can commit
    anything) when they do not add up to `size` bytes hashing to `digest`."""
    algorithm, _, expected = digest.partition(":")
    hasher, seen = hashlib.new(algorithm), 0
    for chunk in chunks:
        hasher.update(chunk)
        seen += len(chunk)
        yield chunk
    if seen != size or hasher.hexdigest() != expected:
        raise DigestMismatch(f"blob {digest}: received {seen} bytes hashing to {algorithm}:{hasher.hexdigest()}, "
                             f"expected {size} bytes")


__all__ = ["CopyReport", "Manifest", "copy_image", "target_tag", "verified"]
