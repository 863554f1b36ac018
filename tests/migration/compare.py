"""An independent check of a convert-mode copy: every value of every source table read from SQLite and from
PostgreSQL and compared by meaning, not by the engine's own renderings: an integer with an integer, 0/1 with
a boolean, a number with a double or a numeric, ISO text with a timestamp, date or time, a blob with bytea,
and text with text (json as its text, byte for byte). Rows are matched by the table's key, so any value
lost, added or changed is found.

Used by the tests of real Django databases (test_django.py)."""

from __future__ import annotations

import datetime
import sqlite3
from decimal import Decimal

import psycopg
from psycopg.types.string import TextLoader

from appmod_operator.migration.identifiers import shorten
from appmod_operator.migration.source import quote


def differences(sqlite_path, url: str, limit: int = 10) -> tuple[int, list[str]]:
    """(values compared, the first `limit` differences) over every table of the source."""
    source = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    target = psycopg.connect(url)
    for pg_type in ("uuid", "inet", "cidr"):  # read as their text, not as uuid.UUID and ipaddress objects
        target.adapters.register_loader(pg_type, TextLoader)
    compared, found = 0, []
    try:
        tables = [name for (name,) in source.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")]
        for table in tables:
            n, problems = _table(source, target, table)
            compared += n
            found += problems[:limit - len(found)]
    finally:
        source.close()
        target.close()
    return compared, found


def _table(source, target, table: str) -> tuple[int, list[str]]:
    columns = [row[1] for row in source.execute(f"PRAGMA table_info({quote(table)})")]
    key = [row[1] for row in sorted(source.execute(f"PRAGMA table_info({quote(table)})"), key=lambda r: r[5])
           if row[5]] or ["rowid"]
    order = ", ".join(quote(k) for k in key)
    wanted = source.execute(f"SELECT {', '.join(map(quote, columns))} FROM {quote(table)} ORDER BY {order}").fetchall()
    with target.cursor() as cur:
        cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                    "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
                    (quote(shorten(table)),))
        types = dict(cur.fetchall())
        selected = [f"{quote(shorten(c))}::text" if types[shorten(c)] == "json" else quote(shorten(c))
                    for c in columns]
        pg_order = ", ".join(quote(shorten(k)) for k in key) if key != ["rowid"] else "1"
        cur.execute(f"SELECT {', '.join(selected)} FROM {quote(shorten(table))} ORDER BY {pg_order}")
        stored = cur.fetchall()
    target.commit()
    problems = [] if len(stored) == len(wanted) else [f"{table}: {len(wanted)} rows in SQLite, {len(stored)} stored"]
    if key == ["rowid"]:  # no key to match by: compare as multisets of rows
        wanted, stored = sorted(wanted, key=repr), sorted(stored, key=repr)
    for want, got in zip(wanted, stored, strict=False):
        for column, a, b in zip(columns, want, got, strict=True):
            if not same(a, b):
                problems.append(f"{table}.{column}: SQLite {a!r}, PostgreSQL {b!r}")
    return len(wanted) * len(columns), problems


def same(sqlite_value, pg_value) -> bool:
    """Whether a value SQLite holds means the same as the value PostgreSQL returned for it."""
    if sqlite_value is None or pg_value is None:
        return sqlite_value is None and pg_value is None
    if isinstance(pg_value, bool):
        return sqlite_value in (0, 1) and bool(sqlite_value) == pg_value
    if isinstance(pg_value, Decimal):
        return Decimal(sqlite_value if isinstance(sqlite_value, str) else repr(sqlite_value)) == pg_value
    if isinstance(pg_value, float):
        return isinstance(sqlite_value, int | float) and float(sqlite_value) == pg_value
    if isinstance(pg_value, datetime.datetime):
        return datetime.datetime.fromisoformat(sqlite_value) == pg_value
    if isinstance(pg_value, datetime.date | datetime.time):
        return type(pg_value).fromisoformat(sqlite_value) == pg_value
    if isinstance(pg_value, bytes):  # bytea
        raw = sqlite_value.encode() if isinstance(sqlite_value, str) else sqlite_value
        return raw == pg_value
    if isinstance(pg_value, str) and not isinstance(sqlite_value, str):
        return False  # a number that became text is a change the engine should have refused or warned of
    return sqlite_value == pg_value
