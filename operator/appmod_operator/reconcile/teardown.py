"""The teardown of an AppModernization, one pass at a time behind the finalizer: what to remove (each
kind's `delete_*` in its step module, per `spec.deletionPolicy`), and what holds the teardown when a
pass does not finish it (AWS still deleting, the service's tasks still stopping, an AWS error,
`spec.paused`, or a resource blocked for longer than APPMOD_TEARDOWN_TIMEOUT_SECONDS).

Called by engine.teardown, which turns a `Held` into conditions and keeps the finalizer while one is
returned. docs/operations.md ("Teardown") says the same for users.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from appmod_operator import config, spec
from appmod_operator.errors import AwsError, UserError
from appmod_operator.names import Owner
from appmod_operator.reconcile import database, jobs, repository, service
from appmod_operator.reconcile.outcome import StepOutcome
from appmod_operator.status import DATABASE_READY, IMAGE_REPLICATED, SERVICE_STABLE, STEPS, Reason

# The status parts a step writes once it has looked at AWS (design.md, "The resource").
PARTS = ("database", "image", "migration", "service")
PAUSED = ("spec.paused is true: the deletion waits for spec.paused: false (then it removes what "
          "spec.deletionPolicy says), or for deletionPolicy: Retain (then it removes nothing)")


@dataclass(frozen=True)
class Held:
    """Why a teardown pass did not finish: the step whose removal is not done (None while spec.paused
    holds the whole teardown) and what it reported; `stalled`, the reason and message of Stalled=True
    when it will not finish without a change by the user (or after waiting too long)."""

    step: str | None
    outcome: StepOutcome
    stalled: tuple[str, str] | None = None


def tear_down(body: Mapping, owner: Owner) -> Held | None:
    """One teardown pass over `body`; None once nothing of it is left to remove."""
    if never_started(body.get("status") or {}):
        return None
    try:
        app = spec.parse(body.get("spec") or {}, owner.namespace, owner.name)
    except UserError:
        return None  # no region and no policy to go by; one that broke after a pass made things leaves them
    if app.paused:  # AWS is not touched, so only a policy that removes nothing can finish
        return None if app.deletion_policy == "Retain" else Held(None, StepOutcome(False, Reason.PAUSED, PAUSED))
    jobs.stop(owner.key)  # a copy into the database about to go would only fail later
    at = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    # The service first: its tasks use the image, the database and the roles. Every removal runs each pass,
    # so that one kind's refusal (a permission, say) does not keep the others.
    removals: tuple[tuple[str, Callable[[], StepOutcome]], ...] = (
        (SERVICE_STABLE, lambda: service.delete_service(app, owner)),
        (IMAGE_REPLICATED, lambda: repository.delete_repository(app, owner)),
        (DATABASE_READY, lambda: database.delete_database(app, owner, at)))
    held = [h for h in (_remove(step, remove) for step, remove in removals) if h is not None]
    first = next((h for h in held if h.stalled), held[0] if held else None)
    return None if first is None else timed_out(first, (body.get("metadata") or {}).get("deletionTimestamp"))


def never_started(status: Mapping) -> bool:
    """Whether the status shows that no pass ever ran a step: written by a pass (it has conditions), with
    no step condition and no part. Every pass that runs the steps starts with the database step, which
    writes to AWS; one that stops at the spec (Stalled on it) runs none. An empty status proves nothing
    (the command line keeps none, and a pass may have ended before its status was written)."""
    conditions = status.get("conditions") or ()
    return (bool(conditions) and not any(c.get("type") in STEPS for c in conditions)
            and not any(status.get(part) for part in PARTS))


def timed_out(held: Held, deletion_timestamp: str | None) -> Held:
    """`held`, Stalled once the deletion was asked for longer ago than APPMOD_TEARDOWN_TIMEOUT_SECONDS.
    Counted from metadata.deletionTimestamp, which outlives the operator's process; a body without one
    (the command line, bounded by its own --timeout) never times out here."""
    if held.stalled or not deletion_timestamp:
        return held
    blocked = (datetime.now(UTC) - datetime.fromisoformat(deletion_timestamp)).total_seconds()
    limit = config.current().teardown_timeout_seconds
    if blocked <= limit:
        return held
    return replace(held, stalled=(Reason.TEARDOWN_TIMED_OUT, f"the deletion was asked for {int(blocked)} s ago, "
                                  f"longer than APPMOD_TEARDOWN_TIMEOUT_SECONDS ({limit} s), and is not done: "
                                  f"{held.outcome.message}"))


def _remove(step: str, remove: Callable[[], StepOutcome]) -> Held | None:
    try:
        outcome = remove()
    except UserError as e:  # AwsTerminalError among them: AWS refuses again until someone changes something
        message = f"{e}; the finalizer stays, and the deletion is tried again every {config.current().resync_seconds} s"
        return Held(step, StepOutcome(False, e.reason, message), stalled=(e.reason, message))
    except AwsError as e:  # the finalizer stays until AWS confirms; try again
        return Held(step, StepOutcome(False, e.reason, f"{e}; retrying", waiting=True))
    return None if outcome.done else Held(step, outcome)
