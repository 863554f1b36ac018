"""The data migration as a one-off Fargate task (`spec.migration.data.runner: Fargate`) on moto: the
operator's own image running `appmod migrate` with the database URL from the secret and a task role that
reads exactly the source; started exactly once per generation and source version, across passes and a
restarted operator; its result read back from the container's exit code and the summary it logged.

moto runs no container: its tasks start RUNNING, move one state per DescribeTasks call and stop with exit
code 0, and nothing writes their logs. So the tests write what `appmod migrate --json` would have logged
into the task's awslogs stream themselves, and make failures by rewriting what DescribeTasks answers.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time

import pytest

from appmod_operator import config, spec, status
from appmod_operator.aws import clients, ecs
from appmod_operator.errors import SpecError
from appmod_operator.migration.job import Report, TableReport
from appmod_operator.reconcile import data, data_task, engine, sqlite, tasks
from appmod_operator.reconcile.outcome import Context, StepOutcome
from appmod_operator.registry.client import Registry
from tests.aws.conftest import OWNER, body
from tests.aws.steps import BOTH, context, forget_markers, next_context, passes_until_ready
from tests.aws.test_sqlite_source import PATH_IN_IMAGE, database, push_database_image

OPERATOR_IMAGE = "public.ecr.aws/appmod/operator@sha256:" + "ab" * 32
BUCKET, KEY = "legacy-data", "exports/db.sqlite"
SOURCE_REPOSITORY = "t/data-task"
REPORT = Report([TableReport("product", 1200, 48_000, "c0ffee", "copied"),
                 TableReport("customer", 34, 2_100, "decade", "unchanged")], seconds=1.25,
                warnings=["product.price: 3 values kept as text"], untranslated=["trigger product_touch"])
SUMMARY = REPORT.summary()


def resource(image: str, generation: int = 1, **migration) -> dict:
    """A resource whose database sits at PATH_IN_IMAGE in `image`."""
    made = body(generation)
    made["spec"]["source"] = {"image": image, "database": {"sqlite": {"pathInImage": PATH_IN_IMAGE}}}
    made["spec"]["migration"] = migration or {"schema": {"strategy": "Convert"}, "data": {"runner": "Fargate"}}
    return made


def app_of(image: str, sqlite_source: dict | None = None, strategy: str = "Convert",
           verify: str = "Checksum") -> spec.AppSpec:
    made = resource(image, schema={"strategy": strategy}, data={"runner": "Fargate", "verify": verify})
    made["spec"]["source"]["database"]["sqlite"] = sqlite_source or {"pathInImage": PATH_IN_IMAGE}
    return spec.parse(made["spec"], OWNER.namespace, OWNER.name)


@pytest.fixture
def source_db(source_registry, tmp_path) -> tuple[str, bytes]:
    """An image in the source registry holding a real SQLite database at PATH_IN_IMAGE: its reference and
    the database's bytes."""
    made = database(tmp_path / "made.sqlite", "Oscar", "Sandbox")
    registry = Registry(source_registry.host, side="the source registry", insecure=True)
    try:
        push_database_image(registry, SOURCE_REPOSITORY, "v1", made)
    finally:
        registry.close()
    return f"{source_registry.host}/{SOURCE_REPOSITORY}:v1", made


@pytest.fixture
def ready(source_db) -> dict:
    """The status of engine passes that left the database and the image (copied to ECR) ready, for a spec
    that copies no data: the tests run the data step themselves on it."""
    return passes_until_ready(resource(source_db[0], schema={"strategy": "None"}, data={"enabled": False}))


@pytest.fixture
def app(source_db) -> spec.AppSpec:
    return app_of(source_db[0])


@pytest.fixture
def operator_image(monkeypatch) -> str:
    """APPMOD_OPERATOR_IMAGE set, as manifests/operator.yaml does, and the settings loaded again (then put back)."""
    monkeypatch.setenv("APPMOD_OPERATOR_IMAGE", OPERATOR_IMAGE)
    monkeypatch.setattr(config, "_current", None)
    assert config.load().operator_image == OPERATOR_IMAGE
    return OPERATOR_IMAGE


