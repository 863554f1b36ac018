"""The resource's status: condition types, reasons and phases (the one place they are spelled), and
the bookkeeping that keeps `lastTransitionTime` stable while a condition does not flip.

Follows kstatus (https://github.com/kubernetes-sigs/cli-utils/blob/master/pkg/kstatus/README.md):
Ready, Reconciling and Stalled are always written, so `kubectl wait`, Argo CD and Flux can read them.
Called by reconcile/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from appmod_operator import errors

# Summary conditions (kstatus).
READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
SUMMARY = (READY, RECONCILING, STALLED)

# Step conditions, in the order the reconcile runs the steps.
DATABASE_READY = "DatabaseReady"
SCHEMA_MIGRATED = "SchemaMigrated"
DATA_MIGRATED = "DataMigrated"
IMAGE_REPLICATED = "ImageReplicated"
SERVICE_STABLE = "ServiceStable"
STEPS = (DATABASE_READY, SCHEMA_MIGRATED, DATA_MIGRATED, IMAGE_REPLICATED, SERVICE_STABLE)


class Reason:
    """Condition reasons (CamelCase, as Kubernetes conventions ask). A reason that comes with an error
    (InvalidSpec, NotOwned, AwsRequestRejected, ...) is the `reason` of its class in errors.py."""

    SPEC_VALID = "SpecValid"
    INVALID_SPEC = "InvalidSpec"
    PAUSED = "Paused"
    PROGRESSING = "Progressing"
    STALLED = "Stalled"
    RECONCILED = "Reconciled"
    # AWS, per resource
    AVAILABLE = "Available"
    CREATING = "Creating"
    UPDATING = "Updating"
    DELETING = "Deleting"
    DRAINING = "Draining"  # a deleted service's tasks are still stopping
    TEARDOWN_TIMED_OUT = "TeardownTimedOut"  # not done APPMOD_TEARDOWN_TIMEOUT_SECONDS after deletionTimestamp
    NOT_FOUND = "NotFound"
    RETAINED = "Retained"
    REPLICATED = "Replicated"
    COPYING = "Copying"
    WAITING = "WaitingForSteps"
    STABLE = "Stable"
    ROLLING_OUT = "RollingOut"
    ROLLOUT_FAILED = "RolloutFailed"
    BELOW_DESIRED = "BelowDesiredCount"
    DRIFT_CORRECTED = "DriftCorrected"
    MIGRATED = "Migrated"
    MIGRATING = "Migrating"
    MIGRATION_FAILED = "MigrationFailed"
    INTERNAL_ERROR = errors.InternalError.reason  # a failure of ours, retried with backoff: never the user's to fix
    TABLES_REPLACED = "TablesReplaced"  # an event: the source's rows replaced those of the app's migrations
    REPLACE_NOT_ALLOWED = "ReplaceNotAllowed"
    TASK_RUNNING = "TaskRunning"
    TASK_FAILED = "TaskFailed"
    NOT_APPLICABLE = "NotApplicable"
    # Reasons of a failure (besides Stalled=True): their transitions are Warning events.
    FAILURES = frozenset({errors.AwsError.reason, errors.RegistryError.reason, errors.DigestMismatch.reason,
                          errors.DockerPushFailed.reason, errors.TargetError.reason, INTERNAL_ERROR, MIGRATION_FAILED,
                          ROLLOUT_FAILED, TASK_FAILED})


class Phase:
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    MIGRATING = "Migrating"
    DEPLOYING = "Deploying"
    READY = "Ready"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    PAUSED = "Paused"
    DELETING = "Deleting"


def condition(status: Mapping, type_: str) -> Mapping:
    """The condition of `type_` in a resource's status; {} when it has none."""
    return next((c for c in status.get("conditions") or () if c.get("type") == type_), {})


def now() -> str:
    """The current time as Kubernetes writes it (RFC 3339, UTC, seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Conditions:
    """The conditions to write, built on the previous ones so unchanged ones keep their transition time."""

    def __init__(self, previous: Sequence[Mapping] | None, generation: int, at: str):
        self._previous = {c["type"]: c for c in previous or () if "type" in c}
        self._current: dict[str, dict] = {}
        self._generation, self._at = generation, at

    def set(self, type_: str, status: bool, reason: str, message: str) -> None:
        value = "True" if status else "False"
        before = self._previous.get(type_)
        flipped = before is None or before.get("status") != value
        self._current[type_] = {
            "type": type_,
            "status": value,
            "reason": reason,
            "message": message,
            "observedGeneration": self._generation,
            "lastTransitionTime": self._at if flipped else before.get("lastTransitionTime", self._at),
        }

    def transitions(self, types: Sequence[str], flips_only: Sequence[str] = ()) -> list[dict]:
        """Conditions of `types` set this time whose status or reason differs from before (for those in
        `flips_only`, whose status does): each worth one event, and a pass that changes nothing has none."""
        changed = []
        for type_, now_ in self._current.items():
            before = self._previous.get(type_) or {}
            key = ("status",) if type_ in flips_only else ("status", "reason")
            if type_ in types and any(before.get(k) != now_[k] for k in key):
                changed.append(now_)
        return changed

    def as_list(self) -> list[dict]:
        """Summary conditions first, then steps in run order; conditions not set this time are kept."""
        merged = {**self._previous, **self._current}
        order = {t: i for i, t in enumerate(SUMMARY + STEPS)}
        return [dict(merged[t]) for t in sorted(merged, key=lambda t: (order.get(t, len(order)), t))]
