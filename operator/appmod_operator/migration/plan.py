"""What to copy and how: for each source table, the kind of every column (and in convert mode the
PostgreSQL type to create), the rowid ranges it is read in, and the warnings the choice implies.

Called by run.py. Reads the source (a few aggregate scans) but writes nothing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace

from appmod_operator.errors import MigrationError
from appmod_operator.migration import types
from appmod_operator.migration.columns import Kind, invalid_sql
from appmod_operator.migration.identifiers import match, shorten
from appmod_operator.migration.source import Column, Table, quote
from appmod_operator.migration.target import TargetColumn

MIN_UNIT_ROWS = 50_000
UNIT_ROWS = 262_144  # rows per unit of work in convert mode: a large table makes several, so both workers stay busy


@dataclass(frozen=True)
class ColumnPlan:
    name: str  # in the source
    kind: Kind
    pg_type: str  # convert mode: the type created; existing mode: the target column's type
    cast: str = ""  # existing mode: how the staged text becomes the target type ({} is the text)
    precision: int | None = None
    scale: int | None = None
    modifiers: bool = False  # existing mode: the target type has a length/precision an assignment may apply
    pg_name: str = ""  # in the target, when it differs (a name cut to PostgreSQL's 63 bytes)

    @property
    def target(self) -> str:
        return self.pg_name or self.name


@dataclass(frozen=True)
class TablePlan:
    table: Table
    columns: tuple[ColumnPlan, ...]
    rows: int
    ranges: tuple[tuple[int, int] | None, ...]  # inclusive rowid ranges; None: the whole table
    warnings: tuple[str, ...] = ()
    pg_name: str = ""  # in the target, when it differs

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def target(self) -> str:
        return self.pg_name or self.table.name

    @property
    def keyed(self) -> bool:
        """Rows are named by a rowid that the target keeps (INTEGER PRIMARY KEY): checksums go by chunks."""
        return self.table.rowid_alias is not None

    def target_column(self, source_name: str) -> str:
        return next((c.target for c in self.columns if c.name == source_name), source_name)


def convert_plan(conn: sqlite3.Connection, table: Table, keep_as_text: frozenset[str],
                 unit_rows: int = UNIT_ROWS, workers: int = 1) -> TablePlan:
    warnings: list[str] = []
    choices = [_declared_choice(conn, table, c, keep_as_text, warnings) for c in table.columns]
    fitted = _fit(conn, table, choices, warnings)
    columns = tuple(ColumnPlan(c.name, f.kind, f.pg_type, "", f.precision, f.scale, pg_name=shorten(c.name))
                    for c, f in zip(table.columns, fitted, strict=True))
    rows, ranges = _ranges(conn, table, unit_rows, workers)
    if table.collations:
        warnings.append(f"table {table.name}: COLLATE {', '.join(table.collations)} is not carried over; "
                        "comparisons in PostgreSQL are case- and accent-sensitive")
    return TablePlan(table, columns, rows, ranges, tuple(warnings), shorten(table.name))


def _declared_choice(conn, table: Table, column: Column, keep_as_text: frozenset[str],
                     warnings: list[str]) -> types.Choice:
    if f"{table.name}.{column.name}" in keep_as_text:
        return types.TEXT
    c = quote(column.name)
    return types.choose(column.declared, c) or types.by_affinity(column.declared) \
        or _by_values(conn, table, column, warnings)


def _fit(conn, table: Table, choices: list[types.Choice], warnings: list[str]) -> list[types.Choice]:
    """Each choice whose values all fit, else its fallback with a warning naming the first that does not;
    one scan of the table answers for every column that needs a look."""
    checked = [(i, choice) for i, choice in enumerate(choices) if choice.misfit]
    if not checked:
        return choices
    column = [table.columns[i] for i, _ in checked]
    any_misfit = conn.execute("SELECT " + ", ".join(f"max({quote(col.name)} IS NOT NULL AND ({choice.misfit}))"
                                                    for col, (_, choice) in zip(column, checked, strict=True))
                              + f" FROM {quote(table.name)}").fetchone()
    fitted = list(choices)
    for col, (i, choice), misfit in zip(column, checked, any_misfit, strict=True):
        if misfit:
            bad = first_row(conn, table, col.name, choice.misfit)
            warnings.append(f"column {table.name}.{col.name} is declared {col.declared} but becomes "
                            f"{choice.fallback.pg_type}: {table.row_key.replace(chr(34), '')} "
                            f"{', '.join(map(str, bad[:-1]))} holds {bad[-1]!r}, and {choice.pg_type} needs "
                            f"{choice.needs}")
            fitted[i] = choice.fallback
    return fitted


def _by_values(conn, table: Table, column: Column, warnings: list[str]) -> types.Choice:
    """A column without a declared type takes the type its values have."""
    c = quote(column.name)
    found = {t for (t,) in conn.execute(f"SELECT DISTINCT typeof({c}) FROM {quote(table.name)}")} - {"null"}
    for only, choice in (({"integer"}, types.BIGINT), ({"blob"}, types.Choice(Kind.BLOB, "bytea")),
                         ({"real"}, types.Choice(Kind.REAL, "double precision")),
                         ({"integer", "real"}, types.Choice(Kind.REAL, "double precision"))):
        if found == only:
            return choice
    if len(found) > 1:
        warnings.append(f"column {table.name}.{column.name} has no declared type and holds "
                        f"{', '.join(sorted(found))} values: it becomes text")
    return types.TEXT


def first_invalid(conn, table: Table, column: ColumnPlan, where: str = "1") -> tuple | None:
    """(rowid, value) of the first non-NULL value of `column` that does not fit its kind, or None."""
    return first_row(conn, table, column.name,
                     invalid_sql(column.kind, quote(column.name), column.precision, column.scale), where)


def first_row(conn, table: Table, column: str, condition: str, where: str = "1") -> tuple | None:
    """(row key, value) of the first non-NULL value of `column` for which `condition` holds, or None."""
    c = quote(column)
    return conn.execute(
        f"SELECT {table.row_key}, {c} FROM {quote(table.name)} WHERE {where} AND {c} IS NOT NULL "
        f"AND ({condition}) ORDER BY {table.row_key} LIMIT 1").fetchone()


def _ranges(conn, table: Table, unit_rows: int, workers: int = 1) -> tuple[int, tuple]:
    """Row count, and rowid ranges of about unit_rows rows each (split by value: rowids are mostly
    dense), and at least one per worker for a table of MIN_UNIT_ROWS a worker or more: the last table's
    verification, after every unit has loaded, then runs on every worker; None for a WITHOUT ROWID
    table, which is read whole in key order."""
    t = quote(table.name)
    if table.without_rowid:
        return conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0], (None,)
    rows, low, high = conn.execute(f"SELECT count(*), min(rowid), max(rowid) FROM {t}").fetchone()
    if not rows:
        return 0, ((1, 0),)
    units = max(1, (rows + unit_rows - 1) // unit_rows, min(workers, rows // MIN_UNIT_ROWS))
    step = (high - low + units) // units
    return rows, tuple((start, min(start + step - 1, high)) for start in range(low, high + 1, step))


def existing_plan(conn: sqlite3.Connection, table: Table, pg_name: str, target: list[TargetColumn]) -> TablePlan:
    """The plan for loading `table` into the target's table `pg_name`, whose columns are `target`."""
    by_name = {c.name: c for c in target}
    matched = {c.name: match(c.name, by_name) for c in table.columns}
    missing = [name for name, found in matched.items() if found is None]
    if missing:
        raise MigrationError(f"table {table.name}: column {', '.join(missing)} exists in the source but not in "
                             "the target; its data would be lost (check the app's migrations)")
    columns = tuple(replace(_existing_column(by_name[matched[c.name]], c), pg_name=matched[c.name],
                            modifiers=by_name[matched[c.name]].has_modifiers) for c in table.columns)
    rows, _ = _ranges(conn, table, 1 << 62)
    return TablePlan(table, columns, rows, (None,), pg_name=pg_name)


# Target types whose text a number or bytes could be read into only by guessing what it means (seconds
# or microseconds, a date written as 20240115, a UUID's byte order): the source must hold text.
_TEXT_ONLY = {"date", "time", "timetz", "timestamp", "timestamptz", "interval", "uuid", "inet", "cidr", "macaddr"}


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
    if base in _TEXT_ONLY:  # PostgreSQL parses the text, with the session's settings pinned (target.SESSION)
        return ColumnPlan(column.name, Kind.STRICT_TEXT, target.type, cast)
    # text, varchar, json(b), xml, enums, ...: PostgreSQL parses the text.
    return ColumnPlan(column.name, Kind.TEXT, target.type, cast)
