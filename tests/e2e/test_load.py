"""Load: a hundred AppModernization resources applied at once (one `kubectl apply` of a multi-document
file) to one operator, which copies each one's image and data itself (the Operator data runner). Each has
its own database and master user on the test PostgreSQL, so that no two share tables or a password.

Measured and printed: the time to all-Ready (first, median, last), the operator's peak memory (VmRSS
sampled through the run, and VmHWM), the AWS calls per resource per resync tick at steady state (the
operator's appmod_aws_calls_total over a few ticks), and the ticks each resource got in that window (kopf's
"Timer 'reconcile' succeeded" lines): none starves. The resources are deleted (deletionPolicy Delete) by the
same operator at the end, so that no later module's operator finds them."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.conftest import SOURCE_TITLES
from tests.e2e.conftest import conditions
from tests.e2e.metrics import scrape, total
from tests.infra import process

pytestmark = pytest.mark.e2e
COUNT = 100
# The drift interval: long enough that a tick's reads are a small part of the operator's time, short
# enough that the steady-state window of TICKS ticks stays short in CI.
RESYNC = 20
TICKS = 3
READY_TIMEOUT = 900  # the measured time is printed; this only bounds a run that went wrong
MEMORY_LIMIT_MB = 300
CALLS_PER_TICK = 5
# A namespace of its own, watched by this module's operator alone, and emptied before the operator stops.
NAMESPACE = "load"


class MemorySampler:
    """The resident set of a process, sampled from /proc/PID/status in a thread of its own."""

    def __init__(self, pid: int, every: float = 0.5):
        self.pid, self.every, self.samples = pid, every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(self.read("VmRSS"))

    def read(self, field: str) -> float:
        """`field` of /proc/PID/status, in MB (10^6 bytes)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024 / 1e6  # kB (KiB) to MB
        raise AssertionError(f"no {field} in /proc/{self.pid}/status")

    def stop(self) -> tuple[float, float]:
        """The peak sampled VmRSS and the kernel's VmHWM (the high-water mark between samples too), in MB."""
        self._stop.set()
        self._thread.join()
        return max(self.samples), self.read("VmHWM")


def name(i: int) -> str:
    return f"load-{i:03d}"


def database(i: int) -> str:
    return f"load_{i:03d}"


def resource(local_example, i: int) -> dict:
    """The minimal example as resource `i`: its own database and master user, deleted with the resource. The
    ECS cluster is this module's alone: moto's ListTasks ignores serviceName, so tasks other modules left in
    the shared cluster would add a DescribeTasks to every tick here."""
    body = local_example("minimal.yaml", name(i))
    body["metadata"]["namespace"] = NAMESPACE
    body["spec"]["deletionPolicy"] = "Delete"
    body["spec"]["database"] = {"databaseName": database(i), "masterUsername": f"owner_{i:03d}"}
    body["spec"]["service"] = {"cluster": NAMESPACE}
    return body


@pytest.fixture(scope="module")
def operator(kubectl, start_operator, master_users):
    kubectl.run("create", "namespace", NAMESPACE)
    port = process.free_port()
    log = start_operator(resync_seconds=RESYNC, namespaces=(NAMESPACE,), env={
        "APPMOD_METRICS_PORT": str(port), "APPMOD_METRICS_ADDRESS": "127.0.0.1", "APPMOD_LOG_FORMAT": "json",
        "APPMOD_LOG_LEVEL": "info"})
    yield f"http://127.0.0.1:{port}/metrics", log, int((log.parent / "pid").read_text())
    started = time.monotonic()
    kubectl.run("delete", "appmod", "--all", "-n", NAMESPACE, "--wait=false")
    # check=False: with nothing applied (a failed apply), kubectl wait finds no resources and says so.
    kubectl.run("wait", "-n", NAMESPACE, "--for=delete", "appmod", "--all", "--timeout=600s", timeout=630, check=False)
    left = [o["metadata"]["name"] for o in kubectl.get("appmod", "-n", NAMESPACE)["items"]]
    print(f"load: resources torn down in {time.monotonic() - started:.0f} s, {len(left)} left")
    assert not left, f"not torn down: {left}"
    kubectl.run("delete", "namespace", NAMESPACE, "--wait=false")
    for i in range(COUNT):  # some 7 MB each on the session's PostgreSQL
        master_users.drop_database(master_users.url(database(i)))


