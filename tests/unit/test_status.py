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
