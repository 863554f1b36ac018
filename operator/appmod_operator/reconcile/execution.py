"""What the Fargate service's tasks run with: the ECS task execution role (pulls the image from ECR,
writes the containers' logs, reads our database secret to hand it to the container) and the CloudWatch
Logs log group the containers write to; and their removal at teardown, per `spec.deletionPolicy`.

Shape (design.md): find, create if absent, compare, update. A role or log group with our name is used
only when it carries our owner tag. Policy documents are compared parsed, so neither whitespace nor
IAM's URL-encoding makes a difference; only what differs is written. Called by the service step and
its teardown (reconcile/service.py).
"""

from __future__ import annotations

import json
import logging

from appmod_operator.aws import clients, iam, logs
from appmod_operator.errors import NotOwned
from appmod_operator.names import OWNER_TAG, Owner
from appmod_operator.reconcile.outcome import StepOutcome
from appmod_operator.spec import AppSpec
from appmod_operator.status import Reason

# ECR pulls and CloudWatch Logs writes, as AWS keeps them current:
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
INLINE_POLICY_NAME = "appmod-database-secret"
MIGRATION_POLICY_NAME = "appmod-migration-source"
POLICY_VERSION = "2012-10-17"
# Long enough to look back at an incident a few weeks old, short enough not to pay for logs forever
# (a log group without a retention policy keeps its events indefinitely).
RETENTION_DAYS = 30

log = logging.getLogger(__name__)


def build_trust_policy() -> dict:
    """Lets ECS tasks, and nothing else, assume the role."""
    return {"Version": POLICY_VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def build_secret_policy(secret_arn: str) -> dict:
    """Read access to exactly our secret, nothing else. No kms:Decrypt: the secret is encrypted with
    Secrets Manager's AWS managed key, which needs none
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html)."""
    return {"Version": POLICY_VERSION, "Statement": [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn}]}


