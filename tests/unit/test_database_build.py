"""The database step's pure parts: readiness from AWS's states, the ModifyDBCluster changes, refusals,
and the create request, on descriptions shaped as DescribeDBClusters returns them."""

from __future__ import annotations

import pytest

from appmod_operator.names import Owner
from appmod_operator.reconcile import database, network
from appmod_operator.spec import parse
from tests.unit.test_spec import MINIMAL, with_

OWNER = Owner("shop", "oscar", "uid-1")


def db(**changes):
    return parse(with_(**{f"database.{k}": v for k, v in changes.items()}) if changes else MINIMAL,
                 "shop", "oscar").database


def described(status="available", **overrides) -> dict:
    cluster = {"DBClusterIdentifier": OWNER.cluster_identifier, "DBClusterArn": "arn:aws:rds:::cluster:x",
               "Status": status, "Endpoint": "x.cluster.example", "Port": 5432, "EngineVersion": "16.4",
               "Engine": "aurora-postgresql", "DatabaseName": "oscar", "MasterUsername": "appmod",
               "BackupRetentionPeriod": 7, "DeletionProtection": True,
               "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.0, "MaxCapacity": 4.0,
                                                    "SecondsUntilAutoPause": 300}}
    return {**cluster, **overrides}


def writer(status="available") -> dict:
    return {"DBInstanceIdentifier": OWNER.writer_identifier, "DBInstanceStatus": status}


@pytest.mark.parametrize(("cluster", "instance", "reason", "words"), [
    ("available", "available", "Available", "available at x.cluster.example:5432"),
    ("creating", "creating", "Creating", "cluster appmod-shop-oscar-1c58c800 creating"),
    ("available", None, "Creating", "not created yet"),
    ("backing-up", "available", "Updating", "backing-up"),
    ("modifying", "available", "Updating", "modifying"),
    ("available", "configuring-enhanced-monitoring", "Updating", "configuring-enhanced-monitoring"),
    ("deleting", "deleting", "Deleting", "deleting"),
])
def test_ready_only_when_aws_reports_both_available(cluster, instance, reason, words):
    outcome = database.build_report(described(cluster), writer(instance) if instance else None, "arn:secret")
    assert (outcome.done, outcome.reason, outcome.waiting) == (reason == "Available", reason, reason != "Available")
    assert words in outcome.message
    assert outcome.status["database"]["secretArn"] == "arn:secret"
    assert outcome.status["database"]["status"] == cluster


def test_no_endpoint_is_not_ready():
    outcome = database.build_report(described(Endpoint=None), writer(), None)
    assert not outcome.done and "secretArn" not in outcome.status["database"]


def test_scaling_carries_auto_pause_only_at_zero():
    assert database.build_scaling(db()) == {"MinCapacity": 0, "MaxCapacity": 4, "SecondsUntilAutoPause": 300}
    assert database.build_scaling(db(minCapacity=1)) == {"MinCapacity": 1, "MaxCapacity": 4}


def test_a_matching_cluster_needs_no_change():
    assert database.build_changes(described(), db()) == {}
    assert database.build_changes(described(EngineVersion="16.6"), db()) == {}  # AWS upgraded a minor itself


def test_changes_name_only_what_differs():
    changes = database.build_changes(described(), db(maxCapacity=8, backupRetentionDays=1, engineVersion="17.4"))
    assert changes == {"ServerlessV2ScalingConfiguration": {"MinCapacity": 0, "MaxCapacity": 8,
                                                            "SecondsUntilAutoPause": 300},
                       "BackupRetentionPeriod": 1, "EngineVersion": "17.4", "AllowMajorVersionUpgrade": True}
    assert database.build_changes(described(), db(engineVersion="16.8"))["AllowMajorVersionUpgrade"] is False


@pytest.mark.parametrize(("cluster", "field"), [
    ({"DatabaseName": "shop"}, "spec.database.databaseName"),
    ({"MasterUsername": "postgres"}, "spec.database.masterUsername"),
    ({"EngineVersion": "17.1"}, "spec.database.engineVersion"),
])
def test_refusals_name_the_field_and_the_clusters_value(cluster, field):
    refusal = database.build_refusal(described(**cluster), db())
    assert refusal.startswith(field) and str(next(iter(cluster.values()))) in refusal


def test_the_create_request_is_serverless_v2_with_our_tags_and_network():
    where = network.Network("vpc-1", OWNER.subnet_group_name, "sg-1")
    request = database.build_cluster_request(db(), OWNER, "pw", where)
    assert (request["Engine"], request["EngineMode"], request["StorageEncrypted"]) == (
        "aurora-postgresql", "provisioned", True)
    assert request["VpcSecurityGroupIds"] == ["sg-1"] and request["DBSubnetGroupName"] == OWNER.subnet_group_name
    assert {"Key": "appmod.io/owner", "Value": "shop/oscar"} in request["Tags"]
    writer_request = database.build_writer_request(described(), OWNER)
    assert writer_request["DBInstanceClass"] == "db.serverless"


def test_names_are_valid_rds_identifiers_and_distinct():
    import re

    long = Owner("n" * 63, "x" * 253, "u")
    for owner in (OWNER, long, Owner("a-b", "c", "u"), Owner("a", "b-c", "u"), Owner("x", "9.Weird--Name", "u")):
        for name in (owner.cluster_identifier, owner.final_snapshot_identifier("20260101000000")):
            assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name) and len(name) <= 63, name
    assert Owner("a-b", "c", "u").cluster_identifier != Owner("a", "b-c", "u").cluster_identifier
