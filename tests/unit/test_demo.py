"""`appmod demo` applies examples/oscar.yaml, shipped in the package, changed only where its stand-ins need it."""

from __future__ import annotations

from pathlib import Path

import yaml

from appmod_operator.demo import run

ROOT = Path(__file__).resolve().parents[2]


def test_the_packaged_example_and_crd_are_the_repository_s():
    packaged = ROOT / "operator" / "appmod_operator" / "demo"
    for copy, original in (("oscar.yaml", "examples/oscar.yaml"), ("crd.yaml", "crds/appmodernization.yaml")):
        assert (packaged / copy).read_bytes() == (ROOT / original).read_bytes(), \
            f"copy {original} to operator/appmod_operator/demo/{copy}"


def test_the_demo_changes_only_what_the_stand_ins_need():
    example = yaml.safe_load((ROOT / "examples" / "oscar.yaml").read_text())
    demo = run.demo_resource("oci:/tmp/x/shop:latest")
    changed = {path for path in _paths(example) | _paths(demo) if _at(example, path) != _at(demo, path)}
    assert changed == {("metadata", "namespace"), ("spec", "deletionPolicy"), ("spec", "source", "image"),
                       ("spec", "migration", "schema", "strategy"), ("spec", "migration", "schema", "command"),
                       ("spec", "migration", "data", "runner")}
    assert demo["spec"]["migration"]["schema"] == {"strategy": "Convert"}


def _paths(value, prefix=()):
    if not isinstance(value, dict):
        return {prefix}
    return {p for key, item in value.items() for p in _paths(item, (*prefix, key))}


def _at(value, path):
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value
