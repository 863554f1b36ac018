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
verification) stalls until the user changes something; one that cannot reach the database, or fails on an
error of ours, is retried with backoff.
Called by engine.py.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from threading import Event
from urllib.parse import urlsplit, urlunsplit

from appmod_operator import REMIGRATE_ANNOTATION, config, metrics
from appmod_operator.aws import ecs
from appmod_operator.errors import TargetError, TargetNotEmpty, UserError
from appmod_operator.migration import run
from appmod_operator.migration.job import Options, Progress, Report
from appmod_operator.names import Owner
from appmod_operator.reconcile import credentials, data_task, jobs, markers, outcome, sqlite, tasks
from appmod_operator.reconcile.outcome import Context, StepOutcome
from appmod_operator.spec import AppSpec
from appmod_operator.status import (
    DATA_MIGRATED,
    DATABASE_READY,
    IMAGE_REPLICATED,
    SCHEMA_MIGRATED,
    STALLED,
    Phase,
    Reason,
    condition,
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
        return _kept_while_waiting(app, context) or waiting
    version = sqlite.find_version(app, context.current.get("image"))
    asked = remigrate_asked(context)
    if asked and not app.migration.data_allow_replace and _app_has_run(app, owner):
        return StepOutcome(False, Reason.REPLACE_NOT_ALLOWED, f"the annotation {REMIGRATE_ANNOTATION}="
                           f"{context.remigrate!r} asks for the data to be migrated again, replacing the rows the "
                           "app has written since; set spec.migration.data.allowReplace: true to allow that, or "
                           "remove the annotation", {"migration": {"data": dict(_previous_data(context))}},
                           stalled=True)
    remembered = (None if asked else _remembered(context, version)) or _recorded(context, version, asked)
    if remembered is not None:
        return _marked(app, context, remembered)
    key = tasks.build_key(owner.ref, owner.uid, context.generation,
                          f"{version}\n{context.remigrate}" if asked else version,
                          (context.current.get("database") or {}).get("resourceId", ""))
    options = partial(_options, app, owner, asked and app.migration.data_allow_replace)
    if app.migration.data_runner != FARGATE:
        return _marked(app, context, _ensure_job(app, owner, key, version, options, context.remigrate))
    found = data_task.ensure_task(app, owner, context, key, version, options)
    if isinstance(found, data_task.Finished):
        found = build_report(found.summary, version, f"copied by Fargate task {found.task_id}", context.remigrate)
    return _marked(app, context, found)


def _kept_while_waiting(app: AppSpec, context: Context) -> StepOutcome | None:
    """Data migrated for the version this pass sees stays migrated while a step it follows waits (a
    cluster being modified, a new image being copied): waiting must never make it copy again."""
    image = context.current.get("image")
    before = condition(context.previous, DATA_MIGRATED)
    if (before.get("status") != "True" or remigrate_asked(context)
            or (app.source.sqlite.kind == "pathInImage" and not (image or {}).get("sourceDigest"))):
        return None  # nothing to keep; and no version is looked up (a file or S3 object) while waiting
    try:
        remembered = _remembered(context, sqlite.find_version(app, image))
    except UserError:  # the source is gone: the step says so once it runs
        return None
    return remembered if remembered is not None and remembered.done else None


def remigrate_asked(context: Context) -> bool:
    """A value of the appmod.io/remigrate annotation that no finished migration has honoured yet."""
    return bool(context.remigrate) and _previous_data(context).get("remigrate", "") != context.remigrate


def _options(app: AppSpec, owner: Owner, allowed: bool) -> Options:
    """The options of a run about to start. It replaces rows when the user asked and allowed it, or when
    the app's own schema step (AppCommand) made the tables and the app has never run against this
    database: then the rows its tables hold are only what the schema step wrote (Django's content types,
    permissions, sites), and the source's rows replace them, with the ids its foreign keys point at."""
    first_run = app.migration.schema_strategy == "AppCommand" and not _app_has_run(app, owner)
    return build_options(app, replace=allowed or first_run)


def _app_has_run(app: AppSpec, owner: Owner) -> bool:
    """The app's service exists (it starts only after the data step): one AWS read, made only when a
    migration is about to start or a remigration is asked for."""
    return ecs.find_service(app.region, app.service.cluster, owner.task_family) is not None


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
    remembered = _remembered(context, previous.get("sourceDigest"))
    return _marked(app, context, remembered) if remembered is not None else None


def observe_data(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    """Read only (`appmod status`, `appmod plan`): migrated when the cluster records this source version."""
    if not app.migration.data_enabled:
        return ensure_data(app, owner, context)  # says there is nothing to do, calling nothing
    waiting = outcome.waiting_for("the data migration", build_prerequisites(app), context.done)
    if waiting:
        return waiting
    version = sqlite.find_version(app, context.current.get("image"))
    return _recorded(context, version, remigrate_asked(context)) or StepOutcome(
        False, Reason.NOT_FOUND, f"no data migration of {version} is recorded on the cluster; it copies the SQLite "
        f"database ({app.migration.data_runner} runner)", {"migration": {"data": {"sourceDigest": version}}})


def build_prerequisites(app: AppSpec) -> tuple[str, ...]:
    """The steps that must be done first: the database; the image when the file is in it (or the task runs
    beside it); the app's schema when the tables are the app's own."""
    image = app.source.sqlite.kind == "pathInImage" or app.migration.data_runner == FARGATE
    return ((DATABASE_READY,) + ((IMAGE_REPLICATED,) if image else ())
            + ((SCHEMA_MIGRATED,) if app.migration.schema_strategy != "Convert" else ()))


def build_options(app: AppSpec, replace: bool = False) -> Options:
    return Options(schema="convert" if app.migration.schema_strategy == "Convert" else "existing",
                   verify=app.migration.data_verify.lower(), replace=replace)


def build_target_url(url: str, host_override: str | None) -> str:
    """The secret's URL, pointed at APPMOD_DATABASE_HOST when set (a tunnel, a proxy, the tests' PostgreSQL)."""
    if not host_override:
        return url
    parts = urlsplit(url)
    credentials_part = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials_part}@{host_override}" if credentials_part
                                     else host_override))


