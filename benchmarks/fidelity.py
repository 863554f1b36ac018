"""The comparator: is what a contestant left in PostgreSQL exactly the SQLite source, value by value?

`compare(sqlite_path, tables, pg_url)` reads every table from SQLite in primary-key order and from PostgreSQL (the
table of that name, `public` first) in the same order, matching rows by key, in batches; tables without an
integer key are read in the order of all their values on both sides (text in the "C" collation, which is SQLite's
byte order, NULL first). It covers every shape, since it works from the schema alone (source_schema.py).
Exactness per kind: integers and booleans as such (0/1 as false/true), REAL and float8 equal as doubles, text
and bytes identical (JSON as the text json keeps), datetime, date, time and UUID text equal to the parsed
value, decimals (which SQLite keeps as REAL, INTEGER or text) equal as numbers to what numeric holds.

Called by migration.py after each contestant; psycopg (3) and the standard library.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from benchmarks.source_schema import Table, ident

_BATCH = 10_000
_EXAMPLES = 3


def _expected(kind: str, v):
    """The Python value psycopg returns for source value v when the column has its exact PostgreSQL type."""
    if v is None:
        return None
    if kind == "bool":
        return bool(v) if v in (0, 1) else v
    if kind == "timestamp" and isinstance(v, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(v)
    if kind == "date" and isinstance(v, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(v)
    if kind == "time" and isinstance(v, str):
        with contextlib.suppress(ValueError):
            return time.fromisoformat(v)
    if kind == "uuid" and isinstance(v, str | bytes):
        with contextlib.suppress(ValueError):
            return uuid.UUID(v) if isinstance(v, str) else uuid.UUID(bytes=v)
    if kind == "numeric" and isinstance(v, int | float):
        return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    if kind == "numeric" and isinstance(v, str):  # a decimal kept as text: numeric holds the number it spells
        with contextlib.suppress(InvalidOperation):
            return Decimal(v.strip())
    return v


def _target_value(kind: str, v):
    if kind == "uuid" and isinstance(v, str):  # a uuid kept as text; a uuid column is read as uuid.UUID
        return uuid.UUID(v)
    if isinstance(v, datetime) and v.tzinfo is not None:  # timestamptz: the wall clock in UTC (session TimeZone)
        return v.astimezone(UTC).replace(tzinfo=None)
    return v


def _same(kind: str, expected, got) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if kind == "bool":  # 1 == True in Python: insist on a real boolean
        return type(got) is bool and expected == got
    if kind == "int":
        return type(got) is int and expected == got
    if kind == "real":  # REAL vs float8: equal as doubles, exactly
        return type(got) is float and float(expected) == got
    if kind == "date":  # date == datetime is False, but keep the intent visible
        return type(got) is date and expected == got
    return type(got) is type(expected) and expected == got


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def compare(sqlite_path: Path, tables: list[Table], pg_url: str) -> dict:
    """Every source row against the target, value by value, plus column types, NOT NULL, keys and indexes.

    `exact` means: the same row count in every table, every value equal under exact semantics (doubles equal as
    doubles, text and bytes identical, 0/1 as false/true, datetime and date text equal to the parsed value), every
    column of the type `--schema convert` promises and NOT NULL wherever SQLite declares it. Missing primary keys,
    unique indexes and foreign keys are listed under `constraints_missing` (informative, not part of `exact`).
    """
    import psycopg

    report = {"exact": True, "rows_loaded": 0, "row_mismatches": 0, "value_mismatches": 0, "missing_rows": 0,
              "extra_rows": 0, "type_mismatches": [], "not_null_missing": [], "constraints_missing": [],
              "examples": []}
    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    conn = psycopg.connect(pg_url)
    try:
        conn.read_only = True
        with conn.cursor() as cur:
            # ISO dates: psycopg reads timestamptz in no other style (whatever the server of --pg-url is set to).
            cur.execute("SET TimeZone = 'UTC'; SET DateStyle = ISO")
        for table in tables:
            _compare_table(src, conn, table, report)
    finally:
        src.close()
        conn.close()
    report["exact"] = not (report["row_mismatches"] or report["value_mismatches"] or report["missing_rows"]
                           or report["extra_rows"] or report["type_mismatches"] or report["not_null_missing"])
    return report


def _compare_table(src: sqlite3.Connection, conn, table: Table, report: dict) -> None:
    name = table.name
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.oid, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND c.relkind IN ('r', 'p') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY n.nspname <> 'public', n.nspname LIMIT 1", (name,))
        found = cur.fetchone()
        source_rows = src.execute(f"SELECT count(*) FROM {ident(name)}").fetchone()[0]
        if found is None:
            report["missing_rows"] += source_rows
            _example(report, {"table": name, "problem": "table missing"})
            return
        oid, schema = found
        cur.execute("SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
                    "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped", (oid,))
        target_columns = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
        columns = [c for c in table.columns if c.name in target_columns]
        for c in table.columns:
            if c.name not in target_columns:
                report["type_mismatches"].append(f"{name}.{c.name}: missing")
                continue
            pg_type, notnull = target_columns[c.name]
            if pg_type != c.pg_type:
                report["type_mismatches"].append(f"{name}.{c.name}: {c.declared} -> {pg_type}, not {c.pg_type}")
            if c.notnull and not notnull:
                report["not_null_missing"].append(f"{name}.{c.name}")
        _compare_constraints(cur, oid, table, report)
    qualified = f"{ident(schema)}.{ident(name)}"
    key = table.key
    names = ", ".join(ident(c.name) for c in columns)
    target_names = ", ".join(ident(c.name) + ("::text" if c.kind == "json" else "") for c in columns)  # as stored
    if key is not None:
        src_sql = f"SELECT {names} FROM {ident(name)} ORDER BY {ident(key)}"
        tgt_sql = f"SELECT {target_names} FROM {qualified} ORDER BY {ident(key)}"
    else:  # no integer key to match rows by: both sides in the order of all their values, as SQLite orders them
        order = ", ".join(str(i + 1) for i in range(len(columns)))
        target_order = ", ".join(f"{ident(c.name)}{_sqlite_order(target_columns[c.name][0])}" for c in columns)
        src_sql = f"SELECT {names} FROM {ident(name)} ORDER BY {order}"
        tgt_sql = f"SELECT {target_names} FROM {qualified} ORDER BY {target_order}"
    kinds = [c.kind for c in columns]
    key_index = [c.name for c in columns].index(key) if key in [c.name for c in columns] else None

    def source():
        cursor = src.execute(src_sql)
        while batch := cursor.fetchmany(_BATCH):
            for row in batch:
                yield tuple(_expected(k, v) for k, v in zip(kinds, row, strict=True))

    def target():
        with conn.cursor(name=f"cmp_{uuid.uuid4().hex[:8]}") as cur:
            cur.itersize = _BATCH
            cur.execute(tgt_sql)
            for row in cur:
                yield tuple(_target_value(k, v) for k, v in zip(kinds, row, strict=True))

    s_iter, t_iter = source(), target()
    s, t = next(s_iter, None), next(t_iter, None)
    loaded = 0
    while s is not None or t is not None:
        if t is None or (s is not None and key_index is not None and _before(s[key_index], t[key_index])):
            _missing(report, name, s, key_index)
            s = next(s_iter, None)
            continue
        loaded += 1
        if s is None or (key_index is not None and s[key_index] != t[key_index]):
            report["extra_rows"] += 1
            _example(report, {"table": name, "problem": "extra row", "key": t[key_index] if key_index is not None
                              else None})
            t = next(t_iter, None)
            continue
        if s != t or any(not _same(k, a, b) for k, a, b in zip(kinds, s, t, strict=True)):
            report["row_mismatches"] += 1
            for c, k, a, b in zip(columns, kinds, s, t, strict=True):
                if not _same(k, a, b):
                    report["value_mismatches"] += 1
                    _example(report, {"column": f"{name}.{c.name}", "key": s[key_index] if key_index is not None
                                      else None, "source": _short(a), "target": _short(b)})
        s, t = next(s_iter, None), next(t_iter, None)
    report["rows_loaded"] += loaded


def _sqlite_order(pg_type: str) -> str:
    """What makes PostgreSQL order a column as SQLite does: text in byte order (SQLite's BINARY collation, which
    for UTF-8 is code point order, as "C" is) and NULL first."""
    collate = ' COLLATE "C"' if pg_type.split("(")[0] in ("text", "character varying", "character") else ""
    return f"{collate} NULLS FIRST"


def _before(a, b) -> bool:
    """Key a sorts before key b (PostgreSQL puts NULL last)."""
    return b is None or (a is not None and a < b)


def _missing(report: dict, table: str, row, key_index) -> None:
    report["missing_rows"] += 1
    _example(report, {"table": table, "problem": "row missing", "key": row[key_index] if key_index is not None
                      else None})


def _example(report: dict, example: dict) -> None:
    """Keep a few examples of each kind of difference: _EXAMPLES per column or problem, a dozen in all."""
    what = example.get("column") or (example["table"], example.get("problem"))
    same_kind = sum((e.get("column") or (e.get("table"), e.get("problem"))) == what for e in report["examples"])
    if same_kind < _EXAMPLES and len(report["examples"]) < 4 * _EXAMPLES:
        report["examples"].append(example)


def _compare_constraints(cur, oid: int, table: Table, report: dict) -> None:
    cur.execute(
        "SELECT i.indisprimary, i.indisunique, ARRAY(SELECT a.attname::text FROM unnest(i.indkey) "
        "WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "ORDER BY k.ord) FROM pg_index i WHERE i.indrelid = %s", (oid,))
    indexes = cur.fetchall()
    cur.execute(
        "SELECT ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord), r.relname::text "
        "FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid WHERE c.contype = 'f' AND c.conrelid = %s",
        (oid,))
    fks = {(tuple(cols), ref) for cols, ref in cur.fetchall()}
    if table.primary_key and not any(p and list(cols) == table.primary_key for p, _, cols in indexes):
        report["constraints_missing"].append(f"{table.name}: PRIMARY KEY ({', '.join(table.primary_key)})")
    for cols in table.unique:
        if not any(u and tuple(c) == cols for _, u, c in indexes):
            report["constraints_missing"].append(f"{table.name}: UNIQUE ({', '.join(cols)})")
    for cols, ref, _ in table.foreign_keys:
        if (cols, ref) not in fks:
            report["constraints_missing"].append(f"{table.name}: FOREIGN KEY ({', '.join(cols)}) -> {ref}")
