"""What the current thread is working on: the resource (namespace, name, generation) and the step of the
pass or job under way, and the AWS changes made for it. Context variables, so that log records carry
the resource as fields (logs.py), and the AWS client hook (aws/clients.py) can say, in an event, which
resource a create, update or delete was for.

Set by reconcile/engine.py (each pass, each step) and reconcile/jobs.py (a job's thread inherits its
pass's scope); read by logs.py, aws/clients.py and engine.py.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace


@dataclass
class Scope:
    namespace: str = ""
    name: str = ""
    generation: int | None = None
    step: str = ""
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (service, operation, step) that changed AWS


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("appmod_scope", default=None)


def current() -> Scope | None:
    return _current.get()


@contextmanager
def resource(namespace: str, name: str, generation: int | None) -> Iterator[Scope]:
    """The scope of one pass over a resource, with a fresh list of AWS changes."""
    token = _current.set(Scope(namespace, name, generation))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Within a resource's scope, the step under way (a condition type, or a teardown's kind). A new Scope
    (sharing the pass's list of changes), not a changed one: a job started in this step keeps its step
    after the pass has moved on."""
    scope = _current.get()
    token = _current.set(replace(scope, step=name)) if scope else None
    try:
        yield
    finally:
        if token is not None:
            _current.reset(token)


def record_change(service: str, operation: str) -> None:
    """An AWS call that changed something, for the current resource's events; none outside a pass."""
    scope = _current.get()
    if scope is not None:
        scope.changes.append((service, operation, scope.step))
