"""The schema migration by the app's own command (strategy AppCommand) on moto: a one-off Fargate task of
the image by digest with the command overridden and the database URL from the secret, on the service's
network; waiting for the database and the image; re-checked pass by pass, never waited for; success on
exit 0 only, failures with exit code, stop code and log stream; started exactly once per generation and
source digest, across passes and across a restarted operator.

moto's tasks start RUNNING and move one state per DescribeTasks call (DEACTIVATING, STOPPING,
DEPROVISIONING, STOPPED); their containers always report exit code 0 and no stop code, so failures are
made by rewriting what DescribeTasks answers, and checked on realistic DescribeTasks-shaped tasks.
"""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest

from appmod_operator import spec, status
from appmod_operator.aws import clients, ecs
from appmod_operator.reconcile import engine, schema
from appmod_operator.reconcile.outcome import Context, StepOutcome
from tests.aws.conftest import OWNER, body
from tests.aws.steps import context, forget_markers, next_context, passes_until_ready

COMMAND = ["python", "manage.py", "migrate", "--noinput"]
OTHER_DIGEST = "sha256:" + "0" * 64
TASK_ID = "0123456789abcdef0123456789abcdef"
TASK_ARN = f"arn:aws:ecs:us-east-1:123456789012:task/appmod/{TASK_ID}"





def resource(generation: int = 1, strategy: str = "AppCommand") -> dict:
    made = body(generation)
    made["spec"]["migration"] = {"schema": {"strategy": strategy, **({"command": COMMAND}
                                                                     if strategy == "AppCommand" else {})},
                                 "data": {"enabled": strategy == "Convert"}}  # Convert needs the data migration
    return made


def app_of(made: dict) -> spec.AppSpec:
    return spec.parse(made["spec"], OWNER.namespace, OWNER.name)


APP = app_of(resource())


@pytest.fixture
def ready() -> dict:
    """The status of engine passes that left the database and the image ready (and the service made), for a
    spec with no migration of its own (strategy None, no data): the tests run the step themselves on it."""
    return passes_until_ready(resource(strategy="None"))


@pytest.fixture
def calls(calls):
    """conftest's recorder, extended to the operator's ECS client."""
    clients.client("ecs", None).meta.events.register("before-call", lambda model, **_: calls.update([model.name]))
    return calls


def run(ctx: Context, passes: int = 8, app: spec.AppSpec = APP) -> tuple[list[StepOutcome], Context]:
    """Passes of the step, each seeing the status the one before left, until one is final."""
    outcomes = []
    for _ in range(passes):
        outcomes.append(schema.ensure_schema(app, OWNER, ctx))
        ctx = next_context(ctx, outcomes[-1], status.SCHEMA_MIGRATED)
        if not outcomes[-1].waiting:
            break
    return outcomes, ctx


def listed(boto) -> list[str]:
    """Every task of the cluster (moto lists stopped ones without a filter; listing does not advance them)."""
    return boto("ecs").list_tasks(cluster=APP.service.cluster)["taskArns"]


def fail_stopped_tasks(monkeypatch, exit_code: int | None = 1, stop_code: str = "EssentialContainerExited",
                       reason: str = "Essential container in task exited") -> None:
    """DescribeTasks answers for stopped tasks as ECS does for a failed command (moto reports exit code 0)."""
    real = ecs.describe_tasks

    def describe(region, cluster, arns):
        tasks = real(region, cluster, arns)
        for task in tasks:
            if task["lastStatus"] == "STOPPED":
                task.update(stopCode=stop_code, stoppedReason=reason)
                task["containers"][0].pop("exitCode", None)
                if exit_code is not None:
                    task["containers"][0]["exitCode"] = exit_code
        return tasks
    monkeypatch.setattr(ecs, "describe_tasks", describe)


