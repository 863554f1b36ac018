"""Existing mode: the app's own migrations (Django's `migrate`, say) made the tables; this copies the
data into them. Each table is loaded in one transaction, parents before children (a foreign-key cycle
in one transaction, constraints deferred): COPY into a temporary text table, checksum it, then
INSERT ... SELECT with casts to the declared types, so PostgreSQL's own parsers do the conversion and
name what they refuse. Sequences then continue after the copied maximum.

Called by run.migrate.
"""

from __future__ import annotations

import threading

import psycopg2

from appmod_operator.errors import MigrationError, TargetNotEmpty, UnrepresentableValue
from appmod_operator.migration import copy, plan, source, target, verify
from appmod_operator.migration.columns import Kind
from appmod_operator.migration.job import Options, Progress, Report, TableReport
from appmod_operator.migration.source import quote
from appmod_operator.migration.verify import fingerprint


def load(sqlite_conn, pg, schema: source.Schema, options: Options, progress: Progress,
         stop: threading.Event) -> Report:
    """Copy every table both sides have; report the ones only one side has."""
    return _Existing(sqlite_conn, pg, options, progress, stop).run(schema)


class _Existing:
    """One existing-mode run: the connections (one of each, the work is sequential) and its steps."""

    def __init__(self, sqlite_conn, pg, options: Options, progress: Progress, stop: threading.Event):
        self.sqlite_conn, self.pg, self.options, self.progress, self.stop = sqlite_conn, pg, options, progress, stop

    def run(self, schema: source.Schema) -> Report:
        o, sqlite_conn, pg = self.options, self.sqlite_conn, self.pg
        present = target.tables(pg, o.target_schema)
        report = Report()
        source_names = {t.name for t in schema.tables} - o.exclude
        for name in sorted(source_names - set(present)):
            report.warnings.append(f"table {name} exists only in the source: not copied")
        for name in sorted(set(present) - source_names - o.exclude):
            report.warnings.append(f"table {name} exists only in the target: left as it is")
        plans = {t.name: plan.existing_plan(sqlite_conn, t, present[t.name])
                 for t in schema.tables if t.name in source_names and t.name in present}
        groups = _dependency_groups(plans, target.foreign_key_parents(pg, o.target_schema))
        statuses = {name: self._compare(plans[name]) for name in plans}
        different = sorted(n for n, s in statuses.items() if s == "different")
        if different and not o.replace:
            raise TargetNotEmpty(f"the target's table(s) {', '.join(different)} already hold different data; "
                                 "pass --replace to overwrite them")
        if different:
            # All of them in one statement, so foreign keys between them do not stand in the way; they
            # are all loaded again below.
            statuses = dict.fromkeys(statuses, "empty")
            target.execute(pg, "TRUNCATE " + ", ".join(target.relation(o.target_schema, n) for n in plans),
                     what="--replace")
        for group in groups:
            todo = [plans[n] for n in group if statuses[n] != "unchanged"]
            report.tables += [TableReport(n, plans[n].rows, 0, "", "unchanged") for n in group
                              if statuses[n] == "unchanged"]
            if todo:
                report.tables += self._load_group(todo)
        return report

    def _compare(self, p: plan.TablePlan) -> str:
        """empty, unchanged (holds exactly the source's rows) or different."""
        pg = self.pg
        final = target.relation(self.options.target_schema, p.name)
        if target.query_one(pg, f"SELECT count(*) FROM (SELECT 1 FROM {final} LIMIT 1) x")[0] == 0:
            return "empty"
        try:
            self._stage(p)
            same = target.query_one(pg, _same_rows_query(p, final), commit=False)[0]
        finally:
            pg.rollback()
        return "unchanged" if same else "different"

    def _stage(self, p: plan.TablePlan) -> copy.UnitResult:
        """COPY the source rows, rendered for the target's types, into a temporary text table."""
        columns = ", ".join(f"{quote(c.name)} text" for c in p.columns)
        target.execute(self.pg, f"CREATE TEMP TABLE appmod_stage (__rowid bigint, {columns}) ON COMMIT DROP",
                       commit=False)
        done = [0]

        def on_batch(rows: int) -> None:
            done[0] += rows
            self.progress(p.name, done[0], p.rows)
        return copy.load(self.sqlite_conn, self.pg, p, None, "appmod_stage", self.stop, on_batch, with_rowid=True,
                         commit=False)

    def _load_group(self, group: list[plan.TablePlan]) -> list[TableReport]:
        """One transaction for the group (one table, or the tables of a foreign-key cycle)."""
        pg, schema, reports = self.pg, self.options.target_schema, []
        try:
            target.execute(pg, "SET CONSTRAINTS ALL DEFERRED", commit=False)
            for p in group:
                sent = self._stage(p)
                self._verify(p, sent)
                self._insert_from_stage(p, target.relation(schema, p.name))
                target.execute(pg, "DROP TABLE appmod_stage", commit=False)
                self._continue_sequences(p)
                reports.append(TableReport(p.name, sent.rows, sent.bytes, fingerprint(sent.checksum), "copied"))
            pg.commit()
        except BaseException:
            pg.rollback()
            raise
        return reports

    def _verify(self, p: plan.TablePlan, sent: copy.UnitResult) -> None:
        """The staged text is compared with what was sent; the casts after it are PostgreSQL's own."""
        if self.options.verify == "rowcount":
            stored = target.query_one(self.pg, "SELECT count(*) FROM appmod_stage", commit=False)
        else:
            columns = [("__rowid", Kind.INTEGER)] + [(c.name, Kind.TEXT) for c in p.columns]
            stored = verify.table_checksum(self.pg, "appmod_stage", columns, commit=False)
        verify.compare(p.name, sent.rows, sent.checksum, stored)

    def _insert_from_stage(self, p: plan.TablePlan, final: str) -> None:
        pg = self.pg
        for c in p.columns:
            self._refuse_lossy_assignment(p, c)
        columns = ", ".join(quote(c.name) for c in p.columns)
        casts = ", ".join(c.cast.format(quote(c.name)) for c in p.columns)
        with pg.cursor() as cur:
            cur.execute("SAVEPOINT appmod_insert")
            try:
                # OVERRIDING SYSTEM VALUE: the copied keys go into GENERATED ALWAYS identity columns too.
                cur.execute(f"INSERT INTO {final} ({columns}) OVERRIDING SYSTEM VALUE SELECT {casts} "
                            "FROM appmod_stage ORDER BY __rowid")
            except psycopg2.DataError as e:
                cur.execute("ROLLBACK TO SAVEPOINT appmod_insert")
                raise self._locate_cast_failure(p, e) from None
            except psycopg2.Error as e:
                detail = f" ({e.diag.message_detail})" if e.diag.message_detail else ""
                raise MigrationError(f"table {p.name}: the target refused the rows: "
                                     f"{e.diag.message_primary}{detail}") from None

    def _refuse_lossy_assignment(self, p: plan.TablePlan, c: plan.ColumnPlan) -> None:
        """Assigning to a type with a length, precision or scale may truncate (varchar), trim trailing
        spaces, or round (numeric, timestamp(0), real) without an error: find such a value first."""
        value = c.cast.format(quote(c.name))
        if c.pg_type == "real":
            condition, why = f"{quote(c.name)}::float8 <> {value}::float8", "would be rounded by the target's real"
        elif c.modifiers and c.cast.startswith("{}::"):
            condition = f"{value} IS DISTINCT FROM ({value})::{c.pg_type}"
            why = f"would be changed by the target's type {c.pg_type} (cut, trimmed or rounded)"
        else:
            return
        with self.pg.cursor() as cur:
            cur.execute("SAVEPOINT appmod_check")
            try:
                cur.execute(f"SELECT __rowid, {quote(c.name)} FROM appmod_stage WHERE {quote(c.name)} IS NOT NULL "
                            f"AND {condition} ORDER BY __rowid LIMIT 1")
                row = cur.fetchone()
            except psycopg2.DataError:
                cur.execute("ROLLBACK TO SAVEPOINT appmod_check")
                return  # a value that does not even parse: the INSERT names it
        if row:
            raise UnrepresentableValue(p.name, c.name, row[0], row[1], why)

    def _locate_cast_failure(self, p: plan.TablePlan, error: psycopg2.Error) -> MigrationError:
        pg = self.pg
        target.execute(pg, """CREATE OR REPLACE FUNCTION pg_temp.appmod_refuses(v text, cast_sql text) RETURNS boolean
                        LANGUAGE plpgsql AS $$ BEGIN EXECUTE format(cast_sql, quote_literal(v)); RETURN false;
                        EXCEPTION WHEN others THEN RETURN true; END $$""", commit=False)
        for c in p.columns:
            probe = "SELECT " + c.cast.format("%s::text")
            row = target.query_one(pg, f"SELECT __rowid, {quote(c.name)} FROM appmod_stage WHERE "
                                       f"{quote(c.name)} IS NOT NULL AND pg_temp.appmod_refuses({quote(c.name)}, %s) "
                                       "ORDER BY __rowid LIMIT 1", (probe,), commit=False)
            if row:
                why = f"is refused by the target's type {c.pg_type}: {error.diag.message_primary}"
                return UnrepresentableValue(p.name, c.name, row[0], row[1], why)
        return MigrationError(f"table {p.name}: the target refused the rows: {error.diag.message_primary}")

    def _continue_sequences(self, p: plan.TablePlan) -> None:
        """Every sequence behind a copied column (serial or identity) continues after the copied
        maximum, and after SQLite's AUTOINCREMENT high-water mark, so deleted ids are not reused."""
        pg, final = self.pg, target.relation(self.options.target_schema, p.name)
        alias = p.table.rowid_alias
        for c in p.columns:
            sequence = target.query_one(pg, "SELECT pg_get_serial_sequence(%s, %s)", (final, c.name), commit=False)[0]
            floor = (p.table.sequence or 0) if alias is not None and c.name == alias.name else 0
            if sequence:
                target.execute(pg, f"SELECT setval(%s, greatest(v, 1), v > 0) FROM "
                             f"(SELECT greatest(coalesce(max({quote(c.name)}), 0), %s) AS v FROM {final}) m",
                         (sequence, floor), commit=False)


