"""The schema step for `spec.migration.schema.strategy: AppCommand`: the app's own migration command
(e.g. Django's `python manage.py migrate --noinput`) run once as a one-off Fargate task of the image
from ECR by digest, with the service's database secret, execution role, log group and network;
reported as `status.migration.schema` (strategy, taskArn, completedAt) and the SchemaMigrated condition.

Exactly once per spec generation and source digest: the task is started with a deterministic
`startedBy` token (and tags), so a later pass, or a restarted operator, finds it with ListTasks instead
of starting another. The step never waits in place: a running task is looked at again on the next pass.
Only a task that exits 0 migrates the schema; a failure is reported (exit code, stop code, log stream)
and not retried until a new generation or a new image. Other strategies are not this step's work
(Convert is done by the data migration, None means no schema migration). Called by engine.py.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from appmod_operator.aws import ecs
from appmod_operator.names import Owner
from appmod_operator.reconcile import execution, network, service
from appmod_operator.reconcile.outcome import Context, StepOutcome
from appmod_operator.spec import AppSpec
from appmod_operator.status import DATABASE_READY, IMAGE_REPLICATED, SCHEMA_MIGRATED, Reason, now

APP_COMMAND = "AppCommand"
# Tags of the task besides our owner tags, so a task in the console says which spec and image it migrated.
GENERATION_TAG = "appmod.io/generation"
SOURCE_DIGEST_TAG = "appmod.io/source-digest"
# `startedBy` takes letters, digits, hyphens and underscores (36 characters in older documentation, 128 now):
# a fixed prefix and 16 hex digits of a hash fit both.
STARTED_BY_PREFIX = "appmod-schema-"
# ListTasks filters on the desired status, RUNNING unless asked otherwise; ECS keeps a stopped task for
# at least an hour (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html).
DESIRED_STATUSES = ("RUNNING", "STOPPED")
# How an essential container that ran to its end stops a task; any other stop code (UserInitiated,
# SpotInterruption, ...) means the command was cut short, whatever its exit code.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html
CLEAN_STOP_CODES = (None, "EssentialContainerExited")
# A task that failed to start never ran the command (an ENI, capacity, or an execution role IAM has not
# yet propagated), so another may be started under the same token, this many in all.
FAILED_TO_START = "TaskFailedToStart"
STARTS = 3
# service.build_task_definition's awslogs-stream-prefix, which names the task's log stream.
LOG_STREAM_PREFIX = service.CONTAINER

log = logging.getLogger(__name__)


def ensure_schema(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    """One look at the schema migration: the task found by its token, or started; never waited for."""
    strategy = app.migration.schema_strategy
    if strategy != APP_COMMAND:
        return StepOutcome(True, Reason.NOT_APPLICABLE,
                           f"spec.migration.schema.strategy is {strategy}, not {APP_COMMAND}: "
                           + ("the data migration converts the schema" if strategy == "Convert"
                              else "no schema migration is run"))
    waiting = [c for c in (DATABASE_READY, IMAGE_REPLICATED) if c not in context.done]
    if waiting:
        return StepOutcome(False, Reason.WAITING, f"the schema migration task starts once {' and '.join(waiting)} "
                           f"{'is' if len(waiting) == 1 else 'are'} True")
    # A task that finished for this generation and image is not looked for again: AWS forgets stopped tasks.
    remembered = _remembered(context, done=True) or _remembered(context, done=False)
    if remembered is not None:
        return remembered
    region, cluster = app.region, app.service.cluster
    source_digest = context.current["image"]["sourceDigest"]
    token = build_started_by(owner, context.generation, source_digest)
    tasks = find_tasks(region, cluster, token)
    task = next((t for t in tasks if not _failed_to_start(t)), tasks[-1] if tasks else None)
    if task is None or (_failed_to_start(task) and len(tasks) < STARTS):
        # Two migrations at once could both apply the same change: one started for an earlier generation or
        # image runs to its end first.
        earlier = find_earlier_task(region, cluster, owner.task_family, token)
        if earlier is not None:
            return StepOutcome(False, Reason.TASK_RUNNING,
                               "the schema migration task for this spec and image starts once "
                               f"task {_task_id(earlier)} of an earlier one has stopped (it is "
                               f"{earlier.get('lastStatus')})", waiting=True)
        if task is not None:
            log.warning("%s: schema migration task %s failed to start (%s); starting another", owner.ref,
                        task["taskArn"], task.get("stoppedReason", ""))
        task = _start(app, owner, context, token, len(tasks) + 1)
    return build_report(task, owner.log_group_name)


def check_schema(app: AppSpec, owner: Owner, context: Context) -> StepOutcome | None:
    """The resync's look at a schema the last pass left migrated for this generation: that outcome again,
    with no AWS call, while the image's source digest is the one it was migrated for; else None."""
    return _remembered(context, done=True) if app.migration.schema_strategy == APP_COMMAND else None


