"""The data migration as a one-off Fargate task (`spec.migration.data.runner: Fargate`): the operator's
own image (APPMOD_OPERATOR_IMAGE) runs `appmod migrate` inside the VPC, for when the operator cannot
reach the database. The task reads the SQLite file itself (out of the ECR copy of the image, by
digest, or from S3) with a task role that may read exactly that, and gets the database URL from the
secret through ECS `secrets`, never a plain environment value.

Exactly once per spec generation and source version (tasks.py). Its result is read back from the
container's exit code and the JSON summary `appmod migrate --json` logs as its last line. Called by
data.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from appmod_operator import config
from appmod_operator.aws import ecs, logs
from appmod_operator.errors import SpecError
from appmod_operator.migration.job import Options
from appmod_operator.names import Owner
from appmod_operator.reconcile import execution, network, service, tasks
from appmod_operator.reconcile.outcome import Context, StepOutcome
from appmod_operator.spec import AppSpec
from appmod_operator.status import Reason

# `appmod migrate` exits 1 when what failed may pass on its own (a registry or AWS not answering), 2 when
# the input is at fault (docs/migration.md).
KIND = tasks.Kind("data migration", "appmod-data-", "migrate", retry_exit_codes=(1,))
# The environment variable ECS fills from the secret's `url` key for `appmod migrate --target-env`.
TARGET_ENV = "APPMOD_TARGET_URL"
# The image's entry point is the operator; the task runs the command line instead.
ENTRY_POINT = ["appmod"]
# `appmod migrate --json` prints its summary last; warnings go to standard error before it.
SUMMARY_LINES = 20

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finished:
    """A task that migrated the data: the summary it logged (Report.summary()'s shape), and which task."""

    summary: dict
    task_id: str


def ensure_task(app: AppSpec, owner: Owner, context: Context, key: str, version: str,
                options: Callable[[], Options]) -> StepOutcome | Finished:
    """The migration task for this generation and source version: found, started (with the options
    `options` gives then), or reported on."""
    token = KIND.started_by(key)
    task, ours = tasks.ensure_task(app.region, app.service.cluster, owner.migration_family, KIND, token,
                                   lambda attempt: _start(app, owner, context, token, version, options(), attempt))
    if not ours:
        return StepOutcome(False, Reason.TASK_RUNNING, tasks.build_waiting(task, KIND), waiting=True)
    return build_report(app, owner, task, version)


def build_command(app: AppSpec, image: Mapping, version: str, options: Options) -> list[str]:
    """`appmod migrate` for the task: the file out of the ECR copy (by digest), or the S3 object at the
    version the step saw (so the status never names a version the task did not copy)."""
    sqlite = app.source.sqlite
    command = ["migrate", sqlite.location, "--target-env", TARGET_ENV, "--schema", options.schema,
               "--verify", options.verify, "--json", *(["--replace"] if options.replace else [])]
    if sqlite.kind == "pathInImage":
        command += ["--from-image", f"{image['repositoryUri']}@{image['digest']}"]
    else:
        command += ["--source-version", version]
    return command


def build_task_definition(app: AppSpec, owner: Owner, operator_image: str, secret_arn: str, execution_role: str,
                          task_role: str, log_group: str) -> dict:
    """The RegisterTaskDefinition request of the migration task: the service's size and logging, the
    operator's image, the database URL from the secret. The command comes with each RunTask."""
    request = service.build_task_definition(app, owner, operator_image, secret_arn, execution_role, log_group)
    container = request["containerDefinitions"][0]
    container.update(name=KIND.container, entryPoint=ENTRY_POINT, portMappings=[],
                     secrets=[{"name": TARGET_ENV, "valueFrom": f"{secret_arn}:url::"}],
                     environment=[{"name": "AWS_REGION", "value": service.region_of(secret_arn)}])
    container["logConfiguration"]["options"]["awslogs-stream-prefix"] = KIND.container
    return {**request, "family": owner.migration_family, "taskRoleArn": task_role}


def build_report(app: AppSpec, owner: Owner, task: Mapping, version: str) -> StepOutcome | Finished:
    """DataMigrated from a running or failed task (stalled, with where its output is), or the summary a
    finished one logged."""
    if task.get("lastStatus") != "STOPPED":
        return StepOutcome(False, Reason.TASK_RUNNING, tasks.build_running(task, KIND),
                           {"migration": {"data": {"sourceDigest": version}}}, waiting=True)
    messages = logs.read_last_messages(app.region, owner.log_group_name, tasks.log_stream(task, KIND), SUMMARY_LINES)
    if not tasks.succeeded(task, KIND):
        said = next((m.strip() for m in reversed(messages) if m.strip()), "")
        return StepOutcome(False, Reason.TASK_FAILED, tasks.build_failure_message(task, KIND, owner.log_group_name)
                           + (f"; it said: {said}" if said else ""),
                           {"migration": {"data": {"sourceDigest": version}}}, stalled=True)
    summary = find_summary(messages)
    if summary is None:
        raise SpecError("spec.migration.data.runner", f"data migration task {tasks.task_id(task)} exited 0 but its "
                        f"summary is not in log stream {tasks.log_stream(task, KIND)} of {owner.log_group_name}; "
                        f"is APPMOD_OPERATOR_IMAGE an appmod-operator image?")
    return Finished(summary, tasks.task_id(task))


def find_summary(messages: list[str]) -> dict | None:
    """The last message that is `appmod migrate --json`'s summary."""
    for message in reversed(messages):
        try:
            parsed = json.loads(message)
        except ValueError:
            continue
        if isinstance(parsed, dict) and {"tables", "rows", "bytes", "checksum"} <= parsed.keys():
            return parsed
    return None


def _start(app: AppSpec, owner: Owner, context: Context, token: str, version: str, options: Options,
           attempt: int) -> dict:
    """Everything the task needs, made if absent, then RunTask."""
    operator_image = config.current().operator_image
    if not operator_image:
        raise SpecError("spec.migration.data.runner", "Fargate runs the operator's own image, and the operator "
                        "was not told it: set APPMOD_OPERATOR_IMAGE (manifests/operator.yaml does)")
    region, svc, image = app.region, app.service, context.current.get("image") or {}
    service.ensure_cluster(region, svc.cluster, owner)
    secret_arn = context.current["database"]["secretArn"]
    sqlite = app.source.sqlite
    repository_arn = _repository_arn(image["repositoryUri"], secret_arn) if sqlite.kind == "pathInImage" else None
    object_arn = (f"arn:{_partition(secret_arn)}:s3:::" + sqlite.location.removeprefix("s3://")
                  if sqlite.kind == "url" else None)
    wanted = build_task_definition(app, owner, operator_image, secret_arn,
                                   execution.ensure_execution_role(app, owner, secret_arn),
                                   execution.ensure_migration_role(app, owner, repository_arn, object_arn),
                                   execution.ensure_log_group(app, owner))
    revisions = ecs.active_revisions(region, owner.migration_family)
    task_definition = service.ensure_task_definition(region, wanted, None, revisions)
    service.deregister_revisions(region, revisions, keep=task_definition)
    subnets, groups = network.ensure_service_network(app, owner)
    log.info("%s: starting data migration task %s of %s", owner.ref, token, task_definition)
    request = tasks.build_run_task_request(
        svc.cluster, task_definition, token, attempt, service.build_network(subnets, groups, svc.assign_public_ip),
        tasks.build_tags(owner.tags, context.generation, version),
        {"containerOverrides": [{"name": KIND.container, "command": build_command(app, image, version, options)}]})
    return ecs.run_task(region, request)


def _repository_arn(repository_uri: str, secret_arn: str) -> str:
    """`<account>.dkr.ecr.<region>.amazonaws.com/<name>` as an ARN, in the secret's partition and region."""
    host, _, name = repository_uri.partition("/")
    return f"arn:{_partition(secret_arn)}:ecr:{service.region_of(secret_arn)}:{host.split('.')[0]}:repository/{name}"


def _partition(arn: str) -> str:
    """aws, aws-cn or aws-us-gov: the resources the task reads are in the secret's."""
    return arn.split(":")[1]
