"""The metrics of metrics.py: passes counted by outcome (an exception is Error), phases counted per
resource and dropped with it, and the endpoint serving them in Prometheus's text format."""

from __future__ import annotations

import urllib.request

import pytest

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
    metrics.record_phase("uid-a", "Ready")
    metrics.record_phase("uid-b", "Ready")
    metrics.record_phase("uid-b", "Degraded")
    port = process.free_port()
    metrics.serve("127.0.0.1", port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'appmod_resources{phase="Ready"} 1.0' in text and 'appmod_resources{phase="Degraded"} 1.0' in text
    assert "# TYPE appmod_aws_calls_total counter" in text and "# TYPE appmod_jobs_in_flight gauge" in text
    metrics.record_phase("uid-a", None)
    metrics.record_phase("uid-b", None)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert 'appmod_resources{phase="Ready"} 0.0' in response.read().decode()
