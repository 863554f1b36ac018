"""The database step against moto server: creation, readiness, no duplicates, updates, refusals,
adoption, the guards moto does not enforce, credentials kept out of sight, and each deletion policy."""

from __future__ import annotations

import json

import pytest

from appmod_operator.reconcile import engine
from tests.aws.conftest import NAME, NAMESPACE, OWNER, body

CLUSTER = OWNER.cluster_identifier


def conditions(status: dict) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def converge(resource: dict, passes: int = 3):
    """Run reconcile passes as kopf would, feeding each status into the next; the last Result."""
    for _ in range(passes):
        result = engine.reconcile(resource)
        resource["status"] = result.status
        if result.retry_after is None:
            break
    return result


def cluster(boto) -> dict:
    return boto("rds").describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]


def secret_value(boto) -> dict:
    return json.loads(boto("secretsmanager").get_secret_value(SecretId=OWNER.secret_name)["SecretString"])


def test_first_pass_creates_everything_and_waits_for_aws(boto, calls):
    result = engine.reconcile(body())
    assert result.retry_after == 1 and result.status["phase"] == "Provisioning"
    assert conditions(result.status)["DatabaseReady"] == ("False", "Creating")
    made = cluster(boto)
    assert (made["Engine"], made["EngineMode"], made["EngineVersion"]) == ("aurora-postgresql", "provisioned", "16.4")
    scaling = {"MinCapacity": 0, "MaxCapacity": 4, "SecondsUntilAutoPause": 300}
    assert made["ServerlessV2ScalingConfiguration"] == scaling
    assert (made["DatabaseName"], made["MasterUsername"]) == ("oscar", "appmod")
    assert made["StorageEncrypted"] and made["DeletionProtection"] and made["BackupRetentionPeriod"] == 7
    assert {"Key": "appmod.io/owner", "Value": "shop/oscar"} in made["TagList"]
    assert {"Key": "appmod.io/uid", "Value": "uid-1"} in made["TagList"]
    writer = boto("rds").describe_db_instances(DBInstanceIdentifier=OWNER.writer_identifier)["DBInstances"][0]
    assert (writer["DBInstanceClass"], writer["DBClusterIdentifier"]) == ("db.serverless", CLUSTER)
    assert calls["CreateDBCluster"] == calls["CreateDBInstance"] == calls["CreateSecret"] == 1


