"""Existing mode: the app's own migrations (Django's `migrate`, say) made the tables; this copies the
data into them, all in one transaction, parents before children (constraints deferred, for the
foreign-key cycles Django makes): each table is COPYed into a temporary text table, checksummed, then
INSERT ... SELECT with casts to the declared types, so PostgreSQL's own parsers do the conversion and
name what they refuse. Sequences then continue after the copied maximum, and the materialized views that
read the loaded tables are refreshed, in dependency order.

Tables that already hold exactly the source's rows are left alone; tables with other rows are refused,
unless `replace` is set: then they are emptied (TRUNCATE, with the tables whose foreign keys point at
them) and loaded in that same transaction, so the source's rows win and a crash leaves the target as
it was. That is for rows the app's migrations wrote before the app ever ran (Django's content types,
permissions and sites), whose ids the source's foreign keys point at.

Called by run.migrate.
"""

from __future__ import annotations

import threading

import psycopg

from appmod_operator.errors import MigrationError, TargetNotEmpty, UnrepresentableValue
from appmod_operator.migration import copy, identifiers, plan, source, target, verify
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
        o, pg = self.options, self.pg
        present = target.tables(pg, o.target_schema)
        report = Report()
        plans = self._plans(schema, present, report)
        statuses = {name: self._compare(p) for name, p in plans.items()}
        different = sorted(n for n, s in statuses.items() if s == "different")
        if different and not o.replace:
            raise TargetNotEmpty(f"the target's table(s) {', '.join(different)} already hold different data; "
                                 "pass --replace to overwrite them")
        parents = target.foreign_key_parents(pg, o.target_schema)
        emptied = self._to_empty(plans, parents, different)
        report.replaced = sorted(n for n, p in plans.items() if p.target in emptied and statuses[n] != "empty")
        todo = {n for n, s in statuses.items() if s != "unchanged" or plans[n].target in emptied}
        report.tables = [TableReport(n, plans[n].rows, 0, "", "unchanged") for n in sorted(set(plans) - todo)]
        loaded = [plans[n].target for n in todo]
        views = target.materialized_views(pg, [target.relation(o.target_schema, t) for t in loaded])
        try:
            target.execute(pg, "SET CONSTRAINTS ALL DEFERRED", commit=False)
            if emptied:
                relations = ", ".join(target.relation(o.target_schema, t) for t in sorted(emptied))
                target.execute(pg, f"TRUNCATE {relations}", what="--replace", commit=False)
            for group in _dependency_groups({plans[n].target: plans[n] for n in todo}, parents):
                report.tables += [self._load_table(p) for p in group]
            for view in views:
                target.execute(pg, f"REFRESH MATERIALIZED VIEW {view}", what=f"materialized view {view}",
                               commit=False)
            pg.commit()
        except BaseException:
            pg.rollback()
            raise
        report.refreshed = views
        return report

    def _plans(self, schema: source.Schema, present: dict, report: Report) -> dict[str, plan.TablePlan]:
        """A plan per table both sides have (by source name); the others are reported."""
        o = self.options
        matched = {t.name: identifiers.match(t.name, present) for t in schema.tables if t.name not in o.exclude}
        for name in sorted(n for n, m in matched.items() if m is None):
            report.warnings.append(f"table {name} exists only in the source: not copied")
        for name in sorted(set(present) - set(matched.values()) - o.exclude):
            report.warnings.append(f"table {name} exists only in the target: left as it is")
        return {t.name: plan.existing_plan(self.sqlite_conn, t, matched[t.name], present[matched[t.name]])
                for t in schema.tables if matched.get(t.name)}

    def _to_empty(self, plans: dict[str, plan.TablePlan], parents_of: dict[str, set[str]],
                  different: list[str]) -> set[str]:
        """The target tables to TRUNCATE so that the different ones can be loaded again: those, and every
        table whose foreign keys point at one of them (PostgreSQL truncates them together). One of those
        that holds rows the source does not have stops the run: its rows would be lost."""
        schema, loadable = self.options.target_schema, {p.target for p in plans.values()}
        children: dict[str, set[str]] = {}
        for child, parents in parents_of.items():
            for parent in parents:
                children.setdefault(parent, set()).add(child)
        chosen = {plans[n].target for n in different}
        todo = sorted(chosen)
        while todo:
            parent = todo.pop()
            for child in sorted(children.get(parent, set()) - chosen):
                if child not in loadable and target.holds_rows(self.pg, target.relation(schema, child)):
                    raise TargetNotEmpty(f"--replace: the target's table {child} refers to {parent} and holds "
                                         "rows the source does not have; they would be lost (empty it, or "
                                         "leave its parent out with --exclude)")
                chosen.add(child)
                todo.append(child)
        return chosen

    def _compare(self, p: plan.TablePlan) -> str:
        """empty, unchanged (holds exactly the source's rows) or different."""
        pg = self.pg
        final = target.relation(self.options.target_schema, p.target)
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
        columns = ", ".join(f"{quote(c.target)} text" for c in p.columns)
        target.execute(self.pg, f"CREATE TEMP TABLE appmod_stage (__rowid bigint, {columns}) ON COMMIT DROP",
                       commit=False)
        done = [0]

        def on_batch(rows: int) -> None:
            done[0] += rows
            self.progress(p.name, done[0], p.rows)
        return copy.load(self.sqlite_conn, self.pg, p, None, "appmod_stage", self.stop, on_batch, with_rowid=True,
                         commit=False)

    def _load_table(self, p: plan.TablePlan) -> TableReport:
        """Stage, verify and insert one table, inside the run's transaction."""
        sent = self._stage(p)
        self._verify(p, sent)
        self._insert_from_stage(p, target.relation(self.options.target_schema, p.target))
        target.execute(self.pg, "DROP TABLE appmod_stage", commit=False)
        self._continue_sequences(p)
        return TableReport(p.name, sent.rows, sent.bytes, fingerprint(sent.checksum), "copied")

    def _verify(self, p: plan.TablePlan, sent: copy.UnitResult) -> None:
        """The staged text is compared with what was sent; the casts after it are PostgreSQL's own."""
        if self.options.verify == "rowcount":
            rows = target.query_one(self.pg, "SELECT count(*) FROM appmod_stage", commit=False)[0]
            verify.compare(p.name, sent.rows, sent.checksum, rows)
        else:
            fields = [quote(c) for c in ["__rowid", *(c.target for c in p.columns)]]
            stored = verify.stored(self.pg, "appmod_stage", fields)
            verify.compare(p.name, sent.rows, sent.checksum, stored.rows, stored.checksum)

    def _insert_from_stage(self, p: plan.TablePlan, final: str) -> None:
        pg = self.pg
        for c in p.columns:
            self._refuse_lossy_assignment(p, c)
        columns = ", ".join(quote(c.target) for c in p.columns)
        casts = ", ".join(c.cast.format(quote(c.target)) for c in p.columns)
        with pg.cursor() as cur:
            cur.execute("SAVEPOINT appmod_insert")
            try:
                # OVERRIDING SYSTEM VALUE: the copied keys go into GENERATED ALWAYS identity columns too.
                cur.execute(f"INSERT INTO {final} ({columns}) OVERRIDING SYSTEM VALUE SELECT {casts} "
                            "FROM appmod_stage ORDER BY __rowid")
            except psycopg.DataError as e:
                cur.execute("ROLLBACK TO SAVEPOINT appmod_insert")
                raise self._locate_cast_failure(p, e) from None
            except psycopg.Error as e:
                detail = f" ({e.diag.message_detail})" if e.diag.message_detail else ""
                raise MigrationError(f"table {p.name}: the target refused the rows: "
                                     f"{e.diag.message_primary}{detail}") from None

    def _refuse_lossy_assignment(self, p: plan.TablePlan, c: plan.ColumnPlan) -> None:
        """Assigning to a type with a length, precision or scale may truncate (varchar), trim trailing
        spaces, or round (numeric, timestamp(0), real) without an error: find such a value first."""
        column = quote(c.target)
        value = c.cast.format(column)
        if c.pg_type == "real":
            condition, why = f"{column}::float8 <> {value}::float8", "would be rounded by the target's real"
        elif c.modifiers and c.cast.startswith("{}::"):
            condition = f"{value} IS DISTINCT FROM ({value})::{c.pg_type}"
            why = f"would be changed by the target's type {c.pg_type} (cut, trimmed or rounded)"
        else:
            return
        with self.pg.cursor() as cur:
            cur.execute("SAVEPOINT appmod_check")
            try:
                cur.execute(f"SELECT __rowid, {column} FROM appmod_stage WHERE {column} IS NOT NULL "
                            f"AND {condition} ORDER BY __rowid LIMIT 1")
                row = cur.fetchone()
            except psycopg.DataError:
                cur.execute("ROLLBACK TO SAVEPOINT appmod_check")
                return  # a value that does not even parse: the INSERT names it
        if row:
            raise UnrepresentableValue(p.name, c.name, row[0], row[1], why)

    def _locate_cast_failure(self, p: plan.TablePlan, error: psycopg.Error) -> MigrationError:
        pg = self.pg
        target.execute(pg, """CREATE OR REPLACE FUNCTION pg_temp.appmod_refuses(v text, cast_sql text) RETURNS boolean
                        LANGUAGE plpgsql AS $$ BEGIN EXECUTE format(cast_sql, quote_literal(v)); RETURN false;
                        EXCEPTION WHEN others THEN RETURN true; END $$""", commit=False)
        for c in p.columns:
            probe = "SELECT " + c.cast.format("%s::text")
            column = quote(c.target)
            row = target.query_one(pg, f"SELECT __rowid, {column} FROM appmod_stage WHERE "
                                       f"{column} IS NOT NULL AND pg_temp.appmod_refuses({column}, %s) "
                                       "ORDER BY __rowid LIMIT 1", (probe,), commit=False)
            if row:
                why = f"is refused by the target's type {c.pg_type}: {error.diag.message_primary}"
                return UnrepresentableValue(p.name, c.name, row[0], row[1], why)
        return MigrationError(f"table {p.name}: the target refused the rows: {error.diag.message_primary}")

    def _continue_sequences(self, p: plan.TablePlan) -> None:
        """Every sequence behind a copied column (serial or identity) continues after the copied
        maximum, and after SQLite's AUTOINCREMENT high-water mark, so deleted ids are not reused."""
        pg, final = self.pg, target.relation(self.options.target_schema, p.target)
        alias = p.table.rowid_alias
        for c in p.columns:
            sequence = target.query_one(pg, "SELECT pg_get_serial_sequence(%s, %s)", (final, c.target),
                                        commit=False)[0]
            floor = (p.table.sequence or 0) if alias is not None and c.name == alias.name else 0
            if sequence:
                target.execute(pg, f"SELECT setval(%s, greatest(v, 1), v > 0) FROM "
                             f"(SELECT greatest(coalesce(max({quote(c.target)}), 0), %s) AS v FROM {final}) m",
                         (sequence, floor), commit=False)


