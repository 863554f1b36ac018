"""Small SQLite databases for the migration tests, built from DDL and rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg


def build(path: Path, ddl: str, rows: dict[str, list[tuple]] | None = None) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(ddl)
    for table, values in (rows or {}).items():
        if values:
            marks = ", ".join("?" * len(values[0]))
            conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', values)
    conn.commit()
    conn.close()
    return path


def products(path: Path, *titles: str) -> bytes:
    """A real SQLite database at `path` with one product row per title; its bytes."""
    rows = [(i, title) for i, title in enumerate(titles, 1)]
    build(path, "CREATE TABLE product (id INTEGER PRIMARY KEY, title TEXT NOT NULL)", {"product": rows})
    return path.read_bytes()


def fetch(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Run `sql` (a statement, or a script when there are no params) in its own committed transaction; the
    rows of its last statement, if any."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:  # committed (rolled back on error) and closed at exit
        cur.execute(sql, params)
        while cur.nextset():  # a script: the last statement's rows (psycopg starts at the first)
            pass
        return cur.fetchall() if cur.description else []


def column_types(url: str, table: str) -> dict[str, tuple[str, bool]]:
    """column -> (type, not null) as PostgreSQL declares it."""
    return {name: (type_, not_null) for name, type_, not_null in fetch(url, """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped""", (f'"{table}"',))}