@pytest.fixture
def calls(calls):
    """conftest's recorder, extended to the operator's ECS, IAM, CloudWatch Logs and S3 clients."""
    for service in ("ecs", "iam", "logs", "s3"):
        clients.client(service, None).meta.events.register("before-call",
                                                           lambda model, **_: calls.update([model.name]))
    return calls


def run(app: spec.AppSpec, ctx: Context, passes: int = 8, after=None) -> tuple[list[StepOutcome], Context]:
    """Passes of the step, each seeing the status the one before left, until one is final; `after(outcome)`
    runs after each pass (to write what a task logged)."""
    outcomes = []
    for _ in range(passes):
        outcomes.append(data.ensure_data(app, OWNER, ctx))
        ctx = next_context(ctx, outcomes[-1], status.DATA_MIGRATED)
        if after is not None:
            after(outcomes[-1])
        if not outcomes[-1].waiting:
            break
    return outcomes, ctx


def data_tasks(boto) -> list[dict]:
    """Every data migration task of the cluster, in the order they were started (describing advances moto's
    tasks: call it only where a pass would have looked anyway, or at the end)."""
    arns = data_task_arns(boto)
    found = boto("ecs").describe_tasks(cluster="appmod", tasks=arns, include=["TAGS"])["tasks"] if arns else []
    assert all(t["startedBy"].startswith("appmod-data-") for t in found)
    return sorted(found, key=lambda t: arns.index(t["taskArn"]))


def data_task_arns(boto) -> list[str]:
    """The cluster's tasks in the order they were started (moto lists them so, stopped ones too, and gives no
    createdAt), without describing them (listing does not advance moto's tasks). moto starts no task of a
    service, so they are the data tasks; moto's `family` filter drops a task whose revision was deregistered."""
    return boto("ecs").list_tasks(cluster="appmod")["taskArns"]


def stream_of(task_arn: str) -> str:
    return f"migrate/migrate/{task_arn.rsplit('/', 1)[-1]}"


def log(boto, task_arn: str, *messages: str) -> None:
    """What the task's container wrote, into its awslogs stream, as the awslogs driver would."""
    client, stream = boto("logs"), stream_of(task_arn)
    if not client.describe_log_streams(logGroupName=OWNER.log_group_name,
                                       logStreamNamePrefix=stream)["logStreams"]:
        client.create_log_stream(logGroupName=OWNER.log_group_name, logStreamName=stream)
    now = int(time.time() * 1000)
    client.put_log_events(logGroupName=OWNER.log_group_name, logStreamName=stream,
                          logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)])


def log_summary(boto, task_arn: str, summary: dict = SUMMARY) -> None:
    """`appmod migrate --json`'s output: warnings on standard error, then the summary line."""
    log(boto, task_arn, "appmod: warning: product.price: 3 values kept as text",
        "appmod: not carried over: trigger product_touch", json.dumps(summary))


def logging(boto, *messages: str):
    """An `after` for run(): each new data task logs `messages`, by default a summary (as a task that will
    exit 0 does)."""
    logged: set[str] = set()

    def after(_outcome):
        for arn in data_task_arns(boto):
            if arn not in logged:
                log(boto, arn, *messages) if messages else log_summary(boto, arn)
                logged.add(arn)
    return after


def exit_codes(monkeypatch, *codes: int | None, stop_code: str = "EssentialContainerExited") -> None:
    """DescribeTasks answers for stopped tasks as ECS does for a command that exited: the n-th task started
    with codes[n] (the last code for any later one); moto always reports 0."""
    real, order = ecs.describe_tasks, []

    def describe(region, cluster, arns):
        described = real(region, cluster, arns)
        for task in described:  # in the order they were started (tasks.find_tasks)
            if task["taskArn"] not in order:
                order.append(task["taskArn"])
            if task["lastStatus"] == "STOPPED":
                code = codes[min(order.index(task["taskArn"]), len(codes) - 1)]
                task.update(stopCode=stop_code, stoppedReason="Essential container in task exited")
                container = next(c for c in task["containers"] if c["name"] == "migrate")
                container.pop("exitCode", None)
                if code is not None:
                    container["exitCode"] = code
        return described
    monkeypatch.setattr(ecs, "describe_tasks", describe)


