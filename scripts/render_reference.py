"""Writes docs/reference.md: every field of the AppModernization resource, from the CRD's own schema
(crds/appmodernization.yaml), so the reference cannot drift from what the API server enforces.

    python scripts/render_reference.py          # rewrite docs/reference.md
    python scripts/render_reference.py --check  # exit 1 if it is not current

One table per object (spec, then each nested object), a row per field: its type, whether it is required,
its default, what values it takes (enum, pattern, bounds) and the CRD's description.
tests/unit/test_reference_doc.py runs --check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CRD = ROOT / "crds" / "appmodernization.yaml"
REFERENCE = ROOT / "docs" / "reference.md"
INTRO = """# AppModernization reference

Generated from `crds/appmodernization.yaml` by `scripts/render_reference.py`; do not edit. `apiVersion:
appmod.io/v1alpha1`, `kind: AppModernization`, namespaced. Rules the schema cannot say (for example
`minCapacity <= maxCapacity`, a command for `AppCommand`, Fargate's cpu/memory pairs) are checked by the
operator, which reports them as `Stalled=True` with the field in the message ([status](status.md)).
"""


def build_reference() -> str:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    schema = version["schema"]["openAPIV3Schema"]["properties"]
    sections: list[str] = []
    for top in ("spec", "status"):
        _object(f".{top}", schema[top], sections)
    return INTRO + "\n" + "\n".join(sections)


def _object(path: str, node: dict, sections: list[str]) -> None:
    properties = node.get("properties") or {}
    if not properties:
        return
    required = set(node.get("required") or [])
    rows = ["| field | type | required | default | values | description |", "| --- | --- | --- | --- | --- | --- |"]
    nested = []
    for name, child in properties.items():
        rows.append(f"| `{name}` | {_type(child)} | {'yes' if name in required else ''} | {_default(child)} | "
                    f"{_values(child)} | {_cell(child.get('description', ''))} |")
        item = child.get("items") if child.get("type") == "array" else None
        if child.get("properties"):
            nested.append((f"{path}.{name}", child))
        elif item and item.get("properties"):
            nested.append((f"{path}.{name}[]", item))
    description = _cell(node.get("description", ""))
    sections.append(f"## `{path}`\n\n" + (f"{description}\n\n" if description else "") + "\n".join(rows) + "\n")
    for child_path, child in nested:
        _object(child_path, child, sections)


def _type(node: dict) -> str:
    kind = node.get("type", "object" if node.get("properties") else "any")
    if kind == "array":
        return f"array of {_type(node.get('items') or {})}"
    if kind == "object" and not node.get("properties") and isinstance(node.get("additionalProperties"), dict):
        return f"map of {_type(node['additionalProperties'])}"
    return kind


def _default(node: dict) -> str:
    if "default" not in node:
        return ""
    value = node["default"]
    return f"`{value if isinstance(value, str) else json.dumps(value)}`"


def _values(node: dict) -> str:
    parts = []
    if "enum" in node:
        parts.append(", ".join(f"`{v}`" for v in node["enum"]))
    if "pattern" in node:
        parts.append(f"pattern `{node['pattern']}`")
    for key, word in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"), ("maxLength", "length ≤"),
                      ("minItems", "items ≥"), ("maxItems", "items ≤")):
        if key in node:
            parts.append(f"{word} {node[key]}")
    return _cell("; ".join(parts))


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether docs/reference.md is current")
    args = parser.parse_args()
    text = build_reference()
    if REFERENCE.exists() and REFERENCE.read_text() == text:
        return 0
    if args.check:
        print("docs/reference.md is not current; run python scripts/render_reference.py", file=sys.stderr)
        return 1
    REFERENCE.write_text(text)
    print(f"wrote {REFERENCE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