def build_started_by(owner: Owner, generation: int, source_digest: str) -> str:
    """The task's `startedBy`: the same for the same resource (uid included: a re-created resource of the
    same name migrates its own new database), generation and source digest, and for nothing else."""
    key = f"{owner.ref}\n{owner.uid}\n{generation}\n{source_digest}"
    return STARTED_BY_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:16]


def build_tags(owner: Owner, generation: int, source_digest: str) -> dict[str, str]:
    return {**owner.tags, GENERATION_TAG: str(generation), SOURCE_DIGEST_TAG: source_digest}


def build_run_task_request(app: AppSpec, owner: Owner, task_definition: str, generation: int, source_digest: str,
                           subnets: list[str], groups: list[str], attempt: int = 1) -> dict:
    """RunTask: the service's task definition with the command overridden; `clientToken` makes a repeated
    request (a ListTasks that lags behind RunTask, a crash after it) return the task it already started
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html)."""
    svc, token = app.service, build_started_by(owner, generation, source_digest)
    return {"cluster": svc.cluster, "taskDefinition": task_definition, "launchType": "FARGATE", "count": 1,
            "startedBy": token, "clientToken": f"{token}-{attempt}",
            "overrides": {"containerOverrides": [{"name": service.CONTAINER,
                                                  "command": list(app.migration.schema_command)}]},
            "networkConfiguration": service.build_network(subnets, groups, svc.assign_public_ip),
            "tags": ecs.tag_list(build_tags(owner, generation, source_digest)), "enableECSManagedTags": True}


def find_tasks(region: str | None, cluster: str, token: str) -> list[dict]:
    """Every task started under `token` that ECS still knows, running or stopped, oldest first."""
    arns: list[str] = []
    for desired in DESIRED_STATUSES:
        arns += [a for a in ecs.list_tasks(region, cluster, startedBy=token, desiredStatus=desired) if a not in arns]
    tasks = [t for t in ecs.describe_tasks(region, cluster, arns) if t.get("startedBy") == token]
    return sorted(tasks, key=lambda t: _timestamp(t.get("createdAt")) or "")


def find_earlier_task(region: str | None, cluster: str, family: str, token: str) -> dict | None:
    """A schema migration task of ours started under another token that has not stopped yet (the family's
    other tasks are the service's, whose startedBy is its deployment)."""
    arns = ecs.list_tasks(region, cluster, family=family, desiredStatus="RUNNING")
    return next((t for t in ecs.describe_tasks(region, cluster, arns) if t.get("lastStatus") != "STOPPED"
                 and t.get("startedBy", "").startswith(STARTED_BY_PREFIX) and t["startedBy"] != token), None)


def build_report(task: Mapping, log_group: str) -> StepOutcome:
    """SchemaMigrated from a DescribeTasks task: True only once it stopped after the container exited 0."""
    arn, state = task["taskArn"], task.get("lastStatus", "PROVISIONING")
    schema = {"strategy": APP_COMMAND, "taskArn": arn}
    task_id = _task_id(task)
    if state != "STOPPED":
        return StepOutcome(False, Reason.TASK_RUNNING, f"schema migration task {task_id} ({_command(task)}) is {state}",
                           {"migration": {"schema": schema}}, waiting=True)
    container = _container(task)
    if container.get("exitCode") == 0 and task.get("stopCode") in CLEAN_STOP_CODES:
        schema["completedAt"] = _timestamp(task.get("stoppedAt") or task.get("executionStoppedAt")) or now()
        return StepOutcome(True, Reason.MIGRATED, f"schema migration task {task_id} ({_command(task)}) exited 0",
                           {"migration": {"schema": schema}})
    return StepOutcome(False, Reason.TASK_FAILED, build_failure_message(task, log_group),
                       {"migration": {"schema": schema}},
                       stalled=True)


