"""Existing mode against a real PostgreSQL, continued: `replace` in one transaction over the tables its
foreign keys tie together, materialized views refreshed after the load, values whose meaning would be a
guess refused, settings of the server that must not change the result, and long names as Django makes
them on PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from hashlib import md5

import pytest

from appmod_operator.errors import TargetNotEmpty, UnrepresentableValue, VerificationFailed
from tests.migration.test_existing import (
    CATEGORIES,
    LINES,
    PRODUCTS,
    SOURCE_DDL,
    TARGET_DDL,
    _one_table,
    count,
    make_source,
    migrate,
    pg,
    rows,
    statuses,
)

pytestmark = pytest.mark.e2e

# What the app's migrations wrote before the app ever ran: rows with ids the source's rows use too.
SEEDED = """
INSERT INTO catalogue_category (id, name, slug, is_public, created) VALUES (1, 'Seeded', 'seeded', true, now());
INSERT INTO catalogue_product (id, title, category_id) VALUES (100, 'Seeded product', 1);
INSERT INTO basket_line (id, quantity, product_id) VALUES (100, 1, 100);
"""


def test_replace_empties_the_tables_tied_by_foreign_keys_and_loads_them_in_one_transaction(shop, target):
    pg(target, SEEDED)
    report = migrate(shop, target, replace=True)
    assert statuses(report) == dict.fromkeys(("basket_line", "catalogue_category", "catalogue_product"), "copied")
    assert report.replaced == ["basket_line", "catalogue_category", "catalogue_product"]
    assert [r[0] for r in rows(target, "catalogue_category")] == [c[0] for c in CATEGORIES]
    assert [r[0] for r in rows(target, "catalogue_product")] == [p[0] for p in PRODUCTS]
    assert rows(target, "basket_line") == LINES
    assert report.summary()["replaced"] == report.replaced


def test_a_failed_replacement_leaves_the_target_as_it_was(tmp_path, target):
    pg(target, SEEDED)
    before = {t: rows(target, t) for t in ("catalogue_category", "catalogue_product", "basket_line")}
    bad = [*PRODUCTS[:3], (7, "Tab", "not a price", None, None, None, None, None, None)]
    with pytest.raises(UnrepresentableValue):
        migrate(make_source(tmp_path / "db.sqlite3", products=bad), target, replace=True)
    assert {t: rows(target, t) for t in before} == before


def test_a_table_only_the_target_has_that_would_lose_rows_stops_the_replacement(shop, target):
    pg(target, SEEDED + "CREATE TABLE review (id int PRIMARY KEY, product_id int REFERENCES catalogue_product (id));"
                        "INSERT INTO review VALUES (1, 100);")
    with pytest.raises(TargetNotEmpty, match="review refers to catalogue_product"):
        migrate(shop, target, replace=True)
    assert count(target, "review") == 1 and count(target, "catalogue_product") == 1


def test_an_empty_table_only_the_target_has_is_truncated_with_its_parents(shop, target):
    pg(target, SEEDED + "CREATE TABLE review (id int PRIMARY KEY, product_id int REFERENCES catalogue_product (id));")
    migrate(shop, target, replace=True)
    assert count(target, "catalogue_product") == len(PRODUCTS) and count(target, "review") == 0


MATERIALIZED = """
CREATE MATERIALIZED VIEW category_products AS
    SELECT c.id, count(p.id) AS products FROM catalogue_category c
    LEFT JOIN catalogue_product p ON p.category_id = c.id GROUP BY c.id;
