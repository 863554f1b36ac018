"""migrate(): the library entry point the command line and the operator's reconcile call.

Convert mode: every table is created in a staging schema, loaded in rowid ranges by worker processes
(each range one COPY in one transaction), checksummed, given its keys and indexes, and only then moved
into the target schema in one transaction, so a crash at any moment leaves each target table either
complete or absent. Foreign keys and CHECKs come last, added NOT VALID and then validated.

Existing mode (the app's own migrations made the tables) is existing.py.

Both modes refuse a target table that already holds different data unless `replace` is set, and skip
one that already holds exactly the source's data, so running again converges without duplicates.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import psycopg

from appmod_operator.errors import (
    MigrationError,
    SourceError,
    TargetError,
    TargetNotEmpty,
    VerificationFailed,
)
from appmod_operator.migration import copy, ddl, existing, identifiers, plan, source, target, verify, workers
from appmod_operator.migration.columns import Kind, stored_sql
from appmod_operator.migration.identifiers import shorten
from appmod_operator.migration.job import Options, Progress, Report, TableReport
from appmod_operator.migration.source import quote
from appmod_operator.migration.verify import fingerprint

STAGING_SCHEMA = "appmod_staging"
SMALL_TABLE = 20_000  # rows: verified by the thread that finishes the table, not by a worker process


def migrate(source_path: str | Path, target_url: str, options: Options | None = None,
            progress: Progress | None = None, stop: threading.Event | None = None) -> Report:
    """Copy the SQLite database at source_path into the PostgreSQL database at target_url.

    Convert mode loads a source of 100,000 rows or more through worker processes started by
    multiprocessing's fork server, so a script that calls this needs the usual `if __name__ == "__main__":`
    guard (console scripts have it)."""
    started = time.monotonic()
    options = options or Options()
    if options.schema not in ("convert", "existing"):
        raise MigrationError(f"schema mode must be convert or existing, got {options.schema!r}")
    if options.verify not in ("checksum", "rowcount"):
        raise MigrationError(f"verify must be checksum or rowcount, got {options.verify!r}")
    if options.json_type not in ("json", "jsonb"):
        raise MigrationError(f"json type must be json or jsonb, got {options.json_type!r}")
    sqlite_conn = source.connect(source_path)
    pg = target.connect(target_url)
    run = _Run(Path(source_path), target_url, pg, options, progress or (lambda *_: None), stop or threading.Event())
    try:
        schema = source.read_schema(sqlite_conn)
        if options.schema == "convert":
            run.start_workers(source.estimated_rows(sqlite_conn, schema))  # they start while the source is planned
            report = run.convert(sqlite_conn, pg, schema)
        else:
            source.check_integrity(sqlite_conn, source_path)
            report = existing.load(sqlite_conn, pg, schema, options, run.progress, run.stop)
    except psycopg.OperationalError as e:
        # The server went away mid-run (a restart, a failover): what was not committed is absent, and another
        # run converges, as for a server that did not answer at all. Not a bug of ours.
        said = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TargetError(f"lost the connection to {target.redact(target_url)}: {said}") from None
    finally:
        run.close()
        pg.close()
        sqlite_conn.close()
    report.untranslated = list(schema.untranslated) + report.untranslated
    report.seconds = time.monotonic() - started
    return report


class _Run:
    """One migration: its options, its connections (one pair per thread), the thread pools and the
    worker processes, and the steps of both modes."""

    def __init__(self, source_path: Path, target_url: str, pg, options: Options, progress: Progress,
                 stop: threading.Event):
        self.source_path, self.target_url, self.options = source_path, target_url, options
        self.progress, self.stop = progress, stop
        self._local = threading.local()
        self._local.pg = pg  # the calling thread's connection (migrate closes it)
        self._opened: list = []
        self._lock = threading.Lock()
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._workers: workers.Workers | workers.Threads | None = None
        self._integrity: Future | None = None

    def sqlite(self):
        if not hasattr(self._local, "sqlite"):
            self._local.sqlite = source.connect(self.source_path)
            self._opened.append(self._local.sqlite)
        return self._local.sqlite

    def pg(self):
        if not hasattr(self._local, "pg"):
            self._local.pg = target.connect(self.target_url)
            self._opened.append(self._local.pg)
        return self._local.pg

    def start_workers(self, rows: int) -> None:
        self._workers = workers.start(str(self.source_path), self.target_url, self.options.workers, rows)

    def close(self) -> None:
        if self._workers is not None:
            self._workers.close()
        for pool in self._pools.values():
            pool.shutdown(cancel_futures=True)
        for conn in self._opened:
            conn.close()

    # --- convert mode ---
    def convert(self, sqlite_conn, pg, schema: source.Schema) -> Report:
        o = self.options
        present = target.tables(pg, o.target_schema)
        tables = [t for t in schema.tables if t.name not in o.exclude]
        report = Report(renamed=_refuse_collisions(tables),
                        untranslated=[f"generated column {t.name}.{c} (computed by SQLite, not copied)"
                                      for t in tables for c in t.generated])
        # The integrity check and the planning scans read the source side by side (SQLite releases the
        # GIL); tables start loading as soon as their plan is ready.
        # quick_check reads every page: on a thread of its own, so the planning scans do not queue behind it.
        self._integrity = self._pool("integrity", 1).submit(
            lambda: source.check_integrity(self.sqlite(), self.source_path))
        planned = [(t, self._verifiers().submit(self._plan, t)) for t in tables]
        # Tables the target has already must be found unchanged (or refused) before anything is loaded.
        report.tables = self._unchanged_or_refuse(
            sqlite_conn, pg, [f.result() for t, f in planned if shorten(t.name) in present])
        target.execute(pg, f"CREATE SCHEMA IF NOT EXISTS {quote(STAGING_SCHEMA)}")
        skip = {t.name for t in report.tables}
        report.tables += self._load_all(pg, [f for t, f in planned if t.name not in skip], present, report)
        self._integrity.result()
        plans = [f.result() for _, f in planned]
        report.warnings = [w for p in plans for w in p.warnings] + report.warnings
        self._ensure_constraints(pg, plans, report)
        target.execute(pg, f"DROP SCHEMA IF EXISTS {quote(STAGING_SCHEMA)}", ignore_errors=True)
        return report

    def _plan(self, table: source.Table) -> plan.TablePlan:
        o = self.options
        try:
            return plan.convert_plan(self.sqlite(), table, o.keep_as_text, o.unit_rows, o.workers)
        except sqlite3.DatabaseError as e:
            self._integrity.result()  # a corrupt file is said so by the integrity check
            raise SourceError(f"{self.source_path}: {e}") from None

    def _unchanged_or_refuse(self, sqlite_conn, pg, present: list[plan.TablePlan]) -> list[TableReport]:
        """Tables already in the target: identical ones are left alone; others need `replace`."""
        if self.options.replace:
            return []
        unchanged, different = [], []
        for p in present:
            sent = self._source_checksum(sqlite_conn, pg, p)
            stored = self._stored_checksum(target.relation(self.options.target_schema, p.target), p, sent)
            if stored == (sent.rows, sent.checksum):
                unchanged.append(TableReport(p.name, sent.rows, sent.bytes, fingerprint(sent.checksum), "unchanged"))
            else:
                different.append(p.name)
        if different:
            raise TargetNotEmpty(f"the target already has table(s) {', '.join(different)} with different data; "
                                 "pass --replace to overwrite them")
        return unchanged

    def _source_checksum(self, sqlite_conn, pg, p: plan.TablePlan) -> copy.UnitResult:
        """What loading `p` would send, without keeping it: sent into a temporary table, rolled back."""
        target.execute(pg, ddl.build_create_table(p, "pg_temp", []), commit=False)
        total = copy.UnitResult()
        try:
            for bounds in p.ranges:
                sent = copy.load(sqlite_conn, pg, p, bounds, target.relation("pg_temp", p.target), self.stop,
                                 lambda _: None, commit=False)
                total.rows, total.bytes, total.checksum = (total.rows + sent.rows, total.bytes + sent.bytes,
                                                           total.checksum + sent.checksum)
        finally:
            pg.rollback()
        return total

    def _stored_checksum(self, relation: str, p: plan.TablePlan, sent: copy.UnitResult) -> tuple[int, int] | None:
        try:
            return self._held(relation, p, sent)
        except (psycopg.Error, VerificationFailed):
            self.pg().rollback()
            return None  # columns or types differ: not the same data

    def _create_staging(self, pg, p: plan.TablePlan, untranslated: list[str]) -> None:
        target.execute(pg, f"DROP TABLE IF EXISTS {target.relation(STAGING_SCHEMA, p.target)} CASCADE;\n"
                           + ddl.build_create_table(p, STAGING_SCHEMA, untranslated))

    def _load_all(self, pg, planned: list[Future], present: dict, report: Report) -> list[TableReport]:
        """As each plan arrives, its table is staged and its units queue for the worker processes, the
        largest tables' first, so that the last to finish is a small one; each finished table is verified
        and moved into place by a thread while other units load. Only as many units as there are workers
        are handed out at a time, so a verification waits behind one unit at most."""
        waiting: dict[Future, object] = {f: "plan" for f in planned}
        queue: list[tuple] = []  # (-rows, order, plan, bounds)
        pending, sent, done_rows, totals = {}, {}, {}, {}
        finishing: list[Future] = []
        loading, order = 0, itertools.count()
        try:
            while waiting or queue:
                while queue and loading < self.options.workers:
                    _, _, p, bounds = heapq.heappop(queue)
                    waiting[self._workers.load(p, bounds, target.relation(STAGING_SCHEMA, p.target))] = p
                    loading += 1
                if self.stop.is_set():  # the caller (the operator, say) asked the run to stop
                    raise copy.Interrupted("stopped by the caller")
                finished, _ = wait(waiting, timeout=0.2, return_when=FIRST_COMPLETED)
                self._report_progress(done_rows, totals)
                for future in finished:
                    what = waiting.pop(future)
                    if what == "plan":
                        p = future.result()
                        self._create_staging(pg, p, report.untranslated)
                        pending[p.name], sent[p.name], done_rows[p.name], totals[p.name] = (
                            len(p.ranges), copy.UnitResult(), 0, p.rows)
                        for bounds in p.ranges:
                            heapq.heappush(queue, (-p.rows, next(order), p, bounds))
                        continue
                    loading -= 1
                    p, total, result = what, sent[what.name], future.result()
                    total.rows, total.bytes = total.rows + result.rows, total.bytes + result.bytes
                    total.checksum += result.checksum
                    pending[p.name] -= 1
                    if pending[p.name] == 0:
                        finishing.append(self._finishers().submit(self._finish_table, p, total, p.target in present,
                                                                  report.untranslated))
            return [f.result() for f in finishing]
        except BaseException:
            self._workers.stop.set()
            self.stop.set()
            raise

    def _report_progress(self, done_rows: dict, totals: dict) -> None:
        while not self._workers.messages.empty():
            table, rows = self._workers.messages.get()
            done_rows[table] += rows
            self.progress(table, done_rows[table], totals[table])

    def _finish_table(self, p: plan.TablePlan, sent: copy.UnitResult, replacing: bool,
                      untranslated: list[str]) -> TableReport:
        """Build the staged table's keys and indexes, verify it, then move it into place atomically."""
        pg, staged = self.pg(), target.relation(STAGING_SCHEMA, p.target)
        self._integrity.result()  # nothing moves into the target from a source that failed its check
        with self._lock:
            scaled = ddl.build_scaled_to_numeric(p, STAGING_SCHEMA, untranslated)
            statements = ([scaled] if scaled else []) + ddl.build_keys_and_indexes(p, STAGING_SCHEMA, untranslated)
        if statements:
            target.execute(pg, ";\n".join(statements), what=f"table {p.name}")
        self._verify(staged, p, sent)
        self._to_jsonb(pg, staged, p)
        final = target.relation(self.options.target_schema, p.target)
        with pg.cursor() as cur:
            self._continue_identity(cur, staged, p)
            if replacing:
                cur.execute(f"DROP TABLE IF EXISTS {final} CASCADE")
            cur.execute(f"ALTER TABLE {staged} SET SCHEMA {quote(self.options.target_schema)}")
        pg.commit()
        return TableReport(p.name, sent.rows, sent.bytes, fingerprint(sent.checksum), "copied")

    def _verify(self, relation: str, p: plan.TablePlan, sent: copy.UnitResult) -> None:
        if self.options.verify == "rowcount":
            verify.compare(p.name, sent.rows, sent.checksum, self._count(relation))
        else:
            verify.compare(p.name, sent.rows, sent.checksum, *self._held(relation, p, sent))

    def _held(self, relation: str, p: plan.TablePlan, sent: copy.UnitResult) -> tuple[int, int]:
        """(rows, checksum) of what `relation` stores, hashed as copy.load hashed what it sent: unit by unit
        in key order for keyed tables (units read in parallel), else row by row. In key order the hash
        covers every row's framing, so a checksum equal to the one sent implies the rows; they are
        counted only when it differs."""
        columns = [stored_sql(c.kind, quote(c.target), c.scale) for c in p.columns]
        if not p.keyed:
            digest = verify.stored(self.pg(), relation, columns)
            self.pg().commit()
            return digest.rows, digest.checksum
        key = p.target_column(p.table.rowid_alias.name)
        if p.rows < SMALL_TABLE:  # a round trip to a worker would take longer
            checksum = sum(workers.stored_checksum(self.pg(), relation, columns, key, bounds) for bounds in p.ranges)
        else:
            units = [self._workers.checksum(relation, columns, key, bounds) for bounds in p.ranges]
            checksum = sum(unit.result() for unit in units)
        return (sent.rows if checksum == sent.checksum else self._count(relation)), checksum

    def _count(self, relation: str) -> int:
        return target.query_one(self.pg(), f"SELECT count(*) FROM {relation}")[0]

    def _verifiers(self) -> ThreadPoolExecutor:
        """Threads for queries that wait on a database (planning scans, checksum chunks)."""
        return self._pool("verify")

    def _finishers(self) -> ThreadPoolExecutor:
        """Threads that finish tables; separate from _verifiers, whose work they wait for."""
        return self._pool("finish")

    def _pool(self, name: str, size: int = 0) -> ThreadPoolExecutor:
        with self._lock:
            if name not in self._pools:
                self._pools[name] = ThreadPoolExecutor(size or self.options.workers,
                                                       thread_name_prefix=f"appmod-{name}")
            return self._pools[name]

    def _continue_identity(self, cur, relation: str, p: plan.TablePlan) -> None:
        """The identity column continues after the copied maximum (and after AUTOINCREMENT's high-water mark)."""
        alias = p.table.rowid_alias
        if alias is None:
            return
        name = p.target_column(alias.name)
        cur.execute(f"SELECT setval(pg_get_serial_sequence(%s, %s), greatest(v, 1), v > 0) "
                    f"FROM (SELECT greatest(coalesce(max({quote(name)}), 0), %s) AS v FROM {relation}) m",
                    (relation, name, p.table.sequence or 0))

    def _to_jsonb(self, pg, relation: str, p: plan.TablePlan) -> None:
        """With json_type jsonb, JSON columns become jsonb once verified as sent: jsonb keeps the
        parsed value, not the text (keys reordered, duplicates dropped), so it cannot be checksummed."""
        if self.options.json_type != "jsonb":
            return
        for c in p.columns:
            if c.kind is Kind.JSON:
                target.execute(pg, f"ALTER TABLE {relation} ALTER COLUMN {quote(c.target)} TYPE jsonb "
                                   f"USING {quote(c.target)}::jsonb", what=f"table {p.name}, column {c.name}")

    def _ensure_constraints(self, pg, plans: list[plan.TablePlan], report: Report) -> None:
        """Foreign keys and CHECKs, added NOT VALID (no table lock while scanning), then validated;
        one that fails to validate stays, unvalidated, and is reported. The tables this run made cannot
        have them yet: theirs are added in one statement, the others' one by one unless there already."""
        schema, fresh = self.options.target_schema, {t.name for t in report.tables if t.status == "copied"}
        by_name = {p.name: p for p in plans}
        new, old = [], []
        for p in plans:
            constraints = [ddl.build_foreign_key(p, fk, by_name[fk.table], schema)
                           for fk in p.table.foreign_keys if fk.table in by_name]
            for number, check in enumerate(p.table.checks, 1):
                expression = ddl.translate_expression(check, {c.name: c.target for c in p.columns})
                if expression is None:
                    report.untranslated.append(f"check on {p.name}: {check}")
                else:
                    constraints.append(ddl.build_check(p, number, expression, schema))
            for fk in p.table.foreign_keys:
                if fk.table not in by_name:
                    report.untranslated.append(f"foreign key {p.name}({', '.join(fk.columns)}) -> {fk.table} "
                                               "(the parent table is not copied)")
            (new if p.name in fresh else old).extend((p.target, name, statement) for name, statement in constraints)
        try:
            if new:
                target.execute(pg, ";\n".join(statement for _, _, statement in new))
            added = [(table, name) for table, name, _ in new]
        except MigrationError:  # one of them is refused: find which, adding them one by one
            old = new + old
            added = []
        added += [(table, name) for table, name, statement in old
                  if self._add_constraint(pg, table, name, statement, report)]
        # Validation only reads (SHARE UPDATE EXCLUSIVE on the child), so the batches run side by side.
        batches = [added[i::self.options.workers] for i in range(self.options.workers)]
        report.warnings += [f for failures in self._verifiers().map(self._validate, batches) for f in failures]

    def _add_constraint(self, pg, table: str, name: str, statement: str, report: Report) -> bool:
        """Add it (NOT VALID) unless a previous run did; False when PostgreSQL refuses it."""
        if not target.constraint_exists(pg, self.options.target_schema, table, name):
            try:
                target.execute(pg, statement)
            except MigrationError as e:
                report.untranslated.append(f"constraint {name}: {e}")
                return False
        return True

    def _validate(self, constraints: list[tuple[str, str]]) -> list[str]:
        """Validate (table, name) constraints in one statement, or, when one fails, one by one: the
        warnings for those the source data breaks (each stays, unvalidated)."""
        statements = [f"ALTER TABLE {target.relation(self.options.target_schema, table)} VALIDATE CONSTRAINT "
                      f"{quote(name)}" for table, name in constraints]
        try:
            if statements:
                target.execute(self.pg(), ";\n".join(statements))
            return []
        except MigrationError:
            pass
        warnings = []
        for (_, name), statement in zip(constraints, statements, strict=True):
            try:
                target.execute(self.pg(), statement)
            except MigrationError as e:
                warnings.append(f"constraint {name} is in place but not validated: the source data breaks it ({e})")
        return warnings


def _refuse_collisions(tables: list[source.Table]) -> list[identifiers.Renamed]:
    """Before anything is written: no two tables, columns of one table, or relations of the schema
    (tables and indexes share it in PostgreSQL) may get the same PostgreSQL name. What is renamed."""
    table_names = [(t.name, shorten(t.name)) for t in tables]
    indexes = [n for t in tables for n in ddl.index_names(t)]
    identifiers.refuse_collisions("tables", table_names)
    identifiers.refuse_collisions("the relations", table_names + [(what, name) for what, _, name in indexes])
    renamed = identifiers.renamed("table", table_names)
    for t in tables:
        columns = [(c.name, shorten(c.name)) for c in t.columns]
        identifiers.refuse_collisions(f"table {t.name}: the columns", columns)
        renamed += identifiers.renamed("column", ((f"{t.name}.{old}", f"{shorten(t.name)}.{new}")
                                                  for old, new in columns))
    return renamed + identifiers.renamed("index", [(natural, name) for _, natural, name in indexes])
