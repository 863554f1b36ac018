"""One reconcile pass and one teardown over an AppModernization, as the status they produce.

Called by handlers.py (kopf) and by `appmod reconcile` (no cluster). The body is the whole resource
(metadata, spec, status) as a mapping; nothing here writes to spec.
"""

from __future__ import annotations

from collections.abc import Mapping

from appmod_operator import spec, status
from appmod_operator.errors import UserError
from appmod_operator.status import READY, RECONCILING, STALLED, Phase, Reason


def reconcile(body: Mapping) -> dict:
    """The status after one pass: the spec validated, then (in later steps) AWS converged."""
    meta = body.get("metadata", {})
    generation = meta.get("generation", 1)
    conditions = status.Conditions(body.get("status", {}).get("conditions"), generation, status.now())
    try:
        app = spec.parse(body.get("spec") or {}, meta.get("namespace", "default"), meta.get("name", ""))
    except UserError as e:
        return _stalled(conditions, generation, e)
    if app.paused:
        return _paused(conditions, generation)
    conditions.set(STALLED, False, Reason.SPEC_VALID, "spec is valid")
    conditions.set(RECONCILING, True, Reason.PROGRESSING, "spec is valid; waiting to provision")
    conditions.set(READY, False, Reason.STEPS_PENDING, "no step has run yet: database, migration, image, service")
    return _status(generation, Phase.PENDING, conditions)


def teardown(body: Mapping) -> None:
    """Release what the resource made, per spec.deletionPolicy; returns once it is gone."""
    # Nothing exists in AWS before the provisioning steps do; the finalizer may go.


def _stalled(conditions: status.Conditions, generation: int, error: UserError) -> dict:
    # Not raised to kopf: the resource waits for a new generation instead of retrying in a loop.
    conditions.set(STALLED, True, error.reason, str(error))
    conditions.set(RECONCILING, False, Reason.STALLED, "waiting for the spec to be fixed")
    conditions.set(READY, False, error.reason, str(error))
    return _status(generation, Phase.FAILED, conditions)


def _paused(conditions: status.Conditions, generation: int) -> dict:
    conditions.set(STALLED, False, Reason.PAUSED, "spec.paused is true")
    conditions.set(RECONCILING, False, Reason.PAUSED, "spec.paused is true: observing only, changing nothing")
    conditions.set(READY, False, Reason.PAUSED, "spec.paused is true")
    return _status(generation, Phase.PAUSED, conditions)


def _status(generation: int, phase: str, conditions: status.Conditions) -> dict:
    return {"observedGeneration": generation, "phase": phase, "conditions": conditions.as_list()}