def build_report(report: Mapping, version: str, message: str, remigrate: str = "") -> StepOutcome:
    """DataMigrated=True from a migration's summary (Report.summary(), or the one a task logged); the tables
    whose rows were replaced are said in an event too."""
    data = {"tables": report["tables"], "rows": report["rows"], "bytes": report["bytes"],
            "checksum": report["checksum"], "sourceDigest": version, "completedAt": now(),
            **{key: report[key] for key in ("replaced", "refreshed", "renamed") if report.get(key)},
            **({"remigrate": remigrate} if remigrate else {})}
    replaced = report.get("replaced") or []
    events = ((Reason.TABLES_REPLACED, f"the source's rows replaced the rows of table(s) {', '.join(replaced)}"),) \
        if replaced else ()
    return StepOutcome(True, Reason.MIGRATED, f"{message}: {report['tables']} tables, {report['rows']:,} rows, "
                       f"{report['bytes']:,} bytes, checksum {report['checksum']}", {"migration": {"data": data}},
                       events=events)


def build_failure(job: jobs.Job, version: str) -> StepOutcome:
    """A failed run: retried with backoff when the database was not there or the failure is ours (an
    internal error is no reason to wait for the user), stalled when the data or the spec is at fault."""
    error, data = job.error, {"migration": {"data": {"sourceDigest": version}}}
    if job.retryable:
        what = str(error) if isinstance(error, TargetError) else \
            f"the data migration failed unexpectedly ({type(error).__name__}: {error})"
        reason = error.reason if isinstance(error, TargetError) else Reason.INTERNAL_ERROR
        return StepOutcome(False, reason, f"{what}; attempt {job.attempt}, retrying in {job.retry_in():.0f}s", data,
                           waiting=True)
    reason = error.reason if isinstance(error, UserError) else Reason.MIGRATION_FAILED
    hint = (f"; to replace them with the source's rows, set spec.migration.data.allowReplace: true and give the "
            f"annotation {REMIGRATE_ANNOTATION} a new value") if isinstance(error, TargetNotEmpty) else ""
    return StepOutcome(False, reason, f"the data migration failed: {error}; it runs again for a new generation "
                       f"of the spec or a new version of the source{hint}", data, stalled=True)