def described_task(task_arn: str | None = None, **changes) -> dict:
    """A STOPPED task as DescribeTasks gives it, with `changes`."""
    task = {"taskArn": task_arn or TASK_ARN, "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
            "startedBy": "appmod-schema-0123456789abcdef", "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "overrides": {"containerOverrides": [{"name": "app", "command": COMMAND}]},
            "containers": [{"name": "app", "lastStatus": "STOPPED", "exitCode": 0}]}
    container = changes.pop("container", {})
    task.update(changes)
    task["containers"][0].update(container)
    return task


# Waiting, and strategies that are not this step's


@pytest.mark.parametrize(("done", "named"), [(frozenset(), "DatabaseReady and ImageReplicated are"),
                                             (frozenset({"DatabaseReady"}), "ImageReplicated is"),
                                             (frozenset({"ImageReplicated"}), "DatabaseReady is")])
def test_waits_for_the_database_and_the_image(ready, calls, done, named):
    calls.clear()
    outcome = schema.ensure_schema(APP, OWNER, context(ready, done=done))
    assert (outcome.done, outcome.reason, outcome.waiting) == (False, "WaitingForSteps", False)
    assert outcome.message == f"the schema migration task starts once {named} True"
    assert not calls and not outcome.status


@pytest.mark.parametrize(("strategy", "says"), [("Convert", "the data migration converts the schema"),
                                                ("None", "no schema migration is run")])
def test_other_strategies_are_not_this_step(calls, strategy, says):
    app = app_of(resource(strategy=strategy))
    outcome = schema.ensure_schema(app, OWNER, Context({}, {}, frozenset(), 1))
    assert (outcome.done, outcome.reason) == (True, "NotApplicable")
    assert outcome.message == f"spec.migration.schema.strategy is {strategy}, not AppCommand: {says}"
    assert schema.check_schema(app, OWNER, Context({}, {}, frozenset(), 1)) is None
    assert not calls


# The task


def test_the_task_runs_the_image_by_digest_with_the_command_and_the_secret(ready, boto, calls):
    calls.clear()
    outcome = schema.ensure_schema(APP, OWNER, context(ready))
    assert (outcome.done, outcome.reason, outcome.waiting) == (False, "TaskRunning", True)
    [arn] = listed(boto)
    assert outcome.status == {"migration": {"schema": {"strategy": "AppCommand", "taskArn": arn}}}
    assert outcome.message == f"schema migration task {arn.rsplit('/', 1)[-1]} ({' '.join(COMMAND)}) is RUNNING"
    task = boto("ecs").describe_tasks(cluster="appmod", tasks=[arn], include=["TAGS"])["tasks"][0]
    token = schema.build_started_by(OWNER, 1, ready["image"]["sourceDigest"], ready["database"]["resourceId"])
    assert task["startedBy"] == token and task["launchType"] == "FARGATE"
    assert task["overrides"]["containerOverrides"] == [{"name": "app", "command": COMMAND}]
    assert clients.tag_dict([{"Key": t["key"], "Value": t["value"]} for t in task["tags"]]) == {
        "appmod.io/owner": "shop/oscar", "appmod.io/uid": "uid-1", "appmod.io/generation": "1",
        "appmod.io/source-digest": ready["image"]["sourceDigest"]}
    # The service's own revision: same image by digest, same secret, role and log group; nothing registered.
    running = boto("ecs").describe_services(cluster="appmod", services=[OWNER.task_family])["services"][0]
    assert task["taskDefinitionArn"] == running["taskDefinition"]
    assert calls["RunTask"] == 1 and calls["RegisterTaskDefinition"] == 0
    definition = boto("ecs").describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
    [container] = definition["containerDefinitions"]
    assert container["image"] == f"{ready['image']['repositoryUri']}@{ready['image']['digest']}"
    assert container["secrets"] == [{"name": "DATABASE_URL", "valueFrom": f"{ready['database']['secretArn']}:url::"}]
    assert "DATABASE_URL" not in {e["name"] for e in container.get("environment", [])}
    assert "command" not in container  # the service runs the image's own command; only the task overrides it
    assert definition["executionRoleArn"].endswith(f"/{OWNER.execution_role_name}")
    assert container["logConfiguration"]["options"]["awslogs-group"] == OWNER.log_group_name


