"""The SQLite source as the benchmark sees it, and the PostgreSQL types `appmod migrate --schema convert` promises.

Written from the contract (docs/migration.md's convert-mode type table, and the declared names the engine reads
since 16b80c1: varchar(n), smallint, TINYINT(1), time, JSON, UUID, each only when every value fits), not from
the engine's code, so that the comparator checks the engine against its contract.

`read_schema(path)` lists every table with its columns (each with the kind the comparator compares it as and
the PostgreSQL type it must have), primary key, unique and plain indexes, and foreign keys; `create_table_sql`,
`key_sql` and `foreign_key_sql` build the COPY floor's tables from it.

Called by fidelity.py (the comparator), copy_floor.py and migration.py. Standard library only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Column:
    name: str
    declared: str
    notnull: bool
    kind: str  # int | real | text | blob | bool | timestamp | date | time | numeric | json | uuid
    pg_type: str  # as format_type() spells it


@dataclass
class Table:
    name: str
    columns: list[Column]
    primary_key: list[str]
    unique: list[tuple[str, ...]] = field(default_factory=list)
    indexes: list[tuple[str, ...]] = field(default_factory=list)  # not unique
    foreign_keys: list[tuple[tuple[str, ...], str, tuple[str, ...]]] = field(default_factory=list)

    @property
    def key(self) -> str | None:
        """The single integer primary key both sides are ordered and matched by, if there is one."""
        if len(self.primary_key) == 1:
            column = next(c for c in self.columns if c.name == self.primary_key[0])
            if column.kind == "int":
                return column.name
        return None


_SMALL_INTEGERS = {"SMALLINT", "TINYINT", "INT2"}
_CHARACTERS = {"CHAR", "VARCHAR", "NCHAR", "NVARCHAR", "CHARACTER", "CHARACTER VARYING", "VARYING CHARACTER",
               "NATIVE CHARACTER", "NATIONAL CHARACTER", "NATIONAL CHARACTER VARYING", "VARCHAR2", "NVARCHAR2"}
_TEXTS = {"TEXT", "CLOB", "NTEXT", "LONGTEXT", "MEDIUMTEXT", "TINYTEXT", "STRING"}
_BLOBS = {"BLOB", "BYTEA", "BINARY", "VARBINARY", "LONGBLOB"}
_REALS = {"REAL", "DOUBLE", "DOUBLE PRECISION", "FLOAT", "FLOAT4", "FLOAT8"}
_TEMPORAL = (("DATETIME", "timestamp", "timestamp without time zone"), ("TIMESTAMP", "timestamp",
             "timestamp without time zone"), ("DATE", "date", "date"), ("TIME", "time", "time without time zone"))


def parse_declared(declared: str) -> tuple[str, tuple[int, ...]]:
    """("VARCHAR", (255,)) for "varchar(255)": the name in upper case without UNSIGNED/SIGNED, and its numeric
    parameters; a name whose parameters are not all numbers (NVARCHAR(MAX)) is kept whole, without any."""
    head, _, rest = declared.partition("(")
    inside, _, tail = rest.partition(")")
    parts = [p.strip() for p in inside.split(",") if p.strip()]
    if rest and not all(p.lstrip("+-").isdigit() for p in parts):
        return " ".join(declared.upper().split()), ()
    words = [w for w in f"{head} {tail}".upper().split() if w not in ("UNSIGNED", "SIGNED")]
    return " ".join(words), tuple(int(p) for p in parts)


def convert_type(declared: str, fits: Callable[[str], bool] = lambda _: True,
                 value_types: frozenset[str] = frozenset()) -> tuple[str, str]:
    """(kind, PostgreSQL type) for a SQLite declared type under `--schema convert`: the declared name first
    (Django's, hand-written and MySQL-style spellings), SQLite's affinity rules for any other name, and for no
    name at all the type of the values (`value_types`: SQLite's typeof() names, NULL aside). Where the closer
    type needs the values to fit (a varchar's length, a smallint's range, 0/1, valid JSON), `fits(condition)`
    says whether every value does (a SQLite condition true for a value that does not); else the wider type."""
    name, params = parse_declared(declared)
    if name in ("BOOL", "BOOLEAN"):
        return "bool", "boolean"
    if name == "TINYINT" and params == (1,):
        return ("bool", "boolean") if fits("{c} NOT IN (0, 1)") else ("int", "bigint")
    if name in _SMALL_INTEGERS:
        fit = fits("typeof({c}) = 'integer' AND {c} NOT BETWEEN -32768 AND 32767")
        return ("int", "smallint") if fit else ("int", "bigint")
    if "INT" in name:
        return "int", "bigint"
    if name in _CHARACTERS and len(params) == 1 and 0 < params[0] <= 10_485_760:
        fit = fits(f"typeof({{c}}) <> 'text' OR length({{c}}) > {params[0]}")
        return ("text", f"character varying({params[0]})") if fit else ("text", "text")
    if name in _CHARACTERS or name in _TEXTS:
        return "text", "text"
    if name in _BLOBS:
        return "blob", "bytea"
    if name in _REALS:
        return "real", "double precision"
    for prefix, kind, pg_type in _TEMPORAL:
        if name.startswith(prefix):
            return kind, pg_type
    if name == "UUID":
        return "uuid", "uuid"
    if name in ("JSON", "JSONB"):
        return ("json", "json") if fits("typeof({c}) = 'blob' OR NOT json_valid({c})") else ("text", "text")
    if name not in ("DECIMAL", "NUMERIC", "NUMBER"):  # SQLite's own affinity rules, in its order
        d = name
        if any(s in d for s in ("CHAR", "CLOB", "TEXT")):
            return "text", "text"
        if "BLOB" in d:
            return "blob", "bytea"
        if not d:
            if value_types == {"integer"}:
                return "int", "bigint"
            if value_types == {"blob"}:
                return "blob", "bytea"
            if value_types and value_types <= {"integer", "real"}:
                return "real", "double precision"
            return "text", "text"
        if any(s in d for s in ("REAL", "FLOA", "DOUB")):
            return "real", "double precision"
    if params and 0 < params[0] <= 1000 and (len(params) == 1 or 0 <= params[1] <= params[0]):
        return "numeric", f"numeric({params[0]},{params[1] if len(params) > 1 else 0})"
    return "numeric", "numeric"


def read_schema(sqlite_path: Path) -> list[Table]:
    conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY rowid")]
        return [_table(conn, name) for name in names]
    finally:
        conn.close()


def _table(conn: sqlite3.Connection, name: str) -> Table:
    info = conn.execute(f"PRAGMA table_info({ident(name)})").fetchall()  # cid, name, type, notnull, dflt, pk
    columns = []
    for _, column, declared, notnull, _, _ in info:
        c = ident(column)

        def fits(misfit: str, c: str = c) -> bool:
            return conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {ident(name)} WHERE {c} IS NOT NULL AND "
                                f"({misfit.format(c=c)}))").fetchone()[0] == 1

        types = frozenset()
        if not declared.strip():
            types = frozenset(r[0] for r in conn.execute(f"SELECT DISTINCT typeof({c}) FROM {ident(name)}")) - {"null"}
        columns.append(Column(column, declared, bool(notnull), *convert_type(declared, fits, types)))
    table = Table(name, columns, [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])])
    for _, index, unique, origin, _ in conn.execute(f"PRAGMA index_list({ident(name)})"):
        if origin == "pk":
            continue
        cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({ident(index)})"))
        (table.unique if unique else table.indexes).append(cols)
    fks: dict[int, list] = {}
    for fk_id, _, ref, src, dst, *_ in conn.execute(f"PRAGMA foreign_key_list({ident(name)})"):
        fks.setdefault(fk_id, []).append((ref, src, dst))
    for parts in fks.values():
        table.foreign_keys.append((tuple(p[1] for p in parts), parts[0][0], tuple(p[2] for p in parts)))
    return table


def ident(name: str) -> str:
    """An identifier quoted for SQLite and PostgreSQL alike."""
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(table: Table) -> str:
    cols = ", ".join(f"{ident(c.name)} {c.pg_type}{' NOT NULL' if c.notnull else ''}" for c in table.columns)
    return f"CREATE TABLE {ident(table.name)} ({cols})"


def key_sql(table: Table) -> list[str]:
    """Primary key, unique indexes and indexes, as PostgreSQL statements (names left to it)."""
    t = ident(table.name)
    out = []
    if table.primary_key:
        out.append(f"ALTER TABLE {t} ADD PRIMARY KEY ({', '.join(map(ident, table.primary_key))})")
    for kind, index_list in (("UNIQUE INDEX", table.unique), ("INDEX", table.indexes)):
        for cols in index_list:
            out.append(f"CREATE {kind} ON {t} ({', '.join(map(ident, cols))})")
    return out


def foreign_key_sql(table: Table, tables: dict[str, Table]) -> list[str]:
    """The foreign keys, as PostgreSQL statements: after every table's key_sql, which they need."""
    out = []
    for cols, ref, ref_cols in table.foreign_keys:
        targets = ref_cols if all(ref_cols) else tuple(tables[ref].primary_key)
        out.append(f"ALTER TABLE {ident(table.name)} ADD FOREIGN KEY ({', '.join(map(ident, cols))}) "
                   f"REFERENCES {ident(ref)} ({', '.join(map(ident, targets))})")
    return out