def build_migration_policy(repository_arn: str | None, object_arn: str | None) -> dict:
    """What `appmod migrate` in a Fargate task reads besides the secret: the image the SQLite file is in
    (an ECR login is for the whole registry, the pulls are for our repository only), or the S3 object."""
    statements = []
    if repository_arn:
        statements += [{"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                       {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                        "Resource": repository_arn}]
    if object_arn:
        # ListBucket, for the key only, makes S3 answer 404 rather than 403 for a missing object.
        bucket, _, key = object_arn.partition("/")
        statements += [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": object_arn},
                       {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket,
                        "Condition": {"StringEquals": {"s3:prefix": key}}}]
    return {"Version": POLICY_VERSION, "Statement": statements}


def ensure_execution_role(app: AppSpec, owner: Owner, secret_arn: str) -> str:
    """The role's ARN; the role made if absent, its trust policy, the managed policy and the read access
    to `secret_arn` put right otherwise. Raises NotOwned for a role with our name that is not ours.
    Policies someone else attached to our role are left alone. IAM is eventually consistent: a task
    started right after the role is made may fail to assume it for a few seconds
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency)."""
    return _ensure_role(app.region, owner, owner.execution_role_name, "ECS task execution role", (MANAGED_POLICY,),
                        INLINE_POLICY_NAME, build_secret_policy(secret_arn))


def ensure_migration_role(app: AppSpec, owner: Owner, repository_arn: str | None, object_arn: str | None) -> str:
    """The task role of the data migration task (`spec.migration.data.runner: Fargate`): what its
    container may read, per build_migration_policy. Same shape and guards as the execution role."""
    return _ensure_role(app.region, owner, owner.migration_role_name, "data migration task role", (),
                        MIGRATION_POLICY_NAME, build_migration_policy(repository_arn, object_arn))


def ensure_log_group(app: AppSpec, owner: Owner) -> str:
    """The log group's name; the group made if absent with a retention of RETENTION_DAYS, its retention
    put back otherwise. Raises NotOwned for a log group with our name that is not ours."""
    region, name = app.region, owner.log_group_name
    found = logs.find_log_group(region, name)
    if found is None:
        log.info("%s: creating log group %s", owner.ref, name)
        logs.create_log_group(region, name, owner.tags)
        logs.put_retention(region, name, RETENTION_DAYS)  # CreateLogGroup takes no retention
        return name
    tags = logs.find_tags(region, found["logGroupArn"])  # DescribeLogGroups does not return them
    if not owner.owns(tags):
        raise NotOwned(f"log group {name} exists but is not tagged {OWNER_TAG}={owner.ref}; it is not touched: "
                       "delete it, or add the tag to adopt it")
    if any(tags.get(k) != v for k, v in owner.tags.items()):
        logs.tag(region, found["logGroupArn"], owner.tags)  # adopted by a re-created resource: its uid now
    if found.get("retentionInDays") != RETENTION_DAYS:
        log.info("%s: setting the retention of log group %s to %d days", owner.ref, name, RETENTION_DAYS)
        logs.put_retention(region, name, RETENTION_DAYS)
    return name


def delete_execution(app: AppSpec, owner: Owner) -> StepOutcome:
    """Removes, of what is ours, what `spec.deletionPolicy` says; already absent is fine. Called by
    service.delete_service once the service's tasks are gone (Fargate writes their logs with the execution
    role), and never for Retain, which keeps both with the service.

    - Delete: the roles (the execution role, and the data migration task's when there is one; their
      policies first) and the log group with its logs.
    - Snapshot: the roles only. The logs are kept, as the final snapshot keeps the data: they are the
      record of what the application did. A role holds nothing worth keeping, is made again the same
      on demand, and would otherwise leave a standing grant.
    """
    policy, role, group = app.deletion_policy, owner.execution_role_name, owner.log_group_name
    results = [_delete_role(app.region, owner, role) or (True, f"IAM role {role} is gone")]
    results += [r for r in (_delete_role(app.region, owner, owner.migration_role_name),) if r]
    if policy == "Delete":
        results.append(_delete_log_group(app.region, owner))
    else:
        results.append((False, f"deletionPolicy {policy}: log group {group} and its logs are kept"))
    removed = any(done for done, _ in results)
    return StepOutcome(True, Reason.DELETING if removed else Reason.RETAINED, "; ".join(m for _, m in results))


def _ensure_role(region: str | None, owner: Owner, name: str, what: str, managed: tuple[str, ...],
                 policy_name: str, policy: dict) -> str:
    role = iam.find_role(region, name)
    if role is None:
        log.info("%s: creating IAM role %s", owner.ref, name)
        role = iam.create_role(region, name, json.dumps(build_trust_policy()),
                               f"appmod-operator: {what} of {owner.ref}", owner.tags)
    else:
        _converge_role(region, role, owner)
    attached = iam.attached_policy_arns(region, name) if managed else []
    for arn in managed:
        if arn not in attached:
            log.info("%s: attaching %s to IAM role %s", owner.ref, arn, name)
            iam.attach_policy(region, name, arn)
    if iam.find_inline_policy(region, name, policy_name) != policy:
        log.info("%s: writing policy %s of IAM role %s", owner.ref, policy_name, name)
        iam.put_inline_policy(region, name, policy_name, json.dumps(policy))
    return role["Arn"]


def _converge_role(region: str | None, role: dict, owner: Owner) -> None:
    name, tags = role["RoleName"], clients.tag_dict(role.get("Tags"))
    if not owner.owns(tags):
        raise NotOwned(f"IAM role {name} exists but is not tagged {OWNER_TAG}={owner.ref}; it is not touched: "
                       "delete it, or add the tag to adopt it")
    if any(tags.get(k) != v for k, v in owner.tags.items()):
        iam.tag_role(region, name, owner.tags)  # adopted by a re-created resource: its uid now
    if role["AssumeRolePolicyDocument"] != build_trust_policy():
        log.info("%s: setting the trust policy of IAM role %s", owner.ref, name)
        iam.update_trust_policy(region, name, json.dumps(build_trust_policy()))


def _delete_role(region: str | None, owner: Owner, name: str) -> tuple[bool, str] | None:
    """(whether the role is now gone, what was done); None when there is no such role. IAM deletes a role
    only without policies."""
    role = iam.find_role(region, name)
    if role is None:
        return None
    if not owner.owns(clients.tag_dict(role.get("Tags"))):
        return False, f"IAM role {name} is not ours (no {OWNER_TAG}={owner.ref} tag); left alone"
    log.info("%s: deleting IAM role %s and its policies", owner.ref, name)
    for arn in iam.attached_policy_arns(region, name):
        iam.detach_policy(region, name, arn)
    for policy_name in iam.inline_policy_names(region, name):
        iam.delete_inline_policy(region, name, policy_name)
    iam.delete_role(region, name)
    return True, f"IAM role {name} is deleted"


def _delete_log_group(region: str | None, owner: Owner) -> tuple[bool, str]:
    name = owner.log_group_name
    found = logs.find_log_group(region, name)
    if found is None:
        return True, f"log group {name} is gone"
    if not owner.owns(logs.find_tags(region, found["logGroupArn"])):
        return False, f"log group {name} is not ours (no {OWNER_TAG}={owner.ref} tag); left alone"
    log.info("%s: deleting log group %s and its logs", owner.ref, name)
    logs.delete_log_group(region, name)
    return True, f"log group {name} and its logs are deleted"