def _same_rows_query(p: plan.TablePlan, final: str) -> str:
    """True when the staged rows, cast, equal the target's rows as a multiset."""
    def comparable(c: plan.ColumnPlan, expr: str) -> str:
        return f"({expr})::text" if c.pg_type in ("json", "xml") else expr
    staged = ", ".join(comparable(c, c.cast.format(quote(c.name))) for c in p.columns)
    stored = ", ".join(comparable(c, quote(c.name)) for c in p.columns)
    return (f"SELECT NOT EXISTS ((SELECT {staged} FROM appmod_stage) EXCEPT ALL (SELECT {stored} FROM {final})) "
            f"AND NOT EXISTS ((SELECT {stored} FROM {final}) EXCEPT ALL (SELECT {staged} FROM appmod_stage))")


def _dependency_groups(plans: dict[str, plan.TablePlan], parents: dict[str, set[str]]) -> list[list[str]]:
    """Tables in an order where parents come before children; tables in a cycle share one group."""
    remaining = {n: (parents.get(n, set()) & set(plans)) - {n} for n in plans}
    groups = []
    while remaining:
        ready = sorted(n for n, deps in remaining.items() if not deps)
        batch = [[n] for n in ready] or [sorted(remaining)]
        for group in batch:
            groups.append(group)
            for n in group:
                remaining.pop(n)
        for deps in remaining.values():
            deps.difference_update(n for g in batch for n in g)
    return groups
