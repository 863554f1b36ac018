"""What the `appmod` commands print: the progress of passes (a live block on a terminal, one line per
change otherwise), the `kubectl get`-style table, a plan, and `--output json|yaml`. Nothing here reads
AWS; it formats what standalone.py and reconcile/plan.py return. Called by cli.py and demo/.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

import yaml

from appmod_operator import status as conditions
from appmod_operator.reconcile.plan import Change
from appmod_operator.standalone import Tracked

STEP_LABELS = {conditions.DATABASE_READY: "database", conditions.IMAGE_REPLICATED: "image",
               conditions.SCHEMA_MIGRATED: "schema", conditions.DATA_MIGRATED: "data",
               conditions.SERVICE_STABLE: "service"}
MARKS = {"True": "✓", "False": "…"}
PLAN_MARKS = {"create": "+", "update": "~", "copy": "+", "run": ">", "refused": "!"}


class Progress:
    """Prints each pass: on a terminal, one block per resource redrawn in place (every step, its state and
    message); otherwise a line per step whose condition changed, so a log stays readable."""

    def __init__(self, out: TextIO = sys.stderr, live: bool | None = None):
        self.out = out
        self.live = out.isatty() if live is None else live
        self._seen: dict[tuple[str, str], tuple] = {}
        self._blocks: dict[str, list[str]] = {}
        self._drawn = 0

    def __call__(self, tracked: Tracked) -> None:
        if self.live:
            self._blocks[tracked.ref] = self._block(tracked)
            self._redraw()
            return
        for condition in tracked.status.get("conditions", ()):
            key = (tracked.ref, condition["type"])
            state = (condition.get("status"), condition.get("reason"), condition.get("message"))
            if condition["type"] in STEP_LABELS and self._seen.get(key) != state:
                self._seen[key] = state
                print(f"{tracked.ref} {STEP_LABELS[condition['type']]}: {_mark(condition)} {condition.get('reason')}: "
                      f"{condition.get('message')}", file=self.out, flush=True)

    def _block(self, tracked: Tracked) -> list[str]:
        lines = [f"{tracked.ref}  phase {tracked.status.get('phase', '?')}  (pass {tracked.passes})"]
        for condition in tracked.status.get("conditions", ()):
            if condition["type"] in STEP_LABELS:
                lines.append(f"  {_mark(condition)} {STEP_LABELS[condition['type']]:<8} {condition.get('message', '')}")
        return lines

    def _redraw(self) -> None:
        width = 160
        lines = [line[:width] for block in self._blocks.values() for line in block]
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F")
        for line in lines:
            self.out.write("\x1b[2K" + line + "\n")
        self.out.flush()
        self._drawn = len(lines)


def _mark(condition: Mapping) -> str:
    return MARKS.get(condition.get("status"), "?")


def table(tracked: Sequence[Tracked]) -> str:
    """NAMESPACE NAME READY REASON PHASE RUNNING DATABASE DIGEST, as `kubectl get -o wide` shows them."""
    rows = [("NAMESPACE", "NAME", "READY", "REASON", "PHASE", "RUNNING", "DATABASE", "DIGEST")]
    for t in tracked:
        meta, s = t.body["metadata"], t.status
        ready = t.condition(conditions.READY)
        database = s.get("database") or {}
        rows.append((meta["namespace"], meta["name"], ready.get("status", "Unknown"), ready.get("reason", ""),
                     s.get("phase", ""), str((s.get("service") or {}).get("runningCount", "")),
                     f"{database['endpoint']}:{database.get('port')}" if database.get("endpoint") else "",
                     (s.get("image") or {}).get("digest", "")))
    return _columns(rows)


def plan_text(plans: Sequence[tuple[Tracked, list[Change]]]) -> str:
    out = []
    for tracked, changes in plans:
        if not changes:
            out.append(f"{tracked.ref}: nothing to do; AWS matches the spec")
            continue
        out.append(f"{tracked.ref}: {len(changes)} change(s)")
        for change in changes:
            note = f" ({change.note})" if change.note else ""
            out.append(f"  {PLAN_MARKS.get(change.action, '?')} {change.action} {change.resource}{note}")
            for f in change.fields:
                out.append(f"      {f.name}: {_value(f.wanted)}" if f.current is None and change.action != "update"
                           else f"      {f.name}: {_value(f.current)} -> {_value(f.wanted)}")
    return "\n".join(out)


def plan_objects(plans: Sequence[tuple[Tracked, list[Change]]]) -> list[dict]:
    return [{"namespace": t.body["metadata"]["namespace"], "name": t.body["metadata"]["name"],
             "changes": [c.as_dict() for c in changes]} for t, changes in plans]


def status_objects(tracked: Sequence[Tracked]) -> list[dict]:
    return [{"apiVersion": t.body.get("apiVersion"), "kind": t.body.get("kind"),
             "metadata": {"namespace": t.body["metadata"]["namespace"], "name": t.body["metadata"]["name"]},
             "status": dict(t.status)} for t in tracked]


def dump(objects: list[dict], output: str) -> str:
    """One object as itself, several as a kubectl-style List."""
    value = objects[0] if len(objects) == 1 else {"apiVersion": "v1", "kind": "List", "items": objects}
    if output == "json":
        return json.dumps(value, indent=2, default=str)
    return yaml.safe_dump(value, sort_keys=False).rstrip("\n")


def _value(value: object) -> str:
    return json.dumps(value) if isinstance(value, (list, dict, tuple)) else str(value)


def _columns(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)