def token_of(ready: dict, generation: int = 1) -> str:
    version = ready["image"]["sourceDigest"]
    return data_task.KIND.started_by(tasks.build_key(OWNER.ref, OWNER.uid, generation, version,
                                                     ready["database"]["resourceId"]))


def inline_policy(boto, role: str = OWNER.migration_role_name) -> dict:
    return boto("iam").get_role_policy(RoleName=role, PolicyName="appmod-migration-source")["PolicyDocument"]


def command_of(task: dict) -> list[str]:
    [override] = task["overrides"]["containerOverrides"]
    assert override["name"] == "migrate"
    return override["command"]


# What the task runs with


def test_the_task_runs_the_operator_image_with_the_url_from_the_secret(ready, app, boto, calls, operator_image):
    calls.clear()
    outcome = data.ensure_data(app, OWNER, context(ready))
    assert (outcome.done, outcome.reason, outcome.waiting, outcome.stalled) == (False, "TaskRunning", True, False)
    assert outcome.status == {"migration": {"data": {"sourceDigest": ready["image"]["sourceDigest"]}}}
    [task] = data_tasks(boto)
    image = ready["image"]
    command = ["migrate", PATH_IN_IMAGE, "--target-env", "APPMOD_TARGET_URL", "--schema", "convert",
               "--verify", "checksum", "--json", "--from-image", f"{image['repositoryUri']}@{image['digest']}"]
    assert command_of(task) == command
    assert outcome.message == f"data migration task {task['taskArn'].rsplit('/', 1)[-1]} ({' '.join(command)}) " \
                              "is RUNNING"
    assert task["startedBy"] == token_of(ready) and task["startedBy"].startswith("appmod-data-")
    assert task["launchType"] == "FARGATE"
    assert {t["key"]: t["value"] for t in task["tags"]} == {
        "appmod.io/owner": "shop/oscar", "appmod.io/uid": "uid-1", "appmod.io/generation": "1",
        "appmod.io/source-digest": image["sourceDigest"]}

    definition = boto("ecs").describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
    assert definition["family"] == OWNER.migration_family
    assert definition["taskRoleArn"].endswith(f":role/{OWNER.migration_role_name}")
    assert definition["executionRoleArn"].endswith(f":role/{OWNER.execution_role_name}")
    [container] = definition["containerDefinitions"]
    assert container["name"] == "migrate" and container["image"] == operator_image
    assert container["entryPoint"] == ["appmod"] and "command" not in container
    secret_arn = ready["database"]["secretArn"]
    assert container["secrets"] == [{"name": "APPMOD_TARGET_URL", "valueFrom": f"{secret_arn}:url::"}]
    assert container["environment"] == [{"name": "AWS_REGION", "value": "us-east-1"}]
    assert not container.get("portMappings")
    assert container["logConfiguration"] == {"logDriver": "awslogs", "options": {
        "awslogs-group": OWNER.log_group_name, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "migrate"}}
    # Neither the URL nor its password is anywhere ECS keeps it in the clear.
    secret = json.loads(boto("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])
    assert len(secret["password"]) >= 8 and secret["password"] in secret["url"]
    for described in (definition, task):
        text = json.dumps(described, default=str)
        assert secret["password"] not in text and secret["url"] not in text
    # ECS reads the secret with the execution role, which may read exactly it.
    execution_policy = boto("iam").get_role_policy(RoleName=OWNER.execution_role_name,
                                                   PolicyName="appmod-database-secret")["PolicyDocument"]
    assert execution_policy["Statement"] == [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                              "Resource": secret_arn}]
    assert calls["RunTask"] == 1 and calls["RegisterTaskDefinition"] == 1


def test_the_task_role_reads_exactly_the_ecr_repository(ready, app, boto, operator_image):
    data.ensure_data(app, OWNER, context(ready))
    repository = boto("ecr").describe_repositories(repositoryNames=[app.image.repository])["repositories"][0]
    assert repository["repositoryUri"] == ready["image"]["repositoryUri"]
    assert inline_policy(boto) == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Resource": repository["repositoryArn"]}]}
    role = boto("iam").get_role(RoleName=OWNER.migration_role_name)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    assert {t["Key"]: t["Value"] for t in role["Tags"]}["appmod.io/owner"] == "shop/oscar"
    assert boto("iam").list_attached_role_policies(RoleName=OWNER.migration_role_name)["AttachedPolicies"] == []


def test_the_command_reads_the_database_out_of_the_ecr_copy_by_digest(ready, app, boto, source_db, tmp_path,
                                                                      operator_image):
    """What the task would do with its command line: the database the status's digest names, from ECR."""
    data.ensure_data(app, OWNER, context(ready))
    command = command_of(data_tasks(boto)[0])
    reference = command[command.index("--from-image") + 1]
    assert reference.startswith(ready["image"]["repositoryUri"] + "@sha256:")
    got = tmp_path / "got.sqlite"
    assert sqlite.fetch_image_file(reference, command[1], got) == ready["image"]["digest"]
    assert got.read_bytes() == source_db[1]


def test_an_s3_source_is_read_by_the_task_with_a_role_for_that_object_only(ready, source_db, boto, calls,
                                                                           operator_image, tmp_path):
    s3 = boto("s3")
    s3.create_bucket(Bucket=BUCKET)
    etag = s3.put_object(Bucket=BUCKET, Key=KEY, Body=database(tmp_path / "s3.sqlite", "Oscar"))["ETag"]
    app = app_of(source_db[0], {"url": f"s3://{BUCKET}/{KEY}"}, strategy="None", verify="RowCount")
    done = BOTH | {"SchemaMigrated"}
    calls.clear()
    outcome = data.ensure_data(app, OWNER, context(ready, done=done))
    assert outcome.reason == "TaskRunning"
    assert outcome.status == {"migration": {"data": {"sourceDigest": "s3:" + etag.strip('"')}}}
    [task] = data_tasks(boto)
    assert command_of(task) == ["migrate", f"s3://{BUCKET}/{KEY}", "--target-env", "APPMOD_TARGET_URL",
                                "--schema", "existing", "--verify", "rowcount", "--json",
                                "--source-version", "s3:" + etag.strip('"')]
    assert inline_policy(boto) == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/{KEY}"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}",
         "Condition": {"StringEquals": {"s3:prefix": KEY}}}]}
    assert calls["RunTask"] == 1
    assert calls["GetObject"] == 0  # the task reads the object, not the operator


