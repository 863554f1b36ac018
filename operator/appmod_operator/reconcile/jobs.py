"""In-process data migrations (`spec.migration.data.runner: Operator`): each runs in a thread of its own
beside the reconcile, so a pass never blocks on a copy that takes minutes and the resource's status
can say how far it got. One job per resource at a time; the latest is kept with its outcome until the
resource's next job replaces it, so the pass after it finished reads its report.

A job lives only in this process. After a restart the step starts it again, and the migration engine
converges (a table is either complete and verified, or absent), so nothing is copied twice.
Called by data.py (start, find); cli.py waits for jobs before it reports (`wait`), handlers.py stops
them when the operator shuts down, and engine.py when the resource is deleted (`stop`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from appmod_operator.errors import UserError
from appmod_operator.migration.job import Progress, Report

log = logging.getLogger(__name__)

Work = Callable[[Progress, threading.Event], Report]


@dataclass
class Job:
    """One migration: `key` says which spec generation and source version it copies."""

    key: str
    name: str
    stop: threading.Event = field(default_factory=threading.Event)
    progress: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (rows done, rows in all)
    report: Report | None = None
    error: Exception | None = None
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def update(self, table: str, done: int, total: int) -> None:
        self.progress[table] = (done, total)

    def describe_progress(self) -> str:
        done = sum(d for d, _ in self.progress.values())
        total = sum(t for _, t in self.progress.values())
        finished = sum(1 for d, t in self.progress.values() if d >= t)
        return (f"{done:,} of {total:,} rows copied; {finished} of the {len(self.progress)} tables started are "
                "complete" if self.progress else "reading the source")


_jobs: dict[str, Job] = {}
_lock = threading.Lock()


def find_job(uid: str) -> Job | None:
    """The resource's latest job, running or finished; None when this process has not run one."""
    with _lock:
        return _jobs.get(uid)


def start_job(uid: str, key: str, name: str, work: Work) -> Job:
    """Runs `work(progress, stop)` in a new thread as the resource's job; the caller makes sure its
    previous job has stopped."""
    job = Job(key, name)
    job.thread = threading.Thread(target=_run, args=(job, work), name=f"migrate {name}", daemon=True)
    with _lock:
        _jobs[uid] = job
    job.thread.start()
    return job


def forget_job(uid: str) -> None:
    """Drops a finished job, so the next pass starts another (after a failure worth retrying)."""
    with _lock:
        _jobs.pop(uid, None)


def wait(timeout: float | None = None) -> bool:
    """Waits for every running job; whether there was one."""
    with _lock:
        running = [j for j in _jobs.values() if j.running]
    for job in running:
        job.thread.join(timeout)
    return bool(running)


def stop(uid: str | None = None) -> None:
    """Asks the resource's job (every job, with None) to stop between units of work: what is complete
    stays, the rest is absent."""
    with _lock:
        for key, job in _jobs.items():
            if uid is None or key == uid:
                job.stop.set()


def _run(job: Job, work: Work) -> None:
    try:
        job.report = work(job.update, job.stop)
    except Exception as e:
        job.error = e
        # A UserError says all there is to say; anything else is a bug worth its traceback.
        log.info("%s: the data migration ended with %s: %s", job.name, type(e).__name__, e,
                 exc_info=not isinstance(e, UserError))
