"""`appmod apply`, `plan`, `status` and `delete`, run as a user runs them (the console script, a process
each), against moto, the loopback registries and the test PostgreSQL standing in for Aurora. Each
command starts with no status: what it reports comes from AWS alone (names, tags, the cluster's
migration markers)."""

from __future__ import annotations

import copy
import json
import os
import subprocess

import pytest
import yaml

from tests.unit.test_spec import MINIMAL

NAMESPACE, NAME = "cli", "shop"


def appmod(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["appmod", *args], capture_output=True, text=True, env=os.environ.copy(), timeout=300)


@pytest.fixture
def resource_file(tmp_path, sqlite_file, database_name):
    spec = copy.deepcopy(MINIMAL)
    spec["source"]["database"] = {"sqlite": {"path": str(sqlite_file)}}
    spec["database"] = {"databaseName": database_name}
    spec["migration"] = {"schema": {"strategy": "Convert"}, "data": {"runner": "Operator"}}
    spec["deletionPolicy"] = "Delete"
    body = {"apiVersion": "appmod.io/v1alpha1", "kind": "AppModernization",
            "metadata": {"name": NAME, "namespace": NAMESPACE}, "spec": spec}
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_apply_plan_status_delete_agree_from_aws_alone(resource_file, master_users, boto):
    before = appmod("plan", "-f", str(resource_file))
    assert before.returncode == 1, before.stderr
    for line in ("+ create Aurora cluster appmod-cli-shop-", "+ create ECR repository", "+ copy image",
                 "> run data migration", "+ create ECS service"):
        assert line in before.stdout, before.stdout
    assert boto("rds").describe_db_clusters()["DBClusters"] == []  # plan made nothing

    applied = appmod("apply", "-f", str(resource_file), "-o", "yaml", "--timeout", "4m")
    assert applied.returncode == 0, applied.stderr
    status = yaml.safe_load(applied.stdout)["status"]
    assert status["phase"] == "Ready"
    data = status["migration"]["data"]
    assert data["rows"] > 0 and data["tables"] > 0
    # One line per step as it changed, not a line per pass.
    assert "cli/shop data: ✓ Migrated" in applied.stderr and "cli/shop database: … Creating" in applied.stderr
    assert applied.stderr.count("cli/shop database: ✓ Available") == 1

    after = appmod("plan", "-f", str(resource_file))
    assert (after.returncode, after.stdout.strip()) == (0, "cli/shop: nothing to do; AWS matches the spec"), after

    seen = appmod("status", "-f", str(resource_file), "-o", "json")
    assert seen.returncode == 0, seen.stderr
    observed = json.loads(seen.stdout)["status"]
    conditions = {c["type"]: (c["status"], c["reason"]) for c in observed["conditions"]}
    assert conditions["Ready"] == ("True", "Reconciled")
    assert conditions["DataMigrated"] == ("True", "Migrated")
    assert {k: observed["migration"]["data"][k] for k in ("tables", "rows", "bytes", "checksum", "sourceDigest")} == \
        {k: data[k] for k in ("tables", "rows", "bytes", "checksum", "sourceDigest")}
    assert observed["image"] == status["image"] and observed["database"]["endpoint"] == status["database"]["endpoint"]

    table = appmod("status", "-f", str(resource_file))
    assert table.stdout.splitlines()[0].split()[:5] == ["NAMESPACE", "NAME", "READY", "REASON", "PHASE"]
    assert table.stdout.splitlines()[1].split()[:5] == [NAMESPACE, NAME, "True", "Reconciled", "Ready"]

    changed = yaml.safe_load(resource_file.read_text())
    changed["spec"]["service"] = {"desiredCount": 2}
    changed["spec"]["database"]["maxCapacity"] = 8
    resource_file.write_text(yaml.safe_dump(changed))
    planned = appmod("plan", "-f", str(resource_file), "-o", "json")
    assert planned.returncode == 1
    changes = {c["resource"].split(" appmod")[0]: c for c in json.loads(planned.stdout)["changes"]}
    assert changes["ECS service"]["fields"] == [{"name": "desiredCount", "current": 1, "wanted": 2}]
    assert changes["Aurora cluster"]["fields"] == [{"name": "maxCapacity", "current": 4, "wanted": 8}]
    assert set(changes) == {"ECS service", "Aurora cluster"}  # the data is not copied again

    deleted = appmod("delete", "-f", str(resource_file), "--timeout", "2m")
    assert deleted.returncode == 0, deleted.stderr
    assert boto("rds").describe_db_clusters()["DBClusters"] == []
    assert boto("ecr").describe_repositories()["repositories"] == []  # deletionPolicy Delete
    gone = appmod("status", "-f", str(resource_file))
    assert gone.returncode == 1 and "NotFound" in gone.stdout


def test_bad_files_exit_2_naming_the_field_and_make_nothing(tmp_path, boto):
    body = {"apiVersion": "appmod.io/v1alpha1", "kind": "AppModernization", "metadata": {"name": "bad"},
            "spec": {**copy.deepcopy(MINIMAL), "service": {"cpu": "256", "memory": "8192"}}}
    second = copy.deepcopy(body)
    second["metadata"]["name"] = "fine"
    second["spec"].pop("service")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump_all([second, body]))
    (tmp_path / "broken.yaml").write_text("kind: AppModernization\nmetadata: {name: [\n")
    for command in ("apply", "plan", "status", "delete"):
        result = appmod(command, "-f", str(tmp_path / "bad.yaml"))
        assert result.returncode == 2, (command, result.stderr)
        assert "spec.service.memory" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    for path in (tmp_path / "broken.yaml", tmp_path / "missing.yaml"):
        result = appmod("apply", "-f", str(path))
        assert result.returncode == 2 and str(path) in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = appmod("apply", "-f", str(tmp_path / "bad.yaml"), "--timeout", "soon")
    assert result.returncode == 2 and "--timeout" in result.stderr
    assert boto("rds").describe_db_clusters()["DBClusters"] == []  # nothing half-made: a bad file makes nothing
    assert boto("ecr").describe_repositories()["repositories"] == []


@pytest.mark.parametrize("policy", ["Retain", "Snapshot"])
def test_delete_follows_the_deletion_policy(tmp_path, boto, policy):
    spec = {**copy.deepcopy(MINIMAL), "deletionPolicy": policy,
            "migration": {"schema": {"strategy": "None"}, "data": {"enabled": False}}}
    body = {"apiVersion": "appmod.io/v1alpha1", "kind": "AppModernization",
            "metadata": {"name": policy.lower(), "namespace": NAMESPACE}, "spec": spec}
    path = tmp_path / "kept.yaml"
    path.write_text(yaml.safe_dump(body))
    assert appmod("apply", "-f", str(path), "--timeout", "2m").returncode == 0
    deleted = appmod("delete", "-f", str(path), "--timeout", "2m")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == f"{NAMESPACE}/{policy.lower()}: torn down (deletionPolicy {policy})"
    clusters = boto("rds").describe_db_clusters()["DBClusters"]
    snapshots = boto("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    if policy == "Retain":
        assert len(clusters) == 1 and snapshots == []
    else:
        assert clusters == [] and len(snapshots) == 1
    assert len(boto("ecr").describe_repositories()["repositories"]) == 1  # the images are kept by both
    services = boto("ecs").list_services(cluster="appmod")["serviceArns"]
    described = boto("ecs").describe_services(cluster="appmod", services=services)["services"] if services else []
    active = [s for s in described if s["status"] == "ACTIVE"]
    assert len(active) == (1 if policy == "Retain" else 0)  # Retain leaves AWS as it is, the service too
