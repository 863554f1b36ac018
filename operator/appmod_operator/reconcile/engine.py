"""One reconcile pass and one teardown pass over an AppModernization, as the status they produce.

Called by handlers.py (kopf) and by `appmod reconcile` (no cluster). The body is the whole resource
(metadata, spec, status) as a mapping; nothing here writes to spec. Steps run in order and each
reports a StepOutcome; this module turns them into the step conditions, the kstatus summary
(Ready, Reconciling, Stalled) and the phase. It never sleeps: while AWS is still working, the Result
asks to be called again after `poll_seconds`.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from appmod_operator import REMIGRATE_ANNOTATION, config, metrics, scope, spec, status
from appmod_operator.errors import AwsError, AwsTerminalError, InternalError, RegistryError, UserError
from appmod_operator.names import Owner
from appmod_operator.reconcile import data, database, image, jobs, schema, service
from appmod_operator.reconcile import teardown as removal
from appmod_operator.reconcile.outcome import Context, Event, Result, StepOutcome
from appmod_operator.status import (
    DATA_MIGRATED,
    DATABASE_READY,
    IMAGE_REPLICATED,
    READY,
    RECONCILING,
    SCHEMA_MIGRATED,
    SERVICE_STABLE,
    STALLED,
    Phase,
    Reason,
)

# The steps in design.md's order: condition, the function that converges it, the phase while it is not done.
# Each runs even when an earlier one is still waiting on AWS (the image copy need not wait for the database);
# a step that needs another's result says so in its own condition (the service waits for both).
# `check` is the resync's cheap look at a step the last pass left done for this generation (at most one
# AWS read each, so a resource whose AWS state matches costs a few reads per tick); when it returns None,
# `ensure` runs in full.
# `applies` leaves out a step the spec does not ask for: the schema step runs the app's own command only
# (AppCommand); Convert's schema comes with the data migration (DataMigrated).
STEPS = ((DATABASE_READY, lambda app: True, database.check_database, database.ensure_database, Phase.PROVISIONING),
         (IMAGE_REPLICATED, lambda app: True, image.check_image, image.ensure_image, Phase.DEPLOYING),
         (SCHEMA_MIGRATED, lambda app: app.migration.schema_strategy != "Convert", schema.check_schema,
          schema.ensure_schema, Phase.MIGRATING),
         (DATA_MIGRATED, lambda app: True, data.check_data, data.ensure_data, Phase.MIGRATING),
         (SERVICE_STABLE, lambda app: True, service.check_service, service.ensure_service, Phase.DEPLOYING))
# Each step's read-only look (`appmod status` and `appmod plan`; while paused, the database and the service).
OBSERVE = {DATABASE_READY: database.observe_database, IMAGE_REPLICATED: image.observe_image,
           SCHEMA_MIGRATED: schema.observe_schema, DATA_MIGRATED: data.observe_data,
           SERVICE_STABLE: service.observe_service}
PAUSED_OBSERVES = (DATABASE_READY, SERVICE_STABLE)
# Failures worth another pass soon: AWS or a registry not answering as it should.
TRANSIENT = (AwsError, RegistryError)

log = logging.getLogger(__name__)

# kopf runs a resource's change handlers and its timer in different threads: one pass at a time per
# resource, so two passes never both find no cluster and both create one.
_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_produced: dict[str, Mapping] = {}  # uid -> the status its latest pass produced, for a pass that waited


def reconcile(body: Mapping) -> Result:
    """Converge AWS towards the spec, one pass; the status to write and when to look again."""
    return _reconcile(body, resync=False)


def resync(body: Mapping) -> Result | None:
    """The resync timer's pass; None (no pass, no AWS call) for a resource that AWS refused at its current
    generation: the same request would be refused again each tick. A new generation (the user's fix) runs
    through the change handlers, as does a restart of the operator."""
    return _reconcile(body, resync=True)


@metrics.timed("reconcile", lambda result: result.status.get("phase", "") if result else "Skipped")
def _reconcile(body: Mapping, resync: bool) -> Result | None:
    pass_ = _Pass(body)
    with scope.resource(pass_.owner.namespace, pass_.owner.name, pass_.generation) as current:
        try:
            app = parse(body)
        except UserError as e:
            return pass_.stalled(e)
        with _one_pass_at_a_time(pass_.owner.key) as fresher:
            if fresher is not None:
                pass_ = _Pass(body, fresher)
            # Decided on the newest status: a tick that waited for the pass that stalled sees that pass's.
            if resync and refused_by_aws(pass_.generation, pass_.previous):
                log.debug("%s: stalled on AWS's refusal at generation %s; not resynced", pass_.owner.ref,
                          pass_.generation)
                return None
            result = pass_.said(_run_steps(pass_, app), current.changes)
            _produced[pass_.owner.key] = result.status
    metrics.record_phase(pass_.owner.key, result.status.get("phase"))
    return result


def refused_by_aws(generation: int, previous: Mapping) -> bool:
    """Whether the status says Stalled by a terminal AWS error (AwsTerminalError) for this generation."""
    stalled = status.condition(previous, STALLED)
    return (stalled.get("status") == "True" and stalled.get("reason") == AwsTerminalError.reason
            and stalled.get("observedGeneration") == generation)


def parse(body: Mapping) -> spec.AppSpec:
    """The resource's spec, checked as far as it can be before anything is made in AWS: the spec rules,
    and the source image's reference, which only the image step would otherwise read (after the database
    step had made a cluster). Raises SpecError naming the field."""
    owner = Owner.of(body)
    app = spec.parse(body.get("spec") or {}, owner.namespace, owner.name)
    image.parse_source(app)
    return app


def forget(body: Mapping) -> None:
    """Drops what this process keeps about a resource that is gone: its lock, its last status, its jobs and
    its phase, so that memory stays flat however many resources come and go."""
    uid = Owner.of(body).key
    jobs.forget(uid)
    _locks.pop(uid, None)
    _produced.pop(uid, None)
    metrics.record_phase(uid, None)


def observe(body: Mapping) -> Result:
    """The status a pass would write, from AWS alone, changing nothing (`appmod status`, `appmod plan`):
    each step's read-only look, summarized as a pass summarizes."""
    pass_ = _Pass(body)
    try:
        app = parse(body)
    except UserError as e:
        return pass_.stalled(e)
    return _run_steps(pass_, app, observing=True)


