"""The Docker-engine backend of the image copy (`spec.image.via: Docker`): pull the source image for one
platform into a Docker engine, tag it for ECR, push it there, and report the digest the push produced.

It owns the translation of the engine's answers into errors.py's terms. The engine answers in two
ways: some failures come back as HTTP errors (docker-py raises APIError), others only as an `error`
event inside the pull or push stream, on which docker-py raises nothing (so a failed push looks
successful unless every event is read).

Called by reconcile/image.py when a resource asks for a Docker engine instead of the daemonless copy.
Imports neither kopf nor boto3.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import docker
import requests
from docker.utils import parse_repository_tag

from appmod_operator.errors import DockerPushFailed, ImageNotFound, RegistryAccessDenied, RegistryError

log = logging.getLogger(__name__)

# A pull's stream can stay silent for a while as the engine verifies and extracts a big layer; docker-py's
# default read timeout of 60 s would cut such a pull off halfway.
ENGINE_TIMEOUT_SECONDS = 300

# What docker-py talks to when neither the caller nor DOCKER_HOST names an engine.
DEFAULT_ENGINE = "unix:///var/run/docker.sock"

RECOMPRESSED_NOTE = (
    "pushed by a Docker engine, which recompresses the layers and pushes one platform's manifest: this digest "
    "can differ from the source's, though the image's contents are the same"
)

# The engine passes on the registry's own words. Denials come first: Docker Hub says "pull access denied
# ... repository does not exist or may require 'docker login'" (HTTP 404) for both a missing repository
# and a private one, and only credentials can tell those apart.
_DENIED = re.compile(r"unauthorized|denied|forbidden|authentication required|no basic auth credentials", re.I)
_NOT_FOUND = re.compile(r"manifest unknown|name unknown|not found|no matching manifest|does not exist", re.I)

# Spellings of an architecture that the engine treats as one (platform strings are user input).
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True)
class DockerCopy:
    """What a copy through a Docker engine produced in the target registry."""

    digest: str  # the manifest digest the engine's push reported, sha256:...
    reference: str  # registry/repository:tag that was pushed
    note: str = RECOMPRESSED_NOTE


def copy_with_docker(source: str, target_registry: str, repository: str, tag: str, *, platform: str,
                     source_auth: dict | None, target_auth: dict, docker_host: str | None) -> DockerCopy:
    """Copy `source` (an image reference) for `platform` to `target_registry/repository:tag` through the
    engine at `docker_host` (DOCKER_HOST when None). Auth dicts hold "username" and "password"."""
    where = docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE
    secrets = [auth["password"] for auth in (source_auth, target_auth) if auth and auth.get("password")]
    client = _connect(docker_host, where)
    try:
        return _EngineCopy(client, where, secrets).run(source, target_registry, repository, tag, platform,
                                                        source_auth, target_auth)
    except docker.errors.APIError as e:  # pull and push errors are translated where they happen
        message = _scrub(_explanation(e), secrets)
        raise RegistryError(f"the Docker engine at {where} refused a request: {message}") from None
    except (requests.exceptions.RequestException, docker.errors.DockerException) as e:
        raise _unreachable(where, e) from None
    finally:
        client.close()


def _connect(docker_host: str | None, where: str) -> docker.DockerClient:
    """A client for the engine; docker-py asks the engine for its API version here, so a missing engine
    shows up at once."""
    try:
        if docker_host:
            return docker.DockerClient(base_url=docker_host, timeout=ENGINE_TIMEOUT_SECONDS)
        return docker.from_env(timeout=ENGINE_TIMEOUT_SECONDS)  # DOCKER_HOST and its TLS settings
    except docker.errors.DockerException as e:
        raise _unreachable(where, e) from None


def _unreachable(where: str, error: Exception) -> RegistryError:
    return RegistryError(f"cannot reach the Docker engine at {where} (DOCKER_HOST): {error}")


class _EngineCopy:
    """One copy: the client, the engine's address for messages, and the passwords to keep out of them."""

    def __init__(self, client: docker.DockerClient, where: str, secrets: list[str]):
        self.client, self.where, self.secrets = client, where, secrets

    def run(self, source: str, target_registry: str, repository: str, tag: str, platform: str,
            source_auth: dict | None, target_auth: dict) -> DockerCopy:
        local = self.pull(source, platform, source_auth)
        self.check_platform(source, local, platform)
        target = f"{target_registry}/{repository}"
        reference = f"{target}:{tag}"
        self.client.api.tag(local, target, tag)
        try:
            digest = self.push(target, tag, reference, target_auth)
        finally:
            self.untag(reference)
        log.info("pushed %s for %s as %s@%s", source, platform, reference, digest)
        return DockerCopy(digest=digest, reference=reference)

    def pull(self, source: str, platform: str, auth: dict | None) -> str:
        """Pull source for platform; returns the name the engine now knows the image by."""
        name, ref = _split_reference(source)
        log.info("pulling %s for %s into the Docker engine at %s", source, platform, self.where)
        try:
            events = self.client.api.pull(name, tag=ref, platform=platform, auth_config=_auth_config(auth),
                                          stream=True, decode=True)
            self.raise_on_error(events, lambda message: _source_error(source, message, DockerPushFailed))
        except docker.errors.APIError as e:
            raise _source_error(source, self.scrub(_explanation(e)), RegistryError,
                                e.status_code) from None
        return f"{name}@{ref}" if ref.startswith("sha256:") else f"{name}:{ref}"

    def check_platform(self, source: str, local: str, platform: str) -> None:
        """The engine (20.10) checks the platform only when the source is a multi-platform index: a
        single-platform image of another architecture is pulled as if it matched."""
        attrs = self.client.api.inspect_image(local)
        wanted = platform.lower().split("/")
        found = [attrs.get("Os", ""), attrs.get("Architecture", ""), attrs.get("Variant") or ""]
        # Images often leave the variant out; it counts only when both sides name one.
        if any(w and f and _arch(w) != _arch(f) for w, f in zip(wanted, found, strict=False)):
            have = "/".join(part for part in found if part)
            raise ImageNotFound(f"{source} has no {platform} image (it is a single-platform {have} image)")

    def push(self, target: str, tag: str, reference: str, auth: dict) -> str:
        """Push target:tag; returns the digest from the stream's final {"aux": {"Digest": ...}} event."""
        log.info("pushing %s from the Docker engine at %s", reference, self.where)
        try:
            events = self.client.api.push(target, tag=tag, auth_config=_auth_config(auth), stream=True, decode=True)
            auxes = self.raise_on_error(events, lambda message: _target_error(reference, message))
        except docker.errors.APIError as e:
            raise _target_error(reference, self.scrub(_explanation(e))) from None
        digest = next((aux["Digest"] for aux in reversed(auxes) if aux.get("Digest")), None)
        if not digest:
            raise DockerPushFailed(f"the Docker engine's push of {reference} ended without reporting a digest")
        return digest

    def raise_on_error(self, events: Iterable[dict], error_for) -> list[dict]:
        """Read a pull or push stream to its end; raise `error_for(message)` at its first error event.
        Returns the `aux` payloads (the push's digest is one)."""
        auxes = []
        for event in events:
            if "error" in event or "errorDetail" in event:
                message = (event.get("errorDetail") or {}).get("message") or event.get("error") or "unknown error"
                raise error_for(self.scrub(message))
            if isinstance(event.get("aux"), dict):
                auxes.append(event["aux"])
        return auxes

    def untag(self, reference: str) -> None:
        """Drop the engine's local ECR name again: the engine keeps the pulled image (a cache for the next
        copy) under its source name, and a failure here does not undo a push that worked."""
        try:
            self.client.api.remove_image(reference, noprune=True)
        except docker.errors.APIError as e:
            log.warning("could not remove the local tag %s from the Docker engine: %s", reference, _explanation(e))

    def scrub(self, text: str) -> str:
        return _scrub(text, self.secrets)


