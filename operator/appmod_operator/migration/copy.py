"""The hot path: one unit of work (a table, or a rowid range of one) read from SQLite and streamed
into PostgreSQL with binary COPY, in one transaction, hashed on the way (verify.Digest).

SQLite puts most values into the form the binary encoders take (columns.py), in C and without the GIL;
psycopg's C encoders write them. Only NUMERIC and UUID values (and REAL in existing mode) take a Python
step per value. A value that does not fit its column arrives as a marker of the wrong type, which the
encoder refuses; the unit then stops before commit and a query names the row.

Called by run.py from worker processes and by existing.py; each has its own SQLite and PostgreSQL
connections.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.copy import LibpqWriter

from appmod_operator.errors import MigrationError, SourceError, UnrepresentableValue
from appmod_operator.migration import plan as plans
from appmod_operator.migration.columns import (
    Field,
    Kind,
    Unrepresentable,
    as_text,
    invalid_sql,
    native,
    why_misfit,
)
from appmod_operator.migration.source import quote
from appmod_operator.migration.verify import Digest

BATCH_ROWS = 2000
BATCH_BYTES = 8 << 20  # rows of wide text are fetched fewer at a time, so a batch stays about this size


class Interrupted(MigrationError):
    reason = "Interrupted"


@dataclass
class UnitResult:
    rows: int = 0
    bytes: int = 0
    checksum: int = 0


class _Layout:
    """What one unit sends: each column's Field, and the SELECT that produces them (with the row key
    first when a Python step needs it to name a row)."""

    def __init__(self, plan: plans.TablePlan, with_rowid: bool):
        alias = plan.table.rowid_alias
        self.plan, self.columns = plan, list(plan.columns)
        self.fields = [Field("rowid", "int8") if alias is not None and c.name == alias.name and not with_rowid
                       else _field(c, with_rowid) for c in plan.columns]
        if with_rowid:
            self.fields.insert(0, Field("rowid", "int8"))
            self.columns.insert(0, None)
        self.steps = [(i, f.convert) for i, f in enumerate(self.fields) if f.convert is not None]
        self.wires = [f.wire for f in self.fields]

    def select(self, bounds: tuple[int, int] | None) -> tuple[str, tuple]:
        order = self.plan.table.row_key
        key = f"{order.split(',')[0]}, " if self.steps else ""
        where, params = ("WHERE rowid BETWEEN ? AND ?", bounds) if bounds else ("", ())
        return (f"SELECT {key}{', '.join(f.sql for f in self.fields)} FROM {quote(self.plan.name)} {where} "
                f"ORDER BY {order}", params)

    def converted(self, rows: list[tuple]) -> list[list]:
        """Rows (key first) after the Python steps, without the key; a value that fails names its row."""
        steps, out = self.steps, []
        for row in rows:
            values = list(row[1:])
            try:
                for i, step in steps:
                    values[i] = step(values[i])
            except Unrepresentable as e:
                raise UnrepresentableValue(self.plan.name, self.columns[i].name, row[0], values[i], e.why) from None
            out.append(values)
        return out


def _field(c: plans.ColumnPlan, with_rowid: bool) -> Field:
    """Existing mode (a staged __rowid) sends text for PostgreSQL to cast; convert mode the column's own type."""
    if with_rowid:
        return as_text(c.kind, quote(c.name), c.precision, c.scale)
    return native(c.kind, quote(c.name), c.pg_type, c.precision, c.scale)


def is_ordered(plan: plans.TablePlan, bounds: tuple[int, int] | None, with_rowid: bool) -> bool:
    """A unit hashed as one ordered stream: convert mode (no staged __rowid) on a keyed table, whose
    target gives the rows back in key order."""
    return plan.keyed and bounds is not None and not with_rowid


class _HashingWriter(LibpqWriter):
    """Sends what psycopg encodes, hashing and counting it on the way."""

    def __init__(self, cursor, digest: Digest):
        super().__init__(cursor)
        self.digest, self.bytes = digest, 0

    def write(self, data) -> None:
        self.digest.update(data)
        self.bytes += len(data)
        super().write(data)


class _Refused(Exception):
    """An encoder refused a marker: a value that does not fit its column, which a query then names."""


