"""ECS: clusters, task definitions, services and tasks. Thin calls; the requests are built by
reconcile/service.py and reconcile/tasks.py, which call these.

ECS spells tags `key`/`value` (lowercase), unlike RDS, EC2 and Secrets Manager.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from appmod_operator.aws import clients
from appmod_operator.aws.clients import translated
from appmod_operator.errors import aws_error

CAPACITY_PROVIDERS = ["FARGATE", "FARGATE_SPOT"]


def _ecs(region: str | None):
    return clients.client("ecs", region)


tag_list = functools.partial(clients.tag_list, key="key", value="value")
tag_dict = functools.partial(clients.tag_dict, key="key", value="value")


@translated("ecs.DescribeClusters")
def find_cluster(region: str | None, name: str) -> dict | None:
    """The ACTIVE cluster called `name` (a deleted one lingers as INACTIVE: that counts as absent)."""
    found = _ecs(region).describe_clusters(clusters=[name])["clusters"]
    return next((c for c in found if c.get("status") == "ACTIVE"), None)


@translated("ecs.CreateCluster")
def create_cluster(region: str | None, name: str, tags: Mapping[str, str]) -> dict:
    return _ecs(region).create_cluster(clusterName=name, capacityProviders=CAPACITY_PROVIDERS, tags=tag_list(tags),
                                       defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}]
                                       )["cluster"]


@translated("ecs.DescribeTaskDefinition")
def find_task_definition(region: str | None, arn: str) -> dict | None:
    with clients.tolerating("ClientException", "InvalidParameterException"):
        return _ecs(region).describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return None


@translated("ecs.RegisterTaskDefinition")
def register_task_definition(region: str | None, request: dict) -> dict:
    return _ecs(region).register_task_definition(**request)["taskDefinition"]


@translated("ecs.ListTaskDefinitions")
def active_revisions(region: str | None, family: str) -> list[str]:
    pages = _ecs(region).get_paginator("list_task_definitions").paginate(familyPrefix=family, status="ACTIVE")
    return [arn for page in pages for arn in page["taskDefinitionArns"] if arn.split("/")[-1].rsplit(":", 1)[0]
            == family]


@translated("ecs.DeregisterTaskDefinition")
def deregister_task_definition(region: str | None, arn: str) -> None:
    _ecs(region).deregister_task_definition(taskDefinition=arn)


@translated("ecs.DescribeServices")
def find_service(region: str | None, cluster: str, name: str, statuses: tuple[str, ...] = ("ACTIVE",)) -> dict | None:
    """The service in one of `statuses`: ACTIVE by default (one being deleted is DRAINING, then INACTIVE:
    absent for a reconcile; a teardown waits for the DRAINING one)."""
    with clients.tolerating("ClusterNotFoundException"):
        found = _ecs(region).describe_services(cluster=cluster, services=[name], include=["TAGS"])["services"]
        return next((s for s in found if s.get("status") in statuses), None)
    return None


@translated("ecs.CreateService")
def create_service(region: str | None, request: dict) -> dict:
    return _ecs(region).create_service(**request)["service"]


@translated("ecs.UpdateService")
def update_service(region: str | None, cluster: str, name: str, changes: dict) -> dict:
    return _ecs(region).update_service(cluster=cluster, service=name, **changes)["service"]


@translated("ecs.DeleteService")
def delete_service(region: str | None, cluster: str, name: str) -> dict | None:
    """Deletes with force: ECS scales the tasks down itself. The service as ECS describes it once deleted
    (DRAINING while its tasks stop), or None when there was none."""
    with clients.tolerating("ServiceNotFoundException", "ClusterNotFoundException"):
        return _ecs(region).delete_service(cluster=cluster, service=name, force=True)["service"]
    return None


@translated("ecs.ListTasks")
def list_tasks(region: str | None, cluster: str, **filters) -> list[str]:
    """Task ARNs; filters as ListTasks takes them (serviceName, startedBy, desiredStatus, family)."""
    with clients.tolerating("ClusterNotFoundException"):
        return _ecs(region).list_tasks(cluster=cluster, **filters)["taskArns"]
    return []


@translated("ecs.DescribeTasks")
def describe_tasks(region: str | None, cluster: str, arns: list[str]) -> list[dict]:
    if not arns:
        return []
    return _ecs(region).describe_tasks(cluster=cluster, tasks=arns, include=["TAGS"])["tasks"]


@translated("ecs.RunTask")
def run_task(region: str | None, request: dict) -> dict:
    answer = _ecs(region).run_task(**request)
    if answer.get("failures") and not answer.get("tasks"):
        failure = answer["failures"][0]
        raise aws_error("ecs.RunTask", failure.get("reason", "Failure"), failure.get("detail", ""))
    return answer["tasks"][0]
