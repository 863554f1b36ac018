"""Long work that runs beside the reconcile in this process: the in-process data migrations
(`spec.migration.data.runner: Operator`, kind DATA) and the image copies (kind IMAGE). Each runs in a
thread of its own, so a pass never holds kopf's worker (nor the resource's lock) on a copy that takes
minutes, and the resource's status can say how far it got. One job per resource and kind at a time; the
latest is kept with its outcome until the resource's next job of that kind replaces it, so the pass after
it finished reads its report. A resource's jobs are dropped when it is deleted (`forget`).

At most `APPMOD_MAX_MIGRATIONS` data migrations copy at once; the others wait in their threads, queued,
so that many resources sharing one database server do not exhaust its connections. A job that failed
on something retrying may fix (the database not answering, an internal error) says how soon its step
may start it again (`retry_in`), backing off with each attempt.

A job lives only in this process. After a restart the step starts it again, and the work converges (a
table is either complete and verified, or absent; a blob is either in ECR or not), so nothing is copied
twice. Called by data.py and image.py (start, find); cli.py waits for jobs before it reports (`wait`),
handlers.py stops them when the operator shuts down, and engine.py when the resource is deleted (`stop`).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from appmod_operator import config, metrics
from appmod_operator.errors import TargetError, UserError

log = logging.getLogger(__name__)

DATA = "data"
IMAGE = "image"
MAX_BACKOFF_SECONDS = 600

Progress = Callable[[str, int, int], None]  # (unit, done, in all): rows of a table, bytes of a blob
Work = Callable[[Progress, threading.Event], object]


@dataclass
class Job:
    """One run: `key` says which spec generation and source version it works for; `attempt` counts the
    runs for that key."""

    key: str
    name: str
    attempt: int = 1
    kind: str = DATA
    stop: threading.Event = field(default_factory=threading.Event)
    progress: dict[str, tuple[int, int]] = field(default_factory=dict)  # unit -> (done, in all)
    report: object = None
    error: Exception | None = None
    thread: threading.Thread | None = None
    queued: bool = False  # waiting for a free slot (APPMOD_MAX_MIGRATIONS)
    ended: float | None = None  # time.monotonic() when it finished
    said: bool = False  # a pass has reported its failure (backing_off)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def retryable(self) -> bool:
        """Failed on something that another attempt may get past: the database not answering yet, or an
        error of ours (a bug is not the user's to fix, and must not leave the resource Stalled for good)."""
        return self.error is not None and (isinstance(self.error, TargetError)
                                           or not isinstance(self.error, UserError))

    def retry_in(self) -> float:
        """Seconds until a retryable failure may run again: the poll interval, doubled per attempt."""
        delay = min(config.current().poll_seconds * 2 ** (self.attempt - 1), MAX_BACKOFF_SECONDS)
        return max(0.0, (self.ended or time.monotonic()) + delay - time.monotonic())

    def backing_off(self) -> bool:
        """Whether a step should report this retryable failure instead of starting the next attempt: while
        the backoff lasts, and at least once however late the pass comes, so that the status says each
        failed attempt ("...; retrying") before the next one starts."""
        if self.retry_in() or not self.said:
            self.said = True
            return True
        return False

    def update(self, unit: str, done: int, total: int) -> None:
        self.progress[unit] = (done, total)

    def describe_progress(self, what: str = "rows") -> str:
        if self.queued:
            return (f"queued: {config.current().max_migrations} data migrations are copying already "
                    "(APPMOD_MAX_MIGRATIONS)")
        done = sum(d for d, _ in self.progress.values())
        total = sum(t for _, t in self.progress.values())
        finished = sum(1 for d, t in self.progress.values() if d >= t)
        units = "tables" if what == "rows" else "blobs"
        return (f"{done:,} of {total:,} {what} copied; {finished} of the {len(self.progress)} {units} started are "
                "complete" if self.progress else "reading the source")


_jobs: dict[tuple[str, str], Job] = {}
_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}  # APPMOD_MAX_MIGRATIONS -> its slots