def test_the_task_is_on_the_service_network(ready, boto):
    outcome = schema.ensure_schema(APP, OWNER, context(ready))
    arn = outcome.status["migration"]["schema"]["taskArn"]
    task = boto("ecs").describe_tasks(cluster="appmod", tasks=[arn])["tasks"][0]
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    interface = boto("ec2").describe_network_interfaces(
        NetworkInterfaceIds=[details["networkInterfaceId"]])["NetworkInterfaces"][0]
    group = boto("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [OWNER.service_security_group_name]}])["SecurityGroups"][0]
    assert [g["GroupId"] for g in interface["Groups"]] == [group["GroupId"]]
    default_subnets = [s["SubnetId"] for s in boto("ec2").describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    assert details["subnetId"] in default_subnets


@pytest.mark.parametrize(("public", "assigned"), [(True, "ENABLED"), (False, "DISABLED")])
def test_the_request_assigns_a_public_ip_as_the_service_does(public, assigned):
    made = resource()
    made["spec"]["service"] = {"assignPublicIp": public}
    request = schema.build_run_task_request(app_of(made), OWNER, "arn:td:1", 3, OTHER_DIGEST, ["subnet-b", "subnet-a"],
                                            ["sg-1"], attempt=2)
    assert request["networkConfiguration"] == {"awsvpcConfiguration": {
        "subnets": ["subnet-a", "subnet-b"], "securityGroups": ["sg-1"], "assignPublicIp": assigned}}
    token = schema.build_started_by(OWNER, 3, OTHER_DIGEST)
    assert (request["startedBy"], request["clientToken"], request["count"]) == (token, f"{token}-2", 1)


def test_the_token_is_a_valid_started_by_for_exactly_one_generation_and_image():
    token = schema.build_started_by(OWNER, 1, OTHER_DIGEST)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,36}", token) and token.startswith("appmod-schema-")
    assert token == schema.build_started_by(OWNER, 1, OTHER_DIGEST)
    others = {schema.build_started_by(OWNER, 2, OTHER_DIGEST), schema.build_started_by(OWNER, 1, "sha256:" + "1" * 64),
              schema.build_started_by(dataclasses.replace(OWNER, uid="uid-2"), 1, OTHER_DIGEST),
              schema.build_started_by(dataclasses.replace(OWNER, name="oscar-2"), 1, OTHER_DIGEST),
              schema.build_started_by(OWNER, 1, OTHER_DIGEST, "cluster-MADEAGAIN")}  # a cluster made again
    assert token not in others and len(others) == 5


def test_the_step_registers_the_task_definition_when_the_service_has_none(ready, boto, calls):
    client = boto("ecs")
    client.delete_service(cluster="appmod", service=OWNER.task_family, force=True)
    for arn in client.list_task_definitions(familyPrefix=OWNER.task_family)["taskDefinitionArns"]:
        client.deregister_task_definition(taskDefinition=arn)
    calls.clear()
    first = run(context(ready))[0][-1]
    forget_markers(ready)
    second = run(context(ready, generation=2))[0][-1]
    assert calls["RegisterTaskDefinition"] == 1 and calls["RunTask"] == 2  # the second reuses the revision
    tasks = client.describe_tasks(cluster="appmod", tasks=[first.status["migration"]["schema"]["taskArn"],
                                                           second.status["migration"]["schema"]["taskArn"]])["tasks"]
    assert len({t["taskDefinitionArn"] for t in tasks}) == 1


def test_the_cluster_is_made_when_the_service_step_has_not(ready, boto):
    boto("ecs").delete_service(cluster="appmod", service=OWNER.task_family, force=True)
    boto("ecs").delete_cluster(cluster="appmod")
    outcome = schema.ensure_schema(APP, OWNER, context(ready))
    assert outcome.reason == "TaskRunning"
    assert boto("ecs").describe_clusters(clusters=["appmod"])["clusters"][0]["status"] == "ACTIVE"


# Progress, re-checked pass by pass


def test_migrated_once_the_task_exits_0(ready, boto, calls):
    calls.clear()
    outcomes, _ = run(context(ready))
    assert [o.reason for o in outcomes] == ["TaskRunning"] * 4 + ["Migrated"]  # moto: one state per look
    assert [o.message.rsplit(" ", 1)[-1] for o in outcomes[:4]] == ["RUNNING", "DEACTIVATING", "STOPPING",
                                                                    "DEPROVISIONING"]
    assert all(o.waiting and not o.done for o in outcomes[:4])
    final = outcomes[-1]
    [arn] = listed(boto)
    assert final.done and not final.waiting
    assert final.message == f"schema migration task {arn.rsplit('/', 1)[-1]} ({' '.join(COMMAND)}) exited 0"
    part = final.status["migration"]["schema"]
    assert part["strategy"] == "AppCommand" and part["taskArn"] == arn
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", part["completedAt"])
    assert calls["RunTask"] == 1 and calls["DescribeTasks"] == 4


def test_a_migrated_schema_costs_no_aws_call_until_the_image_changes(ready, calls):
    outcomes, after = run(context(ready))
    calls.clear()
    assert schema.check_schema(APP, OWNER, after) == outcomes[-1]
    assert schema.ensure_schema(APP, OWNER, after) == outcomes[-1]
    assert not calls
    moved = dataclasses.replace(after, current={**after.current, "image": {**after.current["image"],
                                                                           "sourceDigest": OTHER_DIGEST}})
    assert schema.check_schema(APP, OWNER, moved) is None


def test_a_new_generation_of_the_same_image_runs_no_migration_again(ready, calls):
    """A spec change such as the desired count (seed demo): the app's migrations are its image's."""
    outcomes, after = run(context(ready))
    calls.clear()
    later = dataclasses.replace(after, generation=2)
    assert schema.check_schema(APP, OWNER, later) == outcomes[-1]
    assert schema.ensure_schema(APP, OWNER, later) == outcomes[-1] and not calls


# Exactly once


def test_repeated_passes_start_one_task(ready, boto, calls):
    calls.clear()
    outcomes, _ = run(context(ready))
    outcomes += run(context(ready))[0]  # a pass that forgot the previous status, after success
    assert calls["RunTask"] == 1 and len(listed(boto)) == 1
    assert {o.status["migration"]["schema"]["taskArn"] for o in outcomes} == set(listed(boto))


def test_a_restarted_operator_finds_the_running_task(ready, boto, calls):
    first = schema.ensure_schema(APP, OWNER, context(ready))
    calls.clear()
    for _ in range(3):  # each a fresh start: no status, no memory of the task but its startedBy
        again = schema.ensure_schema(APP, OWNER, context(ready))
        assert again.status == first.status and again.reason == "TaskRunning"
    assert calls["RunTask"] == 0 and len(listed(boto)) == 1
    outcomes, _ = run(context(ready))
    assert outcomes[-1].reason == "Migrated" and calls["RunTask"] == 0


def test_a_new_source_digest_starts_a_new_task_and_a_new_generation_does_not(ready, boto, calls):
    """Each run starts from no status: what the cluster records (its markers) decides."""
    calls.clear()
    first = run(context(ready))[0][-1]
    newer = run(context(ready, generation=2))[0][-1]
    moved = run(context(ready, generation=2, sourceDigest=OTHER_DIGEST))[0][-1]
    arns = [o.status["migration"]["schema"]["taskArn"] for o in (first, newer, moved)]
    assert arns[0] == arns[1] and len(set(arns)) == 2 and calls["RunTask"] == 2
    assert "recorded on the cluster" in newer.message
    assert all(o.reason == "Migrated" for o in (first, newer, moved))
    described = boto("ecs").describe_tasks(cluster="appmod", tasks=[arns[0], arns[2]], include=["TAGS"])["tasks"]
    tasks = {t["taskArn"]: t for t in described}
    tags = [{t["key"]: t["value"] for t in tasks[arn]["tags"]} for arn in (arns[0], arns[2])]
    assert [(t["appmod.io/generation"], t["appmod.io/source-digest"]) for t in tags] == [
        ("1", ready["image"]["sourceDigest"]), ("2", OTHER_DIGEST)]
    assert [tasks[arn]["startedBy"] for arn in (arns[0], arns[2])] == [
        schema.build_started_by(OWNER, 1, ready["image"]["sourceDigest"], ready["database"]["resourceId"]),
        schema.build_started_by(OWNER, 2, OTHER_DIGEST, ready["database"]["resourceId"])]
    cluster = boto("rds").describe_db_clusters(DBClusterIdentifier=OWNER.cluster_identifier)["DBClusters"][0]
    recorded = {t["Key"]: t["Value"] for t in cluster["TagList"]}
    assert (recorded["appmod.io/schema-source-digest"], recorded["appmod.io/schema-task"]) == (OTHER_DIGEST, arns[2])


def test_a_new_task_waits_for_one_of_an_earlier_generation_still_running(ready, boto, calls):
    earlier = schema.ensure_schema(APP, OWNER, context(ready))
    earlier_id = earlier.status["migration"]["schema"]["taskArn"].rsplit("/", 1)[-1]
    calls.clear()
    outcomes, _ = run(context(ready, generation=2))
    waited = [o for o in outcomes if not o.status]
    assert [o.message.rsplit(" ", 1)[-1] for o in waited] == ["DEACTIVATING)", "STOPPING)", "DEPROVISIONING)"]
    assert waited[0].message == ("the schema migration task for this spec and source starts once task "
                                 f"{earlier_id} of an earlier one has stopped (it is DEACTIVATING)")
    assert all((o.done, o.reason, o.waiting) == (False, "TaskRunning", True) for o in waited)
    assert outcomes[-1].reason == "Migrated" and calls["RunTask"] == 1 and len(listed(boto)) == 2


# Failures


def test_a_failed_command_is_reported_with_exit_code_stop_code_and_log_stream(ready, boto, calls, monkeypatch):
    fail_stopped_tasks(monkeypatch, exit_code=1)
    calls.clear()
    outcomes, after = run(context(ready))
    failed = outcomes[-1]
    [arn] = listed(boto)
    task_id = arn.rsplit("/", 1)[-1]
    assert (failed.done, failed.reason, failed.waiting) == (False, "TaskFailed", False)
    assert failed.message == (
        f"schema migration task {task_id} (python manage.py migrate --noinput) stopped with exit code 1, stop code "
        f"EssentialContainerExited: Essential container in task exited; its output is in CloudWatch Logs group "
        f"/appmod/shop/oscar, stream app/app/{task_id}; it runs again for a new generation of the spec or a new "
        "version of the source")
    assert failed.status == {"migration": {"schema": {"strategy": "AppCommand", "taskArn": arn}}}
    calls.clear()
    assert schema.ensure_schema(APP, OWNER, after) == failed and not calls  # not started again, not looked at
    assert schema.check_schema(APP, OWNER, after) is None  # the resync's look is for a migrated schema only
    assert schema.ensure_schema(APP, OWNER, context(ready)) == failed  # a restart finds the failed task
    assert calls["RunTask"] == 0
    assert run(context(ready, generation=2))[0][0].reason == "TaskRunning" and calls["RunTask"] == 1


def test_a_task_that_failed_to_start_is_started_again_up_to_three_times(ready, boto, calls, monkeypatch):
    fail_stopped_tasks(monkeypatch, exit_code=None, stop_code="TaskFailedToStart",
                       reason="ResourceInitializationError: unable to pull secrets or registry auth")
    calls.clear()
    outcomes, _ = run(context(ready), passes=20)
    assert calls["RunTask"] == 3 and len(listed(boto)) == 3
    failed = outcomes[-1]
    assert failed.reason == "TaskFailed" and not failed.waiting
    assert "stopped with no exit code (the command did not run), stop code TaskFailedToStart: " \
           "ResourceInitializationError: unable to pull secrets or registry auth" in failed.message
    calls.clear()
    assert schema.ensure_schema(APP, OWNER, context(ready)).reason == "TaskFailed" and calls["RunTask"] == 0


@pytest.mark.parametrize(("changes", "says"), [
    ({"container": {"exitCode": 2, "reason": "OutOfMemoryError: Container killed due to memory usage"}},
     "stopped with exit code 2, stop code EssentialContainerExited: Essential container in task exited; "
     "OutOfMemoryError: Container killed due to memory usage; "),
    ({"stopCode": "UserInitiated", "stoppedReason": "Task stopped by user", "container": {"exitCode": 0}},
     "stopped with exit code 0, stop code UserInitiated: Task stopped by user; "),
    ({"stopCode": "TaskFailedToStart", "stoppedReason": "CannotPullContainerError: pull access denied",
      "container": {"exitCode": None}},
     "stopped with no exit code (the command did not run), stop code TaskFailedToStart: CannotPullContainerError: "
     "pull access denied; "),
    ({"stopCode": None, "stoppedReason": "", "container": {"exitCode": 137}}, "stopped with exit code 137, stop code "
     "none; "),
])
def test_the_report_of_a_failed_task(changes, says):
    task = described_task(**copy.deepcopy(changes))
    if task["containers"][0].get("exitCode") is None:
        del task["containers"][0]["exitCode"]
    outcome = schema.build_report(task, "/appmod/shop/oscar")
    assert (outcome.done, outcome.reason, outcome.waiting) == (False, "TaskFailed", False)
    assert outcome.message == (f"schema migration task {TASK_ID} (python manage.py migrate --noinput) {says}its output "
                               f"is in CloudWatch Logs group /appmod/shop/oscar, stream app/app/{TASK_ID}; it runs "
                               "again for a new generation of the spec or a new version of the source")
    assert outcome.status == {"migration": {"schema": {"strategy": "AppCommand", "taskArn": TASK_ARN}}}


def test_the_report_of_a_task_still_under_way_and_of_a_success():
    from datetime import UTC, datetime, timedelta, timezone

    for state in ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"):
        outcome = schema.build_report(described_task(lastStatus=state, container={"exitCode": None}), "g")
        assert (outcome.done, outcome.reason, outcome.waiting) == (False, "TaskRunning", True)
        assert outcome.message.endswith(f"is {state}")
    stopped_at = datetime(2026, 1, 2, 4, 5, 6, tzinfo=timezone(timedelta(hours=1)))
    done = schema.build_report(described_task(stoppedAt=stopped_at), "g")
    assert (done.done, done.reason) == (True, "Migrated")
    assert done.status["migration"]["schema"]["completedAt"] == "2026-01-02T03:05:06Z"
    assert stopped_at.astimezone(UTC).hour == 3


def test_the_engine_runs_the_step_and_the_service_waits_for_it(boto):
    made = resource()
    seen = []
    for _ in range(10):
        result = engine.reconcile(made)
        made["status"] = result.status
        got = {c["type"]: (c["status"], c["reason"]) for c in result.status["conditions"]}
        seen.append((got.get("SchemaMigrated"), got.get("ServiceStable")))
        if got.get("SchemaMigrated") == ("True", "Migrated"):
            break
    assert ("False", "TaskRunning") in [s for s, _ in seen]
    assert all(service == ("False", "WaitingForSteps") for schema_, service in seen if schema_ != ("True", "Migrated"))
    assert result.status["migration"]["schema"]["completedAt"]
    result = engine.reconcile(made)
    got = {c["type"]: (c["status"], c["reason"]) for c in result.status["conditions"]}
    assert got["ServiceStable"][1] != "WaitingForSteps"
