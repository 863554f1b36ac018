"""The resync timer re-runs the reconcile on its own, so a status that drifted is written again."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.e2e.conftest import NAMESPACE, app, condition_is
from tests.e2e.kubectl import wait_for

pytestmark = pytest.mark.e2e


def test_the_timer_rewrites_a_status_that_drifted(kubectl, start_operator, local_example):
    start_operator(resync_seconds=2)
    body = local_example("minimal.yaml", "resync")
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
    condition_is(kubectl, "resync", "Ready", timeout=120)
    # What the patch returns, not a later read: the timer may already have written the status again by then.
    patched = json.loads(kubectl.run("patch", "appmod", "resync", "-n", NAMESPACE, "--subresource=status",
                                     "--type=merge", "-p", json.dumps({"status": {"phase": "Degraded"}}),
                                     "-o", "json").stdout)
    assert patched["status"]["phase"] == "Degraded"
    wait_for(lambda: app(kubectl, "resync")["status"]["phase"] == "Ready",
             "the timer to write the status again", timeout=30)
    # No spec change happened, so only the timer can have written it.
    assert app(kubectl, "resync")["metadata"]["generation"] == 1
