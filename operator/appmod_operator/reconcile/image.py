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
from dataclasses import replace

from appmod_operator import config, metrics
from appmod_operator.errors import SpecError
from appmod_operator.names import Owner
from appmod_operator.reconcile import jobs, pull_secret, repository
from appmod_operator.reconcile.outcome import Context, StepOutcome
from appmod_operator.registry import copy, docker, reference
from appmod_operator.registry.client import Registry
from appmod_operator.registry.layout import Layouts, open_registry
from appmod_operator.spec import AppSpec
from appmod_operator.status import Reason

log = logging.getLogger(__name__)


def ensure_image(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    """Replicated when ECR has the source's current digest under our tag (a HEAD on each side); else the
    copy runs as a job beside the reconcile (jobs.py), and the condition says how far it got."""
    repo = repository.ensure_repository(app, owner)
    login = repository.login(app.region)
    ref = parse_source(app)
    if app.image.via == "Docker" and (reference.is_layout(ref.registry) or reference.is_layout(login.host)):
        side = "spec.source.image" if reference.is_layout(ref.registry) else "APPMOD_ECR_REGISTRY"
        raise SpecError("spec.image.via", f"Docker cannot read or write an OCI image-layout directory ({side} is "
                        "oci:...); use via: Registry (the default)")
    source, target = source_registry(app, owner, ref), ecr_registry(login)
    try:
        source_digest = resolve_digest(source, ref, app.source.platform)
        digest = target.manifest_digest(repo.name, copy.target_tag(ref, source_digest))
    finally:
        source.close()
        target.close()
    corrections = (f"ECR repository {repo.name} was deleted outside the operator; created it again and copied "
                   f"{ref} into it",) if repo.created and context.previous.get("image") else ()
    if digest is not None:
        jobs.drop(owner.key, jobs.IMAGE)
        return _replicated(app, ref, repo, (source_digest, digest, ""), corrections)
    return replace(_copying(app, owner, ref, repo, login, source_digest), corrections=corrections)


def _copying(app: AppSpec, owner: Owner, ref: reference.Reference, repo: repository.Repository,
             login: repository.RegistryLogin, source_digest: str) -> StepOutcome:
    """The copy of `source_digest`: started, reported on while it runs, its outcome once it ended. A failure
    the user must fix is raised (Stalled) and forgotten, so the next pass tries again; others back off."""
    key, job = f"{source_digest} {repo.name} {app.image.via}", jobs.find_job(owner.key, jobs.IMAGE)
    status = {"image": {"repositoryUri": repo.uri, "sourceDigest": source_digest}}
    if job is not None and job.key != key and job.running:
        job.stop.set()  # a newer image: the copy of the older one stops
        return StepOutcome(False, Reason.COPYING, f"stopping the copy of an earlier image before copying {ref}",
                           status, waiting=True)
    attempt = 1
    if job is not None and job.key == key and job.error is not None:
        if job.retryable and job.backing_off():
            return StepOutcome(False, getattr(job.error, "reason", Reason.INTERNAL_ERROR),
                               f"copying {ref} failed: {job.error}; attempt {job.attempt}, retrying in "
                               f"{job.retry_in():.0f}s", status, waiting=True)
        jobs.drop(owner.key, jobs.IMAGE)
        if not job.retryable:
            raise job.error
        attempt, job = job.attempt + 1, None
    if job is None or job.key != key:
        log.info("%s: copying %s@%s to %s", owner.ref, ref, source_digest, repo.uri)
        job = jobs.start_job(owner.key, key, owner.ref, lambda progress, stop: _copy(
            app, owner, ref, repo.name, login, progress, stop), kind=jobs.IMAGE, attempt=attempt)
    if job.running:
        pinned = str(ref) if ref.digest else f"{ref}@{source_digest}"
        return StepOutcome(False, Reason.COPYING, f"copying {pinned} to {repo.uri}: {job.describe_progress('bytes')}",
                           status, waiting=True)
    return _replicated(app, ref, repo, job.report)


def _replicated(app: AppSpec, ref: reference.Reference, repo: repository.Repository, copied: tuple[str, str, str],
                corrections: tuple[str, ...] = ()) -> StepOutcome:
    """Done: `copied` is (source digest, digest in ECR, a note on how it got there)."""
    source_digest, digest, note = copied
    status = {"image": {"repositoryUri": repo.uri, "sourceDigest": source_digest, "digest": digest}}
    if app.image.via == "Docker" and not note:
        note = docker.RECOMPRESSED_NOTE
    return StepOutcome(True, Reason.REPLICATED, f"{ref} is in {repo.uri}@{digest}" + (f" ({note})" if note else ""),
                       status, corrections=corrections)


def _copy(app: AppSpec, owner: Owner, ref: reference.Reference, repository_name: str,
          login: repository.RegistryLogin, progress, stop) -> tuple[str, str, str]:
    """The job's work: (source digest, digest in ECR, note), with registry clients of its own."""
    source, target = source_registry(app, owner, ref), ecr_registry(login)
    try:
        if app.image.via == "Docker":
            return _via_docker(app, ref, source, target, repository_name, login)
        report = copy.copy_image(source, ref, target, repository_name, app.source.platform, progress, stop)
    finally:
        source.close()
        target.close()
    metrics.IMAGE_BYTES.inc(report.bytes_sent)
    log.info("%s: copied %s to %s@%s (%d blobs, %d bytes sent, %d already there)", owner.ref, ref,
             repository_name, report.digest, report.blobs_sent, report.bytes_sent, report.blobs_skipped)
    return report.source_digest, report.digest, ""


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
