"""In-process data migration jobs (reconcile/jobs.py): one per resource, kept with their outcome,
stopped on request, waited for by the command line."""

from __future__ import annotations

import threading
import time
import uuid

from appmod_operator import config
from appmod_operator.errors import TargetError, TargetNotEmpty
from appmod_operator.migration.job import Report
from appmod_operator.reconcile import jobs


def test_progress_is_said_in_rows_and_tables():
    job = jobs.Job("key", "shop/oscar")
    assert job.describe_progress() == "reading the source"
    job.update("product", 5, 10)
    job.update("category", 3, 3)
    assert job.describe_progress() == "8 of 13 rows copied; 1 of the 2 tables started are complete"


def test_a_job_runs_beside_the_caller_and_keeps_its_outcome():
    uid = f"u-{uuid.uuid4().hex}"

    def work(progress, stop):
        progress("product", 1, 1)
        stop.wait(5)  # until asked to stop, as the migration checks between units
        return Report()

    job = jobs.start_job(uid, "k1", "shop/oscar", work)
    assert job.running and jobs.find_job(uid) is job
    jobs.stop(uid)
    assert jobs.wait(5)  # there was one to wait for
    assert not job.running and job.report is not None and job.error is None
    assert job.progress == {"product": (1, 1)}


def test_a_failed_job_keeps_its_error_until_forgotten():
    uid = f"u-{uuid.uuid4().hex}"

    def work(progress, stop):
        raise TargetError("cannot connect to postgresql://appmod:***@db/oscar")

    job = jobs.start_job(uid, "k1", "shop/oscar", work)
    job.thread.join(5)
    assert isinstance(job.error, TargetError) and job.report is None
    jobs.forget(uid)
    assert jobs.find_job(uid) is None


def test_an_internal_error_is_retried_with_backoff_not_left_to_the_user():
    uid = f"u-{uuid.uuid4().hex}"
    config.load(environ={"APPMOD_POLL_SECONDS": "10"})
    try:
        job = jobs.start_job(uid, "k1", "shop/oscar", lambda progress, stop: {}["pg"], attempt=3)
        job.thread.join(5)
        assert isinstance(job.error, KeyError) and job.retryable
        assert 39 < job.retry_in() <= 40  # 10 s doubled per attempt after the first
        refused = jobs.start_job(uid, "k2", "shop/oscar", lambda p, s: (_ for _ in ()).throw(TargetNotEmpty("t")))
        refused.thread.join(5)
        assert not refused.retryable  # the data is at fault: the user's to fix
    finally:
        config.load()
        jobs.forget(uid)


def test_a_failure_is_reported_once_even_when_its_backoff_is_over():
    """A pass that comes after the backoff still says the failed attempt before the next one starts."""
    uid = f"u-{uuid.uuid4().hex}"
    config.load(environ={"APPMOD_POLL_SECONDS": "1"})
    try:
        job = jobs.start_job(uid, "k1", "shop/oscar", lambda progress, stop: {}["pg"])
        job.thread.join(5)
        time.sleep(1.2)  # the next pass comes after the backoff (1 s for a first attempt)
        assert job.retry_in() == 0
        assert [job.backing_off(), job.backing_off()] == [True, False]  # said once, then started again
    finally:
        config.load()
        jobs.forget(uid)


def test_migrations_beyond_the_bound_wait_queued_and_stop_when_asked():
    config.load(environ={"APPMOD_MAX_MIGRATIONS": "1"})
    first, second, third = (f"u-{uuid.uuid4().hex}" for _ in range(3))
    try:
        release = threading.Event()
        running = jobs.start_job(first, "k", "a/one", lambda p, stop: release.wait(10) and Report())
        queued = jobs.start_job(second, "k", "a/two", lambda p, stop: Report())
        abandoned = jobs.start_job(third, "k", "a/three", lambda p, stop: Report())
        time.sleep(0.3)
        assert queued.queued and queued.describe_progress().startswith("queued: 1 data migrations")
        assert jobs.count(jobs.DATA) == 3
        jobs.forget(third)  # deleted while queued: never runs, and nothing of it is kept
        abandoned.thread.join(5)
        assert isinstance(abandoned.error, TargetError) and jobs.find_job(third) is None
        release.set()
        queued.thread.join(5)
        assert running.report is not None and queued.report is not None and not queued.queued
    finally:
        config.load()
        for uid in (first, second, third):
            jobs.forget(uid)