def find_job(uid: str, kind: str = DATA) -> Job | None:
    """The resource's latest job of `kind`, running or finished; None when this process has not run one."""
    with _lock:
        return _jobs.get((uid, kind))


def start_job(uid: str, key: str, name: str, work: Work, kind: str = DATA, attempt: int = 1) -> Job:
    """Runs `work(progress, stop)` in a new thread as the resource's job of `kind`; the caller makes sure
    its previous job of that kind has stopped. A data migration first waits for a slot."""
    job = Job(key, name, attempt, kind)
    slots = _migration_slots() if kind == DATA else None
    # In the scope of the pass that started it, so its log lines name the resource and step.
    job.thread = threading.Thread(target=contextvars.copy_context().run, args=(_run, job, work, slots),
                                  name=f"{kind} {name}", daemon=True)
    with _lock:
        _jobs[(uid, kind)] = job
    job.thread.start()
    return job


def next_attempt(job: Job | None, key: str) -> int | None:
    """The attempt to start for `key`: 1 when the resource has no job for it, the next one when the last
    failed on something retryable, a pass has said so and its backoff is over; None while one runs, backs
    off, or has ended."""
    if job is None or job.key != key:
        return 1
    if job.retryable and not job.backing_off():
        return job.attempt + 1
    return None


def drop(uid: str, kind: str) -> None:
    """Drops the resource's job of `kind` (asked to stop if it still runs), so the next pass starts another."""
    with _lock:
        job = _jobs.pop((uid, kind), None)
    if job is not None:
        job.stop.set()


def forget(uid: str) -> None:
    """Drops every job of the resource (deleted, or no longer ours): nothing of it stays in memory."""
    stop(uid)
    with _lock:
        for key in [k for k in _jobs if k[0] == uid]:
            del _jobs[key]


def busy(uid: str) -> bool:
    """Whether a job of the resource runs now (the command line then looks again sooner)."""
    with _lock:
        return any(job.running for (owner, _), job in _jobs.items() if owner == uid)


def count(kind: str | None = None) -> int:
    """Jobs running now (of `kind`, or of any kind): the in-flight jobs metric."""
    with _lock:
        return sum(1 for (_, k), job in _jobs.items() if job.running and kind in (None, k))


for _kind in (DATA, IMAGE):
    metrics.JOBS.labels(_kind).set_function(lambda kind=_kind: count(kind))


def wait(timeout: float | None = None) -> bool:
    """Waits for every running job; whether there was one."""
    with _lock:
        running = [j for j in _jobs.values() if j.running]
    for job in running:
        job.thread.join(timeout)
    return bool(running)


def stop(uid: str | None = None) -> None:
    """Asks the resource's jobs (every job, with None) to stop between units of work: what is complete
    stays, the rest is absent."""
    with _lock:
        for (owner, _), job in _jobs.items():
            if uid is None or owner == uid:
                job.stop.set()


def _migration_slots() -> threading.BoundedSemaphore:
    limit = config.current().max_migrations
    with _lock:
        return _slots.setdefault(limit, threading.BoundedSemaphore(limit))


def _run(job: Job, work: Work, slots: threading.BoundedSemaphore | None) -> None:
    try:
        if slots is not None and not _take(slots, job):
            job.error = TargetError("stopped while queued for a free migration slot")
            return
        try:
            job.report = work(job.update, job.stop)
        finally:
            if slots is not None:
                slots.release()
    except Exception as e:
        job.error = e
        # A UserError says all there is to say, as does a stop that was asked for; anything else is a failure
        # worth its traceback.
        expected = isinstance(e, UserError) or job.stop.is_set()
        log.log(logging.INFO if expected else logging.ERROR, "%s: the %s job ended with %s: %s",
                job.name, job.kind, type(e).__name__, e, exc_info=not expected)
    finally:
        job.ended = time.monotonic()


def _take(slots: threading.BoundedSemaphore, job: Job) -> bool:
    """A slot, waiting queued for one; False when asked to stop first."""
    if slots.acquire(blocking=False):
        return True
    job.queued = True
    try:
        while not job.stop.is_set():
            if slots.acquire(timeout=0.5):
                return True
        return False
    finally:
        job.queued = False
