"""--schema convert against a real PostgreSQL: exact types and values, constraints, identifiers."""

from __future__ import annotations

import datetime
import math

import pytest

from appmod_operator.migration import run
from tests.migration.sqlite_db import build, column_types, fetch

pytestmark = pytest.mark.e2e

ADVERSARIAL_TEXT = [
    "tab\there", "new\nline", "cr\r\nlf", "back\\slash", "\\N", "\\.", "bell\b form\f vtab\v", "",
    "caf\u00e9 \u65e5\u672c \U0001F600", "quote ' and \"", "trailing space ", "x" * 5000,
]
REALS = [0.1 + 0.2, 1e308, 5e-324, 2.2250738585072014e-308, 1e23, 2.0**53 + 2, -1.5e-7, 123456789.0, 1e15,
         1234567890123456.8, math.pi, -0.0, float("inf"), float("-inf")]

DDL = """
CREATE TABLE kinds (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  big INTEGER NOT NULL DEFAULT 0,
  amount REAL,
  price DECIMAL(10, 2),
  label TEXT,
  data BLOB,
  flag BOOLEAN DEFAULT 1,
  happened DATETIME,
  born DATE,
  untyped
);
CREATE TABLE "select" ("Mixed Case" INTEGER PRIMARY KEY, "order" TEXT UNIQUE, "we""ird" TEXT NOT NULL DEFAULT 'x',
  CHECK ("order" <> 'forbidden'));
CREATE TABLE child (id INTEGER PRIMARY KEY, kind_id INTEGER NOT NULL REFERENCES kinds(id) ON DELETE CASCADE,
  note TEXT COLLATE NOCASE);
CREATE INDEX child_kind ON child (kind_id);
CREATE UNIQUE INDEX kinds_label_partial ON kinds (label) WHERE big > 0;
CREATE VIEW kinds_view AS SELECT id FROM kinds;
CREATE TRIGGER kinds_trigger AFTER INSERT ON kinds BEGIN SELECT 1; END;
"""


def kinds_rows() -> list[tuple]:
    rows = []
    for i, text in enumerate(ADVERSARIAL_TEXT):
        real = REALS[i % len(REALS)]
        rows.append((i + 1, (-1) ** i * (2**63 - 1 - i), real, 19.99 if i % 2 else 5, text,
                     bytes([0, 92, 10, 9, 255, i]) if i % 3 else b"", i % 2,
                     ["2024-02-29 23:59:59", "2024-01-05T12:34:56.5", "1999-12-31 00:00:00.000001"][i % 3],
                     "2024-02-29", 7 * i))
    rows.append((100, 1, None, None, None, None, None, None, None, None))
    return rows


@pytest.fixture
def migrated(tmp_path, pg_url):
    source = build(tmp_path / "app.sqlite", DDL, {
        "kinds": kinds_rows(),
        "select": [(1, "a", "q"), (2, None, "r")],
        "child": [(1, 1, "Hello"), (2, 100, None)],
    })
    import sqlite3
    conn = sqlite3.connect(source)
    conn.execute("UPDATE sqlite_sequence SET seq = 500 WHERE name = 'kinds'")
    conn.commit()
    conn.close()
    return run.migrate(source, pg_url), pg_url


def test_types_are_exact(migrated):
    _, url = migrated
    assert column_types(url, "kinds") == {
        "id": ("bigint", True), "big": ("bigint", True), "amount": ("double precision", False),
        "price": ("numeric(10,2)", False), "label": ("text", False), "data": ("bytea", False),
        "flag": ("boolean", False), "happened": ("timestamp without time zone", False),
        "born": ("date", False), "untyped": ("bigint", False)}


def test_every_value_arrives_unchanged(migrated):
    _, url = migrated
    stored = fetch(url, "SELECT * FROM kinds ORDER BY id")
    expected = kinds_rows()
    assert len(stored) == len(expected)
    for got, want in zip(stored, expected, strict=True):
        assert got[0:2] == want[0:2]
        assert (got[2] is None and want[2] is None) or (got[2] == want[2] and math.copysign(1, got[2]) == (
            math.copysign(1, want[2]) if want[2] != 0 else 1))  # SQLite itself keeps no negative zero
        assert got[4] == want[4]
        assert got[5] == want[5]
        assert got[6] == (None if want[6] is None else bool(want[6]))
        assert got[9] == want[9]
    assert [str(r[3]) for r in stored[:2]] == ["5.00", "19.99"]
    assert stored[0][7] == datetime.datetime(2024, 2, 29, 23, 59, 59)
    assert stored[1][7] == datetime.datetime(2024, 1, 5, 12, 34, 56, 500000)
    assert stored[2][7] == datetime.datetime(1999, 12, 31, 0, 0, 0, 1)
    assert stored[0][8] == datetime.date(2024, 2, 29)


