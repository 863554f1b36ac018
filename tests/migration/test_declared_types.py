"""--schema convert against a real PostgreSQL: every declared type name of docs/migration.md's table, the
values-decide fallbacks (varchar length, smallint range, TINYINT(1), JSON, UUID, TIME), and identifiers
longer than PostgreSQL's 63 bytes."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest

from appmod_operator.errors import MigrationError
from appmod_operator.migration import run
from appmod_operator.migration.identifiers import shorten
from tests.migration.sqlite_db import build, column_types, fetch

pytestmark = pytest.mark.e2e

# (declared type, a value as SQLite stores it, the PostgreSQL type, the value read back by psycopg; for json
# and uuid, which psycopg parses, the text PostgreSQL writes)
UUID_TEXT = "0f8fad5b-d9cb-469f-a165-70867728950e"
MAPPING = [
    ("bool", 1, "boolean", True),
    ("BOOLEAN", 0, "boolean", False),
    ("datetime", "2024-01-15 09:30:00.123400", "timestamp without time zone",
     datetime.datetime(2024, 1, 15, 9, 30, 0, 123400)),
    ("TIMESTAMP", "2024-01-15T09:30:00", "timestamp without time zone", datetime.datetime(2024, 1, 15, 9, 30)),
    ("date", "2024-02-29", "date", datetime.date(2024, 2, 29)),
    ("time", "09:35:56.988655", "time without time zone", datetime.time(9, 35, 56, 988655)),
    ("TIME", "23:59:59", "time without time zone", datetime.time(23, 59, 59)),
    ("decimal", 19.99, "numeric", Decimal("19.99")),
    ("DECIMAL(10, 2)", 5, "numeric(10,2)", Decimal("5.00")),
    ("NUMERIC(12,4)", "12.5", "numeric(12,4)", Decimal("12.5000")),  # a text-affinity-free number as text
    ("varchar(255)", "Oscar", "character varying(255)", "Oscar"),
    ("VARCHAR(5)", "héllo", "character varying(5)", "héllo"),  # five characters, six bytes
    ("char(32)", "0f8fad5bd9cb469fa16570867728950e", "character varying(32)", "0f8fad5bd9cb469fa16570867728950e"),
    ("NVARCHAR(20)", "日本", "character varying(20)", "日本"),
    ("NVARCHAR", "any length", "text", "any length"),
    ("integer unsigned", 4294967295, "bigint", 4294967295),
    ("integer", -(2**63), "bigint", -(2**63)),
    ("bigint", 2**63 - 1, "bigint", 2**63 - 1),
    ("smallint", -32768, "smallint", -32768),
    ("smallint unsigned", 32767, "smallint", 32767),
    ("real", 0.1, "double precision", 0.1),
    ("DOUBLE", 1e308, "double precision", 1e308),
    ("DOUBLE PRECISION", -2.5, "double precision", -2.5),
    ("FLOAT", 5e-324, "double precision", 5e-324),
    ("text", "tab\there", "text", "tab\there"),
    ("BLOB", b"\x00\xff\\", "bytea", b"\x00\xff\\"),
    ("JSON", '{"b": 1, "a": [1, 2.50], "b": 2}', "json", '{"b": 1, "a": [1, 2.50], "b": 2}'),  # byte for byte
    ("UUID", UUID_TEXT.upper(), "uuid", UUID_TEXT),  # in PostgreSQL's form
    ("UUID", UUID_TEXT.replace("-", ""), "uuid", UUID_TEXT),  # in PostgreSQL's form
    ("TINYINT(1)", 1, "boolean", True),
]


@pytest.fixture(scope="module")
def mapped(tmp_path_factory, postgres):
    columns = ", ".join(f'"c{i}" {declared}' for i, (declared, *_) in enumerate(MAPPING))
    rows = [tuple([1] + [value for _, value, *_ in MAPPING]), tuple([2] + [None] * len(MAPPING))]
    source = build(tmp_path_factory.mktemp("types") / "app.sqlite",
                   f"CREATE TABLE t (id INTEGER PRIMARY KEY, {columns});", {"t": rows})
    url = postgres.create_database()
    report = run.migrate(source, url)
    yield report, url
    postgres.drop_database(url)


@pytest.mark.parametrize("i", range(len(MAPPING)), ids=[f"{d}={v!r}"[:40] for d, v, *_ in MAPPING])
def test_each_declared_type_becomes_its_postgresql_type_with_its_value(mapped, i):
    report, url = mapped
    _, _, pg_type, expected = MAPPING[i]
    assert column_types(url, "t")[f"c{i}"] == (pg_type, False)
    stored = fetch(url, f'SELECT "c{i}", "c{i}"::text FROM t ORDER BY id')
    value = stored[0][0]
    if pg_type in ("json", "uuid"):  # psycopg parses json (the text itself must be unchanged) and uuid
        value = stored[0][1]
    assert value == expected and type(value) is type(expected)
    assert stored[1] == (None, None)
    assert not [w for w in report.warnings if f"t.c{i} " in w]


def test_json_keeps_its_text_and_jsonb_is_an_option(tmp_path, pg_url):
    text = '{"z": 1, "a": {"k": [true, null]}, "z": 2}'
    source = build(tmp_path / "j.sqlite", "CREATE TABLE j (id INTEGER PRIMARY KEY, doc JSON);",
                   {"j": [(1, text), (2, "[]")]})
    run.migrate(source, pg_url, run.Options(json_type="jsonb"))
    assert column_types(pg_url, "j")["doc"] == ("jsonb", False)
    assert fetch(pg_url, "SELECT doc FROM j ORDER BY id") == [({"a": {"k": [True, None]}, "z": 2},), ([],)]
    assert json.loads(text) == {"z": 2, "a": {"k": [True, None]}}  # what jsonb keeps: the last duplicate


@pytest.mark.parametrize(("declared", "values", "becomes", "why"), [
    ("varchar(3)", ["abc", "abcd"], "text", "at most 3 characters"),
    ("smallint", [1, 40000], "bigint", "between -32768 and 32767"),
    ("TINYINT(1)", [0, 1, 2], "bigint", "0 or 1"),
    ("JSON", ['{"a": 1}', "{not json"], "text", "valid JSON"),
    ("UUID", [UUID_TEXT, "not-a-uuid"], "text", "a UUID"),
    ("time", ["09:00:00", "9 o'clock"], "text", "a time"),
    ("time", ["23:59:59", "24:00:00"], "text", "a time"),
    # Not on the calendar: SQLite's own date() gives these back as written.
    ("datetime", ["2024-02-29 10:00:00", "2024-02-30 10:00:00"], "text", "a timestamp"),
    ("date", ["2024-02-28", "2023-02-29"], "text", "a date"),
    ("date", ["0001-01-01", "0000-12-31"], "text", "a date"),
])
def test_a_value_that_does_not_fit_the_closer_type_keeps_a_wider_one_with_a_warning(
        tmp_path, pg_url, declared, values, becomes, why):
    source = build(tmp_path / "w.sqlite", f"CREATE TABLE w (id INTEGER PRIMARY KEY, v {declared});",
                   {"w": list(enumerate(values, 1))})
    report = run.migrate(source, pg_url)
    assert column_types(pg_url, "w")["v"][0] == becomes
    assert [str(v) for (v,) in fetch(pg_url, "SELECT v FROM w ORDER BY id")] == [str(v) for v in values]
    warning = next(w for w in report.warnings if "w.v " in w)
    assert repr(values[-1]) in warning and why in warning and f"rowid {len(values)}" in warning


def test_a_value_its_column_cannot_hold_stops_the_table_naming_it(tmp_path, pg_url):
    source = build(tmp_path / "n.sqlite", "CREATE TABLE n (id INTEGER PRIMARY KEY, price DECIMAL(6,2));",
                   {"n": [(1, 1.5), (2, "twelve")]})
    with pytest.raises(MigrationError, match=r"table 'n', column 'price', rowid 2: value 'twelve' is not a number"):
        run.migrate(source, pg_url)
    assert fetch(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'n'") == [(0,)]


LONG = "catalogue_productattributevalue_value_multi_option_productattribute"  # 68 bytes


def test_names_longer_than_63_bytes_are_shortened_without_colliding_and_reported(tmp_path, pg_url):
    table, column = LONG + "_table", "a_column_name_that_is_much_longer_than_postgresql_keeps_" + "é" * 8
    first, second = LONG + "_id_idx_first", LONG + "_id_idx_second"  # the same first 63 bytes
    source = build(tmp_path / "long.sqlite", f"""
        CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, "{column}" TEXT, other TEXT, UNIQUE ("{column}", other));
        CREATE INDEX "{first}" ON "{table}" ("{column}");
        CREATE INDEX "{second}" ON "{table}" (other);
        CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES "{table}" (id));""",
                   {table: [(1, "x", "y")], "child": [(1, 1)]})
    report = run.migrate(source, pg_url)
    pg_table, pg_column = shorten(table), shorten(column)
    assert len(pg_table.encode()) == 63 and len(pg_column.encode()) <= 63 and pg_table.startswith(LONG[:50])
    assert fetch(pg_url, f'SELECT id, "{pg_column}", other FROM "{pg_table}"') == [(1, "x", "y")]
    indexes = {n for (n,) in fetch(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = %s", (pg_table,))}
    assert {shorten(first), shorten(second)} <= indexes and shorten(first) != shorten(second)
    assert fetch(pg_url, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated "
                         "AND conrelid = 'child'::regclass") == [(1,)]
    renamed = {(r["kind"], r["from"], r["to"]) for r in report.summary()["renamed"]}
    assert {("table", table, pg_table), ("column", f"{table}.{column}", f"{pg_table}.{pg_column}"),
            ("index", first, shorten(first)), ("index", second, shorten(second))} <= renamed
    assert shorten(table) == pg_table  # the same on every run


def test_names_that_would_still_collide_are_refused_before_anything_is_written(tmp_path, pg_url):
    long_name = LONG + "_x"
    source = build(tmp_path / "clash.sqlite", f"""
        CREATE TABLE "{long_name}" (id INTEGER PRIMARY KEY);
        CREATE TABLE "{shorten(long_name)}" (id INTEGER PRIMARY KEY);""")
    with pytest.raises(MigrationError, match="would both be named") as refused:
        run.migrate(source, pg_url)
    assert long_name in str(refused.value) and shorten(long_name) in str(refused.value)
    assert fetch(pg_url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'appmod_staging'") == [(0,)]
