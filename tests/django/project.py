"""Drives the Django test projects (tests/django/oscar_site, tests/django/allfields) for the migration tests and
tests/django/test_projects.py: build a SQLite source, migrate a database, dump what it holds, add a row.

Every call is a subprocess (`python -m django ...`): Django's settings and app registry are per process and
the database is a setting, so one process cannot speak to two databases in turn, nor to the tests' own.
`database` is a SQLite file's path or a postgresql:// URL, passed in APPMOD_DJANGO_DATABASE
(tests/django/database.py turns it into DATABASES).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.django import database as database_setting

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Project:
    settings: str
    fill: str  # the command that fills a migrated, empty database
    add: str  # the command that adds one new row per model it names, printing {label: pk} as JSON


PROJECTS = {
    "oscar": Project("tests.django.oscar_site.settings", "fill_shop", "new_product"),
    "allfields": Project("tests.django.allfields.settings", "fill_allfields", "new_rows"),
}


class DjangoCommandFailed(RuntimeError):
    pass


def manage(project: str, database: str | Path, *args: str, timeout: float = 300) -> str:
    """Runs `django-admin <args>` for `project` on `database`; its stdout. Fails with the command's stderr."""
    settings = PROJECTS[project].settings
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        database_setting.VARIABLE: str(database),
        # The settings modules are tests.django.*, importable from the repository's root only.
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    result = subprocess.run([sys.executable, "-m", "django", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode:
        raise DjangoCommandFailed(f"{project}: django-admin {' '.join(args)} failed ({result.returncode}):\n"
                                  f"{result.stderr.strip()}")
    return result.stdout


def migrate(project: str, database: str | Path) -> None:
    """Django's `migrate`: every app's migrations applied to `database` (made if a SQLite file is absent)."""
    manage(project, database, "migrate", "--no-input", "-v", "0")


def fill(project: str, database: str | Path) -> None:
    """The project's fill command (fill_shop, fill_allfields) on a migrated, empty `database`."""
    manage(project, database, PROJECTS[project].fill)


def build_sqlite(project: str, path: str | Path) -> Path:
    """A new SQLite file at `path`, migrated and filled: the legacy app's database, as it would ship."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; build_sqlite makes a new database")
    migrate(project, path)
    fill(project, path)
    return path


def dumpdata(project: str, database: str | Path) -> list[dict]:
    """Every row of every model (dumpdata's, less Oscar's view-backed ProductCategoryHierarchy; see
    tests/django/dump), as [{"model", "pk", "fields"}] sorted by model and pk: equal for equal data.

    Floats stay the text they were written as (Python's shortest round-trip repr), so -0.0 and 0.0 differ
    here as they do in the database; datetimes and times are ISO text with microseconds."""
    return json.loads(manage(project, database, "canonical_dump"), parse_float=str)


def add_rows(project: str, database: str | Path) -> dict[str, int | str]:
    """Adds one new row through the project's models to each model its command names (for Oscar: a product
    with its category link, attribute value and stock record); {model label: new pk}. After a migration, this
    is the application's next insert: it fails, or collides, unless the sequences continue past the copy."""
    return json.loads(manage(project, database, PROJECTS[project].add))


def new_product(database: str | Path) -> int:
    """The pk of one new Oscar product made on `database` (see add_rows)."""
    return add_rows("oscar", database)["catalogue.product"]


def row_counts(database: str | Path) -> dict[str, int]:
    """{table: rows} for every table of `database` (SQLite's own sqlite_* tables and PostgreSQL's views left
    out), read with the database's driver, not Django: what a copy has to carry, table by table."""
    if database_setting.is_url(str(database)):
        import psycopg  # the project's dependency; imported here so SQLite-only callers need no driver

        with psycopg.connect(str(database)) as conn, conn.cursor() as cur:  # committed and closed at exit
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            names = [name for (name,) in cur.fetchall()]
            counts = {}
            for name in names:
                cur.execute(f'SELECT count(*) FROM "{name}"')
                counts[name] = cur.fetchone()[0]
        return dict(sorted(counts.items()))
    conn = sqlite3.connect(Path(database))
    try:
        names = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in sorted(names)}
    finally:
        conn.close()
