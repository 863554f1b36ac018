"""End to end against a real kube-apiserver: the CRD, the operator's first status, the printer
columns, rejection of invalid resources by the API server, Stalled without a retry storm, deletion."""

from __future__ import annotations

import copy
import time

import pytest
import yaml

from tests.e2e.conftest import NAMESPACE, ROOT, app, example
from tests.e2e.kubectl import wait_for

pytestmark = pytest.mark.e2e



@pytest.fixture(scope="module")
def operator(start_operator):
    # Resync far away, so that every status write seen here comes from a change handler.
    return start_operator(resync_seconds=3600)


def conditions(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def test_crd_is_established_with_names(kubectl):
    crd = kubectl.get("crd", "appmodernizations.appmod.io")
    established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
    assert established[0]["status"] == "True"
    assert set(crd["status"]["acceptedNames"]["shortNames"]) == {"appmod", "appmods"}


def test_operator_writes_the_first_status(kubectl, operator):
    kubectl.run("apply", "-n", NAMESPACE, "-f", str(ROOT / "examples" / "oscar.yaml"))
    obj = wait_for(lambda: (o := app(kubectl, "oscar"))
                   .get("status", {}).get("observedGeneration") == 1 and o, "the first status")
    assert obj["status"]["phase"] == "Pending"
    got = {t: (c["status"], c["reason"]) for t, c in conditions(obj).items()}
    assert got == {"Ready": ("False", "StepsPending"), "Reconciling": ("True", "Progressing"),
                   "Stalled": ("False", "SpecValid")}
    assert "appmod.io/finalizer" in obj["metadata"]["finalizers"]
    assert obj["spec"]["database"]["secondsUntilAutoPause"] == 300  # the API server applied the defaults


def test_kubectl_get_shows_the_printer_columns(kubectl, operator):
    wait_for(lambda: app(kubectl, "oscar").get("status"), "a status")
    header, row = kubectl.run("get", "appmodernizations", "-n", NAMESPACE).stdout.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "REASON", "RUNNING", "AGE"]
    assert row.split()[:3] == ["oscar", "False", "StepsPending"]
    wide_header = kubectl.run("get", "appmods", "-n", NAMESPACE, "-o", "wide").stdout.splitlines()[0].split()
    assert {"DATABASE", "DIGEST", "PHASE"} <= set(wide_header)
    assert "appmodernization.appmod.io/oscar" in kubectl.run("get", "all", "-n", NAMESPACE, "-o", "name").stdout


@pytest.mark.parametrize(("change", "field"), [
    (lambda s: s.update(deletionPolicy="Sometimes"), "spec.deletionPolicy"),
    (lambda s: s["source"].pop("image"), "spec.source.image"),
    (lambda s: s["database"].update(maxCapacity=1000), "spec.database.maxCapacity"),
])
def test_the_api_server_rejects_invalid_resources_naming_the_field(kubectl, change, field):
    body = copy.deepcopy(example("oscar.yaml"))
    body["metadata"]["name"] = "invalid"
    change(body["spec"])
    result = kubectl.run("apply", "-n", NAMESPACE, "--validate=false", "-f", "-", stdin=yaml.safe_dump(body),
                         check=False)
    assert result.returncode != 0
    assert field in result.stderr and "invalid" in result.stderr.lower()


def test_a_wrong_spec_stalls_once_and_recovers_when_fixed(kubectl, operator):
    body = example("minimal.yaml")
    body["metadata"]["name"] = "stalls"
    body["spec"]["database"] = {"minCapacity": 8, "maxCapacity": 4}  # passes the schema, fails the operator
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
    stalled = wait_for(lambda: conditions(app(kubectl, "stalls")).get("Stalled", {})
                       .get("status") == "True" and app(kubectl, "stalls"), "Stalled=True")
    assert conditions(stalled)["Stalled"]["message"].startswith("spec.database.minCapacity:")
    assert stalled["status"]["phase"] == "Failed"
    # No retry storm: once settled, the object stays unchanged and the handler ran once.
    time.sleep(2)
    version = app(kubectl, "stalls")["metadata"]["resourceVersion"]
    time.sleep(4)
    assert app(kubectl, "stalls")["metadata"]["resourceVersion"] == version
    lines = operator.read_text().splitlines()
    handled = [line for line in lines if "[shop/stalls] Handler 'reconcile' succeeded" in line]
    assert len(handled) == 1, handled
    kubectl.run("patch", "appmod", "stalls", "-n", NAMESPACE, "--type=merge", "-p",
                '{"spec": {"database": {"minCapacity": 2}}}')
    fixed = wait_for(lambda: (o := app(kubectl, "stalls"))["status"]["observedGeneration"] == 2
                     and o, "the fixed generation")
    assert conditions(fixed)["Stalled"]["status"] == "False"
    assert fixed["status"]["phase"] == "Pending"


def test_deleting_the_resource_releases_the_finalizer(kubectl, operator):
    kubectl.run("apply", "-n", NAMESPACE, "-f", str(ROOT / "examples" / "minimal.yaml"))
    wait_for(lambda: "appmod.io/finalizer" in app(kubectl, "minimal")["metadata"]
             .get("finalizers", []), "our finalizer")
    kubectl.run("delete", "appmod", "minimal", "-n", NAMESPACE, "--wait=true", "--timeout=60s")
    gone = kubectl.run("get", "appmod", "minimal", "-n", NAMESPACE, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr

