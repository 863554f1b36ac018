"""The data step remembers a finished migration for the source version it copied: a later pass in which
a step it follows waits (a cluster being modified, a schema task of a new generation) keeps DataMigrated
True instead of waiting and then copying again into a database whose rows are the app's by now."""

from __future__ import annotations

from appmod_operator.names import Owner
from appmod_operator.reconcile import data
from appmod_operator.reconcile.outcome import Context
from appmod_operator.spec import parse
from appmod_operator.status import DATA_MIGRATED, DATABASE_READY, IMAGE_REPLICATED

OWNER = Owner("shop", "oscar", "uid-1")
DIGEST, OTHER = "sha256:" + "a" * 64, "sha256:" + "b" * 64
APP = parse({"source": {"image": "registry.example/app:1", "database": {"sqlite": {"pathInImage": "/db.sqlite"}}}},
            "shop", "oscar")
MIGRATED = {"conditions": [{"type": DATA_MIGRATED, "status": "True", "reason": "Migrated",
                            "message": "copied by Fargate task t: 94 tables", "observedGeneration": 1}],
            "migration": {"data": {"sourceDigest": DIGEST, "rows": 10, "clusterResourceId": "cluster-A"}}}


def waiting_pass(source_digest: str | None, remigrate: str = "", cluster: str = "cluster-A") -> Context:
    """Generation 2, the database (`cluster`) not ready this pass, the image step's status of this pass."""
    current = {"database": {"resourceId": cluster}, **({"image": {"sourceDigest": source_digest}}
                                                      if source_digest else {})}
    return Context(previous=MIGRATED, current=current, done=frozenset({IMAGE_REPLICATED}), generation=2,
                   remigrate=remigrate)


def test_migrated_data_stays_migrated_while_the_database_waits():
    outcome = data.ensure_data(APP, OWNER, waiting_pass(DIGEST))
    assert (outcome.done, outcome.reason, outcome.message) == (True, "Migrated", "copied by Fargate task t: 94 tables")
    assert outcome.status == {"migration": {"data": MIGRATED["migration"]["data"]}}


def test_a_new_source_version_or_a_remigration_waits_like_a_first_migration():
    for context in (waiting_pass(OTHER), waiting_pass(DIGEST, remigrate="again"), waiting_pass(None),
                    waiting_pass(DIGEST, cluster="cluster-MADE-AGAIN")):  # its data went with the old cluster
        outcome = data.ensure_data(APP, OWNER, context)
        assert (outcome.done, outcome.reason) == (False, "WaitingForSteps") and DATABASE_READY in outcome.message
