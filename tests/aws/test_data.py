"""The data step with the in-process runner (`spec.migration.data.runner: Operator`) on real parts:
moto for AWS, the test PostgreSQL as the cluster's writer (APPMOD_DATABASE_HOST), a real SQLite file or
image. The Fargate runner is tests/aws/test_data_task.py; the engine's exactness is tests/migration/."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid

import psycopg

from appmod_operator import config
from appmod_operator.reconcile import data, engine, jobs
from tests.aws.conftest import body
from tests.aws.test_database import conditions
from tests.aws.test_database import secret_value as read_secret
from tests.aws.test_service import public_task
from tests.conftest import SOURCE_TITLES
from tests.migration.sqlite_db import fetch, products

CONVERT = {"schema": {"strategy": "Convert"}, "data": {"enabled": True, "runner": "Operator"}}
PASSES = 30


def resource(database_name: str, source: dict, migration: dict = CONVERT, generation: int = 1) -> dict:
    # A uid of its own, so no test finds another's job (jobs are kept per uid for the process's life).
    made = body(generation, uid=f"uid-{uuid.uuid4().hex[:8]}", migration=migration, databaseName=database_name)
    made["spec"]["source"]["database"] = {"sqlite": source}
    return made


def grant(postgres, boto, database_name: str) -> None:
    """What Aurora does for the master user: a login with the secret's password, owning the database."""
    postgres.make_master("appmod", read_secret(boto)["password"], database_name)


def run_until(made: dict, done, passes: int = PASSES) -> list[dict]:
    """Passes as kopf makes them (each on the status the last wrote), letting a running migration finish
    in between, until `done(status)`; every status written."""
    written = []
    for _ in range(passes):
        result = engine.reconcile(made)
        made["status"] = result.status
        written.append(result.status)
        if done(result.status):
            return written
        if not jobs.wait(60) and result.retry_after:
            time.sleep(0.2)  # a failed migration is retried after a backoff, not at the next pass at once
    raise AssertionError(f"not reached in {passes} passes: {conditions(written[-1])}")


def ready(status: dict) -> bool:
    return conditions(status)["Ready"] == ("True", "Reconciled")


def migrated(status: dict) -> bool:
    return conditions(status)["DataMigrated"][0] == "True"


def first_pass(made: dict, postgres, boto, database_name: str) -> None:
    """The pass that makes the cluster and its secret; then the master user, as Aurora would make it."""
    made["status"] = engine.reconcile(made).status
    grant(postgres, boto, database_name)


def test_convert_copies_the_file_and_the_service_waits_for_it(postgres, boto, database_name, sqlite_file, pg_url):
    made = resource(database_name, {"path": str(sqlite_file)})
    first_pass(made, postgres, boto, database_name)
    written = run_until(made, ready)
    before = [conditions(s) for s in written if not migrated(s)]
    assert any(c["DataMigrated"] == ("False", "Migrating") for c in before)
    assert all(c["ServiceStable"] == ("False", "WaitingForSteps") for c in before)
    assert fetch(pg_url, "SELECT id, title FROM product ORDER BY id") == [(1, "Oscar"), (2, "Sandbox"), (3, "Django")]
    data = written[-1]["migration"]["data"]
    assert (data["tables"], data["rows"]) == (1, 3) and data["bytes"] > 0 and len(data["checksum"]) == 16
    assert data["sourceDigest"] == "sha256:" + hashlib.sha256(sqlite_file.read_bytes()).hexdigest()
    assert data["completedAt"].endswith("Z") and written[-1]["phase"] == "Ready"
    assert read_secret(boto)["password"] not in json.dumps(written)


def test_a_migrated_resource_is_not_copied_again_for_the_same_generation(postgres, boto, database_name, sqlite_file):
    made = resource(database_name, {"path": str(sqlite_file)})
    first_pass(made, postgres, boto, database_name)
    run_until(made, ready)
    job = jobs.find_job(made["metadata"]["uid"])
    completed = made["status"]["migration"]["data"]["completedAt"]
    sqlite_file.unlink()
    products(sqlite_file, "Changed")  # the file is read again for a new generation, not by the resync
    made["status"] = engine.reconcile(made).status
    assert jobs.find_job(made["metadata"]["uid"]) is job
    assert made["status"]["migration"]["data"]["completedAt"] == completed and ready(made["status"])


