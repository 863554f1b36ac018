"""docs/reference.md is current with the CRD (scripts/render_reference.py --check), and names every field
the CRD's schema has under spec."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_is_current_with_the_crd():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_reference.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_spec_field_has_a_row():
    crd = yaml.safe_load((ROOT / "crds" / "appmodernization.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    reference = (ROOT / "docs" / "reference.md").read_text()

    def fields(node: dict, path: str):
        for name, child in (node.get("properties") or {}).items():
            yield path, name
            yield from fields(child.get("items", child) if child.get("type") == "array" else child,
                              f"{path}.{name}" + ("[]" if child.get("type") == "array" else ""))

    for path, name in fields(spec, ".spec"):
        section = reference.split(f"## `{path}`\n", 1)[1].split("\n## ", 1)[0]
        assert f"| `{name}` |" in section, f"{path}.{name}"