def build_failure_message(task: Mapping, log_group: str) -> str:
    """What stopped the task and where its output is: awslogs names a stream `<prefix>/<container>/<task id>`
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html)."""
    task_id, container = _task_id(task), _container(task)
    code = container.get("exitCode")
    exited = f"exit code {code}" if code is not None else "no exit code (the command did not run)"
    why = "; ".join(r for r in (task.get("stoppedReason"), container.get("reason")) if r)
    stream = f"{LOG_STREAM_PREFIX}/{service.CONTAINER}/{task_id}"
    return (f"schema migration task {task_id} ({_command(task)}) stopped with {exited}, stop code "
            f"{task.get('stopCode') or 'none'}" + (f": {why}" if why else "") + f"; its output is in CloudWatch Logs "
            f"group {log_group}, stream {stream}; it runs again for a new generation of the spec or a new image")


def _start(app: AppSpec, owner: Owner, context: Context, token: str, attempt: int) -> dict:
    """Everything the task needs, made if absent (the service step may not have run yet), then RunTask."""
    region, svc, image = app.region, app.service, context.current["image"]
    service.ensure_cluster(region, svc.cluster, owner)
    secret_arn = context.current["database"]["secretArn"]
    wanted = service.build_task_definition(app, owner, image, secret_arn,
                                           execution.ensure_execution_role(app, owner, secret_arn),
                                           execution.ensure_log_group(app, owner))
    # The service's own revision when it matches, so the step registers nothing the service did not.
    task_definition = service.ensure_task_definition(region, wanted,
                                                      ecs.find_service(region, svc.cluster, owner.task_family),
                                                      ecs.active_revisions(region, owner.task_family))
    subnets, groups = network.ensure_service_network(app, owner)
    log.info("%s: starting schema migration task %s (%s) of %s", owner.ref, token,
             " ".join(app.migration.schema_command), task_definition)
    return ecs.run_task(region, build_run_task_request(app, owner, task_definition, context.generation,
                                                       image["sourceDigest"], subnets, groups, attempt))


def _remembered(context: Context, done: bool) -> StepOutcome | None:
    """The last pass's outcome when it was final (migrated, or failed) for this generation and source digest."""
    before = next((c for c in context.previous.get("conditions", ()) if c.get("type") == SCHEMA_MIGRATED), {})
    schema = (context.previous.get("migration") or {}).get("schema") or {}
    digest = (context.current.get("image") or {}).get("sourceDigest")
    if (before.get("status") != str(done) or before.get("reason") != (Reason.MIGRATED if done else Reason.TASK_FAILED)
            or before.get("observedGeneration") != context.generation or schema.get("strategy") != APP_COMMAND
            or not digest or (context.previous.get("image") or {}).get("sourceDigest") != digest):
        return None
    return StepOutcome(done, before["reason"], before.get("message", ""), {"migration": {"schema": dict(schema)}},
                       stalled=not done)


def _failed_to_start(task: Mapping) -> bool:
    return (task.get("lastStatus") == "STOPPED" and task.get("stopCode") == FAILED_TO_START
            and _container(task).get("exitCode") is None)


def _task_id(task: Mapping) -> str:
    return task["taskArn"].rsplit("/", 1)[-1]


def _container(task: Mapping) -> Mapping:
    return next((c for c in task.get("containers", ()) if c.get("name") == service.CONTAINER), {})


def _command(task: Mapping) -> str:
    overrides = (task.get("overrides") or {}).get("containerOverrides") or ()
    return " ".join(next((o.get("command") or [] for o in overrides if o.get("name") == service.CONTAINER), []))


def _timestamp(value: datetime | str | None) -> str | None:
    """RFC 3339 in UTC, as Kubernetes writes times (boto3 gives datetimes)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value
