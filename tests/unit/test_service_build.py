"""The service step's pure parts: the task definition, what counts as a change, drift told from a spec
change, and stability from what ECS reports."""

from __future__ import annotations

from appmod_operator.names import Owner
from appmod_operator.reconcile import service
from appmod_operator.spec import parse
from tests.unit.test_spec import MINIMAL, with_

OWNER = Owner("shop", "oscar", "uid-1")
IMAGE = {"repositoryUri": "1.dkr.ecr.us-east-1.amazonaws.com/shop-oscar", "digest": "sha256:" + "a" * 64}
SECRET = "arn:aws:secretsmanager:us-east-1:1:secret:appmod/shop/oscar/database-AbCdEf"


def app(**changes):
    return parse(with_(**{f"service.{k}": v for k, v in changes.items()}) if changes else MINIMAL, "shop", "oscar")


def definition(**changes) -> dict:
    return service.build_task_definition(app(**changes), OWNER, service.build_image_reference(IMAGE), SECRET,
                                         "arn:role", "/appmod/shop/oscar")


def test_the_task_definition_runs_the_image_by_digest_and_reads_the_url_from_the_secret():
    made = definition(env=[{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])
    container = made["containerDefinitions"][0]
    assert container["image"] == f"{IMAGE['repositoryUri']}@{IMAGE['digest']}"
    assert container["secrets"] == [{"name": "DATABASE_URL", "valueFrom": f"{SECRET}:url::"}]
    assert [e["name"] for e in container["environment"]] == ["A", "B"]
    assert container["logConfiguration"]["options"]["awslogs-region"] == "us-east-1"
    assert (made["cpu"], made["memory"], made["networkMode"]) == ("512", "1024", "awsvpc")


def test_database_env_comes_from_the_secrets_keys_never_as_plain_environment():
    made = definition(databaseEnv={"DATABASE_PASSWORD": "password", "DATABASE_HOST": "host", "DATABASE_PORT": "port"},
                      env=[{"name": "DATABASE_ENGINE", "value": "django.db.backends.postgresql"}])
    container = made["containerDefinitions"][0]
    assert container["secrets"] == [{"name": "DATABASE_HOST", "valueFrom": f"{SECRET}:host::"},
                                    {"name": "DATABASE_PASSWORD", "valueFrom": f"{SECRET}:password::"},
                                    {"name": "DATABASE_PORT", "valueFrom": f"{SECRET}:port::"},
                                    {"name": "DATABASE_URL", "valueFrom": f"{SECRET}:url::"}]
    assert container["environment"] == [{"name": "DATABASE_ENGINE", "value": "django.db.backends.postgresql"}]
    assert service.essentials(made) != service.essentials(definition())


def test_essentials_ignore_what_ecs_adds_and_see_what_we_set():
    made = definition()
    described = {**made, "revision": 3, "status": "ACTIVE", "containerDefinitions": [
        {**made["containerDefinitions"][0], "cpu": 0, "mountPoints": [], "volumesFrom": []}]}
    assert service.essentials(described) == service.essentials(made)
    assert service.essentials(definition(containerPort=9000)) != service.essentials(made)
    assert service.essentials(definition(env=[{"name": "X", "value": "1"}])) != service.essentials(made)


def test_changes_and_which_of_them_are_drift():
    running = {"serviceName": "s", "taskDefinition": "td:1", "desiredCount": 3,
               "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["b", "a"], "securityGroups": ["g"],
                                                                "assignPublicIp": "ENABLED"}}}
    changes = service.build_service_changes(running, app(), "td:2", ["a", "b"], ["g"])
    assert changes == {"taskDefinition": "td:2", "desiredCount": 1}
    drift = service.build_corrections(running, changes, {"desiredCount": 1, "taskDefinitionArn": "td:2"})
    assert len(drift) == 2 and "set back to 1" in drift[0] and "swapped to td:1" in drift[1]
    assert service.build_corrections(running, changes, {"desiredCount": 3, "taskDefinitionArn": "td:1"}) == []


def test_stable_only_when_the_primary_deployment_completed_and_all_run():
    def report(rollout, running, desired=2):
        described = {"serviceName": "s", "desiredCount": desired, "runningCount": running,
                     "deployments": [{"status": "PRIMARY", "rolloutState": rollout, "rolloutStateReason": "why"}]}
        return service.build_report(app(), {"clusterArn": "c"}, described, None)
    assert (report("COMPLETED", 2).done, report("COMPLETED", 2).reason) == (True, "Stable")
    assert (report("COMPLETED", 1).reason, report("COMPLETED", 1).waiting) == ("RollingOut", True)
    assert (report("IN_PROGRESS", 2).reason, report("IN_PROGRESS", 2).waiting) == ("RollingOut", True)
    failed = report("FAILED", 0)
    assert (failed.done, failed.reason, failed.waiting) == (False, "RolloutFailed", False) and "why" in failed.message
    assert failed.stalled  # the same task definition would fail again: it waits for the user


def test_a_failed_rollout_is_degraded_and_stalled_and_below_desired_after_stable_is_degraded():
    def report(rollout, running, was_stable=False):
        described = {"serviceName": "s", "desiredCount": 2, "runningCount": running,
                     "deployments": [{"status": "PRIMARY", "rolloutState": rollout, "rolloutStateReason": "why"}]}
        return service.build_report(app(), {"clusterArn": "c"}, described, None, was_stable=was_stable)
    failed, serving = report("FAILED", 0), report("FAILED", 1)
    assert (failed.stalled, failed.phase, serving.phase) == (True, "Failed", "Degraded")
    below = report("COMPLETED", 1, was_stable=True)
    assert (below.reason, below.phase, below.waiting, below.stalled) == ("BelowDesiredCount", "Degraded", True, False)
    assert report("COMPLETED", 1).phase is None  # still rolling out the first time: Deploying


def test_a_failed_rollout_deploys_again_only_for_a_newer_generation():
    described = {"deployments": [{"status": "PRIMARY", "rolloutState": "FAILED"}]}
    before = {"type": "ServiceStable", "status": "False", "reason": "RolloutFailed", "observedGeneration": 2}
    assert not service.build_redeploy(described, before, 2)  # reported for this generation: wait for the user
    assert service.build_redeploy(described, before, 3)
    assert not service.build_redeploy({"deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}]}, before, 3)
