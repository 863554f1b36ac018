"""One reconcile pass: the first status, Stalled for a wrong spec, Paused, and stable conditions."""

from __future__ import annotations

import copy

from appmod_operator.reconcile import engine
from tests.unit.test_spec import MINIMAL

BODY = {"metadata": {"name": "oscar", "namespace": "shop", "generation": 3}, "spec": MINIMAL}


def conditions(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status["conditions"]}


def test_first_status_is_pending_with_all_summary_conditions():
    result = engine.reconcile(BODY)
    assert (result["observedGeneration"], result["phase"]) == (3, "Pending")
    got = {t: (c["status"], c["reason"]) for t, c in conditions(result).items()}
    assert got == {"Ready": ("False", "StepsPending"), "Reconciling": ("True", "Progressing"),
                   "Stalled": ("False", "SpecValid")}
    assert all(c["observedGeneration"] == 3 for c in result["conditions"])


def test_a_wrong_spec_stalls_naming_the_field():
    body = copy.deepcopy(BODY)
    body["spec"]["database"] = {"minCapacity": 8, "maxCapacity": 4}
    result = engine.reconcile(body)
    stalled = conditions(result)["Stalled"]
    assert (result["phase"], stalled["status"], stalled["reason"]) == ("Failed", "True", "InvalidSpec")
    assert stalled["message"].startswith("spec.database.minCapacity:")
    assert conditions(result)["Reconciling"]["status"] == "False"


def test_fixing_the_spec_clears_stalled_and_flips_its_transition_time():
    bad = copy.deepcopy(BODY)
    bad["spec"]["deletionPolicy"] = "Sometimes"
    bad["status"] = engine.reconcile(bad)
    for c in bad["status"]["conditions"]:
        c["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    fixed = {**BODY, "metadata": {**BODY["metadata"], "generation": 4}, "status": bad["status"]}
    after = conditions(engine.reconcile(fixed))
    assert after["Stalled"]["status"] == "False" and after["Stalled"]["lastTransitionTime"] != "2020-01-01T00:00:00Z"
    assert after["Ready"]["lastTransitionTime"] == "2020-01-01T00:00:00Z"  # False before and after
    assert after["Stalled"]["observedGeneration"] == 4


def test_paused_changes_nothing_and_says_so():
    body = copy.deepcopy(BODY)
    body["spec"]["paused"] = True
    result = engine.reconcile(body)
    assert result["phase"] == "Paused"
    assert {c["reason"] for c in result["conditions"]} == {"Paused"}
