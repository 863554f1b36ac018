"""The hot path: one unit of work (a table, or a rowid range of one) read from SQLite and streamed
into PostgreSQL with COPY, in one transaction, checksummed on the way.

SQLite renders most fields itself (in C, without the GIL), so a row costs Python one MD5 and a join;
REAL and NUMERIC fields go through columns.formatter. An unrepresentable value leaves a NUL byte in
the line, which one `in` test per batch finds; the unit then stops before commit and names the row.

Called by run.py from worker threads; each thread has its own SQLite and PostgreSQL connections.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2

from appmod_operator.errors import MigrationError, SourceError, UnrepresentableValue
from appmod_operator.migration import plan as plans
from appmod_operator.migration.columns import NUL, Kind, Unrepresentable, formatter, render_sql, why_invalid
from appmod_operator.migration.source import quote
from appmod_operator.migration.verify import chunk_bounds, line_hash

BATCH_ROWS = 2000


class Interrupted(MigrationError):
    reason = "Interrupted"


@dataclass
class UnitResult:
    rows: int = 0
    bytes: int = 0
    checksum: int = 0


def build_select(plan: plans.TablePlan, bounds: tuple[int, int] | None, with_rowid: bool) -> tuple[str, tuple]:
    """The SELECT that renders rows as COPY lines: one blob per row when SQLite renders every field;
    otherwise the row key, then blobs alternating with the raw values Python renders:
    (key, blob, value, blob, ..., value, blob), the blobs carrying the tabs between fields."""
    alias = plan.table.rowid_alias
    fields = [(False, "CAST(rowid AS TEXT)") if alias is not None and c.name == alias.name else
              (c.kind.python_rendered, render_sql(c.kind, quote(c.name), s.not_null))
              for c, s in zip(plan.columns, plan.table.columns, strict=True)]
    if with_rowid:
        fields.insert(0, (False, "CAST(rowid AS TEXT)"))
    parts, pieces = [], []
    for i, (python_rendered, expr) in enumerate(fields):
        if i:
            pieces.append("char(9)")
        if python_rendered:
            parts += [_blob(pieces), expr]
            pieces = []
        else:
            pieces.append(expr)
    parts.append(_blob(pieces))
    order = plan.table.row_key
    key = f"{order.split(',')[0]}, " if len(parts) > 1 else ""
    where, params = ("WHERE rowid BETWEEN ? AND ?", bounds) if bounds else ("", ())
    return f"SELECT {key}{', '.join(parts)} FROM {quote(plan.name)} {where} ORDER BY {order}", params


def _blob(pieces: list[str]) -> str:
    return f"CAST({' || '.join(pieces)} AS BLOB)" if pieces else "X''"


def _row_formatter(plan: plans.TablePlan) -> Callable[[tuple], bytes] | None:
    """For tables with Python-rendered columns: row (as build_select lays it out) -> line. This runs
    once per row, so the usual shapes (one or two such columns) get a closure without a loop."""
    formats = [formatter(c.kind, c.precision, c.scale) for c in plan.columns if c.kind.python_rendered]
    if not formats:
        return None
    if len(formats) == 1:
        (f0,) = formats
        return lambda r: r[1] + f0(r[2]) + r[3]
    if len(formats) == 2:
        f0, f1 = formats
        return lambda r: r[1] + f0(r[2]) + r[3] + f1(r[4]) + r[5]
    join = b"".join

    def line(row: tuple) -> bytes:
        parts = [row[1]]
        for i, fmt in enumerate(formats):
            parts.append(fmt(row[2 + 2 * i]))
            parts.append(row[3 + 2 * i])
        return join(parts)
    return line


def is_chunked(plan: plans.TablePlan, bounds: tuple[int, int] | None, with_rowid: bool) -> bool:
    """Chunked checksums need the key in the target: convert mode (no staged __rowid) on a keyed table."""
    return plan.keyed and bounds is not None and not with_rowid


def _batches(sqlite_conn, plan: plans.TablePlan, bounds: tuple[int, int] | None, with_rowid: bool, chunked: bool):
    """Rows to send, in batches: one checksum chunk per batch when chunked (a query per chunk, on the
    rowid index), else fetchmany batches of the whole range."""
    sql, params = build_select(plan, bounds, with_rowid)
    if chunked:
        def first_key(low: int) -> int | None:
            return sqlite_conn.execute(f"SELECT min(rowid) FROM {quote(plan.name)} WHERE rowid BETWEEN ? AND ?",
                                       (low, bounds[1])).fetchone()[0]
        for low, high in chunk_bounds(*bounds, first_key):
            rows = sqlite_conn.execute(sql, (low, high)).fetchall()
            if rows:
                yield rows
        return
    cursor = sqlite_conn.execute(sql, params)
    while rows := cursor.fetchmany(BATCH_ROWS):
        yield rows


class _Lines:
    """A file-like object for COPY ... FROM STDIN: read() returns the next batch of lines, hashed."""

    def __init__(self, batches, plan: plans.TablePlan, chunked: bool, stop: threading.Event,
                 on_batch: Callable[[int], None], result: UnitResult):
        self.batches, self.plan, self.chunked, self.format_row = batches, plan, chunked, _row_formatter(plan)
        self.stop, self.on_batch, self.result = stop, on_batch, result
        self.failure: Exception | None = None

    def read(self, size: int = -1) -> bytes:
        if self.stop.is_set():
            self.failure = Interrupted("interrupted")
            raise self.failure
        rows = next(self.batches, None)
        if rows is None:
            return b""
        lines = [r[0] for r in rows] if self.format_row is None else self._format(rows)
        data = b"\n".join(lines) + b"\n"
        if NUL in data:
            self.failure = _NulFound()
            raise self.failure
        if self.chunked:
            self.result.checksum += line_hash(data)
        else:
            self.result.checksum += sum(map(line_hash, lines))
        self.result.rows += len(rows)
        self.result.bytes += len(data)
        self.on_batch(len(rows))
        return data

    readline = read

    def _format(self, rows: list[tuple]) -> list[bytes]:
        format_row = self.format_row
        try:
            return [format_row(r) for r in rows]
        except Unrepresentable:
            for row in rows:
                try:
                    format_row(row)
                except Unrepresentable as e:
                    self.failure = _python_failure(self.plan, row, e)
                    raise self.failure from None
            raise


class _NulFound(Exception):
    pass


def _python_failure(plan: plans.TablePlan, row: tuple, error: Unrepresentable) -> UnrepresentableValue:
    values = row[2::2]
    python_columns = [c for c in plan.columns if c.kind.python_rendered]
    for column, value in zip(python_columns, values, strict=True):
        try:
            formatter(column.kind, column.precision, column.scale)(value)
        except Unrepresentable:
            return UnrepresentableValue(plan.name, column.name, row[0], value, error.why)
    return UnrepresentableValue(plan.name, "?", row[0], None, error.why)


def load(sqlite_conn, pg_conn, plan: plans.TablePlan, bounds: tuple[int, int] | None, target: str,
         stop: threading.Event, on_batch: Callable[[int], None], with_rowid: bool = False,
         commit: bool = True) -> UnitResult:
    """COPY one unit into `target` (a relation name), then commit unless told not to; on any failure
    the transaction is rolled back and the error names the table, column and row. The checksum is
    chunked (verify.py) for keyed tables in convert mode, where the target keeps the key."""
    result = UnitResult()
    chunked = is_chunked(plan, bounds, with_rowid)
    lines = _Lines(_batches(sqlite_conn, plan, bounds, with_rowid, chunked), plan, chunked, stop, on_batch, result)
    columns = ", ".join(quote(c) for c in (["__rowid"] if with_rowid else []) + [c.target for c in plan.columns])
    try:
        with pg_conn.cursor() as cur:
            cur.copy_expert(f"COPY {target} ({columns}) FROM STDIN", lines, size=1 << 18)
        if commit:
            pg_conn.commit()
    except Exception as e:  # noqa: BLE001 - rolled back, then re-raised as an error naming the row
        pg_conn.rollback()
        raise _explain(e, lines.failure, sqlite_conn, plan, bounds) from None
    return result


def _explain(error: Exception, failure: Exception | None, sqlite_conn, plan: plans.TablePlan,
             bounds: tuple[int, int] | None) -> Exception:
    """Turn whatever stopped the COPY into an error that names table, column and row."""
    if isinstance(failure, _NulFound):
        where = f"rowid BETWEEN {bounds[0]:d} AND {bounds[1]:d}" if bounds else "1"
        for column in plan.columns:
            if column.kind.python_rendered:
                continue
            bad = plans.first_invalid(sqlite_conn, plan.table, column.name, column.kind, where)
            if bad is not None:
                return UnrepresentableValue(plan.name, column.name, bad[0], bad[-1], why_invalid(column.kind))
        return MigrationError(f"table {plan.name}: a value could not be rendered")
    if isinstance(failure, UnrepresentableValue) and failure.value == NUL:
        # The query put the NUL marker where the value was; show the value itself.
        value = sqlite_conn.execute(f"SELECT {quote(failure.column)} FROM {quote(plan.name)} WHERE rowid = ?",
                                    (failure.rowid,)).fetchone()
        return UnrepresentableValue(plan.name, failure.column, failure.rowid, value and value[0], failure.why)
    if failure is not None:
        return failure
    if isinstance(error, sqlite3.DatabaseError):
        return SourceError(f"reading table {plan.name}: {error}")
    if isinstance(error, psycopg2.Error):
        return _from_postgres(error, sqlite_conn, plan, bounds)
    return error


def _from_postgres(error: psycopg2.Error, sqlite_conn, plan: plans.TablePlan, bounds) -> Exception:
    """PostgreSQL rejected a line ("COPY t, line N, column c: ..."): find that row in the source."""
    context = getattr(error.diag, "context", None) or ""
    primary = getattr(error.diag, "message_primary", None) or str(error).splitlines()[0]
    match = re.search(r"line (\d+)(?:, column ([^:]+))?", context)
    if not match:
        return MigrationError(f"table {plan.name}: PostgreSQL refused the data: {primary}")
    line, target_column = int(match.group(1)), match.group(2)
    column = next((c.name for c in plan.columns if c.target == target_column), target_column)
    where, params = ("WHERE rowid BETWEEN ? AND ?", bounds) if bounds else ("", ())
    order = plan.table.row_key
    value_expr = quote(column) if column and column in {c.name for c in plan.columns} else "NULL"
    row = sqlite_conn.execute(f"SELECT {order}, {value_expr} FROM {quote(plan.name)} {where} ORDER BY {order} "
                              f"LIMIT 1 OFFSET ?", (*params, line - 1)).fetchone()
    if row is None:
        return MigrationError(f"table {plan.name}: PostgreSQL refused line {line}: {primary}")
    why = f"is refused by PostgreSQL: {primary}"
    if any(c.name == column and c.kind in (Kind.DATE, Kind.TIMESTAMP, Kind.TIME, Kind.JSON) for c in plan.columns):
        why += f" (--keep-as-text {plan.name}.{column} keeps the column as text)"
    return UnrepresentableValue(plan.name, column or "?", row[0], row[-1], why)


def source_checksum(sqlite_conn, plan: plans.TablePlan, with_rowid: bool = False) -> UnitResult:
    """The rows, bytes and checksum of what load() would send, without sending it."""
    result = UnitResult()
    for bounds in plan.ranges:
        chunked = is_chunked(plan, bounds, with_rowid)
        lines = _Lines(_batches(sqlite_conn, plan, bounds, with_rowid, chunked), plan, chunked, threading.Event(),
                       lambda _: None, result)
        try:
            while lines.read():
                pass
        except Exception as e:  # noqa: BLE001 - re-raised as an error naming the row
            raise _explain(e, lines.failure, sqlite_conn, plan, bounds) from None
    return result
