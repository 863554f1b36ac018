"""The engine without a cluster: AppModernization resources read from a YAML file and driven to Ready
(`appmod apply`), observed (`appmod status`), planned (`appmod plan`) or torn down (`appmod delete`)
directly against AWS. Called by cli.py and demo/.

There is no status to remember between two commands: each command starts from what AWS holds (our
deterministic names, our tags, the migration markers on the cluster, reconcile/markers.py), as a
restarted operator does. Within one `apply`, each pass gets the status the previous one produced, as
kopf hands the operator's passes the status it wrote.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import yaml

from appmod_operator import KIND, config, status
from appmod_operator.errors import SpecError, UserError
from appmod_operator.names import Owner
from appmod_operator.reconcile import engine, jobs
from appmod_operator.reconcile.outcome import Result
from appmod_operator.status import READY, STALLED

# While a data migration runs in this process, how often a pass looks at it (its progress is in the message).
JOB_POLL_SECONDS = 2.0

OnPass = Callable[["Tracked"], None]


class ResourceFileError(UserError):
    """A file that holds no AppModernization this command can use; says the file and what is wrong."""


@dataclass
class Tracked:
    """One resource being driven: its body (metadata and spec as read) and the latest pass's result."""

    body: dict
    result: Result | None = None
    next_at: float = 0.0
    finished: bool = False
    passes: int = 0
    history: list[Result] = field(default_factory=list, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.body['metadata']['namespace']}/{self.body['metadata']['name']}"

    @property
    def status(self) -> Mapping:
        return self.result.status if self.result else {}

    def condition(self, type_: str) -> Mapping:
        return status.condition(self.status, type_)

    @property
    def ready(self) -> bool:
        return self.condition(READY).get("status") == "True"

    @property
    def stalled(self) -> bool:
        return self.condition(STALLED).get("status") == "True"


def read_resources(path: str, namespace: str | None, text: str | None = None,
                   warn: Callable[[str], None] = lambda message: None) -> list[dict]:
    """The AppModernization documents of a YAML file (several, separated by ---), each checked by the
    operator's own spec rules. Raises ResourceFileError or SpecError naming the file and the field. A field
    the resource does not have is dropped, as a Kubernetes API server silently drops it, and `warn`ed about."""
    try:
        if text is None:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        raise ResourceFileError(f"{path}: {e}".replace("\n", " ")) from None
    bodies = []
    for index, body in enumerate(documents, 1):
        where = f"{path} (document {index})" if len(documents) > 1 else path
        kind = body.get("kind") if isinstance(body, dict) else None
        if kind != KIND:
            raise ResourceFileError(f"{where}: not an {KIND} resource (kind is {kind!r})")
        meta = body.setdefault("metadata", {})
        if not meta.get("name"):
            raise ResourceFileError(f"{where}: metadata.name is required")
        meta["namespace"] = meta.get("namespace") or namespace or "default"
        for dropped in _drop_unknown(body):
            warn(f"{where}: {dropped} is not a field of {KIND}: ignored (kubectl apply would drop it without a word)")
        bodies.append({k: v for k, v in body.items() if k != "status"})
    if not bodies:
        raise ResourceFileError(f"{path}: holds no {KIND} resource")
    return bodies


def _drop_unknown(body: dict) -> list[str]:
    """Checks body's spec, dropping each unknown field the check names (it stops at the first); the
    fields dropped. Any other problem raises its SpecError."""
    dropped: list[str] = []
    while True:
        try:
            engine.parse(body)
            return dropped
        except SpecError as e:
            if e.message != "unknown field" or e.field in dropped:
                raise
            _remove(body, e.field)
            dropped.append(e.field)


def _remove(body: dict, field: str) -> None:
    """Deletes the field at a path such as spec.service.env[0].foo."""
    *parents, last = re.findall(r"[^.\[\]]+", field)
    node = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    del node[last]


def apply(bodies: list[dict], timeout: float, on_pass: OnPass) -> list[Tracked]:
    """Passes over every resource until each is Ready or Stalled, or `timeout` seconds have passed."""
    return _drive(bodies, engine.reconcile, lambda t: t.ready or t.stalled, timeout, on_pass)


def delete(bodies: list[dict], timeout: float, on_pass: OnPass) -> list[Tracked]:
    """Teardown passes (per spec.deletionPolicy) until AWS confirms each is done, or `timeout`."""
    return _drive(bodies, engine.teardown, lambda t: t.result is not None and t.result.retry_after is None,
                  timeout, on_pass)


def observe(bodies: list[dict]) -> list[Tracked]:
    """The status each resource has in AWS today, changing nothing."""
    return [Tracked(body, engine.observe(body), finished=True, passes=1) for body in bodies]


def _drive(bodies: list[dict], one_pass: Callable[[Mapping], Result], done: Callable[[Tracked], bool],
           timeout: float, on_pass: OnPass) -> list[Tracked]:
    tracked = [Tracked(body) for body in bodies]
    deadline = time.monotonic() + timeout
    try:
        while not all(t.finished for t in tracked) and time.monotonic() < deadline:
            for t in tracked:
                if t.finished or time.monotonic() < t.next_at:
                    continue
                t.result = one_pass({**t.body, "status": dict(t.status)})
                t.passes += 1
                t.finished = done(t)
                t.next_at = time.monotonic() + _wait(t)
                on_pass(t)
            pending = [t.next_at for t in tracked if not t.finished]
            if pending:
                time.sleep(max(0.0, min(min(pending), deadline) - time.monotonic()))
    finally:
        jobs.stop()  # a migration still running when the command ends stops between tables
        jobs.wait(timeout=60)
    return tracked


def _wait(t: Tracked) -> float:
    if jobs.busy(Owner.of(t.body).key):  # a copy beside the pass: its progress is worth showing sooner
        return JOB_POLL_SECONDS
    return t.result.retry_after if t.result.retry_after is not None else config.current().poll_seconds
