"""The operator's Prometheus metrics (prometheus-client): declared here, each documented in
docs/operations.md, served by runner.py on APPMOD_METRICS_PORT. Nothing here reads AWS or Kubernetes.

Recorded by reconcile/engine.py (passes, phases), aws/clients.py (every AWS call, from botocore's
after-call events), reconcile/data.py (rows and bytes migrated), reconcile/image.py (bytes copied) and
reconcile/jobs.py (jobs in flight, read when scraped). The process's own memory and CPU come from
prometheus-client's default collectors (`process_resident_memory_bytes`, ...).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from appmod_operator.status import Phase

F = TypeVar("F", bound=Callable[..., Any])

PASSES = Counter("appmod_reconciles", "Reconcile and teardown passes, by kind and outcome (the phase the pass "
                 "left, Deleted for a finished teardown, Error for an exception)", ["kind", "outcome"])
PASS_SECONDS = Histogram("appmod_reconcile_duration_seconds", "How long one pass took, by kind", ["kind"],
                         buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
AWS_CALLS = Counter("appmod_aws_calls", "AWS API calls, by service, operation and outcome (Success or AWS's "
                    "error code), after botocore's own retries", ["service", "operation", "outcome"])
MIGRATION_ROWS = Counter("appmod_migration_rows", "Rows copied into PostgreSQL by in-process data migrations")
MIGRATION_BYTES = Counter("appmod_migration_bytes", "Bytes of row data copied by in-process data migrations")
IMAGE_BYTES = Counter("appmod_image_bytes_copied", "Blob bytes sent to ECR by image copies (blobs already there "
                      "are not counted)")
RESOURCES = Gauge("appmod_resources", "AppModernization resources this operator works on, by phase", ["phase"])
JOBS = Gauge("appmod_jobs_in_flight", "Image copies and data migrations running (or queued) now, by kind", ["kind"])
PHASES = tuple(v for k, v in vars(Phase).items() if k.isupper())

_phases: dict[str, str] = {}
_lock = threading.Lock()


def serve(address: str, port: int) -> None:
    """The /metrics endpoint, in a thread of its own."""
    start_http_server(port, addr=address)


def timed(kind: str, outcome: Callable[[Any], str]) -> Callable[[F], F]:
    """Counts and times each call of a pass function; `outcome(result)` names how it ended."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(*args, **kwargs):
            started, label = time.monotonic(), "Error"
            try:
                result = fn(*args, **kwargs)
                label = outcome(result)
                return result
            finally:
                PASSES.labels(kind, label).inc()
                PASS_SECONDS.labels(kind).observe(time.monotonic() - started)
        return call  # type: ignore[return-value]
    return wrap


def record_phase(uid: str, phase: str | None) -> None:
    """The resource's phase now; None once it is gone, so a deleted resource is no longer counted."""
    with _lock:
        if phase is None:
            _phases.pop(uid, None)
        else:
            _phases[uid] = phase
        counts = {p: 0 for p in PHASES}
        for p in _phases.values():
            counts[p] = counts.get(p, 0) + 1
    for p, n in counts.items():
        RESOURCES.labels(p).set(n)

