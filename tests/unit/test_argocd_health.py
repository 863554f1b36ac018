"""Argo CD's health check for AppModernization (manifests/argocd/health.lua, as argocd-cm.yaml ships it)
in a real Lua interpreter (lupa), against the statuses a resource goes through: fresh, progressing,
stalled, ready, and ready but for an older generation."""

from __future__ import annotations

from pathlib import Path

import lupa
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KEY = "resource.customizations.health.appmod.io_AppModernization"


def health(resource: dict) -> dict:
    """Runs the check as Argo CD does: the resource as the global `obj`, the returned table read back."""
    lua = yaml.safe_load((ROOT / "manifests" / "argocd" / "argocd-cm.yaml").read_text())["data"][KEY]
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = _table(runtime, resource)
    result = runtime.execute(lua)
    return {key: result[key] for key in result}


def _table(runtime, value):
    if isinstance(value, dict):
        return runtime.table_from({k: _table(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([_table(runtime, v) for v in value])
    return value


def resource(generation: int = 1, observed: int | None = None, **conditions: tuple[str, str]) -> dict:
    status = {"conditions": [{"type": t, "status": s, "reason": "R", "message": m} for t, (s, m) in conditions.items()]}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"name": "oscar", "generation": generation}, **({"status": status} if observed else {})}


@pytest.mark.parametrize(("body", "expected"), [
    (resource(), {"status": "Progressing", "message": "Waiting for the operator to observe generation 1"}),
    (resource(1, 1, Ready=("False", "the database is being created"), Reconciling=("True", "working"),
              Stalled=("False", "ok")),
     {"status": "Progressing", "message": "the database is being created"}),
    (resource(1, 1, Ready=("False", "blocked"), Stalled=("True", "spec.database.minCapacity: above maxCapacity")),
     {"status": "Degraded", "message": "spec.database.minCapacity: above maxCapacity"}),
    (resource(2, 2, Ready=("True", "every step is done"), Stalled=("False", "ok")),
     {"status": "Healthy", "message": "every step is done"}),
    (resource(3, 2, Ready=("True", "every step is done")),
     {"status": "Progressing", "message": "Waiting for the operator to observe generation 3"}),
    (resource(1, 1), {"status": "Progressing", "message": "Waiting for Ready"}),
], ids=["fresh", "progressing", "stalled", "ready", "stale generation", "no conditions yet"])
def test_health_follows_kstatus(body, expected):
    assert health(body) == expected


def test_the_shipped_configmap_holds_health_lua_as_it_is():
    shipped = yaml.safe_load((ROOT / "manifests" / "argocd" / "argocd-cm.yaml").read_text())
    assert shipped["metadata"]["name"] == "argocd-cm" and shipped["data"][KEY] == (
        ROOT / "manifests" / "argocd" / "health.lua").read_text()
