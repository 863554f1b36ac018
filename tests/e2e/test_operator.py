"""End to end against a real kube-apiserver: the CRD, the operator's first status, the printer
columns, rejection of invalid resources by the API server, Stalled without a retry storm, deletion."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.kubectl import Kubectl, wait_for
from tests.infra import process
from tests.infra.kube import OPERATOR_USER

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
NS = "shop"


@pytest.fixture(scope="module")
def kubectl(kube) -> Kubectl:
    admin = Kubectl(kube.kubeconfig)
    admin.run("apply", "-f", str(ROOT / "crds"))
    admin.run("wait", "--for=condition=Established", "--timeout=60s", "crd/appmodernizations.appmod.io")
    admin.run("apply", "-f", str(ROOT / "manifests" / "rbac.yaml"))
    # The operator runs as a plain token user bound to the shipped ClusterRole, so RBAC gaps show up.
    admin.run("create", "clusterrolebinding", "appmod-operator-test", "--clusterrole=appmod-operator",
              f"--user={OPERATOR_USER}")
    admin.run("create", "namespace", NS)
    return admin


@pytest.fixture(scope="module")
def operator(kube, kubectl, tmp_path_factory):
    folder = tmp_path_factory.mktemp("operator")
    kubeconfig = kube.write_kubeconfig(folder / "kubeconfig", OPERATOR_USER, kube.operator_token)
    port = process.free_port()
    log = folder / "operator.log"
    proc = process.spawn(["appmod-operator", "--liveness", f"http://127.0.0.1:{port}/healthz"], log, env={
        "KUBECONFIG": str(kubeconfig), "APPMOD_RESYNC_SECONDS": "3600", "APPMOD_LOG_LEVEL": "debug"})
    try:
        healthy = lambda: process.http_status(f"http://127.0.0.1:{port}/healthz") == 200  # noqa: E731
        process.wait_until(healthy, "appmod-operator", 60, proc, log)
        yield log
    finally:
        process.stop_pid(proc.pid)
        print(log.read_text()[-5000:])


def example(name: str) -> dict:
    return yaml.safe_load((ROOT / "examples" / name).read_text())


def conditions(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def test_crd_is_established_with_names(kubectl):
    crd = kubectl.get("crd", "appmodernizations.appmod.io")
    established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
    assert established[0]["status"] == "True"
    assert set(crd["status"]["acceptedNames"]["shortNames"]) == {"appmod", "appmods"}


def test_operator_writes_the_first_status(kubectl, operator):
    kubectl.run("apply", "-n", NS, "-f", str(ROOT / "examples" / "oscar.yaml"))
    obj = wait_for(lambda: (o := kubectl.get("appmodernization", "oscar", "-n", NS))
                   .get("status", {}).get("observedGeneration") == 1 and o, "the first status")
    assert obj["status"]["phase"] == "Pending"
    got = {t: (c["status"], c["reason"]) for t, c in conditions(obj).items()}
    assert got == {"Ready": ("False", "StepsPending"), "Reconciling": ("True", "Progressing"),
                   "Stalled": ("False", "SpecValid")}
    assert "appmod.io/finalizer" in obj["metadata"]["finalizers"]
    assert obj["spec"]["database"]["secondsUntilAutoPause"] == 300  # the API server applied the defaults


def test_kubectl_get_shows_the_printer_columns(kubectl, operator):
    wait_for(lambda: kubectl.get("appmod", "oscar", "-n", NS).get("status"), "a status")
    header, row = kubectl.run("get", "appmodernizations", "-n", NS).stdout.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "REASON", "RUNNING", "AGE"]
    assert row.split()[:3] == ["oscar", "False", "StepsPending"]
    wide_header = kubectl.run("get", "appmods", "-n", NS, "-o", "wide").stdout.splitlines()[0].split()
    assert {"DATABASE", "DIGEST", "PHASE"} <= set(wide_header)
    assert "appmodernization.appmod.io/oscar" in kubectl.run("get", "all", "-n", NS, "-o", "name").stdout


@pytest.mark.parametrize(("change", "field"), [
    (lambda s: s.update(deletionPolicy="Sometimes"), "spec.deletionPolicy"),
    (lambda s: s["source"].pop("image"), "spec.source.image"),
    (lambda s: s["database"].update(maxCapacity=1000), "spec.database.maxCapacity"),
])
def test_the_api_server_rejects_invalid_resources_naming_the_field(kubectl, change, field):
    body = copy.deepcopy(example("oscar.yaml"))
    body["metadata"]["name"] = "invalid"
    change(body["spec"])
    result = kubectl.run("apply", "-n", NS, "--validate=false", "-f", "-", stdin=yaml.safe_dump(body), check=False)
    assert result.returncode != 0
    assert field in result.stderr and "invalid" in result.stderr.lower()


def test_a_wrong_spec_stalls_once_and_recovers_when_fixed(kubectl, operator):
    body = example("minimal.yaml")
    body["metadata"]["name"] = "stalls"
    body["spec"]["database"] = {"minCapacity": 8, "maxCapacity": 4}  # passes the schema, fails the operator
    kubectl.run("apply", "-n", NS, "-f", "-", stdin=yaml.safe_dump(body))
    stalled = wait_for(lambda: conditions(kubectl.get("appmod", "stalls", "-n", NS)).get("Stalled", {})
                       .get("status") == "True" and kubectl.get("appmod", "stalls", "-n", NS), "Stalled=True")
    assert conditions(stalled)["Stalled"]["message"].startswith("spec.database.minCapacity:")
    assert stalled["status"]["phase"] == "Failed"
    # No retry storm: once settled, the object stays unchanged and the handler ran once.
    time.sleep(2)
    version = kubectl.get("appmod", "stalls", "-n", NS)["metadata"]["resourceVersion"]
    time.sleep(4)
    assert kubectl.get("appmod", "stalls", "-n", NS)["metadata"]["resourceVersion"] == version
    lines = operator.read_text().splitlines()
    handled = [line for line in lines if "[shop/stalls] Handler 'reconcile' succeeded" in line]
    assert len(handled) == 1, handled
    kubectl.run("patch", "appmod", "stalls", "-n", NS, "--type=merge", "-p",
                '{"spec": {"database": {"minCapacity": 2}}}')
    fixed = wait_for(lambda: (o := kubectl.get("appmod", "stalls", "-n", NS))["status"]["observedGeneration"] == 2
                     and o, "the fixed generation")
    assert conditions(fixed)["Stalled"]["status"] == "False"
    assert fixed["status"]["phase"] == "Pending"


def test_deleting_the_resource_releases_the_finalizer(kubectl, operator):
    kubectl.run("apply", "-n", NS, "-f", str(ROOT / "examples" / "minimal.yaml"))
    wait_for(lambda: "appmod.io/finalizer" in kubectl.get("appmod", "minimal", "-n", NS)["metadata"]
             .get("finalizers", []), "our finalizer")
    kubectl.run("delete", "appmod", "minimal", "-n", NS, "--wait=true", "--timeout=60s")
    gone = kubectl.run("get", "appmod", "minimal", "-n", NS, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr

