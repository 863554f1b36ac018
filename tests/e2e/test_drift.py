"""Drift in AWS put right by the resync timer: the ECS service's desired count changed outside the
operator is set back to the spec's on the next tick, and the correction is posted as a Kubernetes Event
(reason DriftCorrected) on the resource."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import (
    ECS_CLUSTER,
    NAMESPACE,
    app,
    aws_client,
    condition_is,
    delete_and_wait,
    find_service,
    owner,
    service_is_gone,
)
from tests.e2e.kubectl import wait_for

pytestmark = pytest.mark.e2e
NAME = "drift"
RESYNC_SECONDS = 2


@pytest.fixture(scope="module")
def operator(start_operator):
    return start_operator(resync_seconds=RESYNC_SECONDS)


def settled(log: Path) -> bool:
    """Whether the operator's log shows the creation handled and, after that, a timer pass that succeeded:
    the drift below is then made on a resource whose passes all know its service, so the only pass that
    can notice it is the timer's (tests/unit/test_engine.py covers a pass queued behind another)."""
    lines = log.read_text().splitlines()
    ref = f"[{NAMESPACE}/{NAME}]"
    created = next((i for i, line in enumerate(lines) if f"{ref} Creation is processed" in line), None)
    return created is not None and any(f"{ref} Timer 'reconcile' succeeded" in line for line in lines[created + 1:])


@pytest.fixture
def stable(kubectl, operator, local_example) -> dict:
    """The resource `drift` (us-east-1, deletionPolicy Delete) once its service is stable and the operator
    has no pass left from the creation; deleted after the test if the test left it."""
    body = local_example("minimal.yaml", NAME)
    body["spec"]["deletionPolicy"] = "Delete"
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
    try:
        condition_is(kubectl, NAME, "ServiceStable", "True")
        wait_for(lambda: settled(operator), "the creation handled and a timer pass after it",
                 timeout=10 * RESYNC_SECONDS)
        yield app(kubectl, NAME)
    finally:
        if kubectl.run("get", "appmod", NAME, "-n", NAMESPACE, check=False).returncode == 0:
            delete_and_wait(kubectl, NAME)


def drift_events(kubectl) -> list[dict]:
    """The DriftCorrected events posted on the resource."""
    events = kubectl.get("events", "-n", NAMESPACE, f"--field-selector=involvedObject.name={NAME}")["items"]
    return [e for e in events if e.get("reason") == "DriftCorrected"]


def test_a_desired_count_changed_outside_the_operator_is_set_back(kubectl, stable, moto_server):
    assert stable["status"]["service"]["desiredCount"] == 1
    assert drift_events(kubectl) == []
    ecs, service = aws_client(moto_server, "ecs"), owner(NAME).task_family
    ecs.update_service(cluster=ECS_CLUSTER, service=service, desiredCount=3)
    assert find_service(ecs, NAME)["desiredCount"] == 3
    # Only the timer can notice: nothing changed in Kubernetes.
    wait_for(lambda: find_service(ecs, NAME)["desiredCount"] == 1, "the operator to set the desired count back to 1",
             timeout=15 * RESYNC_SECONDS)
    events = wait_for(lambda: drift_events(kubectl), "a DriftCorrected event", timeout=15 * RESYNC_SECONDS)
    assert len(events) == 1, events
    event = events[0]
    assert event["type"] == "Normal"
    assert event["involvedObject"]["kind"] == "AppModernization"
    assert event["involvedObject"]["uid"] == stable["metadata"]["uid"]
    assert service in event["message"] and "changed to 3" in event["message"] and "set back to 1" in event["message"]
    # The status says so too, and the service is stable again at one task.
    obj = wait_for(lambda: (o := app(kubectl, NAME))["status"]["service"]["runningCount"] == 1 and o,
                   "status.service to show one task running")
    assert (obj["status"]["service"]["desiredCount"], obj["status"]["service"]["rolloutState"]) == (1, "COMPLETED")
    assert obj["metadata"]["generation"] == 1
    assert obj["status"]["phase"] == "Ready"
    delete_and_wait(kubectl, NAME)
    assert service_is_gone(ecs, NAME), find_service(ecs, NAME)

