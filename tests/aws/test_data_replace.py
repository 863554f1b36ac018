"""The data step over tables that already hold rows, on real parts (moto, the test PostgreSQL as the
cluster's writer): before the app's first run the source's rows replace what the app's own schema step
wrote (AppCommand), in one transaction; after it, only when the user asks with the annotation
appmod.io/remigrate and spec.migration.data.allowReplace."""

from __future__ import annotations

import psycopg
import pytest

from appmod_operator.reconcile import engine, jobs
from tests.aws.test_data import PASSES, first_pass, ready, resource
from tests.aws.test_database import conditions
from tests.migration.sqlite_db import fetch, products

APP_COMMAND = {"schema": {"strategy": "AppCommand", "command": ["python", "manage.py", "migrate"]},
               "data": {"enabled": True}}


def passes(made: dict, done, limit: int = PASSES) -> list:
    """Passes as kopf makes them until `done(status)`; every Result (status and events)."""
    results = []
    for _ in range(limit):
        results.append(engine.reconcile(made))
        made["status"] = results[-1].status
        if done(made["status"]):
            return results
        jobs.wait(60)
    raise AssertionError(f"not reached in {limit} passes: {conditions(made['status'])}")


def events(results: list) -> list[tuple[str, str]]:
    return [(e.reason, e.message) for r in results for e in r.events if e.reason == "TablesReplaced"]


@pytest.fixture
def seeded(postgres, boto, database_name, sqlite_file, pg_url):
    """An AppCommand resource whose schema step made the app's table and wrote a row into it, as Django's
    migrate writes content types (moto's task runs nothing, so the test does what the command would)."""
    made = resource(database_name, {"path": str(sqlite_file)}, APP_COMMAND)
    first_pass(made, postgres, boto, database_name)
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:  # committed and closed at exit
        cur.execute("CREATE TABLE product (id bigint PRIMARY KEY, title varchar(200) NOT NULL)")
        cur.execute("INSERT INTO product VALUES (1, 'written by the schema step')")
        cur.execute("ALTER TABLE product OWNER TO appmod")
    return made


def test_before_the_apps_first_run_the_sources_rows_replace_the_schema_steps(seeded, pg_url):
    results = passes(seeded, ready, 60)
    assert fetch(pg_url, "SELECT id, title FROM product ORDER BY id") == [(1, "Oscar"), (2, "Sandbox"), (3, "Django")]
    assert seeded["status"]["migration"]["data"]["replaced"] == ["product"]
    assert events(results) == [("TablesReplaced", "the source's rows replaced the rows of table(s) product")]
    assert not events(passes(seeded, ready))  # said once, not at every pass


def test_after_the_app_has_run_rows_are_replaced_only_when_asked_and_allowed(seeded, sqlite_file, pg_url):
    passes(seeded, ready, 60)
    fetch(pg_url, "INSERT INTO product VALUES (10, 'written by the app')")
    sqlite_file.unlink()
    products(sqlite_file, "New", "Catalogue")  # a new version of the source, other rows
    seeded["metadata"]["generation"] = 2
    passes(seeded, lambda s: s["phase"] == "Failed")
    stalled = conditions(seeded["status"])
    assert stalled["DataMigrated"] == ("False", "TargetHoldsOtherData")
    message = next(c["message"] for c in seeded["status"]["conditions"] if c["type"] == "DataMigrated")
    assert "allowReplace" in message and "appmod.io/remigrate" in message

    seeded["metadata"]["annotations"] = {"appmod.io/remigrate": "1"}
    seeded["metadata"]["generation"] = 3
    passes(seeded, lambda s: conditions(s)["DataMigrated"][1] == "ReplaceNotAllowed")
    assert conditions(seeded["status"])["Stalled"] == ("True", "ReplaceNotAllowed")
    assert fetch(pg_url, "SELECT count(*) FROM product") == [(4,)]  # nothing replaced

    seeded["spec"]["migration"]["data"]["allowReplace"] = True
    seeded["metadata"]["generation"] = 4
    results = passes(seeded, ready)
    assert fetch(pg_url, "SELECT id, title FROM product ORDER BY id") == [(1, "New"), (2, "Catalogue")]
    data = seeded["status"]["migration"]["data"]
    assert (data["replaced"], data["remigrate"]) == (["product"], "1")
    assert len(events(results)) == 1

    job = jobs.find_job(seeded["metadata"]["uid"])
    fetch(pg_url, "INSERT INTO product VALUES (20, 'written by the app again')")
    passes(seeded, ready)  # the same annotation value: honoured once, not again
    assert jobs.find_job(seeded["metadata"]["uid"]) is job
    assert fetch(pg_url, "SELECT count(*) FROM product") == [(3,)]
