"""In-process data migration jobs (reconcile/jobs.py): one per resource, kept with their outcome,
stopped on request, waited for by the command line."""

from __future__ import annotations

import uuid

from appmod_operator.errors import TargetError
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
    jobs.forget_job(uid)
    assert jobs.find_job(uid) is None
