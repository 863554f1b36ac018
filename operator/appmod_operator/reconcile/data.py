"""The data step: the app's SQLite database (`spec.source.database.sqlite`) copied into the Aurora
cluster by the migration engine (migration/), reported as `status.migration.data` (tables, rows,
bytes, checksum, sourceDigest, completedAt) and the DataMigrated condition.

The schema mode follows `spec.migration.schema.strategy`: Convert creates the tables from the SQLite
schema; AppCommand and None load into the tables the app's migrations (or the user) made, so the step
waits for SchemaMigrated. The copy runs where `spec.migration.data.runner` says: in the operator's
process, on a thread of its own (jobs.py), or as a one-off Fargate task of the operator's image
inside the VPC (data_task.py), for when the operator cannot reach the database.

Once per spec generation and source version (the image's digest, the S3 object's ETag, the file's
hash): a finished migration is remembered in the status and not run again until one of them changes.
A run that fails on the data (a table holding other rows, a value its column cannot hold, a failed
verification) stalls until the user changes something; one that cannot reach the database is retried.
Called by engine.py.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from threading import Event
from urllib.parse import urlsplit, urlunsplit

from appmod_operator import config
from appmod_operator.errors import TargetError, UserError
from appmod_operator.migration import run
from appmod_operator.migration.job import Options, Progress, Report
from appmod_operator.names import Owner
from appmod_operator.reconcile import credentials, data_task, jobs, outcome, sqlite, tasks
from appmod_operator.reconcile.outcome import Context, StepOutcome
from appmod_operator.spec import AppSpec
from appmod_operator.status import (
    DATA_MIGRATED,
    DATABASE_READY,
    IMAGE_REPLICATED,
    SCHEMA_MIGRATED,
    STALLED,
    Reason,
    now,
)

FARGATE = "Fargate"

log = logging.getLogger(__name__)


def ensure_data(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    """One look at the data migration: remembered, started, or reported on; never waited for."""
    if not app.migration.data_enabled:
        return StepOutcome(True, Reason.NOT_APPLICABLE, "spec.migration.data.enabled is false: no data is copied")
    waiting = outcome.waiting_for("the data migration", build_prerequisites(app), context.done)
    if waiting:
        return waiting
    version = sqlite.find_version(app, context.current.get("image"))
    remembered = _remembered(context, version)
    if remembered is not None:
        return remembered
    key = tasks.build_key(owner.ref, owner.uid, context.generation, version)
    if app.migration.data_runner != FARGATE:
        return _ensure_job(app, owner, key, version)
    found = data_task.ensure_task(app, owner, context, key, version, build_options(app))
    if isinstance(found, data_task.Finished):
        return build_report(found.summary, version, f"copied by Fargate task {found.task_id}")
    return found


def check_data(app: AppSpec, owner: Owner, context: Context) -> StepOutcome | None:
    """The resync's look at data the last pass left migrated for this generation: that outcome again, with
    no AWS call, while the image it came from is still the one replicated (an S3 object or a file is read
    again only for a new generation); else None."""
    if not app.migration.data_enabled:
        return None
    image_digest = (context.current.get("image") or {}).get("sourceDigest")
    previous = _previous_data(context)
    if app.source.sqlite.kind == "pathInImage" and previous.get("sourceDigest") != image_digest:
        return None
    return _remembered(context, previous.get("sourceDigest"))


def build_prerequisites(app: AppSpec) -> tuple[str, ...]:
    """The steps that must be done first: the database; the image when the file is in it (or the task runs
    beside it); the app's schema when the tables are the app's own."""
    image = app.source.sqlite.kind == "pathInImage" or app.migration.data_runner == FARGATE
    return ((DATABASE_READY,) + ((IMAGE_REPLICATED,) if image else ())
            + ((SCHEMA_MIGRATED,) if app.migration.schema_strategy != "Convert" else ()))


def build_options(app: AppSpec) -> Options:
    return Options(schema="convert" if app.migration.schema_strategy == "Convert" else "existing",
                   verify=app.migration.data_verify.lower())


def build_target_url(url: str, host_override: str | None) -> str:
    """The secret's URL, pointed at APPMOD_DATABASE_HOST when set (a tunnel, a proxy, the tests' PostgreSQL)."""
    if not host_override:
        return url
    parts = urlsplit(url)
    credentials_part = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials_part}@{host_override}" if credentials_part
                                     else host_override))


def build_report(report: Mapping, version: str, message: str) -> StepOutcome:
    """DataMigrated=True from a migration's summary (Report.summary(), or the one a task logged)."""
    data = {"tables": report["tables"], "rows": report["rows"], "bytes": report["bytes"],
            "checksum": report["checksum"], "sourceDigest": version, "completedAt": now()}
    return StepOutcome(True, Reason.MIGRATED, f"{message}: {report['tables']} tables, {report['rows']:,} rows, "
                       f"{report['bytes']:,} bytes, checksum {report['checksum']}", {"migration": {"data": data}})