@pytest.mark.parametrize(("strategy", "done", "named"), [
    ("Convert", frozenset({"DatabaseReady"}), "ImageReplicated is"),
    ("Convert", frozenset({"ImageReplicated", "SchemaMigrated"}), "DatabaseReady is"),
    ("None", BOTH, "SchemaMigrated is"),
    ("AppCommand", frozenset(), "DatabaseReady and ImageReplicated and SchemaMigrated are")])
def test_the_task_waits_for_the_database_the_image_and_the_apps_schema(ready, source_db, calls, operator_image,
                                                                       strategy, done, named):
    made = resource(source_db[0], schema={"strategy": strategy, **({"command": ["migrate"]}
                                                                   if strategy == "AppCommand" else {})},
                    data={"runner": "Fargate"})
    app = spec.parse(made["spec"], OWNER.namespace, OWNER.name)
    calls.clear()
    outcome = data.ensure_data(app, OWNER, context(ready, done=done))
    assert (outcome.done, outcome.reason, outcome.waiting) == (False, "WaitingForSteps", False)
    assert outcome.message == f"the data migration starts once {named} True"
    assert not calls and not outcome.status


def test_a_second_start_registers_no_revision_and_writes_no_role(ready, app, boto, calls, operator_image):
    calls.clear()
    first, _ = run(app, context(ready), after=logging(boto))
    forget_markers(ready)
    second, _ = run(app, context(ready, generation=2), after=logging(boto))
    assert first[-1].reason == second[-1].reason == "Migrated"
    assert calls["RunTask"] == 2
    assert calls["RegisterTaskDefinition"] == 1 and calls["DeregisterTaskDefinition"] == 0
    # The task role made and its policy written once; the service's execution role and log group reused.
    assert (calls["CreateRole"], calls["PutRolePolicy"], calls["CreateLogGroup"]) == (1, 1, 0)
    described = data_tasks(boto)
    assert len(described) == 2 and len({t["taskDefinitionArn"] for t in described}) == 1


