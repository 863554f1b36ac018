"""Helpers for tests that drive one step of the engine by hand (the schema and data tasks): the
Context a pass hands the step, and the status the engine would write after it."""

from __future__ import annotations

import dataclasses
import os

import boto3
import pytest

from appmod_operator import status
from appmod_operator.reconcile import engine, jobs, markers
from appmod_operator.reconcile.outcome import Context, StepOutcome

BOTH = frozenset({"DatabaseReady", "ImageReplicated"})


def context(ready: dict, generation: int = 1, previous: dict | None = None, done: frozenset = BOTH,
            **image) -> Context:
    current = {"database": ready["database"], "image": {**ready["image"], **image}}
    return Context(previous or {}, current, done, generation, markers=cluster_markers(current))


def cluster_markers(current: dict) -> dict[str, str]:
    """The migration markers the database step would hand the pass: the cluster's, as AWS has them now (read
    with a client of the test's own, so that the operator's call counts stay the step's)."""
    rds = boto3.client("rds", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
    found = rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id",
                                               "Values": [current["database"]["clusterIdentifier"]]}])["DBClusters"]
    return markers.from_cluster(found[0]) if found else {}


def forget_markers(ready: dict) -> None:
    """Takes the migration markers off the cluster: a cluster that records nothing (one a step made before
    markers existed), so that the next run starts its task again."""
    rds = boto3.client("rds", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
    rds.remove_tags_from_resource(ResourceName=ready["database"]["clusterArn"], TagKeys=list(markers.ALL))


def next_context(ctx: Context, outcome: StepOutcome, condition: str) -> Context:
    """The Context of the pass after one that gave `outcome`: its status as previous, the cluster's markers."""
    return dataclasses.replace(ctx, previous=recorded(outcome, ctx, condition), markers=cluster_markers(ctx.current))


def recorded(outcome: StepOutcome, ctx: Context, condition: str) -> dict:
    """The status the engine writes after a pass with `outcome` for `condition` (engine._Pass): what the
    next pass sees as previous."""
    conditions = status.Conditions(ctx.previous.get("conditions"), ctx.generation, status.now())
    conditions.set(condition, outcome.done, outcome.reason, outcome.message)
    if outcome.stalled:
        conditions.set(status.STALLED, True, outcome.reason, outcome.message)
    else:
        conditions.set(status.STALLED, False, "SpecValid", "spec is valid")
    return {"conditions": conditions.as_list(), **ctx.current, **outcome.status}


def passes_until_ready(made: dict) -> dict:
    """The status of engine passes over `made` once its database and image are ready, for a test to run
    a step by hand on (a spec whose own migration keeps out of the engine)."""
    for _ in range(8):
        jobs.wait(120)  # the image copy a pass started
        result = engine.reconcile(made)
        made["status"] = result.status
        if {c["type"] for c in result.status["conditions"] if c["status"] == "True"} >= BOTH:
            return result.status
    pytest.fail(f"database and image not ready: {result.status['conditions']}")
