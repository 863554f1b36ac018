"""The teardown on moto (reconcile/teardown.py): what each deletionPolicy leaves of ours, kind by kind;
the roles and logs waiting for the service's tasks to stop; Stalled for a refused deletion and for one
blocked past APPMOD_TEARDOWN_TIMEOUT_SECONDS (from metadata.deletionTimestamp); no AWS call at all for a
resource that never started, and none while paused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from appmod_operator import config, spec
from appmod_operator.aws import clients, ecs
from appmod_operator.reconcile import data_task, engine, execution, repository, service
from tests.aws.conftest import OWNER, body
from tests.aws.test_service import CLUSTER, SERVICE, app_body, conditions, described_service, settle

OPERATOR_IMAGE = "public.ecr.aws/appmod/operator@sha256:" + "ab" * 32
KINDS = ("clusters", "instances", "snapshots", "secrets", "repositories", "task definitions", "services", "roles",
         "log groups", "security groups", "subnet groups")
# What a reconciled resource has in AWS (its Fargate data migration's task definition and role included).
EVERYTHING = {"clusters": 1, "instances": 1, "snapshots": 0, "secrets": 1, "repositories": 1, "task definitions": 2,
              "services": 1, "roles": 2, "log groups": 1, "security groups": 2, "subnet groups": 1}
# What each policy keeps, as the delete_* docstrings say: Snapshot keeps the final snapshot, the logs and
# the repository's images (repository.delete_repository); Retain keeps everything.
KEPT = {"Delete": {}, "Snapshot": {"snapshots": 1, "log groups": 1, "repositories": 1}, "Retain": EVERYTHING}


def ours(tags: dict) -> bool:
    return tags.get("appmod.io/owner") == OWNER.ref


def left(boto) -> dict[str, int]:
    """What of ours is in moto, by kind (an ACTIVE task definition or service; a secret not scheduled for
    deletion)."""
    rds, ec2, ecr, services, iam = boto("rds"), boto("ec2"), boto("ecr"), boto("ecs"), boto("iam")
    repositories = [r for r in ecr.describe_repositories()["repositories"]
                    if ours(clients.tag_dict(ecr.list_tags_for_resource(resourceArn=r["repositoryArn"])["tags"]))]
    return {
        "clusters": sum(ours(clients.tag_dict(c.get("TagList"))) for c in rds.describe_db_clusters()["DBClusters"]),
        "instances": sum(ours(clients.tag_dict(i.get("TagList"))) for i in rds.describe_db_instances()["DBInstances"]),
        "snapshots": sum(s["DBClusterSnapshotIdentifier"].startswith(f"{OWNER.cluster_identifier}-snapshot-")
                         for s in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]),
        "secrets": sum(ours(clients.tag_dict(s.get("Tags"))) and not s.get("DeletedDate")
                       for s in boto("secretsmanager").list_secrets()["SecretList"]),
        "repositories": len(repositories),
        "task definitions": sum(len(services.list_task_definitions(familyPrefix=family, status="ACTIVE")[
            "taskDefinitionArns"]) for family in (OWNER.task_family, OWNER.migration_family)),
        "services": sum(s["status"] == "ACTIVE"
                        for s in services.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]),
        "roles": sum(r["RoleName"] in (OWNER.execution_role_name, OWNER.migration_role_name)
                     for r in iam.list_roles()["Roles"]),
        "log groups": sum(g["logGroupName"] == OWNER.log_group_name
                          for g in boto("logs").describe_log_groups(logGroupNamePrefix="/appmod/")["logGroups"]),
        "security groups": len(ec2.describe_security_groups(Filters=[
            {"Name": "tag:appmod.io/owner", "Values": [OWNER.ref]}])["SecurityGroups"]),
        "subnet groups": sum(g["DBSubnetGroupName"] == OWNER.subnet_group_name
                             for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]),
    }


def reconciled(policy: str) -> dict:
    """A resource whose every step is done, and what its Fargate data migration makes besides (its task
    definition family and task role, through the data runner's own build functions)."""
    resource = app_body()
    resource["spec"]["deletionPolicy"] = policy
    settle(resource)
    app = spec.parse(resource["spec"], OWNER.namespace, OWNER.name)
    secret = resource["status"]["database"]["secretArn"]
    current = ecs.find_task_definition(None, resource["status"]["service"]["taskDefinitionArn"])
    wanted = data_task.build_task_definition(app, OWNER, OPERATOR_IMAGE, secret, current["executionRoleArn"],
                                             execution.ensure_migration_role(
                                                 app, OWNER, repository.find_repository(app)["repositoryArn"], None),
                                             OWNER.log_group_name)
    service.ensure_task_definition(app.region, wanted, None, [])
    return resource


def tear_down(resource: dict, passes: int = 8):
    for _ in range(passes):
        result = engine.teardown(resource)
        if result.retry_after is None:
            return result
        resource["status"] = result.status
    raise AssertionError(f"teardown did not finish: {result.message}")


@pytest.mark.parametrize("policy", ["Delete", "Snapshot", "Retain"])
def test_each_policy_leaves_of_ours_only_what_it_keeps(boto, every_call, policy):
    resource = reconciled(policy)
    assert left(boto) == EVERYTHING
    every_call.clear()
    tear_down(resource)
    assert left(boto) == {kind: KEPT[policy].get(kind, 0) for kind in KINDS}
    assert boto("ecs").describe_clusters(clusters=[CLUSTER])["clusters"][0]["status"] == "ACTIVE"  # shared: kept
    if policy == "Retain":
        assert sum(every_call.values()) == 0, every_call  # AWS is left as it is: not even read


def service_task(boto) -> str:
    """A task of the service, as ECS starts it (moto starts none). moto moves a task one state on at each
    DescribeTasks, RUNNING to STOPPED in four, as a task of a deleted service stops."""
    found = described_service(boto)
    return boto("ecs").run_task(cluster=CLUSTER, taskDefinition=found["taskDefinition"], group=f"service:{SERVICE}",
                                launchType="FARGATE", networkConfiguration=found["networkConfiguration"]
                                )["tasks"][0]["taskArn"]


def roles_and_logs(boto) -> tuple[bool, bool]:
    role = OWNER.execution_role_name in [r["RoleName"] for r in boto("iam").list_roles()["Roles"]]
    logs = [g["logGroupName"] for g in boto("logs").describe_log_groups(logGroupNamePrefix="/appmod/")["logGroups"]]
    return role, OWNER.log_group_name in logs


def test_the_roles_and_logs_wait_for_the_service_tasks_to_stop(boto):
    resource = app_body()
    resource["spec"]["deletionPolicy"] = "Delete"
    settle(resource)
    service_task(boto)
    first = engine.teardown(resource)
    assert first.retry_after == 1 and first.status["phase"] == "Deleting"  # the finalizer stays
    assert conditions(first.status)["ServiceStable"] == ("False", "Draining")
    assert "waiting for its 1 task to stop" in first.message, first.message
    assert described_service(boto)["status"] != "ACTIVE" and roles_and_logs(boto) == (True, True)
    tear_down(resource)
    assert roles_and_logs(boto) == (False, False)


@contextmanager
def refusing(operation: str, code: str, status: int, message: str) -> Iterator[None]:
    """The operator's IAM client answers `operation` with this error, as AWS would (moto enforces no policy)."""
    class Answer:
        status_code, headers, raw, content = status, {}, None, b""

    events, event = clients.client("iam", None).meta.events, f"before-call.iam.{operation}"
    events.register(event, lambda **_: (Answer(), {"Error": {"Code": code, "Message": message}}), unique_id="refusal")
    try:
        yield
    finally:
        events.unregister(event, unique_id="refusal")


def test_a_refused_deletion_stalls_with_aws_message_and_keeps_the_finalizer(boto):
    resource = app_body()
    resource["spec"]["deletionPolicy"] = "Delete"
    settle(resource)
    with refusing("DeleteRole", "AccessDenied", 403, "User: appmod is not authorized to perform: iam:DeleteRole"):
        result = engine.teardown(resource)
    stalled = {c["type"]: c for c in result.status["conditions"]}["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "AwsRequestRejected")
    assert "iam.DeleteRole: AccessDenied: User: appmod is not authorized" in stalled["message"]
    assert result.retry_after == config.current().resync_seconds  # retried, at the resync's pace
    assert conditions(result.status)["ServiceStable"] == ("False", "AwsRequestRejected")
    assert conditions(result.status)["Reconciling"] == ("False", "Stalled")
    assert boto("ecr").describe_repositories()["repositories"] == []  # the other kinds went on
    resource["status"] = result.status
    tear_down(resource)  # permission granted: the next passes finish
    assert roles_and_logs(boto) == (False, False)


def asked(seconds_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_teardown_blocked_past_the_timeout_stalls_counting_from_the_deletion_timestamp(boto, monkeypatch):
    monkeypatch.setenv("APPMOD_TEARDOWN_TIMEOUT_SECONDS", "600")
    config.load()
    resource = app_body()
    resource["spec"]["deletionPolicy"] = "Delete"
    settle(resource)
    with refusing("DeleteRole", "DeleteConflict", 409, "Cannot delete entity, must remove roles from instance profile"):
        resource["metadata"]["deletionTimestamp"] = asked(60)
        early = engine.teardown(resource)
        # A restarted operator knows nothing but the resource: the time comes from its deletionTimestamp.
        resource["metadata"]["deletionTimestamp"] = asked(700)
        late = engine.teardown(resource)
    assert conditions(early.status)["Stalled"] == ("False", "Deleting") and early.retry_after == 1
    assert conditions(early.status)["ServiceStable"] == ("False", "AwsRetrying")
    stalled = {c["type"]: c for c in late.status["conditions"]}["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "TeardownTimedOut")
    assert "APPMOD_TEARDOWN_TIMEOUT_SECONDS (600 s)" in stalled["message"]
    assert "iam.DeleteRole: DeleteConflict: Cannot delete entity" in stalled["message"]
    assert late.retry_after == config.current().resync_seconds


def test_a_resource_that_never_started_is_released_without_any_aws_call(every_call):
    stalled = body()
    stalled["spec"]["database"] = {"minCapacity": 8, "maxCapacity": 4}  # Stalled on the spec from the first pass
    stalled["status"] = engine.reconcile(stalled).status
    fixed = body(generation=2)  # fixed, then deleted before a pass ran the steps
    fixed["status"] = stalled["status"]
    assert engine.teardown(fixed).retry_after is None
    assert sum(every_call.values()) == 0, every_call
    del fixed["status"]  # no status proves nothing (the command line keeps none): AWS is looked at
    engine.teardown(fixed)
    assert every_call["ecs.DescribeServices"] == 1


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_a_paused_resource_waits_for_unpausing_without_touching_aws(boto, every_call, policy):
    resource = app_body()
    settle(resource)
    resource["spec"].update(paused=True, deletionPolicy=policy)
    every_call.clear()
    result = engine.teardown(resource)
    assert sum(every_call.values()) == 0, every_call
    assert result.retry_after == config.current().resync_seconds and result.status["phase"] == "Deleting"
    said = {c["type"]: c for c in result.status["conditions"]}
    assert conditions(result.status)["Reconciling"] == ("False", "Paused")
    for summary in ("Ready", "Reconciling"):
        assert "paused" in said[summary]["message"] and "spec.paused: false" in said[summary]["message"]
        assert "deletionPolicy: Retain" in said[summary]["message"]
    assert described_service(boto)["status"] == "ACTIVE"
    resource["spec"]["deletionPolicy"] = "Retain"
    assert engine.teardown(resource).retry_after is None and sum(every_call.values()) == 0


def test_a_service_of_our_name_that_is_not_ours_is_left_alone_and_not_waited_for(boto):
    ecs_api = boto("ecs")
    ecs_api.create_cluster(clusterName=CLUSTER)
    theirs = ecs_api.register_task_definition(
        family="someone-else", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{"name": "x", "image": "nginx", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    subnet = boto("ec2").describe_subnets()["Subnets"][0]
    group = boto("ec2").describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]}])[
        "SecurityGroups"][0]
    network = {"awsvpcConfiguration": {"subnets": [subnet["SubnetId"]], "securityGroups": [group["GroupId"]]}}
    ecs_api.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=theirs, desiredCount=1,
                           launchType="FARGATE", networkConfiguration=network)
    ecs_api.run_task(cluster=CLUSTER, taskDefinition=theirs, group=f"service:{SERVICE}", launchType="FARGATE",
                     networkConfiguration=network)
    resource = body()
    resource["spec"]["deletionPolicy"] = "Delete"
    assert engine.teardown(resource).retry_after is None
    assert described_service(boto)["status"] == "ACTIVE"