def test_a_new_generation_of_the_same_source_copies_nothing_again(postgres, boto, database_name, sqlite_file, pg_url):
    """A migration is done once per source version: a later spec change (the app has run meanwhile, its rows
    are its own) neither copies nor compares again."""
    made = resource(database_name, {"path": str(sqlite_file)})
    first_pass(made, postgres, boto, database_name)
    run_until(made, ready)
    job, completed = jobs.find_job(made["metadata"]["uid"]), made["status"]["migration"]["data"]["completedAt"]
    fetch(pg_url, "INSERT INTO product (title) VALUES ('written by the app')")
    made["metadata"]["generation"] = 2
    run_until(made, ready)
    assert jobs.find_job(made["metadata"]["uid"]) is job
    assert made["status"]["migration"]["data"]["completedAt"] == completed
    migrated = next(c for c in made["status"]["conditions"] if c["type"] == "DataMigrated")
    assert (migrated["status"], migrated["observedGeneration"]) == ("True", 2)
    assert fetch(pg_url, "SELECT count(*) FROM product") == [(4,)]


def test_a_target_holding_other_rows_stalls_naming_the_table(postgres, boto, database_name, sqlite_file, pg_url):
    made = resource(database_name, {"path": str(sqlite_file)})
    first_pass(made, postgres, boto, database_name)
    run_until(made, ready)
    sqlite_file.unlink()
    products(sqlite_file, "Other")
    made["metadata"]["generation"] = 2
    written = run_until(made, lambda s: s["phase"] == "Failed")
    got = conditions(written[-1])
    assert got["DataMigrated"] == ("False", "TargetHoldsOtherData") and got["Stalled"][0] == "True"
    message = next(c["message"] for c in written[-1]["conditions"] if c["type"] == "DataMigrated")
    assert "product" in message and "new version of the source" in message
    job = jobs.find_job(made["metadata"]["uid"])
    result = engine.reconcile(made)  # the resync: the failure is remembered, nothing runs again
    assert result.retry_after is None and jobs.find_job(made["metadata"]["uid"]) is job
    assert conditions(result.status)["DataMigrated"] == ("False", "TargetHoldsOtherData")
    assert fetch(pg_url, "SELECT count(*) FROM product") == [(3,)]  # nothing lost


def test_a_database_that_does_not_answer_is_retried_not_stalled(postgres, boto, database_name, sqlite_file, pg_url):
    made = resource(database_name, {"path": str(sqlite_file)})
    made["status"] = engine.reconcile(made).status  # no master user yet: the login fails
    written = run_until(made, lambda s: conditions(s)["DataMigrated"][1] == "TargetUnreachable")
    got = conditions(written[-1])
    assert got["Stalled"] == ("False", "SpecValid") and got["Reconciling"][0] == "True"
    assert engine.reconcile(made).retry_after == 1  # APPMOD_POLL_SECONDS
    assert read_secret(boto)["password"] not in json.dumps(written)
    grant(postgres, boto, database_name)
    run_until(made, ready)
    assert fetch(pg_url, "SELECT count(*) FROM product") == [(3,)]


def test_an_internal_error_is_retried_with_backoff_not_stalled(postgres, boto, database_name, sqlite_file, pg_url,
                                                               monkeypatch):
    failures = iter([KeyError("pg")])  # the first run meets a bug of ours; the next one works
    real = data.run.migrate

    def migrate(*args, **kwargs):
        for error in failures:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(data.run, "migrate", migrate)
    made = resource(database_name, {"path": str(sqlite_file)})
    first_pass(made, postgres, boto, database_name)
    written = run_until(made, lambda s: conditions(s)["DataMigrated"][1] == "InternalError")
    got, message = conditions(written[-1]), next(c["message"] for c in written[-1]["conditions"]
                                                 if c["type"] == "DataMigrated")
    assert got["Stalled"] == ("False", "SpecValid") and got["Reconciling"][0] == "True"
    assert "KeyError" in message and "attempt 1, retrying in" in message
    run_until(made, ready)
    assert jobs.find_job(made["metadata"]["uid"]).attempt == 2
    assert fetch(pg_url, "SELECT count(*) FROM product") == [(3,)]


def test_a_migration_beyond_the_bound_is_pending_until_a_slot_frees(postgres, boto, database_name, sqlite_file,
                                                                     pg_url, monkeypatch):
    monkeypatch.setenv("APPMOD_MAX_MIGRATIONS", "1")
    config.load()
    release = threading.Event()
    other = f"uid-{uuid.uuid4().hex[:8]}"
    jobs.start_job(other, "k", "shop/other", lambda progress, stop: release.wait(60) and None)  # holds the slot
    try:
        made = resource(database_name, {"path": str(sqlite_file)})
        first_pass(made, postgres, boto, database_name)
        for _ in range(PASSES):  # passes without waiting for the jobs: one of them holds the only slot
            made["status"] = engine.reconcile(made).status
            if made["status"]["phase"] == "Pending":
                break
            time.sleep(0.2)
        message = next(c["message"] for c in made["status"]["conditions"] if c["type"] == "DataMigrated")
        assert "queued: 1 data migrations are copying already" in message
        release.set()
        run_until(made, ready)
        assert fetch(pg_url, "SELECT count(*) FROM product") == [(3,)]
    finally:
        release.set()
        jobs.forget(other)


