"""Session fixtures on the Django test projects, shared by the migration tests (tests/migration) and the
operator's data step tests (tests/aws), registered in tests/conftest.py: each project's SQLite database
built once, and its schema made once by Django's `migrate` on PostgreSQL, then copied per test as a
template (a `migrate` of Oscar takes half a minute; a copy, a fraction of a second)."""

from __future__ import annotations

import pytest

from tests.django import project


def _sqlite(name: str):
    @pytest.fixture(scope="session")
    def fixture(tmp_path_factory):
        return project.build_sqlite(name, tmp_path_factory.mktemp(name) / "db.sqlite")
    return fixture


def _schema(name: str):
    @pytest.fixture(scope="session")
    def fixture(postgres):
        url = postgres.create_database()
        project.migrate(name, url)
        yield url
        postgres.drop_database(url)
    return fixture


def _migrated(schema_fixture: str):
    @pytest.fixture
    def fixture(postgres, request):
        """A new database holding what Django's migrate made (tables, its own rows, Oscar's view)."""
        url = postgres.create_database(template=request.getfixturevalue(schema_fixture))
        yield url
        postgres.drop_database(url)
    return fixture


oscar_sqlite = _sqlite("oscar")
allfields_sqlite = _sqlite("allfields")
oscar_schema = _schema("oscar")
allfields_schema = _schema("allfields")
oscar_migrated = _migrated("oscar_schema")
allfields_migrated = _migrated("allfields_schema")