CREATE VIEW public_products AS SELECT * FROM category_products WHERE products > 0;
CREATE MATERIALIZED VIEW busy_categories AS SELECT count(*) AS n FROM public_products;
"""


def test_materialized_views_on_the_loaded_tables_are_refreshed_in_dependency_order(shop, target):
    pg(target, MATERIALIZED)
    report = migrate(shop, target)
    assert report.refreshed == ["category_products", "busy_categories"]
    expected = pg(target, "SELECT c.id, count(p.id) FROM catalogue_category c LEFT JOIN catalogue_product p "
                          "ON p.category_id = c.id GROUP BY c.id ORDER BY 1")
    assert pg(target, "SELECT * FROM category_products ORDER BY 1") == expected
    assert pg(target, "SELECT n FROM busy_categories") == [(sum(1 for _, n in expected if n),)]


@pytest.mark.parametrize(("target_type", "value"), [
    ("date", 20240115),  # PostgreSQL would read '20240115' as a date: a guess
    ("timestamp with time zone", 1700000000),  # seconds since 1970? milliseconds?
    ("interval", 90),  # seconds or microseconds, in a column not declared as Django's integer
    ("uuid", b"\x0f\x8f\xad\x5b\xd9\xcb\x46\x9f\xa1\x65\x70\x86\x77\x28\x95\x0e"),  # which byte order?
])
def test_a_number_or_bytes_whose_meaning_would_be_a_guess_is_refused(tmp_path, target, target_type, value):
    source = _one_table(tmp_path, target, f"CREATE TABLE extra (id bigint PRIMARY KEY, v {target_type})",
                        'CREATE TABLE "extra" ("id" integer NOT NULL PRIMARY KEY, "v")', [(1, value)])
    with pytest.raises(UnrepresentableValue, match="would be a guess") as refused:
        migrate(source, target)
    assert (refused.value.table, refused.value.column, refused.value.rowid) == ("extra", "v", 1)


def test_the_servers_time_zone_and_styles_do_not_change_the_result(tmp_path, target):
    database = target.rsplit("/", 1)[1]
    pg(target, f"ALTER DATABASE \"{database}\" SET TimeZone TO 'America/New_York'; "
               f"ALTER DATABASE \"{database}\" SET DateStyle TO 'SQL, DMY'; "
               f"ALTER DATABASE \"{database}\" SET IntervalStyle TO 'sql_standard'")
    source = _one_table(tmp_path, target, "CREATE TABLE extra (id bigint PRIMARY KEY, at timestamptz, d date, "
                                          "t time, span interval)",
                        'CREATE TABLE "extra" ("id" integer NOT NULL PRIMARY KEY, "at" datetime, "d" date, '
                        '"t" time, "span" text)',
                        [(1, "2024-03-10 06:30:00.5", "2024-01-02", "23:59:59.999999", "1 day 02:00:00")])
    migrate(source, target)
    assert pg(target, "SET TimeZone TO 'UTC'; SET IntervalStyle TO postgres; "
                      "SELECT at, d::text, t::text, span FROM extra") == [
        (datetime(2024, 3, 10, 6, 30, 0, 500000, tzinfo=UTC), "2024-01-02", "23:59:59.999999",
         timedelta(days=1, hours=2))]


def test_a_long_table_name_finds_the_one_djangos_migrations_made(tmp_path, target):
    long_name = "catalogue_productattributevalue_value_multi_option_productattribute"
    django_name = long_name[:59] + md5(long_name.encode()).hexdigest()[:4]  # Django's truncate_name on PostgreSQL
    source = _one_table(tmp_path, target, f'CREATE TABLE "{django_name}" (id bigint PRIMARY KEY, v text)',
                        'CREATE TABLE "extra" ("id" integer NOT NULL PRIMARY KEY, "v" text)', [(1, "x")])
    with sqlite3.connect(source) as conn:
        conn.execute(f'ALTER TABLE "extra" RENAME TO "{long_name}"')
    report = migrate(source, target)
    assert statuses(report)[long_name] == "copied"
    assert pg(target, f'SELECT * FROM "{django_name}"') == [(1, "x")]


def test_verification_compares_what_the_stage_received(shop, target, monkeypatch):
    """The checksum is checked on the staged text before any cast: a changed byte on the way fails it."""
    from types import SimpleNamespace

    from appmod_operator.migration import verify
    real = verify.stored

    def changed_on_the_way(*args, **kwargs):
        digest = real(*args, **kwargs)
        return SimpleNamespace(rows=digest.rows, checksum=digest.checksum + 1)
    monkeypatch.setattr(verify, "stored", changed_on_the_way)
    with pytest.raises(VerificationFailed):
        migrate(shop, target)
    assert count(target, "catalogue_category") == 0


@pytest.fixture
def shop(tmp_path):
    return make_source(tmp_path / "db.sqlite3", ddl=SOURCE_DDL)


@pytest.fixture
def target(pg_url):
    pg(pg_url, TARGET_DDL)
    return pg_url