def test_a_new_operator_image_registers_a_revision_and_deregisters_the_old(ready, app, boto, calls, operator_image,
                                                                           monkeypatch):
    run(app, context(ready), after=logging(boto))
    newer = "public.ecr.aws/appmod/operator@sha256:" + "cd" * 32
    monkeypatch.setattr(config, "_current", dataclasses.replace(config.current(), operator_image=newer))
    forget_markers(ready)
    calls.clear()
    outcomes, _ = run(app, context(ready, generation=2), after=logging(boto))
    assert outcomes[-1].reason == "Migrated"
    assert calls["RegisterTaskDefinition"] == 1 and calls["DeregisterTaskDefinition"] == 1
    old, new = (t["taskDefinitionArn"] for t in data_tasks(boto))
    client = boto("ecs")
    assert client.describe_task_definition(taskDefinition=new)["taskDefinition"]["containerDefinitions"][0][
        "image"] == newer
    assert client.describe_task_definition(taskDefinition=old)["taskDefinition"]["status"] == "INACTIVE"
    assert client.list_task_definitions(familyPrefix=OWNER.migration_family, status="ACTIVE")[
        "taskDefinitionArns"] == [new]


@pytest.mark.parametrize("drift", ["url in the environment", "no task role"])
def test_a_latest_revision_that_is_not_ours_as_wanted_is_replaced(ready, app, boto, calls, operator_image, drift):
    """Someone registered a revision in our family: with the URL in plain text, or without the task role."""
    run(app, context(ready), after=logging(boto))
    client = boto("ecs")
    [ours] = client.list_task_definitions(familyPrefix=OWNER.migration_family, status="ACTIVE")["taskDefinitionArns"]
    definition = client.describe_task_definition(taskDefinition=ours)["taskDefinition"]
    mine = definition["containerDefinitions"][0]
    container = {k: mine[k] for k in ("name", "image", "essential", "memory", "entryPoint", "environment",
                                      "secrets", "logConfiguration")}
    request = {k: definition[k] for k in ("family", "taskRoleArn", "executionRoleArn", "networkMode",
                                          "requiresCompatibilities", "cpu", "memory")}
    if drift == "no task role":
        del request["taskRoleArn"]
    else:
        url = json.loads(boto("secretsmanager").get_secret_value(SecretId=ready["database"]["secretArn"])[
            "SecretString"])["url"]
        container.update(secrets=[], environment=[*container["environment"],
                                                  {"name": "APPMOD_TARGET_URL", "value": url}])
    theirs = client.register_task_definition(**request, containerDefinitions=[container])["taskDefinition"]
    forget_markers(ready)
    calls.clear()
    outcomes, _ = run(app, context(ready, generation=2), after=logging(boto))
    assert outcomes[-1].reason == "Migrated"
    assert calls["RegisterTaskDefinition"] == 1 and calls["DeregisterTaskDefinition"] == 2
    used = data_tasks(boto)[-1]["taskDefinitionArn"]
    assert used not in (ours, theirs["taskDefinitionArn"])
    assert client.list_task_definitions(familyPrefix=OWNER.migration_family, status="ACTIVE")[
        "taskDefinitionArns"] == [used]
    now = client.describe_task_definition(taskDefinition=used)["taskDefinition"]
    assert now["taskRoleArn"] == definition["taskRoleArn"]
    assert now["containerDefinitions"][0]["secrets"] == mine["secrets"]
    assert now["containerDefinitions"][0]["environment"] == [{"name": "AWS_REGION", "value": "us-east-1"}]


