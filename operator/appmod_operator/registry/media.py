"""Manifest media types and what the copy needs from a manifest: its children or its blobs.

Docker v2 schema 2 and OCI, single images and multi-platform indexes
(https://github.com/opencontainers/image-spec/blob/main/media-types.md). Schema 1 is not carried:
its signed manifests cannot be pushed to ECR with the same digest. Called by copy.py and extract.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from appmod_operator.errors import ImageNotFound, UnsupportedImage

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_LIST, OCI_INDEX)
ACCEPT = ", ".join((*IMAGES, *INDEXES))


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as the registry served it: its bytes decide its digest."""

    data: bytes
    media_type: str
    digest: str

    @property
    def parsed(self) -> dict:
        return json.loads(self.data)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEXES

    def blobs(self) -> list[dict]:
        """The config and the layers: descriptors with digest, size and mediaType."""
        parsed = self.parsed
        return [parsed["config"], *parsed.get("layers", [])]

    def layers(self) -> list[dict]:
        return list(self.parsed.get("layers", []))

    def children(self) -> list[dict]:
        return list(self.parsed.get("manifests", []))

    def child_for(self, platform: str, where: str) -> dict:
        """The index entry for `platform` ("os/arch[/variant]")."""
        os_, arch, *variant = platform.split("/")
        for child in self.children():
            p = child.get("platform", {})
            if p.get("os") == os_ and p.get("architecture") == arch and (
                    not variant or p.get("variant") == variant[0]):
                return child
        offered = sorted("/".join(filter(None, (c.get("platform", {}).get("os"), c.get("platform", {})
                         .get("architecture"), c.get("platform", {}).get("variant")))) for c in self.children())
        raise ImageNotFound(f"{where} has no {platform} image (it offers {', '.join(offered) or 'none'}); "
                            "set spec.source.platform")


def check_media_type(media_type: str, where: str) -> None:
    if media_type not in IMAGES + INDEXES:
        raise UnsupportedImage(f"{where} is a {media_type or 'manifest without a media type'}; only Docker v2 "
                               "schema 2 and OCI manifests and indexes can be copied with their digest")
