"""Every identifier is quoted: tables, columns, indexes and constraints named with quotes, semicolons,
comment markers and SQL keywords round-trip exactly, in both schema modes, and nothing in a name is
executed (a canary table the names try to drop is still there)."""

from __future__ import annotations

import sqlite3

import pytest

from appmod_operator.migration import run
from appmod_operator.migration.job import Options
from tests.migration.compare import differences
from tests.migration.sqlite_db import fetch

pytestmark = pytest.mark.e2e

TABLE = 'order"; DROP TABLE canary; --'
CHILD = "select"
COLUMNS = ('id', 'from', 'x"y', "a;b", "--c", "it's")


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "hostile.sqlite"
    conn = sqlite3.connect(path)
    cols = ", ".join(f"{q(c)} {'INTEGER PRIMARY KEY' if c == 'id' else 'TEXT'}" for c in COLUMNS)
    conn.execute(f"CREATE TABLE {q(TABLE)} ({cols})")
    conn.execute(f"CREATE TABLE {q(CHILD)} ({q('where')} INTEGER PRIMARY KEY, "
                 f"{q('parent;id')} INTEGER REFERENCES {q(TABLE)}({q('id')}), {q('check')} TEXT "
                 f"CHECK ({q('check')} <> 'x''; DROP TABLE canary; --'))")
    conn.execute(f"CREATE INDEX {q('ix; DROP TABLE canary')} ON {q(CHILD)} ({q('parent;id')})")
    marks = ", ".join("?" * len(COLUMNS))
    rows = [(i, f"v{i}'; DROP TABLE canary; --", 'q"uote', "semi;colon", "--dash", "o'k") for i in range(1, 51)]
    conn.executemany(f"INSERT INTO {q(TABLE)} VALUES ({marks})", rows)
    conn.executemany(f"INSERT INTO {q(CHILD)} VALUES (?, ?, ?)", [(i, i, f"c{i}") for i in range(1, 51)])
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def target(pg_url):
    fetch(pg_url, "CREATE TABLE canary (id int)")
    return pg_url


def test_hostile_names_round_trip_and_execute_nothing(source, target):
    report = run.migrate(source, target)
    assert {t.name for t in report.tables} == {TABLE, CHILD} and report.rows == 100
    assert differences(source, target) == (450, [])  # every value compared, none differs
    assert fetch(target, "SELECT count(*) FROM canary") == [(0,)]  # still there
    assert fetch(target, f"SELECT count(*) FROM {q(CHILD)} c JOIN {q(TABLE)} t ON t.id = c.{q('parent;id')}") == [(50,)]
    again = run.migrate(source, target)  # a rerun finds the same names and leaves them
    assert all(t.status == "unchanged" for t in again.tables)


def test_hostile_names_load_into_tables_the_app_made(source, target):
    first = run.migrate(source, target, Options(schema="convert"))  # the "app's" tables: the same names
    assert first.rows == 100
    fetch(target, f"TRUNCATE {q(CHILD)}, {q(TABLE)}")
    report = run.migrate(source, target, Options(schema="existing"))
    assert report.rows == 100 and differences(source, target) == (450, [])
    assert fetch(target, "SELECT count(*) FROM canary") == [(0,)]