def wait_all_ready(kubectl, started: float) -> dict[str, float]:
    """Seconds from `started` until each resource first showed Ready=True, polled as `kubectl get` shows it."""
    ready: dict[str, float] = {}
    while len(ready) < COUNT:
        items = kubectl.get("appmod", "-n", NAMESPACE)["items"]
        for obj in items:
            if obj["metadata"]["name"] not in ready and conditions(obj).get("Ready", {}).get("status") == "True":
                ready[obj["metadata"]["name"]] = time.monotonic() - started
        if time.monotonic() - started > READY_TIMEOUT:
            late = {o["metadata"]["name"]: {t: (c["reason"], c["message"][:120]) for t, c in conditions(o).items()
                                            if c["status"] != ("False" if t in ("Reconciling", "Stalled") else "True")}
                    for o in items if o["metadata"]["name"] not in ready}
            raise AssertionError(f"{len(late)} not Ready after {READY_TIMEOUT} s: {json.dumps(late)[:3000]}")
        time.sleep(2)
    return ready


def timer_ticks(log: Path, start: int, end: int) -> Counter:
    """Resync ticks per resource between two offsets of the operator's JSON log."""
    with open(log, "rb") as f:
        f.seek(start)
        lines = f.read(end - start).decode(errors="replace").splitlines()
    ticks = Counter()
    for line in lines:
        if line.startswith("{") and "Timer 'reconcile' succeeded" in line:
            ticks[json.loads(line).get("name")] += 1
    return ticks


def aws_calls(url: str) -> tuple[Counter, float]:
    """The operator's AWS calls so far by service and operation, and its reconcile passes."""
    samples = scrape(url)
    calls = Counter()
    for (metric, labels), value in samples.items():
        if metric == "appmod_aws_calls_total":
            calls[f"{dict(labels)['service']}:{dict(labels)['operation']}"] += value
    return calls, total(samples, "appmod_reconciles_total", kind="reconcile")


def assert_own_data(master_users) -> None:
    """Each resource's database holds exactly the source rows: nothing collided."""
    for i in range(COUNT):
        with psycopg.connect(master_users.url(database(i))) as conn:
            titles = sorted(r[0] for r in conn.execute("SELECT title FROM product"))
        assert titles == sorted(SOURCE_TITLES), (name(i), titles)


# The run, the fixture's teardown of the hundred included, takes some 6 minutes here; more under load.
@pytest.mark.timeout(1800)
def test_a_hundred_resources_at_once(kubectl, operator, local_example, master_users):
    url, log, pid = operator
    memory = MemorySampler(pid)
    documents = yaml.safe_dump_all([resource(local_example, i) for i in range(COUNT)])
    started = time.monotonic()
    kubectl.run("apply", "-f", "-", stdin=documents)

    ready = wait_all_ready(kubectl, started)
    times = sorted(ready.values())
    print(f"load: {COUNT} resources all Ready in {times[-1]:.0f} s (first {times[0]:.0f} s, median "
          f"{statistics.median(times):.0f} s, last {times[-1]:.0f} s)")
    samples = scrape(url)
    count, seconds = (total(samples, f"appmod_reconcile_duration_seconds_{k}", kind="reconcile")
                      for k in ("count", "sum"))
    print(f"load: {count:.0f} passes to get there, {seconds / count:.2f} s each on average "
          f"({count / COUNT:.1f} per resource)")
    assert_own_data(master_users)

    # Steady state: the status writes of the last passes are over, only the drift timer runs.
    time.sleep(RESYNC)
    calls_before, passes_before = aws_calls(url)
    offset = log.stat().st_size
    time.sleep(RESYNC * TICKS)
    calls_after, passes_after = aws_calls(url)
    ticks = timer_ticks(log, offset, log.stat().st_size)
    rss, hwm = memory.stop()

    by_operation = calls_after - calls_before
    calls, passes = by_operation.total(), passes_after - passes_before
    per_tick = calls / max(passes, 1)
    print(f"load: steady state over {RESYNC * TICKS} s (resync {RESYNC} s): {calls:.0f} AWS calls in {passes:.0f} "
          f"passes, {per_tick:.2f} calls per resource per tick; ticks per resource min {min(ticks.values(), default=0)}"
          f" max {max(ticks.values(), default=0)}, {len(ticks)} of {COUNT} resources ticked")
    print("load: calls per tick by operation: " + ", ".join(
        f"{op} {n / max(passes, 1):.2f}" for op, n in by_operation.most_common()))
    print(f"load: operator memory peak VmRSS {rss:.0f} MB sampled, VmHWM {hwm:.0f} MB (limit {MEMORY_LIMIT_MB} MB)")
    assert passes >= COUNT, f"only {passes} passes in {TICKS} resync intervals"
    assert per_tick <= CALLS_PER_TICK, f"{per_tick:.2f} AWS calls per resource per tick"
    starved = [name(i) for i in range(COUNT) if not ticks[name(i)]]
    assert not starved, f"no resync tick in {RESYNC * TICKS} s for {starved}"
    assert max(rss, hwm) < MEMORY_LIMIT_MB
