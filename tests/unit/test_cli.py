"""The `appmod` console script, run as a user runs it."""

from __future__ import annotations

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


def test_reconcile_prints_the_status_it_would_write():
    result = appmod("reconcile", str(ROOT / "examples" / "minimal.yaml"))
    assert result.returncode == 0, result.stderr
    status = yaml.safe_load(result.stdout)["status"]
    assert status["phase"] == "Pending"
    assert [c["type"] for c in status["conditions"]] == ["Ready", "Reconciling", "Stalled"]


def test_not_a_resource_and_bad_settings_are_clear_errors(tmp_path):
    (tmp_path / "pod.yaml").write_text("kind: Pod\nmetadata: {name: x}\n")
    result = appmod("validate", str(tmp_path / "pod.yaml"))
    assert result.returncode == 2 and "not an AppModernization" in result.stderr
    result = appmod("--resync-seconds", "never", "validate", str(ROOT / "examples" / "minimal.yaml"))
    assert result.returncode == 2 and "--resync-seconds" in result.stderr
