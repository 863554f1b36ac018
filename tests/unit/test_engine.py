"""One reconcile pass: the summary conditions, Stalled for a wrong spec, Paused, and stable conditions.
The database step's AWS side is in tests/aws/test_database.py."""

from __future__ import annotations

import copy
import threading
import time

from appmod_operator.reconcile import engine, jobs
from appmod_operator.reconcile.outcome import Result
from tests.unit.test_spec import MINIMAL

BODY = {"metadata": {"name": "oscar", "namespace": "shop", "generation": 3, "uid": "u"}, "spec": MINIMAL}


def conditions(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status["conditions"]}


def test_first_status_has_every_summary_condition_and_the_steps(aws):
    result = engine.reconcile(copy.deepcopy(BODY))
    jobs.wait(60)  # the image copy it started beside it
    assert (result.status["observedGeneration"], result.status["phase"]) == (3, "Provisioning")
    got = {t: (c["status"], c["reason"]) for t, c in conditions(result.status).items()}
    # The copy runs beside the pass, unless an earlier test left this image in the registry already.
    assert got.pop("ImageReplicated") in {("False", "Copying"), ("True", "Replicated")}
    assert got == {"Ready": ("False", "Creating"), "Reconciling": ("True", "Progressing"),
                   "Stalled": ("False", "SpecValid"), "DatabaseReady": ("False", "Creating"),
                   "DataMigrated": ("False", "WaitingForSteps"),
                   "ServiceStable": ("False", "WaitingForSteps")}
    assert [c["type"] for c in result.status["conditions"]] == ["Ready", "Reconciling", "Stalled", "DatabaseReady",
                                                               "DataMigrated", "ImageReplicated", "ServiceStable"]
    assert all(c["observedGeneration"] == 3 for c in result.status["conditions"])


def test_a_wrong_spec_stalls_naming_the_field_without_retrying():
    body = copy.deepcopy(BODY)
    body["spec"]["database"] = {"minCapacity": 8, "maxCapacity": 4}
    result = engine.reconcile(body)
    stalled = conditions(result.status)["Stalled"]
    assert (result.status["phase"], stalled["status"], stalled["reason"]) == ("Failed", "True", "InvalidSpec")
    assert stalled["message"].startswith("spec.database.minCapacity:")
    assert conditions(result.status)["Reconciling"]["status"] == "False" and result.retry_after is None


def test_fixing_the_spec_clears_stalled_and_flips_its_transition_time(aws):
    bad = copy.deepcopy(BODY)
    bad["spec"]["deletionPolicy"] = "Sometimes"
    bad["status"] = engine.reconcile(bad).status
    for c in bad["status"]["conditions"]:
        c["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    fixed = {**BODY, "metadata": {**BODY["metadata"], "generation": 4}, "status": bad["status"]}
    after = conditions(engine.reconcile(fixed).status)
    assert after["Stalled"]["status"] == "False" and after["Stalled"]["lastTransitionTime"] != "2020-01-01T00:00:00Z"
    assert after["Ready"]["lastTransitionTime"] == "2020-01-01T00:00:00Z"  # False before and after
    assert after["Stalled"]["observedGeneration"] == 4


def test_paused_changes_nothing_and_says_so(aws):
    body = copy.deepcopy(BODY)
    body["spec"]["paused"] = True
    result = engine.reconcile(body)
    assert result.status["phase"] == "Paused" and result.retry_after is None
    reasons = {t: c["reason"] for t, c in conditions(result.status).items()}
    assert reasons == {"Ready": "Paused", "Reconciling": "Paused", "Stalled": "Paused", "DatabaseReady": "NotFound",
                       "ServiceStable": "NotFound"}


def test_a_spec_that_never_parsed_has_nothing_to_tear_down():
    body = copy.deepcopy(BODY)
    body["spec"]["deletionPolicy"] = "Sometimes"
    assert engine.teardown(body).retry_after is None


def test_a_pass_that_waited_for_the_lock_compares_with_the_status_the_pass_before_it_wrote(monkeypatch):
    """kopf hands each pass the body it read before the pass before it wrote its status (a change handler
    and the timer of one resource run in different threads)."""
    seen, first_running, go = [], threading.Event(), threading.Event()

    def steps(pass_, app):
        seen.append(pass_.previous)
        if len(seen) == 1:
            first_running.set()
            go.wait(5)
        return Result({"phase": f"written by pass {len(seen)}"})

    monkeypatch.setattr(engine, "_run_steps", steps)
    stale = {**copy.deepcopy(BODY), "metadata": {**BODY["metadata"], "uid": "u-lock"}, "status": {"phase": "stale"}}
    first = threading.Thread(target=engine.reconcile, args=(stale,))
    first.start()
    assert first_running.wait(5)
    second = threading.Thread(target=engine.reconcile, args=(stale,))
    second.start()
    time.sleep(0.3)  # the second pass is waiting for the lock
    go.set()
    first.join(5)
    second.join(5)
    assert seen == [{"phase": "stale"}, {"phase": "written by pass 1"}]
    engine.reconcile(stale)  # a pass that did not wait takes the body it was handed
    assert seen[-1] == {"phase": "stale"}


def test_aws_refusal_stalls_and_the_timer_stops_asking_until_a_new_generation(fault_proxy):
    """AWS's terminal refusal (AccessDenied, from the fault proxy's rule in front of moto) gives Stalled with
    AWS's words; the resync timer's pass (`engine.resync`) then makes no AWS call at that generation, and runs
    again at the next; a spec error, which costs no AWS call, is resynced as before."""
    from appmod_operator.names import Owner
    from tests.infra.faults import Rule

    proxy = fault_proxy
    denied = "User: arn:aws:iam::123456789012:user/appmod is not authorized to perform: rds:CreateDBCluster"
    proxy.rules.append(Rule("CreateDBCluster", Owner.of(BODY).cluster_identifier, "AccessDenied", denied))
    body = {**copy.deepcopy(BODY), "metadata": {**BODY["metadata"], "uid": "u-refused"}}
    body["status"] = engine.reconcile(body).status
    jobs.wait(60)
    stalled = conditions(body["status"])["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "AwsRequestRejected")
    assert stalled["message"] == f"rds.CreateDBCluster: AccessDenied: {denied}"
    mark = proxy.mark()
    assert engine.resync(body) is None and engine.resync(body) is None
    print(proxy.report("while stalled", mark))
    assert proxy.calls(mark) == {}
    newer = {**body, "metadata": {**body["metadata"], "generation": 4}}
    assert engine.resync(newer) is not None and proxy.calls(mark)["CreateDBCluster"] == 1
    print(proxy.report("at generation 4", mark))
    invalid = copy.deepcopy(BODY)
    invalid["spec"]["deletionPolicy"] = "Sometimes"
    invalid["status"] = engine.reconcile(invalid).status
    assert engine.resync(invalid) is not None  # not refused by AWS: the timer runs it (no AWS call)