def test_subnet_group_and_security_groups(boto, aws):
    engine.reconcile(body())
    ec2 = boto("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    default_subnets = {s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]}
    group = boto("rds").describe_db_subnet_groups(DBSubnetGroupName=OWNER.subnet_group_name)["DBSubnetGroups"][0]
    assert {s["SubnetIdentifier"] for s in group["Subnets"]} == default_subnets
    assert cluster(boto)["DBSubnetGroup"] == OWNER.subnet_group_name

    def group_named(name):
        return ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"][0]
    database, service = group_named(OWNER.database_security_group_name), group_named(OWNER.service_security_group_name)
    assert [g["VpcSecurityGroupId"] for g in cluster(boto)["VpcSecurityGroups"]] == [database["GroupId"]]
    rules = [(p["FromPort"], p["ToPort"], [g["GroupId"] for g in p["UserIdGroupPairs"]])
             for p in database["IpPermissions"]]
    assert rules == [(5432, 5432, [service["GroupId"]])]
    assert {"Key": "appmod.io/owner", "Value": "shop/oscar"} in database["Tags"]


def test_ready_once_aws_reports_available_with_a_complete_secret(boto):
    resource = body()
    result = converge(resource)
    assert result.retry_after is None
    got = conditions(result.status)
    assert got["DatabaseReady"] == ("True", "Available")
    assert got["Ready"] == ("True", "Reconciled") and got["Stalled"] == ("False", "SpecValid")
    database = result.status["database"]
    made = cluster(boto)
    assert database["endpoint"] == made["Endpoint"] and database["port"] == 5432
    assert database["clusterArn"] == made["DBClusterArn"] and database["status"] == "available"
    assert database["secretArn"].startswith("arn:aws:secretsmanager:") and OWNER.secret_name in database["secretArn"]
    value = secret_value(boto)
    assert {k: value[k] for k in ("username", "host", "port", "dbname", "engine")} == {
        "username": "appmod", "host": made["Endpoint"], "port": 5432, "dbname": "oscar", "engine": "postgres"}
    assert len(value["password"]) >= 32 and value["password"].isalnum()
    assert value["url"] == f"postgresql://appmod:{value['password']}@{made['Endpoint']}:5432/oscar"
    assert value["password"] not in json.dumps(result.status)


def test_repeated_passes_never_create_twice(boto, calls):
    resource = body()
    converge(resource)
    for _ in range(3):
        engine.reconcile(resource)
    # moto silently overwrites a second CreateDBCluster, so counting calls is the only proof.
    assert calls["CreateDBCluster"] == calls["CreateDBInstance"] == calls["CreateSecret"] == 1
    assert calls["CreateDBSubnetGroup"] == calls["CreateSecurityGroup"] // 2 == 1
    assert calls["ModifyDBCluster"] == 0 and calls["PutSecretValue"] == 1  # the endpoint, once
    assert len(boto("rds").describe_db_clusters()["DBClusters"]) == 1


@pytest.mark.parametrize(("database", "field"), [
    ({"engineVersion": "16.2", "minCapacity": 0}, "spec.database.engineVersion is 16.2"),
    ({"minCapacity": 8, "maxCapacity": 4}, "spec.database.maxCapacity"),
    ({"minCapacity": 0.25}, "spec.database.minCapacity"),
])
def test_invalid_capacities_are_refused_before_any_aws_call(calls, database, field):
    result = engine.reconcile(body(**database))
    assert conditions(result.status)["Stalled"] == ("True", "InvalidSpec")
    assert field in result.status["conditions"][0]["message"] and "spec.database.minCapacity" in (
        result.status["conditions"][0]["message"])
    assert result.retry_after is None and sum(calls.values()) == 0


def test_scaling_backup_and_protection_changes_are_applied_in_place(boto, calls):
    converge(body())
    resource = body(generation=2, minCapacity=1, maxCapacity=8, backupRetentionDays=3, deletionProtection=False)
    converge(resource)
    made = cluster(boto)
    assert made["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 1
    assert made["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 8
    assert (made["BackupRetentionPeriod"], made["DeletionProtection"]) == (3, False)
    assert calls["ModifyDBCluster"] == 1 and calls["CreateDBCluster"] == 1


@pytest.mark.parametrize(("database", "field"), [
    ({"databaseName": "other"}, "spec.database.databaseName"),
    ({"masterUsername": "root"}, "spec.database.masterUsername"),
    ({"engineVersion": "15.7"}, "spec.database.engineVersion"),
])
def test_changes_that_need_a_new_database_are_refused(boto, calls, database, field):
    converge(body())
    before = cluster(boto)
    result = engine.reconcile(body(generation=2, **database))
    got = conditions(result.status)
    assert got["Stalled"] == ("True", "ChangeNotAllowed") and got["DatabaseReady"][1] == "ChangeNotAllowed"
    assert result.status["phase"] == "Failed"
    message = {c["type"]: c["message"] for c in result.status["conditions"]}["Stalled"]
    assert message.startswith(field) and CLUSTER in message
    assert calls.writes()["ModifyDBCluster"] == 0 and calls.writes()["DeleteDBCluster"] == 0
    assert cluster(boto)["DatabaseName"] == before["DatabaseName"]
    # Set back: the Stalled condition clears by itself.
    assert conditions(converge(body(generation=3)).status)["Stalled"] == ("False", "SpecValid")


def test_a_newer_engine_version_is_an_in_place_upgrade(boto, calls):
    converge(body())
    converge(body(generation=2, engineVersion="17.4"))
    assert cluster(boto)["EngineVersion"] == "17.4" and calls["ModifyDBCluster"] == 1


def _cluster_made_by_hand(boto, tags: list[dict]) -> None:
    boto("rds").create_db_cluster(
        DBClusterIdentifier=CLUSTER, Engine="aurora-postgresql", EngineVersion="16.4", EngineMode="provisioned",
        DatabaseName="oscar", MasterUsername="appmod", MasterUserPassword="made-by-hand-1",
        ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 2}, Tags=tags)


def test_a_tagged_cluster_is_adopted_and_gets_our_password(boto, calls):
    _cluster_made_by_hand(boto, [{"Key": "appmod.io/owner", "Value": "shop/oscar"},
                                 {"Key": "appmod.io/uid", "Value": "an-earlier-resource"}])
    result = converge(body())
    assert conditions(result.status)["DatabaseReady"] == ("True", "Available")
    assert calls["CreateDBCluster"] == 0 and calls["CreateDBInstance"] == 1
    assert calls["ModifyDBCluster"] == 1  # the password we now hold, and the spec's scaling
    made = cluster(boto)
    assert {"Key": "appmod.io/uid", "Value": "uid-1"} in made["TagList"]
    assert made["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 4
    assert secret_value(boto)["dbClusterIdentifier"] == CLUSTER


def test_an_untagged_cluster_with_our_name_is_not_touched(boto, calls):
    _cluster_made_by_hand(boto, [])
    result = engine.reconcile(body())
    got = conditions(result.status)
    assert got["Stalled"] == ("True", "NotOwned") and got["DatabaseReady"] == ("False", "NotOwned")
    assert "not tagged appmod.io/owner=shop/oscar" in result.status["conditions"][0]["message"]
    assert sum(calls.writes().values()) == 0
    assert cluster(boto)["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 2


def test_a_crash_between_secret_and_cluster_converges_without_duplicates(boto, calls):
    from appmod_operator.reconcile import credentials
    from appmod_operator.spec import parse

    app = parse(body()["spec"], NAMESPACE, NAME)
    made = credentials.ensure_credentials(None, OWNER, app.database)  # what the crashed pass left behind
    converge(body())
    assert calls["CreateSecret"] == 1 and calls["ModifyDBCluster"] == 0
    assert secret_value(boto)["password"] == made.password


def test_a_cluster_missing_the_password_mark_gets_its_password_set_again(boto, calls):
    resource = body()
    converge(resource)
    value = secret_value(boto)
    value["dbClusterIdentifier"] = ""  # as if the pass crashed before marking it (and so before its status)
    boto("secretsmanager").put_secret_value(SecretId=OWNER.secret_name, SecretString=json.dumps(value))
    del resource["status"]
    converge(resource)
    assert calls["ModifyDBCluster"] == 1 and secret_value(boto)["dbClusterIdentifier"] == CLUSTER


def test_subnets_in_one_zone_are_refused_before_the_cluster(boto, calls):
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone="us-east-1a")["Subnet"]
               ["SubnetId"] for i in range(2)]
    result = engine.reconcile(body(subnetIds=subnets))
    message = {c["type"]: c["message"] for c in result.status["conditions"]}["Stalled"]
    assert message.startswith("spec.database.subnetIds:") and "at least 2" in message
    assert calls["CreateDBCluster"] == 0


def test_named_subnets_are_used(boto):
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = sorted(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"us-east-1{z}")
                     ["Subnet"]["SubnetId"] for i, z in enumerate("ab"))
    engine.reconcile(body(subnetIds=subnets))
    group = boto("rds").describe_db_subnet_groups(DBSubnetGroupName=OWNER.subnet_group_name)["DBSubnetGroups"][0]
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == subnets and group["VpcId"] == vpc


def test_a_terminal_aws_error_stalls_with_aws_message(calls):
    result = engine.reconcile(body(subnetIds=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]))
    got = conditions(result.status)
    assert got["Stalled"] == ("True", "AwsRequestRejected") and result.retry_after is None
    message = {c["type"]: c["message"] for c in result.status["conditions"]}["DatabaseReady"]
    assert "ec2.DescribeSubnets" in message and "InvalidSubnetID.NotFound" in message