def load(sqlite_conn, pg_conn, plan: plans.TablePlan, bounds: tuple[int, int] | None, target: str,
         stop: threading.Event, on_batch: Callable[[int], None], with_rowid: bool = False,
         commit: bool = True) -> UnitResult:
    """COPY one unit into `target` (a relation name), then commit unless told not to; on any failure
    the transaction is rolled back and the error names the table, column and row."""
    layout, result = _Layout(plan, with_rowid), UnitResult()
    digest = Digest(ordered=is_ordered(plan, bounds, with_rowid))
    columns = ", ".join(quote(c) for c in (["__rowid"] if with_rowid else []) + [c.target for c in plan.columns])
    try:
        with pg_conn.cursor() as cur:
            writer = _HashingWriter(cur, digest)
            with cur.copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT BINARY)", writer=writer) as out:
                out.set_types(layout.wires)
                for rows in _batches(sqlite_conn, layout, bounds, writer):
                    if stop.is_set():
                        raise Interrupted("interrupted")
                    if layout.steps:
                        rows = layout.converted(rows)
                    try:
                        for row in rows:
                            out.write_row(row)
                    except (TypeError, ValueError, OverflowError):
                        raise _Refused() from None
                    result.rows += len(rows)
                    on_batch(len(rows))
        if commit:
            pg_conn.commit()
    except Exception as e:  # noqa: BLE001 - rolled back, then re-raised as an error naming the row
        pg_conn.rollback()
        raise _explain(e, sqlite_conn, plan, bounds) from None
    result.bytes, result.checksum = writer.bytes, digest.checksum
    return result


def _batches(sqlite_conn, layout: _Layout, bounds: tuple[int, int] | None, writer: _HashingWriter):
    """The unit's rows, in batches of about BATCH_BYTES (measured by what the last batch sent)."""
    sql, params = layout.select(bounds)
    cursor, size = sqlite_conn.execute(sql, params), BATCH_ROWS
    while rows := cursor.fetchmany(size):
        sent = writer.bytes
        yield rows
        per_row = max(1, (writer.bytes - sent) // len(rows))
        size = max(16, min(BATCH_ROWS, BATCH_BYTES // per_row))


def _explain(error: Exception, sqlite_conn, plan: plans.TablePlan, bounds: tuple[int, int] | None) -> Exception:
    """Turn whatever stopped the COPY into an error that names table, column and row."""
    if isinstance(error, _Refused):
        where = f"rowid BETWEEN {bounds[0]:d} AND {bounds[1]:d}" if bounds else "1"
        for column in plan.columns:
            bad = plans.first_invalid(sqlite_conn, plan.table, column, where)
            if bad is not None:
                why = why_misfit(column.kind, bad[-1], column.precision, column.scale)
                return UnrepresentableValue(plan.name, column.name, bad[0], bad[-1], why + _keep_as_text(plan, column))
        return MigrationError(f"table {plan.name}: a value could not be sent")
    if isinstance(error, MigrationError):
        return error
    if isinstance(error, sqlite3.DatabaseError):
        return SourceError(f"reading table {plan.name}: {error}")
    if isinstance(error, psycopg.Error):
        return _from_postgres(error, sqlite_conn, plan, bounds)
    return error


def _keep_as_text(plan: plans.TablePlan, column: plans.ColumnPlan) -> str:
    if column.kind in (Kind.DATE, Kind.TIMESTAMP, Kind.TIME, Kind.JSON, Kind.UUID):
        return f" (--keep-as-text {plan.name}.{column.name} keeps the column as text)"
    return ""


def _from_postgres(error: psycopg.Error, sqlite_conn, plan: plans.TablePlan, bounds) -> Exception:
    """PostgreSQL rejected a row ("COPY t, line N, column c: ..."): find that row in the source."""
    context = getattr(error.diag, "context", None) or ""
    primary = getattr(error.diag, "message_primary", None) or str(error).splitlines()[0]
    match = re.search(r"line (\d+)(?:, column ([^:\n]+))?", context)
    if not match:
        return MigrationError(f"table {plan.name}: PostgreSQL refused the data: {primary}")
    line, target_column = int(match.group(1)), match.group(2)
    column = next((c for c in plan.columns if c.target == target_column), None)
    where, params = ("WHERE rowid BETWEEN ? AND ?", bounds) if bounds else ("", ())
    order = plan.table.row_key
    value, invalid = ((quote(column.name), invalid_sql(column.kind, quote(column.name), column.precision,
                                                       column.scale)) if column is not None else ("NULL", "0"))
    row = sqlite_conn.execute(f"SELECT {order}, coalesce({invalid}, 0), {value} FROM {quote(plan.name)} {where} "
                              f"ORDER BY {order} LIMIT 1 OFFSET ?", (*params, line - 1)).fetchone()
    if row is None:
        return MigrationError(f"table {plan.name}: PostgreSQL refused line {line}: {primary}")
    if column is None:
        return UnrepresentableValue(plan.name, target_column or "?", row[0], None,
                                    f"is refused by PostgreSQL: {primary}")
    # A NUL inside a text, say, is ours to explain; anything else is in PostgreSQL's words.
    why = why_misfit(column.kind, row[-1], column.precision, column.scale) if row[-2] else \
        f"is refused by PostgreSQL: {primary}"
    return UnrepresentableValue(plan.name, column.name, row[0], row[-1], why + _keep_as_text(plan, column))