def _run_steps(pass_: _Pass, app: spec.AppSpec, observing: bool = False) -> Result:
    if app.paused:
        context = pass_.context()
        return pass_.paused({c: OBSERVE[c](app, pass_.owner, context) for c in PAUSED_OBSERVES})
    for condition, applies, check, ensure, phase in STEPS:
        if not applies(app):
            continue
        try:
            with scope.step(condition):
                context = pass_.context()
                if observing:
                    outcome = OBSERVE[condition](app, pass_.owner, context)
                else:
                    outcome = check(app, pass_.owner, context) if pass_.was_done(condition) else None
                pass_.step(condition, outcome or ensure(app, pass_.owner, context), phase)
        except UserError as e:
            return pass_.stalled(e, condition)
        except TRANSIENT as e:
            return pass_.retrying(e, condition, phase)
        except Exception as e:  # a bug of ours: said in the status, retried, never left to the user
            log.exception("%s: %s failed", pass_.owner.ref, condition)
            return pass_.retrying(InternalError(e), condition, phase)
    return pass_.progressed()


@contextmanager
def _one_pass_at_a_time(uid: str) -> Iterator[Mapping | None]:
    """Holds the resource's lock for a pass. A pass that had to wait gets the status the pass before it
    produced: the body kopf handed it was read before that pass wrote its status, and comparing AWS with
    it would take the previous pass's own work for drift, or miss drift that happened since."""
    lock = _locks[uid]
    waited = not lock.acquire(blocking=False)
    if waited:
        lock.acquire()
    try:
        yield _produced.get(uid) if waited else None
    finally:
        lock.release()


