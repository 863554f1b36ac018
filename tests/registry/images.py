"""Test images built from bytes and pushed through the registry API (no Docker engine): layers as
gzipped tars (whiteouts included when asked), Docker v2 or OCI manifests, multi-platform indexes."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

from appmod_operator.registry import media
from appmod_operator.registry.client import Registry
from appmod_operator.registry.media import Manifest

LAYER_TYPES = {media.DOCKER_MANIFEST: "application/vnd.docker.image.rootfs.diff.tar.gzip",
               media.OCI_MANIFEST: "application/vnd.oci.image.layer.v1.tar+gzip"}
CONFIG_TYPES = {media.DOCKER_MANIFEST: "application/vnd.docker.container.image.v1+json",
                media.OCI_MANIFEST: "application/vnd.oci.image.config.v1+json"}
INDEX_FOR = {media.DOCKER_MANIFEST: media.DOCKER_LIST, media.OCI_MANIFEST: media.OCI_INDEX}


def layer(files: dict[str, bytes], level: int = 1) -> bytes:
    """A gzipped tar holding `files` (path -> content); a name like `dir/.wh.x` is a whiteout."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), compresslevel=level, mtime=0)


def random_layer(size: int) -> bytes:
    """A layer of `size` incompressible bytes (stored, not compressed, so the blob is about that big)."""
    return layer({"random.bin": os.urandom(size)}, level=0)


def push_blob(registry: Registry, repository: str, data: bytes) -> dict:
    digest = media.digest_of(data)
    if not registry.blob_exists(repository, digest):
        registry.upload_blob(repository, digest, len(data), [data])
    return {"digest": digest, "size": len(data)}


def push_image(registry: Registry, repository: str, tag: str | None, layers: list[bytes],
               media_type: str = media.DOCKER_MANIFEST, platform: str = "linux/amd64") -> Manifest:
    os_, arch = platform.split("/")[:2]
    # diff_ids: the digests of the uncompressed layers, which a Docker engine checks on pull.
    diff_ids = [media.digest_of(gzip.decompress(data)) for data in layers]
    config = json.dumps({"architecture": arch, "os": os_, "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "config": {"Cmd": ["/bin/app"]}}).encode()
    body = {"schemaVersion": 2, "mediaType": media_type,
            "config": {"mediaType": CONFIG_TYPES[media_type], **push_blob(registry, repository, config)},
            "layers": [{"mediaType": LAYER_TYPES[media_type], **push_blob(registry, repository, data)}
                       for data in layers]}
    manifest = _manifest(body, media_type)
    registry.put_manifest(repository, tag or manifest.digest, manifest)
    return manifest


def push_index(registry: Registry, repository: str, tag: str, images: dict[str, Manifest],
               media_type: str = media.DOCKER_MANIFEST) -> Manifest:
    """An index of `images` (platform -> manifest, each already pushed by digest)."""
    entries = []
    for platform, image in images.items():
        os_, arch = platform.split("/")[:2]
        entries.append({"mediaType": image.media_type, "digest": image.digest, "size": len(image.data),
                        "platform": {"os": os_, "architecture": arch}})
    kind = INDEX_FOR[media_type]
    index = _manifest({"schemaVersion": 2, "mediaType": kind, "manifests": entries}, kind)
    registry.put_manifest(repository, tag, index)
    return index


def _manifest(body: dict, media_type: str) -> Manifest:
    data = json.dumps(body, indent=3).encode()  # indent: bytes a re-serialisation would change
    return Manifest(data, media_type, media.digest_of(data))