# Exactly once


def test_repeated_passes_and_a_restarted_operator_start_one_task(ready, app, boto, calls, operator_image):
    first = data.ensure_data(app, OWNER, context(ready))
    [arn] = data_task_arns(boto)
    log_summary(boto, arn)
    calls.clear()
    for _ in range(2):  # a restarted operator: no status, nothing but the task's startedBy to go on
        again = data.ensure_data(app, OWNER, context(ready))
        assert again.reason == "TaskRunning" and again.status == first.status
    outcomes, _ = run(app, context(ready))  # passes that see the status the one before left
    assert outcomes[-1].reason == "Migrated" and arn.rsplit("/", 1)[-1] in outcomes[-1].message
    # Restarted after the task stopped: found by its token, stopped, and reported again, not run again.
    restarted = data.ensure_data(app, OWNER, context(ready))
    assert restarted.reason == "Migrated" and restarted.status["migration"]["data"]["checksum"] == SUMMARY["checksum"]
    assert calls["RunTask"] == 0 and data_task_arns(boto) == [arn]


def test_a_new_generation_waits_for_the_earlier_task_then_starts_its_own(ready, app, boto, calls, operator_image):
    first = data.ensure_data(app, OWNER, context(ready))
    assert first.reason == "TaskRunning"
    [earlier] = data_task_arns(boto)
    log_summary(boto, earlier)
    calls.clear()
    outcomes, _ = run(app, context(ready, generation=2), after=logging(boto))
    waited = [o for o in outcomes if not o.status]
    assert waited and waited[0].message == (
        "the data migration task for this spec and source starts once task "
        f"{earlier.rsplit('/', 1)[-1]} of an earlier one has stopped (it is DEACTIVATING)")
    assert all((o.reason, o.waiting) == ("TaskRunning", True) for o in waited)
    assert outcomes[-1].reason == "Migrated" and calls["RunTask"] == 1
    described = data_tasks(boto)
    assert [t["startedBy"] for t in described] == [token_of(ready, 1), token_of(ready, 2)]


# Success


