"""End to end against a real kube-apiserver, moto and loopback registries: the CRD, the operator's first
status (an Aurora cluster in moto, the source image copied by digest into an ECR repository, the app's
schema migration run as a one-off task, an ECS Fargate service running the image), the printer columns,
rejection of invalid resources by the API server, Stalled without a retry storm, and deletion per
spec.deletionPolicy."""

from __future__ import annotations

import re
import time

import botocore.exceptions
import pytest
import yaml

from appmod_operator.registry.client import Registry
from tests.conftest import SOURCE_TITLES
from tests.e2e.conftest import (
    ECS_CLUSTER,
    NAMESPACE,
    app,
    aws_client,
    condition_is,
    conditions,
    delete_and_wait,
    find_service,
    owner,
    service_is_gone,
)
from tests.e2e.kubectl import wait_for
from tests.migration.sqlite_db import fetch

pytestmark = pytest.mark.e2e
FINALIZER = "appmod.io/finalizer"


@pytest.fixture(scope="module")
def operator(start_operator):
    # Resync far away, so that every status write seen here comes from a change handler.
    return start_operator(resync_seconds=3600)


def steps_done(kubectl, name: str, schema: bool = False) -> dict:
    """The resource once the operator has reported DatabaseReady=True (moto made the cluster available),
    ImageReplicated=True (the image is in ECR), SchemaMigrated=True when `schema` (the AppCommand task ran
    to exit 0) and ServiceStable=True (the ECS service runs its one task)."""
    steps = ("DatabaseReady", "ImageReplicated", *(("SchemaMigrated",) if schema else ()), "ServiceStable")

    def probe():
        found = conditions(o := app(kubectl, name))
        return all(found.get(c, {}).get("status") == "True" for c in steps) and o
    return wait_for(probe, f"{'=True, '.join(steps)}=True on {name}")


def cluster_identifier(name: str) -> str:
    return owner(name).cluster_identifier


def find_cluster(rds, identifier: str) -> dict | None:
    try:
        return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "DBClusterNotFoundFault":
            raise
        return None


def repository_name(name: str) -> str:
    """The ECR repository of a resource that leaves spec.image.repository out: <namespace>-<name>."""
    return f"{NAMESPACE}-{name}"


def find_repository(ecr, name: str) -> dict | None:
    try:
        return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise
        return None


def columns(header: str, row: str) -> dict[str, str]:
    """A `kubectl get` row by column name; kubectl aligns values under their heading and leaves unset ones empty."""
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    return {header[a:b].strip(): row[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)}


def active_task_definitions(ecs, name: str) -> list[str]:
    """The ACTIVE revisions of the resource's task definition family."""
    family = owner(name).task_family
    arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    return [arn for arn in arns if arn.split("/")[-1].rsplit(":", 1)[0] == family]


def find_role(iam, name: str) -> dict | None:
    """The resource's ECS task execution role."""
    try:
        return iam.get_role(RoleName=owner(name).execution_role_name)["Role"]
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchEntity":
            raise
        return None