def test_identity_continues_after_the_copied_maximum_and_autoincrement(migrated):
    _, url = migrated
    assert fetch(url, "INSERT INTO kinds (big) VALUES (1) RETURNING id") == [(501,)]  # sqlite_sequence said 500
    assert fetch(url, 'INSERT INTO "select" ("order") VALUES (\'z\') RETURNING "Mixed Case"') == [(3,)]
    assert fetch(url, "INSERT INTO child (kind_id) VALUES (1) RETURNING id") == [(3,)]


def test_constraints_and_defaults_are_carried_over(migrated):
    _, url = migrated
    constraints = dict(fetch(url, """SELECT conname, pg_get_constraintdef(oid) || CASE WHEN convalidated THEN ''
                                     ELSE ' (not validated)' END FROM pg_constraint
                                     WHERE conrelid IN ('kinds'::regclass, '"select"'::regclass, 'child'::regclass)"""))
    assert constraints["child_kind_id_fkey"] == "FOREIGN KEY (kind_id) REFERENCES kinds(id) ON DELETE CASCADE"
    assert constraints["select_order_key"] == 'UNIQUE ("order")'
    assert any(d.startswith("CHECK") and "forbidden" in d for d in constraints.values())
    indexes = dict(fetch(url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"))
    assert "child_kind" in indexes and "kinds_label_partial" in indexes
    assert "WHERE (big > 0)" in indexes["kinds_label_partial"]
    defaults = dict(fetch(url, """SELECT column_name, column_default FROM information_schema.columns
                                  WHERE table_name IN ('kinds', 'select')"""))
    assert defaults["flag"] == "true" and defaults["big"] == "0" and defaults["we\"ird"] == "'x'::text"
    assert fetch(url, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'appmod_staging'") == [(0,)]


def test_what_does_not_translate_is_reported_by_name(migrated):
    report, _ = migrated
    assert "view kinds_view" in report.untranslated
    assert "trigger kinds_trigger" in report.untranslated
    assert any("COLLATE NOCASE" in w and "child" in w for w in report.warnings)


def test_report_counts_and_checksum(migrated):
    report, _ = migrated
    summary = report.summary()
    assert summary["tables"] == 3 and summary["rows"] == len(kinds_rows()) + 4
    assert len(summary["checksum"]) == 16 and summary["copied"] and not summary["unchanged"]


def test_untyped_mixed_and_invalid_dates_become_text_with_a_warning(tmp_path, pg_url):
    source = build(tmp_path / "app.sqlite", "CREATE TABLE t (id INTEGER PRIMARY KEY, any, at DATETIME);",
                   {"t": [(1, 5, "2024-01-01 00:00:00"), (2, "five", "yesterday")]})
    report = run.migrate(source, pg_url)
    assert column_types(pg_url, "t")["any"] == ("text", False)
    assert column_types(pg_url, "t")["at"] == ("text", False)
    assert fetch(pg_url, "SELECT \"any\", at FROM t ORDER BY id") == [("5", "2024-01-01 00:00:00"),
                                                                      ("five", "yesterday")]
    assert any("t.at" in w and "yesterday" in w for w in report.warnings)
    assert any("t.any" in w for w in report.warnings)


def test_a_table_without_integer_key_and_a_without_rowid_table(tmp_path, pg_url):
    source = build(tmp_path / "app.sqlite", """
        CREATE TABLE plain (name TEXT, score REAL);
        CREATE TABLE wr (a TEXT, b INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID;""",
                   {"plain": [("x", 1.5), ("x", 1.5), (None, None)], "wr": [("k", 2), ("k", 1)]})
    run.migrate(source, pg_url)
    assert sorted(fetch(pg_url, "SELECT * FROM plain"), key=repr) == sorted([("x", 1.5), ("x", 1.5), (None, None)],
                                                                            key=repr)
    assert fetch(pg_url, "SELECT * FROM wr ORDER BY b") == [("k", 1), ("k", 2)]
    assert "PRIMARY KEY (a, b)" in fetch(pg_url, "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                                                 "WHERE conrelid = 'wr'::regclass")[0][0]


def test_many_units_in_parallel_stay_exact(tmp_path, pg_url):
    rows = [(i * 3, i * 0.1, f"row\t{i}") for i in range(1, 30001)]
    source = build(tmp_path / "app.sqlite", "CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL, s TEXT);", {"t": rows})
    report = run.migrate(source, pg_url, run.Options(unit_rows=4000, workers=2))
    assert report.rows == 30000
    assert fetch(pg_url, "SELECT id, x, s FROM t ORDER BY id") == rows