def test_an_unreachable_endpoint_is_retried_by_botocore_then_later(monkeypatch, aws):
    from appmod_operator import config
    from appmod_operator.aws import clients
    from tests.infra import process

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{process.free_port()}")
    monkeypatch.setattr(clients, "RETRIES", {"mode": "adaptive", "total_max_attempts": 2})
    config.load()
    clients.forget_clients()
    attempts = []
    clients.client("rds", None).meta.events.register("before-send", lambda **_: attempts.append(1))
    result = engine.reconcile(body())
    got = conditions(result.status)
    assert got["Reconciling"] == ("True", "AwsRetrying") and got["Stalled"] == ("False", "SpecValid")
    assert result.retry_after == 1 and len(attempts) == 2  # botocore's retries, then ours via kopf


def test_the_password_never_reaches_logs_status_or_errors(boto, debug_logs):
    resource = body()
    converge(resource)
    converge(body(generation=2, maxCapacity=8))
    password = secret_value(boto)["password"]
    assert "creating Aurora cluster" in debug_logs.text and "modifying cluster" in debug_logs.text
    assert password not in debug_logs.text
    assert password not in json.dumps(resource["status"])
    from appmod_operator.reconcile import credentials
    assert password not in repr(credentials.find_credentials(None, OWNER))


