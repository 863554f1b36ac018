"""Conditions keep their transition time while they do not flip, and come out in a fixed order."""

from __future__ import annotations

from appmod_operator import status


def test_transition_time_changes_only_when_status_flips():
    first = status.Conditions(None, 1, "2026-01-01T00:00:00Z")
    first.set(status.READY, False, "A", "a")
    first.set(status.STALLED, False, "B", "b")
    second = status.Conditions(first.as_list(), 2, "2026-01-02T00:00:00Z")
    second.set(status.READY, False, "C", "c")
    second.set(status.STALLED, True, "D", "d")
    ready, stalled = second.as_list()
    assert ready["lastTransitionTime"] == "2026-01-01T00:00:00Z" and ready["reason"] == "C"
    assert stalled["lastTransitionTime"] == "2026-01-02T00:00:00Z" and stalled["status"] == "True"
    assert ready["observedGeneration"] == stalled["observedGeneration"] == 2


def test_order_is_summary_then_steps_and_unset_ones_are_kept():
    previous = [{"type": "Custom", "status": "True"}, {"type": status.SERVICE_STABLE, "status": "False"}]
    conditions = status.Conditions(previous, 1, status.now())
    conditions.set(status.DATABASE_READY, True, "Available", "")
    conditions.set(status.READY, False, "X", "")
    assert [c["type"] for c in conditions.as_list()] == [
        status.READY, status.DATABASE_READY, status.SERVICE_STABLE, "Custom"]


def test_now_is_rfc3339_utc():
    assert status.now().endswith("Z") and "T" in status.now()


def test_transitions_are_the_conditions_that_moved():
    before = status.Conditions(None, 1, "t0")
    before.set("DatabaseReady", False, "Creating", "cluster creating")
    before.set("Ready", False, "Creating", "cluster creating")
    after = status.Conditions(before.as_list(), 1, "t1")
    after.set("DatabaseReady", False, "Creating", "cluster creating, writer starting")  # only the message
    after.set("Ready", False, "Available", "image copying")  # only the reason, and Ready counts flips only
    assert after.transitions(("DatabaseReady", "Ready"), flips_only=("Ready",)) == []
    after.set("DatabaseReady", True, "Available", "cluster available")
    after.set("Ready", True, "Reconciled", "done")
    moved = after.transitions(("DatabaseReady", "Ready"), flips_only=("Ready",))
    assert [(c["type"], c["reason"]) for c in moved] == [("DatabaseReady", "Available"), ("Ready", "Reconciled")]


def test_condition_finds_by_type():
    assert status.condition({"conditions": [{"type": "Ready", "status": "True"}]}, "Ready")["status"] == "True"
    assert status.condition({}, "Ready") == {}
