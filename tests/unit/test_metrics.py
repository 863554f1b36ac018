"""The metrics of metrics.py: passes counted by outcome (an exception is Error), phases counted per
resource and dropped with it, and the endpoint serving them in Prometheus's text format."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from appmod_operator import metrics
from tests.infra import process


def value(name: str, **labels) -> float:
    return next((s.value for m in metrics.PASSES.collect() for s in m.samples if s.name == name and s.labels == labels),
                0.0)


def test_passes_are_counted_by_outcome_and_an_exception_is_an_error():
    @metrics.timed("test", lambda result: result)
    def one_pass(result):
        if result is None:
            raise RuntimeError("bug")
        return result

    before = value("appmod_reconciles_total", kind="test", outcome="Ready")
    one_pass("Ready")
    with pytest.raises(RuntimeError):
        one_pass(None)
    assert value("appmod_reconciles_total", kind="test", outcome="Ready") == before + 1
    assert value("appmod_reconciles_total", kind="test", outcome="Error") >= 1


def test_the_endpoint_serves_the_phases_of_the_resources_it_knows():
    def scraped(url: str) -> dict[str, float]:
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        return {s.labels["phase"]: s.value for f in text_string_to_metric_families(text) if f.name == "appmod_resources"
                for s in f.samples}

    port = process.free_port()
    metrics.serve("127.0.0.1", port)
    url = f"http://127.0.0.1:{port}/metrics"
    before = scraped(url)  # other tests in this process may count resources of their own
    metrics.record_phase("uid-a", "Ready")
    metrics.record_phase("uid-b", "Ready")
    metrics.record_phase("uid-b", "Degraded")  # a resource is counted in one phase only
    during = scraped(url)
    assert (during["Ready"] - before.get("Ready", 0), during["Degraded"] - before.get("Degraded", 0)) == (1, 1)
    metrics.record_phase("uid-a", None)
    metrics.record_phase("uid-b", None)
    after = scraped(url)
    assert all(after[p] == before.get(p, 0) for p in after)
