"""The ECR repository the image is copied into, as `spec.image` says (tag mutability, scan on push, a
lifecycle policy that keeps the last N images); its removal at teardown, per `spec.deletionPolicy`;
and the login to ECR's registry that the copy pushes with.

Shape (design.md): find, create if absent, compare, update. A repository with the spec's name is used
only when it carries our owner tag. Called by the image step and its teardown (reconcile/image.py).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from appmod_operator import config
from appmod_operator.aws import ecr
from appmod_operator.errors import NotOwned
from appmod_operator.names import OWNER_TAG, Owner
from appmod_operator.reconcile.outcome import StepOutcome
from appmod_operator.registry import reference
from appmod_operator.spec import AppSpec, Image
from appmod_operator.status import Reason

# ECR's tokens are valid 12 hours; renewing with an hour left means a copy never starts with a token
# that runs out halfway through a large push.
RENEW_BEFORE = timedelta(hours=1)

log = logging.getLogger(__name__)

# One token per region and AWS endpoint, shared by every resource: GetAuthorizationToken is rate
# limited per account (https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html).
_tokens: dict[tuple[str | None, str | None], tuple[str, str, datetime, str]] = {}
_tokens_lock = threading.Lock()


@dataclass(frozen=True)
class Repository:
    name: str
    uri: str
    arn: str
    created: bool = False  # by this call: with a status that had an image, that is drift put right


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials for ECR's registry. `host` ("host" or "host:port") and `url` (with its scheme) are
    where to talk to: APPMOD_ECR_REGISTRY when set, else the account's registry endpoint. For an
    APPMOD_ECR_REGISTRY of `oci:DIR` both are `oci:DIR` (image-layout directories, no login needed)."""

    host: str
    url: str
    username: str
    password: str = field(repr=False)  # never printed, whoever prints this
    expires_at: datetime


def build_lifecycle_policy(keep_last: int) -> str:
    """The lifecycle policy's JSON text: one rule that expires all but the newest `keep_last` images,
    tagged or not (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html)."""
    rule = {"rulePriority": 1, "description": f"keep the last {keep_last} images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_last},
            "action": {"type": "expire"}}
    return json.dumps({"rules": [rule]})


def ensure_repository(app: AppSpec, owner: Owner) -> Repository:
    """The repository, made if absent and otherwise brought to `spec.image`; raises NotOwned for a
    repository with the spec's name that is not ours."""
    region, image = app.region, app.image
    found = ecr.find_repository(region, image.repository)
    created = found is None
    if created:
        found = _create(region, image, owner)
    else:
        _converge(region, found, image, owner)
    return Repository(found["repositoryName"], found["repositoryUri"], found["repositoryArn"], created)


def find_repository(app: AppSpec) -> dict | None:
    """The repository as ECR describes it, or None (the resync's check; no tags, no policy)."""
    return ecr.find_repository(app.region, app.image.repository)


def delete_repository(app: AppSpec, owner: Owner) -> StepOutcome:
    """Deletes the repository and its images only for deletionPolicy Delete, and only if ours.
    Snapshot and Retain keep the repository and its images: they are the deployable artifacts of the
    application, kept for the same reason as the database's final snapshot."""
    region, name, policy = app.region, app.image.repository, app.deletion_policy
    if policy != "Delete":
        return StepOutcome(True, Reason.RETAINED, f"deletionPolicy {policy}: ECR repository {name} and its "
                           "images are kept")
    found = ecr.find_repository(region, name)
    if found is None:
        return StepOutcome(True, Reason.DELETING, f"ECR repository {name} is gone")
    if not owner.owns(ecr.find_tags(region, found["repositoryArn"])):
        return StepOutcome(True, Reason.RETAINED, f"ECR repository {name} is not ours (no {OWNER_TAG}="
                           f"{owner.ref} tag); left alone")
    log.info("%s: deleting ECR repository %s and its images", owner.ref, name)
    ecr.delete_repository(region, name)
    return StepOutcome(True, Reason.DELETING, f"ECR repository {name} and its images are deleted")


def clock() -> datetime:
    """Now, in UTC; tests move it to see a token renewed."""
    return datetime.now(UTC)


def login(region: str | None) -> RegistryLogin:
    """A login to ECR's registry in `region`, from a token fetched at most once per region until it
    has less than RENEW_BEFORE left."""
    settings = config.current()
    key = (region or settings.region, settings.endpoint_url)
    with _tokens_lock:
        token = _tokens.get(key)
        if token is None or token[2] - clock() < RENEW_BEFORE:
            token = _tokens[key] = ecr.authorization(region)
    username, password, expires_at, proxy_endpoint = token
    if reference.is_layout(settings.ecr_registry or ""):  # layout directories: host and url are `oci:DIR`
        return RegistryLogin(settings.ecr_registry, settings.ecr_registry, username, password, expires_at)
    where = urlsplit(settings.ecr_registry or proxy_endpoint)
    return RegistryLogin(where.netloc, f"{where.scheme}://{where.netloc}", username, password, expires_at)


def forget_logins() -> None:
    """Drop the cached tokens (tests switch endpoints between runs)."""
    with _tokens_lock:
        _tokens.clear()


def _create(region: str | None, image: Image, owner: Owner) -> dict:
    log.info("%s: creating ECR repository %s", owner.ref, image.repository)
    made = ecr.create_repository(region, image.repository, image.tag_mutability, image.scan_on_push, owner.tags)
    # CreateRepository takes no lifecycle policy: it is a call of its own.
    ecr.put_lifecycle_policy(region, image.repository, build_lifecycle_policy(image.keep_last))
    return made


def _converge(region: str | None, found: dict, image: Image, owner: Owner) -> None:
    name, arn = found["repositoryName"], found["repositoryArn"]
    tags = ecr.find_tags(region, arn)  # DescribeRepositories does not return them
    if not owner.owns(tags):
        raise NotOwned(f"ECR repository {name} exists but is not tagged {OWNER_TAG}={owner.ref}; it is not "
                       "touched: delete it, name another in spec.image.repository, or add the tag to adopt it")
    if any(tags.get(k) != v for k, v in owner.tags.items()):
        ecr.tag(region, arn, owner.tags)  # adopted by a re-created resource: its uid now
    if found.get("imageTagMutability") != image.tag_mutability:
        log.info("%s: setting tag mutability of ECR repository %s to %s", owner.ref, name, image.tag_mutability)
        ecr.set_tag_mutability(region, name, image.tag_mutability)
    if found.get("imageScanningConfiguration", {}).get("scanOnPush") != image.scan_on_push:
        log.info("%s: setting scan on push of ECR repository %s to %s", owner.ref, name, image.scan_on_push)
        ecr.set_scan_on_push(region, name, image.scan_on_push)
    wanted, current = build_lifecycle_policy(image.keep_last), ecr.find_lifecycle_policy(region, name)
    if current is None or json.loads(current) != json.loads(wanted):  # ECR may hand back other whitespace
        log.info("%s: setting the lifecycle policy of ECR repository %s: keep the last %d images",
                 owner.ref, name, image.keep_last)
        ecr.put_lifecycle_policy(region, name, wanted)
