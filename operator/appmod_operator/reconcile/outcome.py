"""What a reconcile step reports (`StepOutcome`) and what a whole pass returns to its caller (`Result`).

Written by the steps (database.py, ...), read by engine.py, which turns them into conditions and
phase; handlers.py and cli.py read `Result`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from appmod_operator.status import Reason


@dataclass(frozen=True)
class StepOutcome:
    """One step's condition (`done` is its status), its part of `status`, and whether AWS is still
    working on something (then the engine asks to be called again soon rather than at the next resync)."""

    done: bool
    reason: str
    message: str
    status: dict = field(default_factory=dict)
    waiting: bool = False
    corrections: tuple[str, ...] = ()  # drift put right this pass, each said in an event
    stalled: bool = False  # not done, and it will not be until the user changes something
    events: tuple[tuple[str, str], ...] = ()  # (reason, message): other changes worth an event of their own
    markers: Mapping[str, str] = field(default_factory=dict)  # the cluster's migration markers (markers.py)
    phase: str | None = None  # the resource's phase when this step speaks for it, if not the step's own


@dataclass(frozen=True)
class Context:
    """What a step may know besides the spec: the status before this pass (to tell drift from a first
    creation), the status parts earlier steps wrote this pass, and which steps are done."""

    previous: Mapping
    current: Mapping
    done: frozenset[str]
    generation: int = 1
    remigrate: str = ""  # the appmod.io/remigrate annotation: a new value asks for the data again
    markers: Mapping[str, str] = field(default_factory=dict)  # what the cluster records as migrated (markers.py)


class Event(NamedTuple):
    """A Kubernetes event to post about the resource: Normal, or Warning for a failure."""

    reason: str
    message: str
    type: str = "Normal"


@dataclass(frozen=True)
class Result:
    """The status to write and, while AWS is still working, how many seconds until the next look."""

    status: dict
    retry_after: float | None = None
    message: str = ""
    events: tuple[Event, ...] = ()  # each posted as an event

    @property
    def corrections(self) -> tuple[str, ...]:
        """Drift put right this pass."""
        return tuple(e.message for e in self.events if e.reason == Reason.DRIFT_CORRECTED)


def waiting_for(what: str, needed: Iterable[str], done: frozenset[str]) -> StepOutcome | None:
    """WaitingForSteps while a step `what` depends on is not done yet, naming those steps; None once all are."""
    waiting = [c for c in needed if c not in done]
    if not waiting:
        return None
    return StepOutcome(False, Reason.WAITING, f"{what} starts once {' and '.join(waiting)} "
                       f"{'is' if len(waiting) == 1 else 'are'} True")
