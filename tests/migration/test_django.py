"""The engine on real Django databases (tests/django): the Oscar shop, 94 tables filled through Oscar's own
models, and a project whose models use every Django field type. Convert mode is checked value by value
against the source (compare.py); existing mode, into the schema Django's own `migrate` made on PostgreSQL,
through Django itself: its dump of every model equal on both sides, its next insert working, Oscar's
materialized view as a fresh refresh makes it. Each test prints what it moved, so the suite's output is a
record."""

from __future__ import annotations

import pytest

from appmod_operator.errors import TargetNotEmpty
from appmod_operator.migration import run
from tests.django import project
from tests.migration import compare
from tests.migration.sqlite_db import fetch

pytestmark = pytest.mark.e2e

HIERARCHY = "catalogue_product_category_hierarchy"
# What Django's migrate writes that the shop's own rows differ from (fill_shop renamed site 1 and added a group
# and a site; the migrations were applied at other times); its content types and permissions are the same.
DIFFERENT_AFTER_MIGRATE = {"auth_group", "django_migrations", "django_site"}


def existing(source, url: str, **options) -> run.Report:
    return run.migrate(source, url, run.Options(schema="existing", **options))


def test_oscar_convert_moves_every_value_exactly(oscar_sqlite, pg_url):
    report = run.migrate(oscar_sqlite, pg_url)
    compared, problems = compare.differences(oscar_sqlite, pg_url)
    print(f"oscar convert: {len(report.tables)} tables, {report.rows:,} rows, {compared:,} values compared, "
          f"{len(report.renamed)} names shortened, {report.seconds:.2f}s")
    assert problems == [] and len(report.tables) == 94 and compared > 100_000
    renamed = {r.source: r.target for r in report.renamed if r.kind == "index"}
    assert len(renamed) == 16 and len(set(renamed.values())) == 16  # two of them share their first 63 bytes
    assert all(len(name.encode()) <= 63 for name in renamed.values())
    indexes = {name for (name,) in fetch(pg_url, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert set(renamed.values()) <= indexes
    assert fetch(pg_url, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated") == [(0,)]


def test_oscar_existing_mode_into_djangos_own_schema(oscar_sqlite, oscar_migrated):
    with pytest.raises(TargetNotEmpty, match="auth_group, django_migrations, django_site"):
        existing(oscar_sqlite, oscar_migrated)  # migrate's own rows: nothing is replaced unless asked
    report = existing(oscar_sqlite, oscar_migrated, replace=True)
    print(f"oscar existing: {len(report.tables)} tables, {report.rows:,} rows, replaced {report.replaced}, "
          f"refreshed {report.refreshed}, {report.seconds:.2f}s")
    assert set(report.replaced) >= DIFFERENT_AFTER_MIGRATE and report.refreshed == [HIERARCHY]
    assert project.dumpdata("oscar", oscar_migrated) == project.dumpdata("oscar", oscar_sqlite)
    view = fetch(oscar_migrated, f"SELECT * FROM {HIERARCHY} ORDER BY 1, 2")
    fetch(oscar_migrated, f"REFRESH MATERIALIZED VIEW {HIERARCHY}")
    assert len(view) == 3000 and view == fetch(oscar_migrated, f"SELECT * FROM {HIERARCHY} ORDER BY 1, 2")
    assert project.new_product(oscar_migrated) == 1001  # Django's next insert continues after the copy


def test_allfields_existing_mode_is_independent_of_the_servers_time_zone(allfields_sqlite, allfields_migrated):
    database = allfields_migrated.rsplit("/", 1)[1]
    fetch(allfields_migrated, f"ALTER DATABASE \"{database}\" SET TimeZone TO 'Pacific/Chatham'")
    report = existing(allfields_sqlite, allfields_migrated, replace=True)
    print(f"allfields existing: {report.rows:,} rows in {len(report.tables)} tables, {report.seconds:.2f}s")
    assert project.dumpdata("allfields", allfields_migrated) == project.dumpdata("allfields", allfields_sqlite)
    added = project.add_rows("allfields", allfields_migrated)
    assert added["allfields.everything"] == 2**40 + 1 and added["allfields.parent"] == 6


def test_allfields_convert_moves_every_value_exactly(allfields_sqlite, pg_url):
    report = run.migrate(allfields_sqlite, pg_url)
    compared, problems = compare.differences(allfields_sqlite, pg_url)
    print(f"allfields convert: {report.rows:,} rows, {compared:,} values compared, warnings {report.warnings}, "
          f"not carried over {report.untranslated}")
    assert problems == []
    types = dict(fetch(pg_url, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                               "WHERE attrelid = 'allfields_everything'::regclass AND attnum > 0"))
    assert (types["clock"], types["uuid"], types["ip"], types["char"]) == (
        "time without time zone", "character varying(32)", "character varying(39)", "character varying(100)")
    assert any("generated column" in u and "allfields_computed" in u for u in report.untranslated)