def test_paused_observes_and_changes_nothing(boto, calls):
    paused = body()
    paused["spec"]["paused"] = True
    result = engine.reconcile(paused)
    assert conditions(result.status)["DatabaseReady"] == ("False", "NotFound") and sum(calls.writes().values()) == 0
    converge(body())
    calls.clear()
    paused["spec"]["database"] = {"maxCapacity": 16}
    result = engine.reconcile(paused)
    assert result.status["phase"] == "Paused" and conditions(result.status)["DatabaseReady"] == ("True", "Available")
    assert result.status["database"]["clusterIdentifier"] == CLUSTER
    assert sum(calls.writes().values()) == 0 and cluster(boto)["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 4


def teardown(resource: dict, passes: int = 4):
    for _ in range(passes):
        result = engine.teardown(resource)
        if result.retry_after is None:
            return result
    raise AssertionError(f"teardown did not finish: {result.message}")


def test_delete_policy_snapshot_lifts_protection_snapshots_and_removes_everything(boto):
    resource = body()
    converge(resource)
    resource["spec"]["deletionPolicy"] = "Snapshot"
    first = engine.teardown(resource)
    assert first.retry_after == 1 and first.status["phase"] == "Deleting"  # the finalizer stays
    summary = conditions(first.status)
    assert summary["Ready"] == ("False", "Deleting") and summary["Reconciling"] == ("True", "Deleting")
    teardown(resource)
    rds = boto("rds")
    assert rds.describe_db_clusters()["DBClusters"] == []
    snapshots = [s["DBClusterSnapshotIdentifier"] for s in rds.describe_db_cluster_snapshots(
        SnapshotType="manual")["DBClusterSnapshots"]]
    assert len(snapshots) == 1 and snapshots[0].startswith(f"{CLUSTER}-snapshot-20")
    assert rds.describe_db_subnet_groups()["DBSubnetGroups"] == []
    names = {g["GroupName"] for g in boto("ec2").describe_security_groups()["SecurityGroups"]}
    assert OWNER.database_security_group_name not in names and OWNER.service_security_group_name not in names
    assert boto("secretsmanager").describe_secret(SecretId=OWNER.secret_name).get("DeletedDate")


def test_delete_policy_delete_takes_no_snapshot(boto):
    resource = body()
    converge(resource)
    resource["spec"]["deletionPolicy"] = "Delete"
    teardown(resource)
    assert boto("rds").describe_db_clusters()["DBClusters"] == []
    assert boto("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []


def test_delete_policy_retain_leaves_cluster_protection_and_secret(boto, calls):
    resource = body()
    converge(resource)
    resource["spec"]["deletionPolicy"] = "Retain"
    calls.clear()
    assert engine.teardown(resource).retry_after is None
    assert sum(calls.writes().values()) == 0
    assert cluster(boto)["DeletionProtection"] is True
    assert not boto("secretsmanager").describe_secret(SecretId=OWNER.secret_name).get("DeletedDate")


def test_a_cluster_already_gone_counts_as_deleted(boto):
    resource = body()
    converge(resource)
    rds = boto("rds")
    rds.modify_db_cluster(DBClusterIdentifier=CLUSTER, DeletionProtection=False, ApplyImmediately=True)
    rds.delete_db_instance(DBInstanceIdentifier=OWNER.writer_identifier)
    rds.delete_db_cluster(DBClusterIdentifier=CLUSTER, SkipFinalSnapshot=True)
    assert engine.teardown(resource).retry_after is None
    assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []


def test_a_recreated_resource_gets_its_secret_back(boto):
    resource = body()
    converge(resource)
    password = secret_value(boto)["password"]
    resource["spec"]["deletionPolicy"] = "Delete"
    teardown(resource)
    result = converge(body(uid="uid-2"))
    assert conditions(result.status)["DatabaseReady"] == ("True", "Available")
    assert secret_value(boto)["password"] == password
    assert not boto("secretsmanager").describe_secret(SecretId=OWNER.secret_name).get("DeletedDate")


def test_concurrent_passes_of_one_resource_create_once(boto, calls):
    from concurrent.futures import ThreadPoolExecutor

    # kopf runs the change handlers and the timer in different threads.
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: engine.reconcile(body()), range(4)))
    assert calls["CreateDBCluster"] == calls["CreateSecret"] == calls["CreateDBInstance"] == 1