def test_a_cluster_made_again_gets_its_data_again(postgres, boto, database_name, sqlite_file, pg_url):
    made = resource(database_name, {"path": str(sqlite_file)})
    first_pass(made, postgres, boto, database_name)
    run_until(made, ready)
    first = made["status"]["database"]["resourceId"]
    assert made["status"]["migration"]["data"]["clusterResourceId"] == first
    # Someone deletes the cluster (its data with it); the status still says the data is migrated.
    rds, identifier = boto("rds"), made["status"]["database"]["clusterIdentifier"]
    for instance in rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]["DBClusterMembers"]:
        rds.delete_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"], SkipFinalSnapshot=True)
    rds.modify_db_cluster(DBClusterIdentifier=identifier, DeletionProtection=False)
    rds.delete_db_cluster(DBClusterIdentifier=identifier, SkipFinalSnapshot=True)
    fetch(pg_url, "DROP TABLE product")
    written = run_until(made, lambda s: s.get("database", {}).get("resourceId") not in (None, first))
    grant(postgres, boto, database_name)  # the new cluster's master user
    written += run_until(made, ready)
    assert any(conditions(s)["DataMigrated"][0] == "False" for s in written)  # not taken for done
    assert fetch(pg_url, "SELECT count(*) FROM product") == [(3,)]
    data = made["status"]["migration"]["data"]
    assert data["clusterResourceId"] == made["status"]["database"]["resourceId"] != first


def test_a_database_in_the_image_is_copied_from_the_digest_replicated(postgres, boto, database_name, pg_url):
    made = resource(database_name, {"pathInImage": "/app/sandbox/db.sqlite"})
    first_pass(made, postgres, boto, database_name)
    written = run_until(made, ready)
    assert written[-1]["migration"]["data"]["sourceDigest"] == written[-1]["image"]["sourceDigest"]
    assert fetch(pg_url, "SELECT title FROM product ORDER BY id") == [(t,) for t in SOURCE_TITLES]


def test_app_command_tables_are_loaded_as_the_app_made_them(postgres, boto, database_name, sqlite_file, pg_url):
    migration = {"schema": {"strategy": "AppCommand", "command": ["python", "manage.py", "migrate"]},
                 "data": {"enabled": True, "verify": "RowCount", "runner": "Operator"}}
    made = resource(database_name, {"path": str(sqlite_file)}, migration)
    first_pass(made, postgres, boto, database_name)
    # What the app's migration command would have made (moto's task runs nothing).
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:  # committed and closed at exit
        cur.execute("CREATE TABLE product (id bigint PRIMARY KEY, title varchar(200) NOT NULL)")
        cur.execute("ALTER TABLE product OWNER TO appmod")
    written = run_until(made, ready, passes=60)
    seen = [conditions(s) for s in written]
    assert any(c["DatabaseReady"][0] == "True" and c["SchemaMigrated"][0] == "False"  # waited for the app's schema
               and c["DataMigrated"] == ("False", "WaitingForSteps") for c in seen)
    assert fetch(pg_url, "SELECT data_type FROM information_schema.columns WHERE table_name = 'product' "
                         "AND column_name = 'title'") == [("character varying",)]  # the app's table, kept
    assert fetch(pg_url, "SELECT count(*) FROM product") == [(3,)]


def test_a_resync_of_migrated_data_reads_at_most_five_times(postgres, boto, database_name, every_call):
    made = resource(database_name, {"pathInImage": "/app/sandbox/db.sqlite"})
    first_pass(made, postgres, boto, database_name)
    run_until(made, ready)
    public_task(boto)  # a task with an endpoint, as ECS would start it (moto starts none)
    run_until(made, lambda s: bool(s["service"].get("endpoint")))
    job = jobs.find_job(made["metadata"]["uid"])
    every_call.clear()
    result = engine.reconcile(made)  # the timer's pass: database, image, data and service all in place
    assert ready(result.status) and jobs.find_job(made["metadata"]["uid"]) is job
    writes = [k for k in every_call if not k.split(".")[1].startswith(("Describe", "Get", "List"))]
    assert writes == [] and sum(every_call.values()) <= 5, every_call