def log_group_exists(logs, name: str) -> bool:
    group = owner(name).log_group_name
    return any(g["logGroupName"] == group for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"])


def assert_service_runs(ecs, name: str, status: dict, image: dict) -> None:
    """status.service is the ECS service moto has, stable at one task running the image from ECR by digest."""
    service = find_service(ecs, name)
    assert service is not None and service["status"] == "ACTIVE", service
    assert service["serviceName"] == owner(name).task_family and service["launchType"] == "FARGATE"
    assert {"key": "appmod.io/owner", "value": f"{NAMESPACE}/{name}"} in ecs.list_tags_for_resource(
        resourceArn=service["serviceArn"])["tags"]
    cluster = ecs.describe_clusters(clusters=[ECS_CLUSTER])["clusters"][0]
    assert status["clusterArn"] == cluster["clusterArn"] == service["clusterArn"]
    assert status["serviceArn"] == service["serviceArn"]
    assert status["taskDefinitionArn"] == service["taskDefinition"]
    assert (status["desiredCount"], status["runningCount"], status["rolloutState"]) == (1, 1, "COMPLETED")
    assert (service["desiredCount"], service["runningCount"]) == (1, 1)
    task_definition = ecs.describe_task_definition(taskDefinition=status["taskDefinitionArn"])["taskDefinition"]
    assert task_definition["family"] == owner(name).task_family
    container = task_definition["containerDefinitions"][0]
    assert container["image"] == f"{image['repositoryUri']}@{image['digest']}"
    assert active_task_definitions(ecs, name) == [status["taskDefinitionArn"]]


def final_snapshots(rds, identifier: str) -> list[str]:
    """The snapshots taken on delete (moto also keeps an automated `rds:...` one, which is not ours)."""
    snapshots = rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]
    return [s["DBClusterSnapshotIdentifier"] for s in snapshots
            if s["DBClusterSnapshotIdentifier"].startswith(f"{identifier}-snapshot-")]


def test_crd_is_established_with_names(kubectl):
    crd = kubectl.get("crd", "appmodernizations.appmod.io")
    established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
    assert established[0]["status"] == "True"
    assert set(crd["status"]["acceptedNames"]["shortNames"]) == {"appmod", "appmods"}


def test_operator_writes_the_first_status(kubectl, operator, moto_server, local_example, source_registry, app_schema):
    body = local_example("oscar.yaml")
    del body["spec"]["database"]["secondsUntilAutoPause"]  # for the API server to default
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
    obj = condition_is(kubectl, "oscar", "Ready", timeout=120)
    assert obj["status"]["observedGeneration"] == 1
    assert obj["status"]["phase"] == "Ready"
    got = {t: (c["status"], c["reason"]) for t, c in conditions(obj).items()}
    assert got == {"Ready": ("True", "Reconciled"), "Reconciling": ("False", "Reconciled"),
                   "Stalled": ("False", "SpecValid"), "DatabaseReady": ("True", "Available"),
                   "ImageReplicated": ("True", "Replicated"), "SchemaMigrated": ("True", "Migrated"),
                   "DataMigrated": ("True", "Migrated"), "ServiceStable": ("True", "Stable")}
    database = obj["status"]["database"]
    identifier = cluster_identifier("oscar")
    assert database["clusterIdentifier"] == identifier and database["status"] == "available"
    assert database["endpoint"] and database["port"] == 5432
    assert database["secretArn"].startswith("arn:aws:secretsmanager:us-east-2:")
    assert FINALIZER in obj["metadata"]["finalizers"]
    assert obj["spec"]["database"]["secondsUntilAutoPause"] == 300  # the API server applied the defaults
    # The cluster is in the region the resource names, tagged as ours, at the endpoint the status reports.
    cluster = find_cluster(aws_client(moto_server, "rds", "us-east-2"), identifier)
    assert cluster is not None and cluster["Endpoint"] == database["endpoint"]
    assert {"Key": "appmod.io/owner", "Value": f"{NAMESPACE}/oscar"} in cluster["TagList"]
    assert find_cluster(aws_client(moto_server, "rds"), identifier) is None  # not in the default region
    # The image is copied by digest, unchanged, into the repository <namespace>-<name> of that region.
    source = Registry(source_registry.host, side="the source registry", insecure=True)
    try:
        source_digest = source.manifest_digest("shop/app", "v1")
    finally:
        source.close()
    image = obj["status"]["image"]
    assert source_digest and image["sourceDigest"] == source_digest and image["digest"] == source_digest
    repository = find_repository(aws_client(moto_server, "ecr", "us-east-2"), repository_name("oscar"))
    assert repository is not None and image["repositoryUri"] == repository["repositoryUri"]
    assert find_repository(aws_client(moto_server, "ecr"), repository_name("oscar")) is None
    # The schema migration ran as a one-off task of that image (AppCommand) before the service started.
    schema = obj["status"]["migration"]["schema"]
    assert schema["strategy"] == "AppCommand" and schema["completedAt"]
    assert schema["taskArn"].startswith(f"arn:aws:ecs:us-east-2:123456789012:task/{ECS_CLUSTER}/")
    # Then the rows of the image's SQLite database went into the app's tables (the operator's own run).
    data = obj["status"]["migration"]["data"]
    assert (data["tables"], data["rows"], data["sourceDigest"]) == (1, len(SOURCE_TITLES), source_digest)
    assert fetch(app_schema, "SELECT title FROM product ORDER BY id") == [(t,) for t in SOURCE_TITLES]
    # The service runs in that region too, and status.service is what ECS says of it.
    assert_service_runs(aws_client(moto_server, "ecs", "us-east-2"), "oscar", obj["status"]["service"], image)
    assert find_service(aws_client(moto_server, "ecs"), "oscar") is None


