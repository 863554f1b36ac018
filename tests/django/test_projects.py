"""Tests of tests/django's projects and helpers (project.py): that the Oscar shop and the allfields project
build, fill the same rows every time, dump comparably, and migrate on PostgreSQL to the schema the migration
tests compare against. The migration tests rely on all of this; here it is checked on its own."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3

import psycopg
import pytest

from tests.django import database, project

pytestmark = pytest.mark.e2e

OSCAR_TABLES = 94  # django-oscar 4.2.1 with the apps its guide lists, on Django 5.2 (sqlite_sequence aside)
# Rows fill_shop makes in some key tables (and its total): fixed by its seed and sizes.
OSCAR_ROWS = {
    "catalogue_category": 430, "catalogue_product": 1000, "catalogue_productcategory": 750,
    "catalogue_productattributevalue": 4052, "catalogue_productattributevalue_value_multi_option": 800,
    "partner_stockrecord": 990, "auth_user": 120, "basket_line": 500, "order_order": 250, "order_line": 623,
    "reviews_productreview": 400, "voucher_voucher": 25, "offer_conditionaloffer": 7,
}
OSCAR_TOTAL_ROWS = 17954
# What Django's migrate itself writes into an empty Oscar database, on SQLite and PostgreSQL alike (the
# group is Oscar's: a data migration of its dashboard). Every other table is empty after migrate.
MIGRATE_FILLS = {
    "auth_group": 1, "auth_permission": 357, "django_content_type": 89, "django_migrations": 159, "django_site": 1,
}
HIERARCHY_VIEW = "catalogue_product_category_hierarchy"
# Oscar's view, as its migration 0030 defines it: a (product, category) row per category a product is in, and
# per ancestor of each. The same query run on SQLite says how many rows the view holds once refreshed.
HIERARCHY_ROWS_SQL = """
    SELECT count(*) FROM (SELECT DISTINCT p.id, parent.id FROM catalogue_productcategory pc
    JOIN catalogue_category child ON pc.category_id = child.id
    JOIN catalogue_category parent ON child.path LIKE parent.path || '%'
    JOIN catalogue_product p ON p.id = pc.product_id)"""

ALLFIELDS_TYPES = {  # Django's model field classes, by name
    "AutoField", "BigAutoField", "SmallAutoField", "BigIntegerField", "BinaryField", "BooleanField", "CharField",
    "DateField", "DateTimeField", "DecimalField", "DurationField", "EmailField", "FileField", "FilePathField",
    "FloatField", "GenericIPAddressField", "ImageField", "IntegerField", "JSONField", "PositiveBigIntegerField",
    "PositiveIntegerField", "PositiveSmallIntegerField", "SlugField", "SmallIntegerField", "TextField",
    "TimeField", "URLField", "UUIDField", "ForeignKey", "OneToOneField", "ManyToManyField", "GeneratedField",
}
ALLFIELDS_PG_TYPES = {
    "id": "bigint", "big": "bigint", "binary": "bytea", "flag": "boolean", "maybe": "boolean",
    "char": "character varying(100)", "char_null": "character varying(10)", "day": "date",
    "moment": "timestamp with time zone", "money": "numeric(12,2)", "ratio": "numeric(5,4)",
    "wide": "numeric(30,10)", "whole": "numeric(15,0)", "duration": "interval", "email": "character varying(254)",
    "upload": "character varying(100)", "picture": "character varying(100)", "path": "character varying(100)",
    "real": "double precision", "ip": "inet", "ipv4": "inet", "integer": "integer", "data": "jsonb",
    "positive_big": "bigint", "positive": "integer", "positive_small": "smallint", "slug": "character varying(50)",
    "small": "smallint", "text": "text", "clock": "time without time zone", "url": "character varying(200)",
    "uuid": "uuid", "status": "character varying(10)", "parent_id": "integer",
}


def fetch(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn, conn.cursor() as cur:  # committed and closed at exit
        cur.execute(sql, params)
        return cur.fetchall()


def sqlite_rows(path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def oscar_sqlite_again(tmp_path_factory):
    return project.build_sqlite("oscar", tmp_path_factory.mktemp("oscar-again") / "db.sqlite")


@pytest.fixture(scope="module")
def oscar_dump(oscar_sqlite):
    return project.dumpdata("oscar", oscar_sqlite)


def test_oscar_build_has_every_table_filled(oscar_sqlite):
    counts = project.row_counts(oscar_sqlite)
    assert len(counts) == OSCAR_TABLES
    assert {table: counts[table] for table in OSCAR_ROWS} == OSCAR_ROWS
    assert sum(counts.values()) == OSCAR_TOTAL_ROWS
    # The source the migration tests copy leaves no table out: an empty table would prove nothing about it.
    assert [table for table, n in counts.items() if n == 0] == []


def test_oscar_hierarchy_view_would_hold_thousands_of_rows(oscar_sqlite):
    # Four levels per product-category link, and links under two roots share no ancestors.
    assert sqlite_rows(oscar_sqlite, HIERARCHY_ROWS_SQL) == [(3000,)]


def test_oscar_builds_are_the_same(oscar_sqlite, oscar_dump, oscar_sqlite_again):
    assert len(oscar_dump) > 16000
    assert oscar_dump == project.dumpdata("oscar", oscar_sqlite_again)
    # The files too, table by table and row by row (ids of many-to-many rows included), but for the time each
    # migration was applied.
    for table in project.row_counts(oscar_sqlite):
        if table != "django_migrations":
            sql = f'SELECT * FROM "{table}" ORDER BY 1'
            assert sqlite_rows(oscar_sqlite, sql) == sqlite_rows(oscar_sqlite_again, sql), table


def test_oscar_dump_has_full_precision_and_sorted_m2m(oscar_dump):
    dump = oscar_dump
    assert [(r["model"], r["pk"]) for r in dump] == sorted((r["model"], r["pk"]) for r in dump)
    assert "catalogue.productcategoryhierarchy" not in {r["model"] for r in dump}
    created = [r["fields"]["date_created"] for r in dump if r["model"] == "catalogue.product"]
    # fill_shop's clock ticks 7.25 s: microseconds (six digits, which dumpdata's own JSON would cut to three),
    # or none at all on the whole seconds; UTC throughout.
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", value) for value in created)
    assert {value[19:26] for value in created} == {".250000", ".500000", ".750000", "+00:00"}
    shipping = next(r for r in dump if r["model"] == "shipping.orderanditemcharges" and r["pk"] == 1)
    assert shipping["fields"]["countries"] == sorted(shipping["fields"]["countries"])


def test_new_product_continues_after_the_copied_rows(oscar_sqlite, tmp_path):
    db = shutil.copy(oscar_sqlite, tmp_path / "db.sqlite")
    added = project.add_rows("oscar", db)
    assert added == {"catalogue.product": 1001, "catalogue.productattributevalue": 4053,
                     "catalogue.productcategory": 751, "partner.stockrecord": 991}
    assert project.new_product(db) == 1002
    assert project.row_counts(db)["catalogue_product"] == 1002


def test_migrate_fills_only_djangos_own_tables(tmp_path):
    db = tmp_path / "empty.sqlite"
    project.migrate("oscar", db)
    counts = project.row_counts(db)
    assert len(counts) == OSCAR_TABLES
    assert {table: n for table, n in counts.items() if n} == MIGRATE_FILLS


def test_oscar_migrate_on_postgresql(oscar_migrated, oscar_sqlite):
    pg_url = oscar_migrated
    counts = project.row_counts(pg_url)
    assert set(counts) == set(project.row_counts(oscar_sqlite))  # the same tables as the SQLite shop
    assert {table: n for table, n in counts.items() if n} == MIGRATE_FILLS  # and nothing filled but Django's
    assert fetch(pg_url, "SELECT matviewname, ispopulated FROM pg_matviews") == [(HIERARCHY_VIEW, True)]
    assert fetch(pg_url, "SELECT count(*) FROM pg_views WHERE schemaname = 'public'") == [(0,)]
    assert fetch(pg_url, f"SELECT count(*) FROM {HIERARCHY_VIEW}") == [(0,)]
    # Oscar refreshes the view CONCURRENTLY, which needs this unique index.
    assert fetch(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = %s", (HIERARCHY_VIEW,)) == [
        ("catalogue_product_category_hierarchy_idx",)]


def allfields_models(db) -> dict[str, dict[str, str]]:
    """{model label: {field name: field class name}} of the forward fields, asked of Django in the project's
    own process (this one has no settings)."""
    code = ("import json; from django.apps import apps; print(json.dumps({m._meta.label_lower: "
            "{f.name: type(f).__name__ for f in [*m._meta.fields, *m._meta.many_to_many]} "
            "for m in apps.get_app_config('allfields').get_models()}))")
    return json.loads(project.manage("allfields", db, "shell", "-v", "0", "-c", code))


def test_allfields_dump_has_every_field(allfields_sqlite):
    models = allfields_models(allfields_sqlite)
    assert {t for fields in models.values() for t in fields.values()} >= ALLFIELDS_TYPES
    dump = project.dumpdata("allfields", allfields_sqlite)
    for label, fields in models.items():
        rows = [r["fields"] for r in dump if r["model"] == label]
        assert rows, label
        pk = {"allfields.detail": "everything"}.get(label, "id")
        for row in rows:
            assert set(row) == set(fields) - {pk}, label
    everything = [r["fields"] for r in dump if r["model"] == "allfields.everything"]
    for name in models["allfields.everything"]:
        if name != "id":
            assert any(row[name] not in (None, "", []) for row in everything), f"{name} never has a value"
    assert any(row["data"] is None for row in everything) and any(row["real"] is None for row in everything)
    first = everything[0]
    assert first["moment"] == "2024-03-01T09:30:15.123456+00:00"
    assert first["clock"] == "12:34:56.000001" and first["real"] == "0.1" and first["email"].endswith(".test")
    assert [r["fields"]["area"] for r in dump if r["model"] == "allfields.computed"] == [12, 1000000, 0, -10]


def test_allfields_builds_are_the_same(allfields_sqlite, tmp_path):
    again = project.build_sqlite("allfields", tmp_path / "again.sqlite")
    assert project.dumpdata("allfields", again) == project.dumpdata("allfields", allfields_sqlite)


def test_allfields_new_rows_continue_every_sequence(allfields_sqlite, tmp_path):
    db = shutil.copy(allfields_sqlite, tmp_path / "db.sqlite")
    added = project.add_rows("allfields", db)
    # SQLite's AUTOINCREMENT continues past the highest pk it ever gave (deleted rows and hand-set pks too).
    assert {k: v for k, v in added.items() if k != "allfields.token"} == {
        "allfields.parent": 6, "allfields.tag": 30001, "allfields.everything": 2**40 + 1,
        "allfields.detail": 2**40 + 1, "allfields.computed": 5}


def test_allfields_migrate_on_postgresql(allfields_migrated):
    pg_url = allfields_migrated
    types = dict(fetch(pg_url, """SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
        WHERE a.attrelid = 'allfields_everything'::regclass AND a.attnum > 0 AND NOT a.attisdropped"""))
    assert types == ALLFIELDS_PG_TYPES
    generated = fetch(pg_url, """SELECT attname FROM pg_attribute WHERE attrelid = 'allfields_computed'::regclass
        AND attgenerated = 's' ORDER BY attname""")
    assert generated == [("area",), ("lower_name",)]
    assert project.row_counts(pg_url) == {"allfields_computed": 0, "allfields_detail": 0, "allfields_everything": 0,
                                          "allfields_everything_tags": 0, "allfields_parent": 0, "allfields_tag": 0,
                                          "allfields_token": 0, "django_migrations": 1}


def test_database_setting_parses_urls_and_paths(tmp_path):
    settings = database.parse("postgresql://us%40er:p%3Ass@db.example.test:6543/shop?sslmode=require")
    assert settings == {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "USER": "us@er",
                        "PASSWORD": "p:ss", "HOST": "db.example.test", "PORT": "6543",
                        "OPTIONS": {"sslmode": "require"}}
    assert database.parse(str(tmp_path / "x.sqlite"))["NAME"] == str(tmp_path / "x.sqlite")
    assert database.parse("relative.sqlite")["ENGINE"] == "django.db.backends.sqlite3"
