"""The command line and the operator agree from AWS alone: what `appmod apply` made, the operator adopts
with nothing to do (it runs no migration again: the cluster's markers say it was done), and `appmod plan`
afterwards finds nothing to do either."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import yaml

from tests.e2e.conftest import NAMESPACE, aws_client, condition_is, conditions

pytestmark = pytest.mark.e2e
NAME = "agree"


def snapshot(moto_server) -> dict:
    """Everything the resource has in AWS that a change would show in: ids, states, settings, versions and
    tags (the uid tag left out: the operator's resource has one, a file has none)."""
    rds, ecs, ecr = (aws_client(moto_server, s, "us-east-2") for s in ("rds", "ecs", "ecr"))
    secrets, iam, logs = (aws_client(moto_server, s, "us-east-2") for s in ("secretsmanager", "iam", "logs"))
    tags = lambda items: sorted((t["Key"], t["Value"]) for t in items if t["Key"] != "appmod.io/uid")  # noqa: E731
    services = ecs.describe_services(cluster="appmod", services=ecs.list_services(cluster="appmod")["serviceArns"])
    return {
        "clusters": [(c["DBClusterIdentifier"], c["Status"], c["ServerlessV2ScalingConfiguration"], tags(c["TagList"]))
                     for c in rds.describe_db_clusters()["DBClusters"]],
        "instances": [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]],
        "secrets": [(s["Name"], sorted(v["VersionId"] for v in secrets.list_secret_version_ids(SecretId=s["ARN"])[
            "Versions"])) for s in secrets.list_secrets()["SecretList"]],
        "images": {r["repositoryName"]: sorted(i["imageDigest"] for i in ecr.describe_images(
            repositoryName=r["repositoryName"])["imageDetails"]) for r in ecr.describe_repositories()["repositories"]},
        "task definitions": sorted(ecs.list_task_definitions()["taskDefinitionArns"]),
        "services": [(s["serviceName"], s["taskDefinition"], s["desiredCount"], len(s["deployments"]))
                     for s in services["services"]],
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "log groups": sorted(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]),
    }


def test_apply_then_the_operator_then_plan_agree(kubectl, start_operator, local_example, moto_server, master_users,
                                                 operator_registries_env, tmp_path):
    body = local_example("oscar.yaml", NAME)
    body["metadata"]["namespace"] = NAMESPACE
    body["spec"]["database"]["databaseName"] = NAME
    body["spec"]["migration"]["schema"] = {"strategy": "Convert"}  # moto's tasks run no command
    path = tmp_path / "agree.yaml"
    path.write_text(yaml.safe_dump(body))
    env = {**os.environ, **moto_server.env(), **operator_registries_env, "APPMOD_POLL_SECONDS": "1",
           "APPMOD_DATABASE_HOST": master_users.env()["APPMOD_DATABASE_HOST"]}
    appmod = lambda *a: subprocess.run(["appmod", *a], env=env, capture_output=True, text=True, timeout=300)  # noqa: E731

    applied = appmod("apply", "-f", str(path), "-o", "yaml", "--timeout", "4m")
    assert applied.returncode == 0, applied.stderr
    by_cli = yaml.safe_load(applied.stdout)["status"]
    before = snapshot(moto_server)

    start_operator(resync_seconds=2)
    kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(body))
    ready = condition_is(kubectl, NAME, "Ready", timeout=120)
    data = conditions(ready)["DataMigrated"]
    assert (data["status"], data["reason"]) == ("True", "Migrated")
    assert "recorded on the cluster" in data["message"], data  # not copied again
    status = ready["status"]
    assert status["migration"]["data"]["checksum"] == by_cli["migration"]["data"]["checksum"]
    assert status["image"] == by_cli["image"] and status["database"] == by_cli["database"]
    time.sleep(5)  # a few resync ticks (every 2 s)
    assert snapshot(moto_server) == before  # the operator created, changed and deleted nothing

    planned = appmod("plan", "-f", str(path))
    assert (planned.returncode, planned.stdout.strip()) == (0, f"{NAMESPACE}/{NAME}: nothing to do; AWS matches "
                                                            "the spec"), planned
