"""The schema step for `spec.migration.schema.strategy: AppCommand`: the app's own migration command
(e.g. Django's `python manage.py migrate --noinput`) run once as a one-off Fargate task of the image
from ECR by digest, with the service's database secret, execution role, log group and network;
reported as `status.migration.schema` (strategy, taskArn, completedAt) and the SchemaMigrated condition.

Once per source digest (the app's migrations come with its image): a task of this generation and digest
is found by its `startedBy` token (tasks.py), and a finished one is remembered in the status for later
generations. Only a task that exits 0 migrates the schema; a failure is reported (exit code, stop code,
log stream) and not retried until a new generation or a new image. Other strategies are not this step's work
(Convert is done by the data migration, None means no schema migration). Called by engine.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from appmod_operator.aws import ecs
from appmod_operator.names import Owner
from appmod_operator.reconcile import execution, markers, network, outcome, service, tasks
from appmod_operator.reconcile.outcome import Context, StepOutcome
from appmod_operator.spec import AppSpec
from appmod_operator.status import DATABASE_READY, IMAGE_REPLICATED, SCHEMA_MIGRATED, Reason, condition, now

APP_COMMAND = "AppCommand"
# The service's container (its task definition, overridden command), so its logs are the service's.
KIND = tasks.Kind("schema migration", "appmod-schema-", service.CONTAINER)

log = logging.getLogger(__name__)


def ensure_schema(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    """One look at the schema migration: the task found by its token, or started; never waited for."""
    strategy = app.migration.schema_strategy
    if strategy != APP_COMMAND:
        return StepOutcome(True, Reason.NOT_APPLICABLE,
                           f"spec.migration.schema.strategy is {strategy}, not {APP_COMMAND}: "
                           + ("the data migration converts the schema" if strategy == "Convert"
                              else "no schema migration is run"))
    waiting = outcome.waiting_for("the schema migration task", (DATABASE_READY, IMAGE_REPLICATED), context.done)
    if waiting:
        return waiting
    # A task that finished for this generation and image is not looked for again: AWS forgets stopped tasks.
    remembered = _remembered(context, done=True) or _recorded(context) or _remembered(context, done=False)
    if remembered is not None:
        return _marked(app, context, remembered)
    source_digest = context.current["image"]["sourceDigest"]
    token = build_started_by(owner, context.generation, source_digest, _cluster(context))
    task, ours = tasks.ensure_task(app.region, app.service.cluster, owner.task_family, KIND, token,
                                   lambda attempt: _start(app, owner, context, attempt))
    if not ours:
        return StepOutcome(False, Reason.TASK_RUNNING, tasks.build_waiting(task, KIND), waiting=True)
    return _marked(app, context, build_report(task, owner.log_group_name))


def check_schema(app: AppSpec, owner: Owner, context: Context) -> StepOutcome | None:
    """The resync's look at a schema the last pass left migrated for this generation: that outcome again,
    with no AWS call, while the image's source digest is the one it was migrated for; else None."""
    remembered = _remembered(context, done=True) if app.migration.schema_strategy == APP_COMMAND else None
    return _marked(app, context, remembered) if remembered is not None else None


def observe_schema(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    """Read only (`appmod status`, `appmod plan`): migrated when the cluster records it for this image."""
    if app.migration.schema_strategy != APP_COMMAND:
        return ensure_schema(app, owner, context)  # says why there is nothing to do, calling nothing
    waiting = outcome.waiting_for("the schema migration task", (DATABASE_READY, IMAGE_REPLICATED), context.done)
    return waiting or _recorded(context) or StepOutcome(
        False, Reason.NOT_FOUND, f"no schema migration is recorded on the cluster for this image; it runs "
        f"{' '.join(app.migration.schema_command)} as a one-off task")


def build_started_by(owner: Owner, generation: int, source_digest: str, cluster: str = "") -> str:
    return KIND.started_by(tasks.build_key(owner.ref, owner.uid, generation, source_digest, cluster))


def build_run_task_request(app: AppSpec, owner: Owner, task_definition: str, generation: int, source_digest: str,
                           subnets: list[str], groups: list[str], attempt: int = 1, cluster: str = "") -> dict:
    """RunTask: the service's task definition with the command overridden."""
    svc = app.service
    return tasks.build_run_task_request(
        svc.cluster, task_definition, build_started_by(owner, generation, source_digest, cluster), attempt,
        service.build_network(subnets, groups, svc.assign_public_ip),
        tasks.build_tags(owner.tags, generation, source_digest),
        {"containerOverrides": [{"name": KIND.container, "command": list(app.migration.schema_command)}]})


def build_report(task: Mapping, log_group: str) -> StepOutcome:
    """SchemaMigrated from a DescribeTasks task: True only once it stopped after the container exited 0."""
    schema = {"strategy": APP_COMMAND, "taskArn": task["taskArn"]}
    if task.get("lastStatus") != "STOPPED":
        return StepOutcome(False, Reason.TASK_RUNNING, tasks.build_running(task, KIND),
                           {"migration": {"schema": schema}}, waiting=True)
    if tasks.succeeded(task, KIND):
        schema["completedAt"] = tasks.stopped_at(task) or now()
        return StepOutcome(True, Reason.MIGRATED, f"schema migration task {tasks.task_id(task)} "
                           f"({tasks.command(task, KIND)}) exited 0", {"migration": {"schema": schema}})
    return StepOutcome(False, Reason.TASK_FAILED, tasks.build_failure_message(task, KIND, log_group),
                       {"migration": {"schema": schema}}, stalled=True)


def _start(app: AppSpec, owner: Owner, context: Context, attempt: int) -> dict:
    """Everything the task needs, made if absent (the service step may not have run yet), then RunTask."""
    region, svc, image = app.region, app.service, context.current["image"]
    service.ensure_cluster(region, svc.cluster, owner)
    secret_arn = context.current["database"]["secretArn"]
    wanted = service.build_task_definition(app, owner, service.build_image_reference(image), secret_arn,
                                           execution.ensure_execution_role(app, owner, secret_arn),
                                           execution.ensure_log_group(app, owner))
    # The service's own revision when it matches, so the step registers nothing the service did not.
    task_definition = service.ensure_task_definition(region, wanted,
                                                      ecs.find_service(region, svc.cluster, owner.task_family),
                                                      ecs.active_revisions(region, owner.task_family))
    subnets, groups = network.ensure_service_network(app, owner)
    log.info("%s: starting schema migration task (%s) of %s", owner.ref, " ".join(app.migration.schema_command),
             task_definition)
    return ecs.run_task(region, build_run_task_request(app, owner, task_definition, context.generation,
                                                       image["sourceDigest"], subnets, groups, attempt,
                                                       _cluster(context)))


def _cluster(context: Context) -> str:
    """The database's resource id: a task that migrated another cluster of the same name is not this one's."""
    return (context.current.get("database") or {}).get("resourceId", "")


def _recorded(context: Context) -> StepOutcome | None:
    """Migrated, as the cluster's markers record it for this image (a status that does not remember it: the
    command line, a re-created resource)."""
    schema = markers.read_schema(context.markers, (context.current.get("image") or {}).get("sourceDigest"))
    if schema is None:
        return None
    task = schema.get("taskArn", "")
    return StepOutcome(True, Reason.MIGRATED, f"the schema was migrated for this image (task {task}, recorded on "
                       "the cluster)", {"migration": {"schema": schema}})


def _marked(app: AppSpec, context: Context, result: StepOutcome) -> StepOutcome:
    """`result`, recorded on the cluster when it is a migrated schema (no call when the cluster has it)."""
    if result.done:
        markers.ensure_markers(app.region, context, markers.build_schema_markers(
            result.status["migration"]["schema"], context.current["image"]["sourceDigest"]))
        return replace(result, status=markers.stamped(context, "schema", result.status))
    return result


def _remembered(context: Context, done: bool) -> StepOutcome | None:
    """The last pass's outcome when it was final for this source digest: migrated (for any generation: the
    app's migrations are its image's, so a spec change such as the desired count runs none again), or
    failed (for this generation: a change to the spec tries again)."""
    before = condition(context.previous, SCHEMA_MIGRATED)
    schema = (context.previous.get("migration") or {}).get("schema") or {}
    digest = (context.current.get("image") or {}).get("sourceDigest")
    if (before.get("status") != str(done) or before.get("reason") != (Reason.MIGRATED if done else Reason.TASK_FAILED)
            or (not done and before.get("observedGeneration") != context.generation)
            or schema.get("strategy") != APP_COMMAND
            or not digest or (context.previous.get("image") or {}).get("sourceDigest") != digest
            or (done and not markers.on_this_cluster(context, schema))):
        return None
    return StepOutcome(done, before["reason"], before.get("message", ""), {"migration": {"schema": dict(schema)}},
                       stalled=not done)