def test_kubectl_get_shows_the_printer_columns(kubectl, operator):
    status = steps_done(kubectl, "oscar", schema=True)["status"]
    header, row = kubectl.run("get", "appmodernizations", "oscar", "-n", NAMESPACE).stdout.splitlines()
    assert header.split() == ["NAME", "READY", "REASON", "RUNNING", "AGE"]
    assert row.split()[:4] == ["oscar", "True", "Reconciled", "1"]  # RUNNING: status.service.runningCount
    header, row = kubectl.run("get", "appmods", "oscar", "-n", NAMESPACE, "-o", "wide").stdout.splitlines()
    wide = columns(header, row)
    assert {"DATABASE", "DIGEST", "PHASE"} <= set(wide)
    assert wide["DATABASE"] == status["database"]["endpoint"] and wide["PHASE"] == "Ready"
    assert wide["DIGEST"] == status["image"]["digest"]
    assert "appmodernization.appmod.io/oscar" in kubectl.run("get", "all", "-n", NAMESPACE, "-o", "name").stdout


@pytest.mark.parametrize(("change", "field"), [
    (lambda s: s.update(deletionPolicy="Sometimes"), "spec.deletionPolicy"),
    (lambda s: s["source"].pop("image"), "spec.source.image"),
    (lambda s: s["database"].update(maxCapacity=1000), "spec.database.maxCapacity"),
])
def test_the_api_server_rejects_invalid_resources_naming_the_field(kubectl, local_example, change, field):
    body = local_example("oscar.yaml", "invalid")
    change(body["spec"])
    result = kubectl.run("apply", "-n", NAMESPACE, "--validate=false", "-f", "-", stdin=yaml.safe_dump(body),
                         check=False)
    assert result.returncode != 0
    assert field in result.stderr and "invalid" in result.stderr.lower()


def test_a_wrong_spec_stalls_once_and_recovers_when_fixed(kubectl, operator, local_example):
    body = local_example("minimal.yaml", "stalls")
    body["spec"]["database"] = {"minCapacity": 8, "maxCapacity": 4}  # passes the schema, fails the operator
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
    stalled = condition_is(kubectl, "stalls", "Stalled")
    assert conditions(stalled)["Stalled"]["message"].startswith("spec.database.minCapacity:")
    assert stalled["status"]["phase"] == "Failed"
    # No retry storm: once settled, the object stays unchanged and the handler ran once.
    time.sleep(2)
    version = app(kubectl, "stalls")["metadata"]["resourceVersion"]
    time.sleep(4)
    assert app(kubectl, "stalls")["metadata"]["resourceVersion"] == version
    lines = operator.read_text().splitlines()
    handled = [line for line in lines if "[shop/stalls] Handler 'reconcile' succeeded" in line]
    assert len(handled) == 1, handled
    kubectl.run("patch", "appmod", "stalls", "-n", NAMESPACE, "--type=merge", "-p",
                '{"spec": {"database": {"minCapacity": 2}}}')
    fixed = wait_for(lambda: (o := app(kubectl, "stalls"))["status"]["observedGeneration"] == 2
                     and o, "the fixed generation")
    assert conditions(fixed)["Stalled"]["status"] == "False"
    assert fixed["status"]["phase"] in ("Provisioning", "Deploying", "Migrating")


