"""What an SRE reads from a running operator, end to end: the events (one per transition, none from the
resync), the Prometheus endpoint (each metric of docs/operations.md with a plausible value), the JSON
log lines (the resource as fields; waiting at INFO, never at ERROR), and `kubectl wait` on the kstatus
conditions. The resource is gone from the metrics once it is deleted."""

from __future__ import annotations

import collections
import json
import time

import pytest
import yaml

from tests.conftest import SOURCE_TITLES
from tests.e2e.kubectl import wait_for
from tests.e2e.metrics import sample, scrape, total
from tests.infra import process

pytestmark = pytest.mark.e2e
NAME, RESYNC = "ops", 2
# A namespace of its own, watched by this module's operator alone: resources other modules left in theirs
# count in no metric, event or log line here.
NAMESPACE = "operations"


@pytest.fixture(scope="module")
def operator(kubectl, start_operator):
    kubectl.run("create", "namespace", NAMESPACE)
    port = process.free_port()
    log = start_operator(resync_seconds=RESYNC, namespaces=(NAMESPACE,), env={
        "APPMOD_METRICS_PORT": str(port), "APPMOD_METRICS_ADDRESS": "127.0.0.1", "APPMOD_LOG_FORMAT": "json"})
    yield f"http://127.0.0.1:{port}/metrics", log
    kubectl.run("delete", "namespace", NAMESPACE, "--wait=false")


def events(kubectl) -> collections.Counter:
    found = kubectl.get("events", "-n", NAMESPACE, "--field-selector", f"involvedObject.name={NAME}")["items"]
    return collections.Counter((e["type"], e["reason"]) for e in found for _ in range(e.get("count") or 1))


def test_events_metrics_and_logs_of_one_resource(kubectl, operator, local_example):
    url, log = operator
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(local_example("minimal.yaml", NAME)))
    kubectl.run("wait", "-n", NAMESPACE, "--for=condition=Ready", f"appmod/{NAME}", "--timeout=180s", timeout=200)

    # Events: each transition once; resync ticks that change nothing add none.
    seen = wait_for(lambda: (e := events(kubectl))[("Normal", "Reconciled")] and e, "the Ready event")
    assert seen[("Normal", "CreateDBCluster")] == 1 and seen[("Normal", "CreateRepository")] == 1, seen
    assert seen[("Normal", "Available")] >= 1 and seen[("Normal", "Replicated")] == 1, seen
    assert seen[("Normal", "Reconciled")] == 1 and seen[("Normal", "Migrated")] == 1, seen
    time.sleep(RESYNC * 4)
    assert events(kubectl) == seen, "the resync posted events"

    # Metrics: the pass counts, AWS calls, rows, bytes, phases and jobs.
    samples = scrape(url)
    assert sample(samples, "appmod_reconciles_total", kind="reconcile", outcome="Ready") >= 4  # the resync ticks
    assert sample(samples, "appmod_reconcile_duration_seconds_count", kind="reconcile") >= 4
    assert sample(samples, "appmod_aws_calls_total", service="rds", operation="CreateDBCluster", outcome="Success") == 1
    assert total(samples, "appmod_aws_calls_total", service="rds", operation="DescribeDBClusters") >= 4
    assert sample(samples, "appmod_migration_rows_total") >= len(SOURCE_TITLES)
    assert sample(samples, "appmod_migration_bytes_total") > 0
    assert sample(samples, "appmod_image_bytes_copied_total") > 0  # the layers sent into a new repository
    assert sample(samples, "appmod_resources", phase="Ready") == 1
    assert sample(samples, "appmod_jobs_in_flight", kind="data") == 0
    assert sample(samples, "appmod_jobs_in_flight", kind="image") == 0
    assert sample(samples, "process_resident_memory_bytes") > 10_000_000

    # Logs: one JSON object a line; ours name the resource, step and generation as fields; kopf's the resource.
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    ours = [e for e in lines if e["logger"].startswith("appmod_operator") and e.get("name") == NAME]
    assert ours and all(e["namespace"] == NAMESPACE and e["generation"] == 1 for e in ours)
    assert any(e.get("step") == "DatabaseReady" for e in ours), ours[:5]
    kopfs = [e for e in lines if e["logger"].startswith("kopf") and e.get("name") == NAME]
    waiting = [e for e in kopfs if "failed temporarily" in e["message"]]
    assert waiting and all(e["level"] == "info" for e in waiting)  # polling Aurora is not an error
    assert not [e for e in lines if e["level"] == "error"], [e for e in lines if e["level"] == "error"][:3]

    kubectl.run("delete", "appmod", NAME, "-n", NAMESPACE, "--wait=false")
    kubectl.run("wait", "-n", NAMESPACE, "--for=delete", f"appmod/{NAME}", "--timeout=120s", timeout=140)
    wait_for(lambda: sample(scrape(url), "appmod_resources", phase="Ready") == 0, "the resource out of the metrics")
    assert sample(scrape(url), "appmod_reconciles_total", kind="teardown", outcome="Deleted") == 1
