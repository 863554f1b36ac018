"""What to copy and how: for each source table, the kind of every column (and in convert mode the
PostgreSQL type to create), the rowid ranges it is read in, and the warnings the choice implies.

Called by run.py. Reads the source (a few aggregate scans) but writes nothing.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, replace

from appmod_operator.errors import MigrationError
from appmod_operator.migration.columns import Kind, invalid_sql
from appmod_operator.migration.source import Column, Table, quote
from appmod_operator.migration.target import TargetColumn

UNIT_ROWS = 262_144  # rows per unit of work in convert mode: a large table makes several, so both workers stay busy


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    kind: Kind
    pg_type: str  # convert mode: the type created; existing mode: the target column's type
    cast: str = ""  # existing mode: how the staged text becomes the target type ({} is the text)
    precision: int | None = None
    scale: int | None = None
    modifiers: bool = False  # existing mode: the target type has a length/precision an assignment may apply


@dataclass(frozen=True)
class TablePlan:
    table: Table
    columns: tuple[ColumnPlan, ...]
    rows: int
    ranges: tuple[tuple[int, int] | None, ...]  # inclusive rowid ranges; None: the whole table
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def keyed(self) -> bool:
        """Rows are named by a rowid that the target keeps (INTEGER PRIMARY KEY): checksums go by chunks."""
        return self.table.rowid_alias is not None


def convert_plan(conn: sqlite3.Connection, table: Table, keep_as_text: frozenset[str],
                 unit_rows: int = UNIT_ROWS) -> TablePlan:
    warnings: list[str] = []
    columns = tuple(_convert_column(conn, table, c, keep_as_text, warnings) for c in table.columns)
    rows, ranges = _ranges(conn, table, unit_rows)
    if table.collations:
        warnings.append(f"table {table.name}: COLLATE {', '.join(table.collations)} is not carried over; "
                        "comparisons in PostgreSQL are case- and accent-sensitive")
    return TablePlan(table, columns, rows, ranges, tuple(warnings))


def _convert_column(conn, table: Table, column: Column, keep_as_text: frozenset[str],
                    warnings: list[str]) -> ColumnPlan:
    declared = column.declared.upper()
    if f"{table.name}.{column.name}" in keep_as_text:
        return ColumnPlan(column.name, Kind.TEXT, "text")
    # SQLite's affinity rules, in its order (https://sqlite.org/datatype3.html#determination_of_column_affinity),
    # refined by the declared name where PostgreSQL has a closer type.
    if "INT" in declared:
        return ColumnPlan(column.name, Kind.INTEGER, "bigint")
    if any(word in declared for word in ("CHAR", "CLOB", "TEXT")):
        return ColumnPlan(column.name, Kind.TEXT, "text")
    if "BLOB" in declared:
        return ColumnPlan(column.name, Kind.BLOB, "bytea")
    if declared == "":
        return _by_values(conn, table, column, warnings)
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return ColumnPlan(column.name, Kind.REAL, "double precision")
    if "BOOL" in declared:
        return ColumnPlan(column.name, Kind.BOOLEAN, "boolean")
    if "DATETIME" in declared or "TIMESTAMP" in declared:
        return _temporal(conn, table, column, Kind.TIMESTAMP, "timestamp", warnings)
    if "DATE" in declared:
        return _temporal(conn, table, column, Kind.DATE, "date", warnings)
    if match := re.search(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", declared):
        precision, scale = int(match.group(1)), int(match.group(2) or 0)
        if 0 < precision <= 1000 and scale <= precision:
            return ColumnPlan(column.name, Kind.NUMERIC, f"numeric({precision},{scale})", "", precision, scale)
    return ColumnPlan(column.name, Kind.NUMERIC, "numeric")


def _temporal(conn, table: Table, column: Column, kind: Kind, pg_type: str, warnings: list[str]) -> ColumnPlan:
    bad = first_invalid(conn, table, column.name, kind)
    if bad is None:
        return ColumnPlan(column.name, kind, pg_type)
    warnings.append(f"column {table.name}.{column.name} is declared {column.declared} but keeps type text: "
                    f"rowid {bad[0]} holds {bad[1]!r}, which is not a {pg_type}")
    return ColumnPlan(column.name, Kind.TEXT, "text")


def _by_values(conn, table: Table, column: Column, warnings: list[str]) -> ColumnPlan:
    """A column without a declared type takes the type its values have."""
    c = quote(column.name)
    types = {t for (t,) in conn.execute(f"SELECT DISTINCT typeof({c}) FROM {quote(table.name)}")} - {"null"}
    for only, kind, pg_type in (({"integer"}, Kind.INTEGER, "bigint"), ({"blob"}, Kind.BLOB, "bytea"),
                                ({"real"}, Kind.REAL, "double precision"),
                                ({"integer", "real"}, Kind.REAL, "double precision")):
        if types == only:
            return ColumnPlan(column.name, kind, pg_type)
    if len(types) > 1:
        warnings.append(f"column {table.name}.{column.name} has no declared type and holds "
                        f"{', '.join(sorted(types))} values: it becomes text")
    return ColumnPlan(column.name, Kind.TEXT, "text")


def first_invalid(conn, table: Table, column: str, kind: Kind, where: str = "1") -> tuple | None:
    """(rowid, value) of the first non-NULL value of `column` that does not fit `kind`, or None."""
    c = quote(column)
    return conn.execute(
        f"SELECT {table.row_key}, {c} FROM {quote(table.name)} WHERE {where} AND {c} IS NOT NULL "
        f"AND {invalid_sql(kind, c)} ORDER BY {table.row_key} LIMIT 1").fetchone()


def _ranges(conn, table: Table, unit_rows: int) -> tuple[int, tuple]:
    """Row count, and rowid ranges of about unit_rows rows each (split by value: rowids are mostly
    dense); None for a WITHOUT ROWID table, which is read whole in key order."""
    t = quote(table.name)
    if table.without_rowid:
        return conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0], (None,)
    rows, low, high = conn.execute(f"SELECT count(*), min(rowid), max(rowid) FROM {t}").fetchone()
    if not rows:
        return 0, ((1, 0),)
    units = max(1, (rows + unit_rows - 1) // unit_rows)
    step = (high - low + units) // units
    return rows, tuple((start, min(start + step - 1, high)) for start in range(low, high + 1, step))


def existing_plan(conn: sqlite3.Connection, table: Table, target: list[TargetColumn]) -> TablePlan:
    by_name = {c.name: c for c in target}
    missing = [c.name for c in table.columns if c.name not in by_name]
    if missing:
        raise MigrationError(f"table {table.name}: column {', '.join(missing)} exists in the source but not in "
                             "the target; its data would be lost (check the app's migrations)")
    columns = tuple(replace(_existing_column(by_name[c.name], c), modifiers=by_name[c.name].has_modifiers)
                    for c in table.columns)
    rows, _ = _ranges(conn, table, 1 << 62)
    return TablePlan(table, columns, rows, (None,))


def _existing_column(target: TargetColumn, column: Column) -> ColumnPlan:
    """How a source column is rendered for the target's type, and cast into it from the staged text
    (to the type without modifiers: run.py checks first that the modifiers change nothing)."""
    base, cast = target.base_type, f"{{}}::{target.cast_type}"
    if base in ("int2", "int4", "int8"):
        return ColumnPlan(column.name, Kind.INTEGER, target.type, cast)
    if base in ("float4", "float8"):
        return ColumnPlan(column.name, Kind.REAL, target.type, cast)
    if base == "numeric":
        return ColumnPlan(column.name, Kind.NUMERIC, target.type, cast, target.precision, target.scale)
    if base == "bool":
        return ColumnPlan(column.name, Kind.BOOLEAN, target.type, cast)
    if base == "bytea":
        return ColumnPlan(column.name, Kind.BLOB, target.type, cast)
    if base == "interval" and "INT" in column.declared.upper():
        # Django's DurationField keeps microseconds in an integer column on SQLite.
        return ColumnPlan(column.name, Kind.INTEGER, target.type, "{}::bigint * interval '1 microsecond'")
    # text, varchar, uuid, json(b), date, timestamp(tz), time, inet, enums, ...: PostgreSQL parses the text.
    return ColumnPlan(column.name, Kind.TEXT, target.type, cast)