def test_deleting_with_policy_delete_removes_the_cluster_then_the_finalizer(kubectl, operator, moto_server,
                                                                             local_example):
    body = local_example("minimal.yaml")
    body["spec"]["deletionPolicy"] = "Delete"
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
    obj = steps_done(kubectl, "minimal")
    assert FINALIZER in obj["metadata"]["finalizers"]
    assert "SchemaMigrated" not in conditions(obj)  # strategy Convert: the data step makes the tables
    assert conditions(obj)["DataMigrated"]["status"] == "True" and obj["status"]["phase"] == "Ready"
    rds, identifier = aws_client(moto_server, "rds"), cluster_identifier("minimal")  # no spec.region: us-east-1
    ecr, ecs = aws_client(moto_server, "ecr"), aws_client(moto_server, "ecs")
    iam, logs = aws_client(moto_server, "iam"), aws_client(moto_server, "logs")
    assert find_cluster(rds, identifier) is not None
    assert find_repository(ecr, repository_name("minimal")) is not None
    assert_service_runs(ecs, "minimal", obj["status"]["service"], obj["status"]["image"])
    assert find_role(iam, "minimal") is not None and log_group_exists(logs, "minimal")
    secret_arn = obj["status"]["database"]["secretArn"]
    delete_and_wait(kubectl, "minimal")
    assert find_cluster(rds, identifier) is None
    assert find_repository(ecr, repository_name("minimal")) is None
    assert final_snapshots(rds, identifier) == []
    assert "DeletedDate" in aws_client(moto_server, "secretsmanager").describe_secret(SecretId=secret_arn)
    # The service, its task definitions, its execution role and its logs go too.
    assert service_is_gone(ecs, "minimal"), find_service(ecs, "minimal")
    assert active_task_definitions(ecs, "minimal") == []
    assert find_role(iam, "minimal") is None and not log_group_exists(logs, "minimal")


def test_deleting_with_policy_snapshot_leaves_a_final_snapshot(kubectl, operator, moto_server, local_example,
                                                               app_schema):
    body = local_example("oscar.yaml", "snapshotted")  # us-east-2, deletion protection on, deletionPolicy Snapshot
    assert body["spec"]["deletionPolicy"] == "Snapshot" and body["spec"]["database"]["deletionProtection"]
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
    image = steps_done(kubectl, "snapshotted", schema=True)["status"]["image"]
    ecr, ecs = aws_client(moto_server, "ecr", "us-east-2"), aws_client(moto_server, "ecs", "us-east-2")
    iam, logs = aws_client(moto_server, "iam", "us-east-2"), aws_client(moto_server, "logs", "us-east-2")
    rds, identifier = aws_client(moto_server, "rds", "us-east-2"), cluster_identifier("snapshotted")
    assert find_cluster(rds, identifier)["DeletionProtection"] is True
    assert find_service(ecs, "snapshotted")["status"] == "ACTIVE"
    delete_and_wait(kubectl, "snapshotted")
    # The service holds no data: it goes with Snapshot too, with its task definitions and execution role;
    # the logs are kept, as the snapshot keeps the data.
    assert service_is_gone(ecs, "snapshotted"), find_service(ecs, "snapshotted")
    assert active_task_definitions(ecs, "snapshotted") == []
    assert find_role(iam, "snapshotted") is None and log_group_exists(logs, "snapshotted")
    assert find_cluster(rds, identifier) is None
    ours = final_snapshots(rds, identifier)
    assert len(ours) == 1, ours
    assert re.fullmatch(r"\d{14}", ours[0].removeprefix(f"{identifier}-snapshot-")), ours
    # The repository is kept too: its images are the application's deployable artifacts.
    kept = find_repository(ecr, repository_name("snapshotted"))
    assert kept is not None and kept["repositoryUri"] == image["repositoryUri"]