def build_failure(error: Exception, version: str) -> StepOutcome:
    """A failed run: stalled when the data or the spec is at fault, retried when the database was not there."""
    data = {"migration": {"data": {"sourceDigest": version}}}
    if isinstance(error, TargetError):
        return StepOutcome(False, error.reason, f"{error}; retrying", data, waiting=True)
    reason = error.reason if isinstance(error, UserError) else Reason.MIGRATION_FAILED
    return StepOutcome(False, reason, f"the data migration failed: {error}; it runs again for a new generation "
                       "of the spec or a new version of the source", data, stalled=True)


def _ensure_job(app: AppSpec, owner: Owner, key: str, version: str) -> StepOutcome:
    job = jobs.find_job(owner.uid)
    running = {"migration": {"data": {"sourceDigest": version}}}
    if job is not None and job.key != key and job.running:
        job.stop.set()  # a newer spec or source: the run for the older one stops between units
        return StepOutcome(False, Reason.MIGRATING, "stopping the data migration of an earlier spec or source "
                           "before starting this one", running, waiting=True)
    if job is None or job.key != key:
        log.info("%s: starting the data migration of %s (%s)", owner.ref, version, build_options(app).schema)
        job = jobs.start_job(owner.uid, key, owner.ref, lambda progress, stop: _migrate(app, owner, version,
                                                                                         progress, stop))
    if job.running:
        return StepOutcome(False, Reason.MIGRATING, f"copying the data: {job.describe_progress()}", running,
                           waiting=True)
    if job.error is not None:
        if isinstance(job.error, TargetError):
            jobs.forget_job(owner.uid)  # the next pass tries again
        return build_failure(job.error, version)
    return build_report(job.report.summary(), version, f"copied by the operator in {job.report.seconds:.1f}s")


def _migrate(app: AppSpec, owner: Owner, version: str, progress: Progress, stop: Event) -> Report:
    found = credentials.find_credentials(app.region, owner)
    if found is None or not found.value.get("url"):
        raise TargetError(f"the database secret {owner.secret_name} has no URL yet")
    url = build_target_url(found.value["url"], config.current().database_host)
    with tempfile.TemporaryDirectory(prefix="appmod-source-") as directory:
        path = sqlite.fetch(app, owner, version, Path(directory))
        return run.migrate(path, url, build_options(app), progress, stop)


def _previous_data(context: Context) -> Mapping:
    return (context.previous.get("migration") or {}).get("data") or {}


def _remembered(context: Context, version: str | None) -> StepOutcome | None:
    """The last pass's outcome when it was final (migrated, or stalled) for this generation and source version."""
    before = next((c for c in context.previous.get("conditions", ()) if c.get("type") == DATA_MIGRATED), {})
    data = _previous_data(context)
    stalled = next((c for c in context.previous.get("conditions", ()) if c.get("type") == STALLED), {})
    final = before.get("status") == "True" and before.get("reason") == Reason.MIGRATED
    failed = before.get("status") == "False" and stalled.get("status") == "True" \
        and stalled.get("reason") == before.get("reason")
    if not (final or failed) or before.get("observedGeneration") != context.generation or not version \
            or data.get("sourceDigest") != version:
        return None
    return StepOutcome(final, before["reason"], before.get("message", ""), {"migration": {"data": dict(data)}},
                       stalled=not final)
