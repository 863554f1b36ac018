"""The image step: `spec.source.image` copied into the ECR repository of `spec.image`, by digest,
reported as `status.image` (repositoryUri, sourceDigest, digest) and the ImageReplicated condition.

The repository comes from repository.py; the copy is registry/copy.py (daemonless, the default) or
registry/docker.py (`via: Docker`). Both push under `copy.target_tag` (the source tag plus the source
digest), so a rerun finds its own work, and an IMMUTABLE repository accepts a moved source tag.
A copy that is already there costs a HEAD on each side. Called by engine.py, and by sqlite.py for the
registry clients. Either side may be an OCI image-layout directory instead of a registry (`oci:` in
spec.source.image or APPMOD_ECR_REGISTRY; registry/layout.py), which only the daemonless copy handles.
"""

from __future__ import annotations

import logging

from appmod_operator import config
from appmod_operator.errors import SpecError
from appmod_operator.names import Owner
from appmod_operator.reconcile import pull_secret, repository
from appmod_operator.reconcile.outcome import Context, StepOutcome
from appmod_operator.registry import copy, docker, reference
from appmod_operator.registry.client import Registry
from appmod_operator.registry.layout import Layouts, open_registry
from appmod_operator.spec import AppSpec
from appmod_operator.status import Reason

log = logging.getLogger(__name__)


def ensure_image(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    repo = repository.ensure_repository(app, owner)
    login = repository.login(app.region)
    ref = parse_source(app)
    if app.image.via == "Docker" and (reference.is_layout(ref.registry) or reference.is_layout(login.host)):
        side = "spec.source.image" if reference.is_layout(ref.registry) else "APPMOD_ECR_REGISTRY"
        raise SpecError("spec.image.via", f"Docker cannot read or write an OCI image-layout directory ({side} is "
                        "oci:...); use via: Registry (the default)")
    source = source_registry(app, owner, ref)
    target = ecr_registry(login)
    try:
        if app.image.via == "Docker":
            source_digest, digest, note = _via_docker(app, ref, source, target, repo.name, login)
        else:
            report = copy.copy_image(source, ref, target, repo.name, app.source.platform)
            source_digest, digest, note = report.source_digest, report.digest, ""
            if report.manifests:
                log.info("%s: copied %s to %s@%s (%d blobs, %d bytes sent, %d already there)", owner.ref, ref,
                         repo.uri, digest, report.blobs_sent, report.bytes_sent, report.blobs_skipped)
    finally:
        source.close()
        target.close()
    status = {"image": {"repositoryUri": repo.uri, "sourceDigest": source_digest, "digest": digest}}
    corrections = (f"ECR repository {repo.name} was deleted outside the operator; created it again and copied "
                   f"{ref} into it",) if repo.created and context.previous.get("image") else ()
    return StepOutcome(True, Reason.REPLICATED, f"{ref} is in {repo.uri}@{digest}" + (f" ({note})" if note else ""),
                       status, corrections=corrections)


def check_image(app: AppSpec, owner: Owner, context: Context) -> StepOutcome | None:
    """The resync's cheap look at an image the last pass copied (one AWS read, the repository): the
    report when the repository is there, the source's tag still names the digest copied, and ECR still
    has it under our tag; else None (the full step runs, copying what changed)."""
    previous = context.previous.get("image") or {}
    if not previous.get("sourceDigest"):
        return None
    seen = observe_image(app, owner, context)
    return seen if seen.done and all(seen.status["image"].get(k) == v for k, v in previous.items()) else None


def observe_image(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    """Read only: replicated when ECR holds the source's current digest under our tag (a HEAD each side)."""
    found = repository.find_repository(app)
    if found is None:
        return StepOutcome(False, Reason.NOT_FOUND, f"ECR repository {app.image.repository} does not exist")
    ref, login = parse_source(app), repository.login(app.region)
    source = source_registry(app, owner, ref)
    target = ecr_registry(login)
    try:
        source_digest = resolve_digest(source, ref, app.source.platform)
        digest = target.manifest_digest(app.image.repository, copy.target_tag(ref, source_digest))
    finally:
        source.close()
        target.close()
    image = {"repositoryUri": found["repositoryUri"], "sourceDigest": source_digest}
    if digest is None:
        return StepOutcome(False, Reason.NOT_FOUND, f"{ref}@{source_digest} is not in {found['repositoryUri']} yet",
                           {"image": image})
    return StepOutcome(True, Reason.REPLICATED, f"{ref} is in {found['repositoryUri']}@{digest}",
                       {"image": {**image, "digest": digest}})


def resolve_digest(source: Registry, ref: reference.Reference, platform: str) -> str:
    """The digest of the image `ref` names now: its platform's child when it names an index."""
    top = source.get_manifest(ref.repository, ref.reference)
    return top.child_for(platform, str(ref))["digest"] if top.is_index else top.digest


def parse_source(app: AppSpec) -> reference.Reference:
    try:
        return reference.parse(app.source.image)
    except ValueError as e:
        raise SpecError("spec.source.image", str(e)) from None


def ecr_registry(login: repository.RegistryLogin) -> Registry | Layouts:
    """A client of ECR's registry (or APPMOD_ECR_REGISTRY's stand-in: a registry, or layout directories
    for `oci:DIR`) with the login's credentials."""
    return open_registry(login.host, side="ECR", credentials=(login.username, login.password),
                         insecure=login.url.startswith("http://"))


def source_registry(app: AppSpec, owner: Owner, ref: reference.Reference) -> Registry | Layouts:
    """A client of the source image's registry, with `spec.source.imagePullSecret`'s credentials if any
    (a layout directory has no use for them)."""
    credentials = (pull_secret.credentials(owner.namespace, app.source.image_pull_secret, ref.registry)
                   if app.source.image_pull_secret and not reference.is_layout(ref.registry) else None)
    return open_registry(ref.registry, side="the source registry", credentials=credentials,
                         insecure=ref.registry in config.current().insecure_registries)


def _via_docker(app: AppSpec, ref: reference.Reference, source: Registry, target: Registry, repository_name: str,
                login: repository.RegistryLogin) -> tuple[str, str, str]:
    """The engine recompresses layers, so its digest is not the source's: the source digest (asked of the
    source registry) names the tag, and a tag already pushed is not pushed again."""
    source_digest = resolve_digest(source, ref, app.source.platform)
    tag = copy.target_tag(ref, source_digest)
    pushed = target.manifest_digest(repository_name, tag)
    if pushed:
        return source_digest, pushed, docker.RECOMPRESSED_NOTE
    made = docker.copy_with_docker(
        f"{ref.registry}/{ref.repository}@{source_digest}", login.host, repository_name, tag,
        platform=app.source.platform, docker_host=config.current().docker_host,
        source_auth=source.credentials_dict(), target_auth={"username": login.username, "password": login.password})
    return source_digest, made.digest, made.note
