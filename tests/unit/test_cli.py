"""The `appmod` console script, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def appmod(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["appmod", *args], input=stdin, capture_output=True, text=True, env=env)


def test_validate_accepts_the_examples():
    for example in ("oscar.yaml", "minimal.yaml"):
        result = appmod("validate", str(ROOT / "examples" / example), "-n", "shop")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("shop/")


def test_validate_rejects_a_wrong_spec_naming_the_field():
    body = yaml.safe_load((ROOT / "examples" / "minimal.yaml").read_text())
    body["spec"]["service"] = {"cpu": "256", "memory": "8192"}
    result = appmod("validate", "-", stdin=yaml.safe_dump(body))
    assert result.returncode == 2
    assert "spec.service.memory" in result.stderr


def test_reconcile_prints_the_status_it_would_write(aws, source_image, tmp_path):
    env = os.environ.copy()  # the aws fixture pointed these at moto and the loopback registries
    body = yaml.safe_load((ROOT / "examples" / "minimal.yaml").read_text())
    body["spec"]["source"]["image"] = source_image
    # No data to copy (tests/aws/test_data.py copies some), so two passes reach Ready.
    body["spec"]["migration"] = {"schema": {"strategy": "None"}, "data": {"enabled": False}}
    (tmp_path / "minimal.yaml").write_text(yaml.safe_dump(body))
    result = appmod("reconcile", str(tmp_path / "minimal.yaml"), env=env)
    assert result.returncode == 0, result.stderr
    status = yaml.safe_load(result.stdout)["status"]
    first = {c["type"]: c for c in status["conditions"]}
    assert set(first) == {"Ready", "Reconciling", "Stalled", "DatabaseReady", "ImageReplicated", "SchemaMigrated",
                          "DataMigrated", "ServiceStable"}
    # The copy ran beside the pass, so one more pass reported it (the cluster may be available by then).
    assert first["DatabaseReady"]["reason"] in ("Creating", "Available")
    assert (first["ImageReplicated"]["status"], first["ImageReplicated"]["reason"]) == ("True", "Replicated")
    identifier = status["database"]["clusterIdentifier"]
    assert identifier.startswith("appmod-default-minimal-")
    assert ("run again" in result.stderr) is (status["phase"] != "Ready")
    # The cluster's identifier is deterministic, so a second pass finds the one the first made.
    result = appmod("reconcile", str(tmp_path / "minimal.yaml"), env=env)
    assert result.returncode == 0, result.stderr
    status = yaml.safe_load(result.stdout)["status"]
    second = {c["type"]: c for c in status["conditions"]}
    assert second["DatabaseReady"]["status"] == "True", second["DatabaseReady"]
    assert (second["ServiceStable"]["status"], second["ServiceStable"]["reason"]) == ("True", "Stable")
    assert (second["DataMigrated"]["status"], second["DataMigrated"]["reason"]) == ("True", "NotApplicable")
    assert (second["Ready"]["status"], status["phase"]) == ("True", "Ready")
    assert status["database"]["clusterIdentifier"] == identifier and status["database"]["endpoint"]


def test_not_a_resource_and_bad_settings_are_clear_errors(tmp_path):
    (tmp_path / "pod.yaml").write_text("kind: Pod\nmetadata: {name: x}\n")
    result = appmod("validate", str(tmp_path / "pod.yaml"))
    assert result.returncode == 2 and "not an AppModernization" in result.stderr
    result = appmod("--resync-seconds", "never", "validate", str(ROOT / "examples" / "minimal.yaml"))
    assert result.returncode == 2 and "--resync-seconds" in result.stderr


def test_validate_warns_about_unknown_fields_and_drops_them_as_the_api_server_does(tmp_path):
    body = yaml.safe_load((ROOT / "examples" / "minimal.yaml").read_text())
    body["spec"]["replicas"] = 2
    body["spec"]["service"] = {"port": 80, "env": [{"name": "A", "value": "b", "from": "x"}]}
    (tmp_path / "unknown.yaml").write_text(yaml.safe_dump(body))
    result = appmod("validate", str(tmp_path / "unknown.yaml"))
    assert result.returncode == 0 and result.stdout.startswith("default/minimal: valid"), result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("appmod: warning:")]
    assert [w.split(": ")[3] for w in warned] == ["spec.service.env[0].from is not a field of AppModernization",
                                                 "spec.service.port is not a field of AppModernization",
                                                 "spec.replicas is not a field of AppModernization"]
