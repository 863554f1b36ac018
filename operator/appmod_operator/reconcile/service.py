"""The service step: an ECS Fargate service running the image from ECR by digest, wired to the
database through Secrets Manager, kept as `spec.service` says and reported as `status.service` and
the ServiceStable condition; and its removal at teardown (the service, our task definitions, and, once
its tasks have stopped, the execution role and logs).

Shape (design.md): find, create if absent, compare, update, report. Drift (a deleted service, a
changed desired count, a task definition swapped out of band) is put back and said in
`StepOutcome.corrections`, which the operator posts as events. A new task definition revision is
registered only when what we would register differs from what runs; superseded revisions of our
family are deregistered (deregister_revisions, which data_task.py and the teardown share). Called by
engine.py (the step) and teardown.py (delete_service).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from appmod_operator.aws import ec2, ecs
from appmod_operator.names import Owner
from appmod_operator.reconcile import execution, network, outcome, tasks
from appmod_operator.reconcile.outcome import Context, StepOutcome
from appmod_operator.spec import AppSpec
from appmod_operator.status import (
    DATA_MIGRATED,
    DATABASE_READY,
    IMAGE_REPLICATED,
    SCHEMA_MIGRATED,
    SERVICE_STABLE,
    Phase,
    Reason,
    condition,
)

CONTAINER = "app"
log = logging.getLogger(__name__)


def ensure_service(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    # The app's own schema migration runs before its new code (AppCommand), and its data is in place before
    # it starts (Convert's schema comes with the data).
    app_command, data = app.migration.schema_strategy == "AppCommand", app.migration.data_enabled
    needed = (DATABASE_READY, IMAGE_REPLICATED, *((SCHEMA_MIGRATED,) if app_command else ()),
              *((DATA_MIGRATED,) if data else ()))
    waiting = outcome.waiting_for("the service", needed, context.done)
    if waiting:
        return waiting
    region, svc = app.region, app.service
    cluster = ensure_cluster(region, svc.cluster, owner)
    secret_arn = context.current["database"]["secretArn"]
    role_arn = execution.ensure_execution_role(app, owner, secret_arn)
    wanted = build_task_definition(app, owner, build_image_reference(context.current["image"]), secret_arn, role_arn,
                                   execution.ensure_log_group(app, owner))
    subnets, groups = network.ensure_service_network(app, owner)
    service = ecs.find_service(region, svc.cluster, owner.task_family)
    revisions = ecs.active_revisions(region, owner.task_family)
    task_definition = ensure_task_definition(region, wanted, service, revisions)
    if task_definition not in revisions:  # registered now: a retry of a registration whose answer was lost
        revisions = ecs.active_revisions(region, owner.task_family)  # made one more, deregistered below
    corrections: list[str] = []
    if service is None:
        if (context.previous.get("service") or {}).get("serviceArn"):
            corrections.append(f"ECS service {owner.task_family} was deleted outside the operator; created it again")
        log.info("%s: creating ECS service %s in cluster %s", owner.ref, owner.task_family, svc.cluster)
        service = ecs.create_service(region, build_service_request(app, owner, task_definition, subnets, groups))
    else:
        changes = build_service_changes(service, app, task_definition, subnets, groups)
        if build_redeploy(service, condition(context.previous, SERVICE_STABLE), context.generation):
            changes["forceNewDeployment"] = True
        corrections += build_corrections(service, changes, context.previous.get("service") or {})
        if changes:
            log.info("%s: updating ECS service %s: %s", owner.ref, owner.task_family, ", ".join(sorted(changes)))
            service = ecs.update_service(region, svc.cluster, owner.task_family, changes)
    deregister_revisions(region, revisions, keep=task_definition)
    return build_report(app, cluster, service, _endpoint(app, service), tuple(corrections), _was_stable(context))


def check_service(app: AppSpec, owner: Owner, context: Context) -> StepOutcome | None:
    """The resync's cheap look (one AWS read) at a service the last pass left stable: the report when it
    still runs our task definition at the spec's desired count and is stable, else None (the full step
    runs and puts right what drifted). The endpoint is the one found last time; while none has been
    found for running tasks, the tick looks for it alone (the running tasks and their network interfaces):
    the whole step there would cost some fifteen calls a tick for nothing else to put right."""
    previous = context.previous.get("service") or {}
    service = ecs.find_service(app.region, app.service.cluster, owner.task_family)
    if (service is None or service.get("taskDefinition") != previous.get("taskDefinitionArn")
            or service.get("desiredCount") != app.service.desired_count
            or service.get("runningCount") != previous.get("runningCount")):
        return None
    report = build_report(app, {"clusterArn": previous.get("clusterArn")}, service,
                          previous.get("endpoint") or _endpoint(app, service), was_stable=_was_stable(context))
    return report if report.done else None


def observe_service(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    """Read only (paused, `appmod status`): what runs, changing nothing (one AWS read)."""
    found = ecs.find_service(app.region, app.service.cluster, owner.task_family)
    if found is None:
        return StepOutcome(False, Reason.NOT_FOUND, f"ECS service {owner.task_family} does not exist")
    report = build_report(app, {}, found, None)
    return StepOutcome(report.done, report.reason, report.message, report.status)


def delete_service(app: AppSpec, owner: Owner) -> StepOutcome:
    """One teardown pass over the service and what it runs with; `done` once all of it is removed.

    - Delete and Snapshot: the service (if ours), then every ACTIVE revision of our task definition
      families (the service's, which the schema task shares, and the data migration task's), then, once
      the service's tasks have stopped, the execution role and logs as the policy says (execution.py):
      Fargate writes a stopping task's logs with that role.
    - Retain: all of it kept, no AWS call: a retained service goes on running as it is.

    The shared ECS cluster stays whatever the policy."""
    region, cluster, name = app.region, app.service.cluster, owner.task_family
    if app.deletion_policy == "Retain":
        return StepOutcome(True, Reason.RETAINED, f"deletionPolicy Retain: ECS service {name}, its task definitions, "
                           f"IAM roles and log group {owner.log_group_name} are kept")
    found = ecs.find_service(region, cluster, name, statuses=("ACTIVE", "DRAINING"))
    foreign = found is not None and not owner.owns(ecs.tag_dict(found.get("tags")))
    if foreign:
        found = None  # someone else's service of our name: left alone, and neither it nor its tasks waited for
    if found is not None and found["status"] == "ACTIVE":
        log.info("%s: deleting ECS service %s", owner.ref, name)
        found = ecs.delete_service(region, cluster, name)
    draining = found if found is not None and found.get("status") == "DRAINING" else None
    for family in (name, owner.migration_family):
        deregister_revisions(region, ecs.active_revisions(region, family))
    running = [] if foreign else find_service_tasks(region, cluster, name, tasks.DESIRED_STATUSES)
    if draining is not None or running:
        count = len(running) or draining.get("runningCount", 0) + draining.get("pendingCount", 0)
        return StepOutcome(False, Reason.DRAINING, f"ECS service {name} is {'DRAINING' if draining else 'deleted'}: "
                           f"waiting for its {count} task{'' if count == 1 else 's'} to stop before its IAM roles and "
                           "log group go", waiting=True)
    return execution.delete_execution(app, owner)


def deregister_revisions(region: str | None, revisions: list[str], keep: str | None = None) -> None:
    """Deregisters each of `revisions`, ACTIVE revisions of one of our families (its name is made from the
    owner's, so every revision in it is ours), but `keep`: the superseded ones after a pass, all of them at
    teardown."""
    for arn in revisions:
        if arn != keep:
            log.info("deregistering task definition %s", arn)
            ecs.deregister_task_definition(region, arn)


def find_service_tasks(region: str | None, cluster: str, name: str, desired: tuple[str, ...]) -> list[dict]:
    """The service's tasks of these desired statuses that have not stopped (a deleted service's tasks
    are desired STOPPED while they drain). A service's tasks carry group "service:<name>"; checking it
    keeps other tasks out should a ListTasks filter be ignored (moto ignores serviceName)."""
    arns: list[str] = []
    for status in desired:
        arns += [a for a in ecs.list_tasks(region, cluster, serviceName=name, desiredStatus=status) if a not in arns]
    return [t for t in ecs.describe_tasks(region, cluster, arns)
            if t.get("group") == f"service:{name}" and t.get("lastStatus") != "STOPPED"]


def build_task_definition(app: AppSpec, owner: Owner, image: str, secret_arn: str, role_arn: str,
                          log_group: str) -> dict:
    """The RegisterTaskDefinition request: the image by digest (never a tag that can move), and the
    database connection from the secret's keys (build_secrets), never a plain environment value
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html)."""
    svc = app.service
    container = {
        "name": CONTAINER,
        "image": image,
        "essential": True,
        # The task's whole memory, which is what Fargate gives a container that names none; said
        # explicitly because moto's RunTask cannot size a task without it.
        "memory": int(svc.memory),
        "portMappings": [{"containerPort": svc.container_port, "protocol": "tcp"}],
        "environment": [{"name": name, "value": value} for name, value in sorted(svc.env)],
        "secrets": build_secrets(app, secret_arn),
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": log_group, "awslogs-region": region_of(secret_arn), "awslogs-stream-prefix": CONTAINER}},
    }
    return {"family": owner.task_family, "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
            "cpu": svc.cpu, "memory": svc.memory, "executionRoleArn": role_arn, "containerDefinitions": [container],
            "tags": ecs.tag_list(owner.tags)}


def build_secrets(app: AppSpec, secret_arn: str) -> list[dict]:
    """The container's variables from the database secret's JSON keys: `databaseUrlEnv` from `url`, and
    each of `databaseEnv` from the key it names (`valueFrom: <arn>:<json-key>::`, the version left to
    ECS, which reads the current one at each task start)."""
    wanted = sorted({app.service.database_url_env: "url", **dict(app.service.database_env)}.items())
    return [{"name": name, "valueFrom": f"{secret_arn}:{key}::"} for name, key in wanted]


def build_image_reference(image: Mapping) -> str:
    """The ECR copy by digest (status.image), never a tag that can move."""
    return f"{image['repositoryUri']}@{image['digest']}"


def essentials(task_definition: Mapping) -> dict:
    """What decides whether a revision is the one we want: the fields we set, in a canonical form (ECS
    adds defaults of its own to what it describes)."""
    container = task_definition["containerDefinitions"][0]
    return {
        "family": task_definition.get("family"), "cpu": str(task_definition.get("cpu")),
        "memory": str(task_definition.get("memory")), "networkMode": task_definition.get("networkMode"),
        "requiresCompatibilities": sorted(task_definition.get("requiresCompatibilities") or []),
        "executionRoleArn": task_definition.get("executionRoleArn"),
        "taskRoleArn": task_definition.get("taskRoleArn"),
        "container": {
            "name": container.get("name"), "image": container.get("image"), "entryPoint": container.get("entryPoint"),
            "portMappings": sorted((p["containerPort"], p.get("protocol", "tcp"))
                                   for p in container.get("portMappings", [])),
            "environment": sorted((e["name"], e["value"]) for e in container.get("environment") or []),
            "secrets": sorted((s["name"], s["valueFrom"]) for s in container.get("secrets") or []),
            "logConfiguration": container.get("logConfiguration"),
        },
    }


def build_network(subnets: list[str], groups: list[str], public: bool) -> dict:
    return {"awsvpcConfiguration": {"subnets": sorted(subnets), "securityGroups": sorted(groups),
                                    "assignPublicIp": "ENABLED" if public else "DISABLED"}}


def build_service_request(app: AppSpec, owner: Owner, task_definition: str, subnets: list[str],
                          groups: list[str]) -> dict:
    """CreateService: Fargate, the deployment circuit breaker with rollback
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html)."""
    svc = app.service
    return {"cluster": svc.cluster, "serviceName": owner.task_family, "taskDefinition": task_definition,
            "desiredCount": svc.desired_count, "launchType": "FARGATE",
            "networkConfiguration": build_network(subnets, groups, svc.assign_public_ip),
            "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                                        "maximumPercent": 200, "minimumHealthyPercent": 100},
            "propagateTags": "SERVICE", "enableECSManagedTags": True, "tags": ecs.tag_list(owner.tags)}


def build_service_changes(service: Mapping, app: AppSpec, task_definition: str, subnets: list[str],
                          groups: list[str]) -> dict:
    """The UpdateService parameters that bring `service` to the spec (empty when it matches)."""
    changes: dict = {}
    if service.get("taskDefinition") != task_definition:
        changes["taskDefinition"] = task_definition
    if service.get("desiredCount") != app.service.desired_count:
        changes["desiredCount"] = app.service.desired_count
    wanted = build_network(subnets, groups, app.service.assign_public_ip)
    current = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    if build_network(current.get("subnets", []), current.get("securityGroups", []),
                     current.get("assignPublicIp") == "ENABLED") != wanted:
        changes["networkConfiguration"] = wanted
    return changes


def build_redeploy(service: Mapping, before: Mapping, generation: int) -> bool:
    """Deploy once more: the last deployment failed (RolloutFailed, reported for an older generation) and the
    user has changed the spec since, which a task definition that did not change would not show to ECS."""
    return (_primary(service).get("rolloutState") == "FAILED" and before.get("reason") == Reason.ROLLOUT_FAILED
            and before.get("observedGeneration") != generation)


def _was_stable(context: Context) -> bool:
    """The last pass found the service stable (or already below its desired count after that)."""
    before = condition(context.previous, SERVICE_STABLE)
    return before.get("status") == "True" or before.get("reason") == Reason.BELOW_DESIRED


def _primary(service: Mapping) -> Mapping:
    return next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})


def build_corrections(service: Mapping, changes: Mapping, previous: Mapping) -> list[str]:
    """Which of `changes` undo drift rather than follow a spec change: the status from the last pass
    shows what the operator itself had set."""
    corrections = []
    if "desiredCount" in changes and previous.get("desiredCount") == changes["desiredCount"]:
        corrections.append(f"desired count of ECS service {service['serviceName']} was changed to "
                           f"{service.get('desiredCount')} outside the operator; set back to {changes['desiredCount']}")
    if "taskDefinition" in changes and previous.get("taskDefinitionArn") == changes["taskDefinition"]:
        corrections.append(f"task definition of ECS service {service['serviceName']} was swapped to "
                           f"{service.get('taskDefinition')} outside the operator; set back to "
                           f"{changes['taskDefinition']}")
    return corrections


def build_report(app: AppSpec, cluster: Mapping, service: Mapping, endpoint: str | None,
                 corrections: tuple[str, ...] = (), was_stable: bool = False) -> StepOutcome:
    """ServiceStable only when the primary deployment is complete and running equals desired. Degraded when
    the app runs but not as it should: a deployment that failed (Stalled: the same task definition would
    fail again; a new generation deploys once more), or fewer tasks running than desired after the service
    was stable (ECS replaces them itself: looked at again soon)."""
    primary = _primary(service)
    rollout = primary.get("rolloutState")
    desired, running = service.get("desiredCount", 0), service.get("runningCount", 0)
    status = {"service": {k: v for k, v in {
        "clusterArn": cluster.get("clusterArn"), "serviceArn": service.get("serviceArn"),
        "taskDefinitionArn": service.get("taskDefinition"), "desiredCount": desired, "runningCount": running,
        "rolloutState": rollout, "endpoint": endpoint}.items() if v is not None}}
    name = service.get("serviceName")
    if rollout == "COMPLETED" and running == desired:
        return StepOutcome(True, Reason.STABLE, f"ECS service {name}: {running} of {desired} tasks running"
                           + (f" at {endpoint}" if endpoint else ""), status, corrections=corrections)
    if rollout == "FAILED":
        return StepOutcome(False, Reason.ROLLOUT_FAILED, f"ECS service {name}: the deployment failed and the circuit "
                           f"breaker stopped it ({running} of {desired} tasks running): "
                           f"{primary.get('rolloutStateReason', '')}; a change to the spec or the image deploys again",
                           status, corrections=corrections, stalled=True,
                           phase=Phase.DEGRADED if running else Phase.FAILED)
    if rollout == "COMPLETED" and was_stable:
        return StepOutcome(False, Reason.BELOW_DESIRED, f"ECS service {name}: {running} of {desired} tasks running "
                           "after it was stable; ECS is replacing the missing ones", status, waiting=True,
                           corrections=corrections, phase=Phase.DEGRADED)
    return StepOutcome(False, Reason.ROLLING_OUT, f"ECS service {name}: {running} of {desired} tasks running, "
                       f"deployment {rollout or 'starting'}", status, waiting=True, corrections=corrections)


def ensure_cluster(region: str | None, name: str, owner: Owner) -> dict:
    """The ECS cluster `name`, made if missing. Shared by every resource that names it, so it carries no
    owner tag and is never deleted by us."""
    found = ecs.find_cluster(region, name)
    if found is not None:
        return found
    log.info("%s: creating ECS cluster %s", owner.ref, name)
    return ecs.create_cluster(region, name, {"appmod.io/managed-by": "appmod-operator"})


def ensure_task_definition(region: str | None, wanted: dict, service: Mapping | None, revisions: list[str]) -> str:
    """The ARN of a revision matching `wanted`: the service's own, else our latest of the family's active
    `revisions`, else a new one."""
    candidates = [service["taskDefinition"]] if service else []
    candidates += [arn for arn in revisions[-1:] if arn not in candidates]
    for arn in candidates:
        found = ecs.find_task_definition(region, arn)
        if found is not None and essentials(found) == essentials(wanted):
            return arn
    made = ecs.register_task_definition(region, wanted)
    log.info("registered task definition %s", made["taskDefinitionArn"])
    return made["taskDefinitionArn"]


def _endpoint(app: AppSpec, service: Mapping) -> str | None:
    """`http://<public ip>:<port>` of a running task of the service, when public IPs are assigned."""
    if not app.service.assign_public_ip or not service.get("runningCount"):
        return None
    for task in find_service_tasks(app.region, app.service.cluster, service["serviceName"], ("RUNNING",)):
        for attachment in task.get("attachments", []):
            details = {d["name"]: d["value"] for d in attachment.get("details", [])}
            ip = ec2.public_ip(app.region, details["networkInterfaceId"]) if "networkInterfaceId" in details else None
            if ip:
                return f"http://{ip}:{app.service.container_port}"
    return None


def region_of(arn: str) -> str:
    return arn.split(":")[3]