def _same_rows_query(p: plan.TablePlan, final: str) -> str:
    """True when the staged rows, cast, equal the target's rows as a multiset."""
    def comparable(c: plan.ColumnPlan, expr: str) -> str:
        return f"({expr})::text" if c.pg_type in ("json", "xml") else expr
    staged = ", ".join(comparable(c, c.cast.format(quote(c.target))) for c in p.columns)
    stored = ", ".join(comparable(c, quote(c.target)) for c in p.columns)
    return (f"SELECT NOT EXISTS ((SELECT {staged} FROM appmod_stage) EXCEPT ALL (SELECT {stored} FROM {final})) "
            f"AND NOT EXISTS ((SELECT {stored} FROM {final}) EXCEPT ALL (SELECT {staged} FROM appmod_stage))")


def _dependency_groups(plans: dict[str, plan.TablePlan], parents: dict[str, set[str]]) -> list[list[plan.TablePlan]]:
    """Tables (by target name) in an order where parents come before children; tables in a cycle share
    one group, loaded with the constraints deferred."""
    remaining = {n: (parents.get(n, set()) & set(plans)) - {n} for n in plans}
    groups = []
    while remaining:
        ready = sorted(n for n, deps in remaining.items() if not deps)
        batch = [[n] for n in ready] or [sorted(remaining)]
        for group in batch:
            groups.append([plans[n] for n in group])
            for n in group:
                remaining.pop(n)
        for deps in remaining.values():
            deps.difference_update(n for g in batch for n in g)
    return groups