def _source_error(source: str, message: str, otherwise: type[Exception], status: int | None = None) -> Exception:
    if _DENIED.search(message):
        return RegistryAccessDenied(f"access denied at the source registry for {source}: {message} "
                                    "(check spec.source.imagePullSecret)")
    if status in (400, 404) or _NOT_FOUND.search(message):
        return ImageNotFound(f"the Docker engine cannot pull {source}: {message}")
    return otherwise(f"the Docker engine could not pull {source}: {message}")


def _target_error(reference: str, message: str) -> Exception:
    if _DENIED.search(message):
        return RegistryAccessDenied(f"access denied at ECR pushing {reference}: {message}")
    return DockerPushFailed(f"the Docker engine could not push {reference}: {message}")


def _split_reference(source: str) -> tuple[str, str]:
    """(name, tag or digest) of an image reference; in name:tag@digest the digest decides, as in docker."""
    name, ref = parse_repository_tag(source)
    if ref and ref.startswith("sha256:") and ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]  # parse_repository_tag leaves the tag on the name
    return name, ref or "latest"


def _auth_config(auth: dict | None) -> dict | None:
    # Only the two fields: docker-py sends the whole dict to the engine, base64-encoded in a header.
    return {"username": auth["username"], "password": auth["password"]} if auth else None


def _explanation(error: docker.errors.APIError) -> str:
    # str(error) carries the engine's request URL; the explanation is the engine's own sentence.
    return str(error.explanation or error)


def _arch(value: str) -> str:
    return _ARCH_ALIASES.get(value.lower(), value.lower())


def _scrub(text: str, secrets: list[str]) -> str:
    """The engine and registries are not known to echo a password, but a message here ends up in status,
    events and logs, so a password is masked should one ever show up."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