def _ensure_job(app: AppSpec, owner: Owner, key: str, version: str, options: Callable[[], Options],
                remigrate: str) -> StepOutcome:
    job = jobs.find_job(owner.key)
    running = {"migration": {"data": {"sourceDigest": version}}}
    if job is not None and job.key != key and job.running:
        job.stop.set()  # a newer spec or source: the run for the older one stops between units
        return StepOutcome(False, Reason.MIGRATING, "stopping the data migration of an earlier spec or source "
                           "before starting this one", running, waiting=True)
    again = job is not None and job.key == key and job.retryable and not job.backing_off()
    if job is None or job.key != key or again:
        chosen = options()
        log.info("%s: starting the data migration of %s (%s%s)", owner.ref, version, chosen.schema,
                 ", replacing what the schema step wrote" if chosen.replace else "")
        job = jobs.start_job(owner.key, key, owner.ref, lambda progress, stop: _migrate(app, owner, version, chosen,
                                                                                         progress, stop),
                             attempt=job.attempt + 1 if again else 1)
    if job.running:  # Pending while it waits for a free slot: accepted, not started
        return StepOutcome(False, Reason.MIGRATING, f"copying the data: {job.describe_progress()}", running,
                           waiting=True, phase=Phase.PENDING if job.queued else None)
    if job.error is not None:
        return build_failure(job, version)
    return build_report(job.report.summary(), version, f"copied by the operator in {job.report.seconds:.1f}s",
                        remigrate)


def _migrate(app: AppSpec, owner: Owner, version: str, options: Options, progress: Progress, stop: Event) -> Report:
    found = credentials.find_credentials(app.region, owner)
    if found is None or not found.value.get("url"):
        raise TargetError(f"the database secret {owner.secret_name} has no URL yet")
    url = build_target_url(found.value["url"], config.current().database_host)
    with tempfile.TemporaryDirectory(prefix="appmod-source-") as directory:
        path = sqlite.fetch(app, owner, version, Path(directory))
        report = run.migrate(path, url, options, progress, stop)
    copied = [t for t in report.tables if t.status == "copied"]
    metrics.MIGRATION_ROWS.inc(sum(t.rows for t in copied))
    metrics.MIGRATION_BYTES.inc(sum(t.bytes for t in copied))
    return report


def _previous_data(context: Context) -> Mapping:
    return (context.previous.get("migration") or {}).get("data") or {}


def _recorded(context: Context, version: str, asked: bool) -> StepOutcome | None:
    """Migrated, as the cluster's markers record it for this version (and the remigrate value asked for)."""
    data = markers.read_data(context.markers, version, context.remigrate if asked else "")
    if data is None:
        return None
    return StepOutcome(True, Reason.MIGRATED, f"migrated earlier (recorded on the cluster): {data.get('tables')} "
                       f"tables, {data.get('rows', 0):,} rows, checksum {data.get('checksum')}",
                       {"migration": {"data": data}})


def _marked(app: AppSpec, context: Context, result: StepOutcome) -> StepOutcome:
    """`result`, recorded on the cluster when it is a finished migration (no call when the cluster has it)."""
    if result.done and result.status:
        markers.ensure_markers(app.region, context, markers.build_data_markers(result.status["migration"]["data"]))
        return replace(result, status=markers.stamped(context, "data", result.status))
    return result


def _remembered(context: Context, version: str | None) -> StepOutcome | None:
    """The last pass's outcome when it was final for this source version: migrated (for any generation: a
    migration is done once, and a new generation of the spec does not copy again), or stalled (for this
    generation: a change to the spec tries again)."""
    before = condition(context.previous, DATA_MIGRATED)
    data = _previous_data(context)
    stalled = condition(context.previous, STALLED)
    final = before.get("status") == "True" and before.get("reason") == Reason.MIGRATED
    failed = before.get("status") == "False" and stalled.get("status") == "True" \
        and stalled.get("reason") == before.get("reason") and before.get("observedGeneration") == context.generation
    if (not (final or failed) or not version or data.get("sourceDigest") != version
            or (final and not markers.on_this_cluster(context, data))):
        return None
    return StepOutcome(final, before["reason"], before.get("message", ""), {"migration": {"data": dict(data)}},
                       stalled=not final)