@metrics.timed("teardown", lambda result: result.status.get("phase") or "Deleted")
def teardown(body: Mapping) -> Result:
    """Release what the resource made, per spec.deletionPolicy (teardown.py); Result.retry_after is None once
    done, and the finalizer stays until then."""
    pass_ = _Pass(body)
    with scope.resource(pass_.owner.namespace, pass_.owner.name, pass_.generation) as current, \
            _one_pass_at_a_time(pass_.owner.key):
        held = removal.tear_down(body, pass_.owner)
        return pass_.said(Result({}) if held is None else pass_.deleting(held), current.changes)


class _Pass:
    """The conditions of one pass, built on the previous status so transition times hold."""

    def __init__(self, body: Mapping, previous: Mapping | None = None):
        meta = body.get("metadata", {})
        self.owner = Owner.of(body)
        self.generation = meta.get("generation", 1)
        self.previous = previous if previous is not None else body.get("status") or {}
        self.conditions = status.Conditions(self.previous.get("conditions"), self.generation, status.now())
        self.parts: dict = {}
        self.done: set[str] = set()
        self.remigrate = (meta.get("annotations") or {}).get(REMIGRATE_ANNOTATION, "")
        self.events: list[Event] = []
        self.markers: dict[str, str] = {}
        self.pending: list[tuple[StepOutcome, str]] = []  # steps not done yet, with their phase

    def was_done(self, condition: str) -> bool:
        """Whether the last pass left this step done, for the generation being reconciled now."""
        before = status.condition(self.previous, condition)
        return before.get("status") == "True" and before.get("observedGeneration") == self.generation

    def context(self) -> Context:
        return Context(self.previous, dict(self.parts), frozenset(self.done), self.generation, self.remigrate,
                       dict(self.markers))

    def step(self, condition: str, outcome: StepOutcome, phase: str) -> None:
        self._step(condition, outcome)
        self.events += [Event(Reason.DRIFT_CORRECTED, c) for c in outcome.corrections]
        self.events += [Event(*e) for e in outcome.events]
        if outcome.done:
            self.done.add(condition)
        else:
            self.pending.append((outcome, phase))

    def progressed(self) -> Result:
        """The summary once every step ran: the first step not done speaks for the resource."""
        stalled = next((o for o, _ in self.pending if o.stalled), None)
        if stalled:
            return self._stalled_by(stalled)
        self.conditions.set(STALLED, False, Reason.SPEC_VALID, "spec is valid")
        if self.pending:
            outcome, phase = self.pending[0]
            self.conditions.set(RECONCILING, True, Reason.PROGRESSING, outcome.message)
            self.conditions.set(READY, False, outcome.reason, outcome.message)
            return self.result(outcome.phase or phase, outcome.message,
                               waiting=any(o.waiting for o, _ in self.pending))
        message = "every step is done and AWS reports the resources available"
        self.conditions.set(RECONCILING, False, Reason.RECONCILED, message)
        self.conditions.set(READY, True, Reason.RECONCILED, message)
        return self.result(Phase.READY, message)

    def _stalled_by(self, outcome: StepOutcome) -> Result:
        """A step that reported it cannot finish without the user (a failed migration command)."""
        self.conditions.set(STALLED, True, outcome.reason, outcome.message)
        self.conditions.set(RECONCILING, False, Reason.STALLED, "waiting for a change by the user")
        self.conditions.set(READY, False, outcome.reason, outcome.message)
        return self.result(outcome.phase or Phase.FAILED, outcome.message)

    def stalled(self, error: UserError, step: str | None = None) -> Result:
        # Not retried soon: the resource waits for a new generation; the resync timer re-runs a spec error
        # (cheap: no AWS call) and the steps' own refusals, but not AWS's (`resync`).
        if step:
            self.conditions.set(step, False, error.reason, str(error))
        self.conditions.set(STALLED, True, error.reason, str(error))
        self.conditions.set(RECONCILING, False, Reason.STALLED, "waiting for a change by the user")
        self.conditions.set(READY, False, error.reason, str(error))
        return self.result(Phase.FAILED, str(error))

    def retrying(self, error: Exception, step: str, phase: str) -> Result:
        message = f"{error}; retrying"
        log.error("%s: %s: %s", self.owner.ref, step, message)  # a failure, unlike waiting on AWS
        self.conditions.set(step, False, error.reason, message)
        self.conditions.set(STALLED, False, Reason.SPEC_VALID, "spec is valid")
        self.conditions.set(RECONCILING, True, error.reason, message)
        self.conditions.set(READY, False, error.reason, message)
        return self.result(phase, message, waiting=True)

    def deleting(self, held: removal.Held) -> Result:
        """A teardown pass that did not finish. Looked at again after poll_seconds while AWS works, after
        resync_seconds while stalled or paused (nothing changes sooner); the finalizer stays either way."""
        outcome, settings = held.outcome, config.current()
        if held.step:
            self._step(held.step, outcome)
        if held.stalled:
            self.conditions.set(STALLED, True, *held.stalled)
            self.conditions.set(RECONCILING, False, Reason.STALLED, "waiting for a change by the user")
            self.conditions.set(READY, False, *held.stalled)
        else:  # under way, or held by spec.paused (no step): then nothing is under way
            reason = Reason.DELETING if held.step else outcome.reason
            said = "the resource is being deleted" if held.step else outcome.message
            self.conditions.set(STALLED, False, reason, said)
            self.conditions.set(RECONCILING, held.step is not None, reason, outcome.message)
            self.conditions.set(READY, False, reason, outcome.message)
        pace = settings.poll_seconds if outcome.waiting and not held.stalled else settings.resync_seconds
        message = held.stalled[1] if held.stalled else outcome.message
        return replace(self.result(Phase.DELETING, message), retry_after=pace)

    def paused(self, observed: dict[str, StepOutcome]) -> Result:
        for condition, outcome in observed.items():
            self._step(condition, outcome)
        self.conditions.set(STALLED, False, Reason.PAUSED, "spec.paused is true")
        self.conditions.set(RECONCILING, False, Reason.PAUSED, "spec.paused is true: observing only, changing nothing")
        self.conditions.set(READY, False, Reason.PAUSED, "spec.paused is true")
        return self.result(Phase.PAUSED, "paused")

    def _step(self, step: str, outcome: StepOutcome) -> None:
        self.conditions.set(step, outcome.done, outcome.reason, outcome.message)
        self.markers.update(outcome.markers)
        for key, part in outcome.status.items():  # status.migration has a part per step (schema, data)
            self.parts[key] = {**self.parts.get(key, {}), **part} if key == "migration" else part

    def said(self, result: Result, changes: list[tuple[str, str, str]]) -> Result:
        """`result`, with an event for each AWS change the pass made and each condition that moved: a step
        condition whose status or reason changed, Ready or Stalled flipping. A pass that changes nothing
        says nothing, so the resync does not flood."""
        moved = [Event(c["reason"], f"{c['type']} is {c['status']}: {c['message']}",
                       "Warning" if c["reason"] in Reason.FAILURES or (c["type"] == STALLED and c["status"] == "True")
                       else "Normal")
                 for c in self.conditions.transitions((*status.STEPS, READY, STALLED), flips_only=(READY, STALLED))]
        made = [Event(operation, f"{step or 'teardown'}: AWS {service} {operation}") for service, operation, step
                in changes]
        return replace(result, events=tuple(made + moved) + result.events)

    def result(self, phase: str, message: str, waiting: bool = False) -> Result:
        body = {"observedGeneration": self.generation, "phase": phase, "conditions": self.conditions.as_list(),
                **self.parts}
        return Result(body, config.current().poll_seconds if waiting else None, message, tuple(self.events))
