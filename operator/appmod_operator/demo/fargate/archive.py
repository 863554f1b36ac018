"""An image that only an OCI image layout holds (the demo's ECR, APPMOD_ECR_REGISTRY=oci:DIR), put into
a Docker engine as Fargate would pull it: written as a docker-archive (`docker save`'s format: the
config, the layers as they are, a manifest.json naming them) and sent to `docker load`, which every
engine accepts; an engine before 25 does not load an OCI layout itself.

The engine names a loaded image by its config's digest, which the manifest's digest fixes, so a task's
`image@sha256:<manifest>` runs exactly that image; one already loaded is not sent again. Each blob is
checked against its digest on the way (copy.verified). Called by containers.py.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from dataclasses import dataclass

import docker
import docker.errors

from appmod_operator.errors import RegistryError, UserError
from appmod_operator.registry.copy import verified
from appmod_operator.registry.extract import ChunkReader
from appmod_operator.registry.layout import open_registry

# The engine's `uname -m` as an OCI platform's architecture.
ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "s390x": "s390x", "ppc64le": "ppc64le"}


class CannotLoad(Exception):
    """The image cannot be read from the layout or the engine refused it; the message says which."""


@dataclass(frozen=True)
class Source:
    """The image `repository@digest` in the layouts at `registry` (`oci:DIR`)."""

    registry: str
    repository: str
    digest: str

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"


def load(client: docker.DockerClient, source: Source):
    """The engine's image for `source`, loaded unless the engine has it already."""
    layouts = open_registry(source.registry, side="the ECR stand-in")
    try:
        manifest = layouts.get_manifest(source.repository, source.digest)
        if manifest.is_index:
            platform = f"linux/{ARCHITECTURES.get(client.info().get('Architecture'), 'amd64')}"
            manifest = layouts.get_manifest(source.repository, manifest.child_for(platform, str(source))["digest"])
        config = manifest.parsed["config"]["digest"]
        try:
            return client.images.get(config)
        except docker.errors.ImageNotFound:
            pass
        with tempfile.TemporaryFile() as tar:
            _write_archive(tar, layouts, source.repository, manifest.blobs())
            tar.seek(0)
            client.images.load(tar)
        return client.images.get(config)
    except (RegistryError, UserError, docker.errors.APIError) as e:  # UserError: ImageNotFound, UnsupportedImage
        raise CannotLoad(f"{source}: {getattr(e, 'explanation', None) or e}") from e
    finally:
        layouts.close()


def _write_archive(out, layouts, repository: str, blobs: list[dict]) -> None:
    """`docker save`'s layout: each blob under its digest, manifest.json listing config and layers."""
    names = [f"blobs/{b['digest'].replace(':', '/')}" for b in blobs]
    with tarfile.open(fileobj=out, mode="w") as tar:
        for blob, name in zip(blobs, names, strict=True):
            member = tarfile.TarInfo(name)
            member.size, member.mode = blob["size"], 0o644
            reader = ChunkReader(verified(layouts.read_blob(repository, blob["digest"]), blob["digest"], blob["size"]))
            tar.addfile(member, reader)
            reader.drain()  # the digest check runs once the blob's chunks have all been read
        index = json.dumps([{"Config": names[0], "RepoTags": [], "Layers": names[1:]}]).encode()
        member = tarfile.TarInfo("manifest.json")
        member.size, member.mode = len(index), 0o644
        tar.addfile(member, io.BytesIO(index))
