"""Helpers for tests that drive one step of the engine by hand (the schema and data tasks): the
Context a pass hands the step, and the status the engine would write after it."""

from __future__ import annotations

import pytest

from appmod_operator import status
from appmod_operator.reconcile import engine
from appmod_operator.reconcile.outcome import Context, StepOutcome

BOTH = frozenset({"DatabaseReady", "ImageReplicated"})


def context(ready: dict, generation: int = 1, previous: dict | None = None, done: frozenset = BOTH,
            **image) -> Context:
    current = {"database": ready["database"], "image": {**ready["image"], **image}}
    return Context(previous or {}, current, done, generation)


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
        result = engine.reconcile(made)
        made["status"] = result.status
        if {c["type"] for c in result.status["conditions"] if c["status"] == "True"} >= BOTH:
            return result.status
    pytest.fail(f"database and image not ready: {result.status['conditions']}")
