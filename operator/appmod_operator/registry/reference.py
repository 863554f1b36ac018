"""Image references (`registry/repository:tag@digest`), read the way Docker reads them.

Docker's rules (https://github.com/distribution/reference): the first path component is a registry
host when it holds a '.' or a ':' or is `localhost`; otherwise the image is on Docker Hub, whose API
host is registry-1.docker.io and whose one-word repositories live under `library/`.
Called by copy.py, extract.py, docker.py and reconcile/image.py.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DEFAULT_TAG = "latest"
LAYOUT = "oci:"  # the transport prefix of an image-layout directory
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Reference:
    registry: str  # the host[:port] to talk to, or `oci:/dir` holding the layout directory `repository`
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        where = self.registry.rstrip("/") if is_layout(self.registry) else self.registry
        return f"{where}/{self.repository}" + (f":{self.tag}" if self.tag else "") + (
            f"@{self.digest}" if self.digest else "")


def is_layout(registry: str) -> bool:
    """Whether `registry` (a Reference's, or APPMOD_ECR_REGISTRY's) names image-layout directories."""
    return registry.startswith(LAYOUT)


def parse(text: str) -> Reference:
    """Raises ValueError saying what is wrong with `text`."""
    if is_layout(text):
        return _parse_layout(text)
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise ValueError(f"{text!r}: the digest must be sha256: and 64 hex digits")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    name, tag = path, None
    if ":" in path.rsplit("/", 1)[-1]:
        name, tag = path.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ValueError(f"{text!r}: {tag!r} is not a valid tag")
    if registry == DOCKER_HUB:
        registry = DOCKER_HUB_API
        name = name if "/" in name else f"library/{name}"
    if not _REPOSITORY.match(name):
        raise ValueError(f"{text!r}: {name!r} is not a valid repository name (lowercase letters, digits, "
                         "separators . _ - and /)")
    return Reference(registry, name, tag if tag or digest else DEFAULT_TAG, digest or None)


def _parse_layout(text: str) -> Reference:
    """`oci:PATH[:TAG][@DIGEST]`, PATH up to the first ':' as skopeo reads it, made absolute."""
    rest, at, digest = text.removeprefix(LAYOUT).partition("@")
    if at and not _DIGEST.match(digest):
        raise ValueError(f"{text!r}: the digest must be sha256: and 64 hex digits")
    path, colon, tag = rest.partition(":")
    if not path:
        raise ValueError(f"{text!r}: no layout directory after {LAYOUT} (expected oci:PATH[:TAG][@DIGEST])")
    if colon and not _TAG.match(tag):
        raise ValueError(f"{text!r}: {tag!r} is not a valid tag")
    parent, name = os.path.split(os.path.abspath(path))
    if not name:
        raise ValueError(f"{text!r}: {path!r} is the root directory, not a layout directory")
    return Reference(LAYOUT + parent, name, tag or (None if digest else DEFAULT_TAG), digest or None)