def test_migrated_from_the_summary_the_task_logged(ready, app, boto, calls, operator_image):
    calls.clear()
    outcomes, after = run(app, context(ready), after=logging(boto))
    assert [o.reason for o in outcomes] == ["TaskRunning"] * 4 + ["Migrated"]  # moto: one state per look
    assert [o.message.rsplit(" ", 1)[-1] for o in outcomes[:4]] == ["RUNNING", "DEACTIVATING", "STOPPING",
                                                                    "DEPROVISIONING"]
    final = outcomes[-1]
    [arn] = data_task_arns(boto)
    assert (final.done, final.waiting, final.stalled) == (True, False, False)
    assert final.message == (f"copied by Fargate task {arn.rsplit('/', 1)[-1]}: 2 tables, 1,234 rows, "
                             f"50,100 bytes, checksum {SUMMARY['checksum']}")
    part = final.status["migration"]["data"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", part.pop("completedAt"))
    assert part == {"tables": 2, "rows": 1234, "bytes": 50_100, "checksum": SUMMARY["checksum"],
                    "sourceDigest": ready["image"]["sourceDigest"],
                    "clusterResourceId": ready["database"]["resourceId"]}  # the cluster it went into
    [condition] = [c for c in after.previous["conditions"] if c["type"] == "DataMigrated"]
    assert (condition["status"], condition["reason"], condition["observedGeneration"]) == ("True", "Migrated", 1)
    assert calls["RunTask"] == 1 and calls["GetLogEvents"] == 1
    # Remembered: the next pass and the resync's look call nothing until the generation or source changes.
    calls.clear()
    assert data.ensure_data(app, OWNER, after) == final
    assert data.check_data(app, OWNER, after) == final
    assert not calls
    moved = dataclasses.replace(after, current={**after.current, "image": {**after.current["image"],
                                                                           "sourceDigest": "sha256:" + "0" * 64}})
    assert data.check_data(app, OWNER, moved) is None


def test_the_summary_is_found_among_the_last_lines(ready, app, boto, operator_image):
    data.ensure_data(app, OWNER, context(ready))
    [arn] = data_task_arns(boto)
    older = {**SUMMARY, "rows": 1, "checksum": "older"}  # a summary-shaped line logged earlier is not the last
    log(boto, arn, json.dumps(older), *[f"appmod: warning: line {i}" for i in range(5)], json.dumps(SUMMARY),
        '{"not": "a summary"}', "appmod: done")
    outcomes, _ = run(app, context(ready))
    assert outcomes[-1].status["migration"]["data"]["checksum"] == SUMMARY["checksum"]


def test_exit_0_without_a_summary_names_the_runner(ready, app, boto, operator_image):
    data.ensure_data(app, OWNER, context(ready))
    [arn] = data_task_arns(boto)
    log(boto, arn, "Usage: something-else [OPTIONS]")
    with pytest.raises(SpecError) as raised:
        run(app, context(ready))
    assert raised.value.field == "spec.migration.data.runner"
    assert f"exited 0 but its summary is not in log stream {stream_of(arn)} of {OWNER.log_group_name}" \
           in raised.value.message


def test_the_engine_migrates_with_a_fargate_task(ready, source_db, boto, calls, operator_image):
    made = resource(source_db[0])
    made["status"] = ready
    after = logging(boto)
    calls.clear()
    for _ in range(10):
        result = engine.reconcile(made)
        made["status"] = result.status
        after(None)
        got = {c["type"]: (c["status"], c["reason"]) for c in result.status["conditions"]}
        if got.get("DataMigrated") == ("True", "Migrated"):
            break
    assert got["DataMigrated"] == ("True", "Migrated")
    part = result.status["migration"]["data"]
    assert {k: part[k] for k in ("tables", "rows", "bytes", "checksum", "sourceDigest")} == {
        "tables": 2, "rows": 1234, "bytes": 50_100, "checksum": SUMMARY["checksum"],
        "sourceDigest": ready["image"]["sourceDigest"]}
    assert part["completedAt"]
    assert calls["RunTask"] == 1 and len(data_task_arns(boto)) == 1


# Failures


def test_exit_code_2_stalls_with_the_exit_code_the_log_stream_and_the_last_line(ready, app, boto, calls,
                                                                                 operator_image, monkeypatch):
    exit_codes(monkeypatch, 2)
    data.ensure_data(app, OWNER, context(ready))
    [arn] = data_task_arns(boto)
    task_id = arn.rsplit("/", 1)[-1]
    log(boto, arn, "appmod: reading /app/sandbox/db.sqlite", "appmod: migrate: table product: value 'abc' in "
        "column price is not a numeric; use --keep-as-text product.price", "  ")
    calls.clear()
    outcomes, after = run(app, context(ready))
    failed = outcomes[-1]
    assert (failed.done, failed.reason, failed.waiting, failed.stalled) == (False, "TaskFailed", False, True)
    command = " ".join(command_of(data_tasks(boto)[0]))
    assert failed.message == (
        f"data migration task {task_id} ({command}) stopped with exit code 2, stop code EssentialContainerExited: "
        f"Essential container in task exited; its output is in CloudWatch Logs group {OWNER.log_group_name}, "
        f"stream migrate/migrate/{task_id}; it runs again for a new generation of the spec or a new version of "
        "the source; it said: appmod: migrate: table product: value 'abc' in column price is not a numeric; use "
        "--keep-as-text product.price")
    assert failed.status == {"migration": {"data": {"sourceDigest": ready["image"]["sourceDigest"]}}}
    assert calls["RunTask"] == 0
    # Remembered as stalled: no AWS call, no new task; a restarted operator finds the failed task.
    calls.clear()
    assert data.ensure_data(app, OWNER, after) == failed and not calls
    assert data.ensure_data(app, OWNER, context(ready)) == failed
    assert calls["RunTask"] == 0 and data_task_arns(boto) == [arn]


def test_a_failure_with_nothing_logged_says_no_last_line(ready, app, boto, operator_image, monkeypatch):
    exit_codes(monkeypatch, 2)
    outcomes, _ = run(app, context(ready))
    assert outcomes[-1].reason == "TaskFailed" and "stopped with exit code 2" in outcomes[-1].message
    assert "it said" not in outcomes[-1].message
    assert outcomes[-1].message.endswith("a new version of the source")


def test_exit_code_1_starts_another_task_up_to_three(ready, app, boto, calls, operator_image, monkeypatch):
    exit_codes(monkeypatch, 1)
    calls.clear()
    outcomes, _ = run(app, context(ready), passes=20,
                      after=logging(boto, "appmod: SOURCE: ECR not answering; run the command again"))
    assert calls["RunTask"] == 3
    described = data_tasks(boto)
    assert len(described) == 3 and {t["startedBy"] for t in described} == {token_of(ready)}
    failed = outcomes[-1]
    last = described[-1]["taskArn"].rsplit("/", 1)[-1]
    assert (failed.reason, failed.stalled, failed.waiting) == ("TaskFailed", True, False)
    assert f"data migration task {last} " in failed.message and "stopped with exit code 1" in failed.message
    assert failed.message.endswith("it said: appmod: SOURCE: ECR not answering; run the command again")
    assert all(o.reason == "TaskRunning" for o in outcomes[:-1])
    calls.clear()
    assert data.ensure_data(app, OWNER, context(ready)).reason == "TaskFailed" and calls["RunTask"] == 0


def test_exit_code_1_then_0_is_migrated_by_the_second_task(ready, app, boto, calls, operator_image, monkeypatch):
    exit_codes(monkeypatch, 1, 0)
    calls.clear()
    outcomes, _ = run(app, context(ready), passes=20, after=logging(boto))
    assert outcomes[-1].reason == "Migrated" and calls["RunTask"] == 2
    second = data_task_arns(boto)
    assert len(second) == 2
    assert any(a.rsplit("/", 1)[-1] in outcomes[-1].message for a in second)
    assert calls["RegisterTaskDefinition"] == 1


# The operator's image is a setting


def test_without_appmod_operator_image_the_runner_is_a_spec_error(ready, app, boto, calls, monkeypatch):
    monkeypatch.delenv("APPMOD_OPERATOR_IMAGE", raising=False)
    monkeypatch.setattr(config, "_current", None)
    assert config.load().operator_image is None
    calls.clear()
    with pytest.raises(SpecError) as raised:
        data.ensure_data(app, OWNER, context(ready))
    assert raised.value.field == "spec.migration.data.runner" and "APPMOD_OPERATOR_IMAGE" in raised.value.message
    assert str(raised.value).startswith("spec.migration.data.runner: ")
    assert calls["RunTask"] == 0 and calls["RegisterTaskDefinition"] == 0 and calls["CreateRole"] == 0
    assert data_task_arns(boto) == []
    # The engine stalls the resource on it, naming the field.
    made = resource(app.source.image)
    made["status"] = ready
    result = engine.reconcile(made)
    got = {c["type"]: c for c in result.status["conditions"]}
    assert (got["DataMigrated"]["status"], got["DataMigrated"]["reason"]) == ("False", "InvalidSpec")
    assert got["Stalled"]["status"] == "True"
    assert got["DataMigrated"]["message"].startswith("spec.migration.data.runner: ")
    assert calls["RunTask"] == 0
