"""What the ECS service scheduler does, on moto's records (moto starts no task for a service and reports
whatever running count it was told): keep `desiredCount` tasks of the service's task definition,
replace a task that stopped, stop the tasks of a superseded definition once the new ones run, stop
every task of a deleted service, and report the counts and the rollout state in the service's
deployment. The deployment circuit breaker fails a rollout after as many failed tasks as ECS's
threshold (half the desired count, 3 to 200) and then starts no more; it does not roll back.
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html)

`keep` only changes moto's records (it makes tasks with moto's own RunTask); executor.py runs them.
Called by executor.py, under its lock, each tick and right after CreateService and UpdateService
(server.py), so that no reply reports a count that no container backs.
"""

from __future__ import annotations

import math

from moto.moto_api._internal import mock_random

SCHEDULER = "ServiceSchedulerInitiated"


def keep(backend, svc) -> None:
    tasks = [t for t in backend.tasks.get(svc.cluster_name, {}).values() if t.group == f"service:{svc.name}"]
    live = [t for t in tasks if t.desired_status != "STOPPED"]
    if svc.status != "ACTIVE":
        for task in live:
            stop(task, "Service deleted")
        svc.running_count = svc.pending_count = 0
        return
    deployment = _deployment(svc)
    current = [t for t in live if t.task_definition_arn == svc.task_definition]
    _count_failures(deployment, tasks)
    if deployment["rolloutState"] != "FAILED":
        for _ in range(svc.desired_count - len(current)):
            current += _start(backend, svc, deployment)
    for task in current[svc.desired_count:]:
        stop(task, "Task stopped because the service was scaled in")
    current = current[:svc.desired_count]
    running = [t for t in current if t.last_status == "RUNNING"]
    if len(running) == len(current):
        for task in live:
            if task not in current:
                stop(task, f"Task stopped by deployment {deployment['id']}")
    others_running = sum(1 for t in live if t not in current and t.last_status == "RUNNING")
    svc.running_count = len(running) + others_running
    svc.pending_count = len(current) - len(running)
    deployment.update(desiredCount=svc.desired_count, runningCount=len(running), pendingCount=svc.pending_count,
                      taskDefinition=svc.task_definition)
    if deployment["rolloutState"] == "IN_PROGRESS" and len(running) == svc.desired_count and not others_running:
        deployment.update(rolloutState="COMPLETED", rolloutStateReason=f"ECS deployment {deployment['id']} completed.")


def stop(task, reason: str) -> None:
    """As the scheduler stops a task: desired STOPPED; the executor stops its container."""
    if task.desired_status != "STOPPED":
        task.desired_status, task.stopped_reason, task.stop_code = "STOPPED", reason, SCHEDULER


def _deployment(svc) -> dict:
    """The service's one deployment, new (IN_PROGRESS) whenever the task definition changed or a new
    deployment was forced (moto gives it a new id) since the last look."""
    deployment = svc.deployments[0]
    seen = getattr(svc, "appmod_deployed", None)
    if seen is not None and seen[0] != svc.task_definition and seen[1] == deployment["id"]:
        deployment["id"] = f"ecs-svc/{mock_random.randint(0, 32**12)}"
    if seen != (svc.task_definition, deployment["id"]):
        svc.appmod_deployed = (svc.task_definition, deployment["id"])
        deployment.update(rolloutState="IN_PROGRESS", failedTasks=0,
                          rolloutStateReason=f"ECS deployment {deployment['id']} in progress.")
    return deployment


def _count_failures(deployment: dict, tasks: list) -> None:
    """Tasks of this deployment that stopped on their own while it rolled out; past the threshold the
    rollout FAILED."""
    if deployment["rolloutState"] != "IN_PROGRESS":
        return
    for task in tasks:
        if (task.started_by == deployment["id"] and task.last_status == "STOPPED"
                and getattr(task, "stop_code", None) != SCHEDULER and not getattr(task, "appmod_counted", False)):
            task.appmod_counted = True
            deployment["failedTasks"] += 1
    threshold = min(200, max(3, math.ceil(deployment["desiredCount"] / 2)))
    if deployment["failedTasks"] >= threshold:
        deployment.update(rolloutState="FAILED", rolloutStateReason="ECS deployment circuit breaker: tasks failed "
                                                                    "to start.")


def _start(backend, svc, deployment: dict) -> list:
    """One task of the service, as the scheduler starts it: its group, the deployment as startedBy, the
    service's network, its tags when it propagates them."""
    tags = svc.tags if svc.propagate_tags == "SERVICE" else []
    return backend.run_task(svc.cluster_name, svc.task_definition, 1, None, deployment["id"], tags, "FARGATE",
                            svc.network_configuration, group=f"service:{svc.name}")
