"""A tiny checker for the OpenAPI v3 subset that a structural Kubernetes 1.20 CRD schema uses.

It covers what crds/appmodernization.yaml relies on: type, enum, pattern, minLength/maxLength,
minimum/maximum, minItems/maxItems, required, oneOf/anyOf/allOf/not made only of
`required` lists, x-kubernetes-list-type map|set uniqueness, and defaulting. Unknown fields are
errors, because the apiserver prunes them from objects whose schema does not preserve them.
Patterns run under Python's `re` with ASCII classes, close enough to Go's RE2 for these patterns.
Formats (date-time, int64) are not checked.
"""

import copy
import re

COMBINATORS = ("allOf", "anyOf", "oneOf", "not")
PY_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def iter_nodes(schema, path="$"):
    """Yield (path, node) for `schema` and every schema under properties, items, additionalProperties."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from iter_nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from iter_nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from iter_nodes(schema["additionalProperties"], f"{path}{{}}")


def find_key(doc, key, path="$"):
    """Yield the path of every occurrence of `key` anywhere in a nested dict/list document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == key:
                yield f"{path}.{k}"
            yield from find_key(v, key, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from find_key(v, key, f"{path}[{i}]")


def _branches(node, combinator):
    branches = node.get(combinator, [])
    return [branches] if combinator == "not" else branches


def structural_problems(schema):
    """Why `schema` is not structural, as far as this project's schema can get it wrong."""
    problems = []
    for path, node in iter_nodes(schema):
        if "type" not in node and not node.get("x-kubernetes-int-or-string"):
            problems.append(f"{path}: no type")
        for combinator in COMBINATORS:
            for branch in _branches(node, combinator):
                extra = sorted(set(branch) - {"required"})
                if extra:
                    problems.append(f"{path}.{combinator}: branch has {extra}, only `required` allowed")
    return problems


def _type_ok(value, node):
    if node.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    if isinstance(value, bool) and node.get("type") != "boolean":
        return False  # bool is an int subclass in Python, not in JSON
    return isinstance(value, PY_TYPES.get(node.get("type"), ()))


def _has_required(value, branch):
    return all(key in value for key in branch.get("required", []))


def validate(value, node, path="$"):
    """Return a list of error strings, empty when `value` is valid under schema `node`."""
    if not _type_ok(value, node):
        return [f"{path}: expected {node.get('type', 'int-or-string')}, got {type(value).__name__}"]
    errors = []
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{path}: {value!r} not in {node['enum']}")
    if isinstance(value, str):
        if "pattern" in node and not re.search(node["pattern"], value, re.ASCII):
            errors.append(f"{path}: {value!r} does not match {node['pattern']}")
        if len(value) < node.get("minLength", 0) or len(value) > node.get("maxLength", len(value)):
            errors.append(f"{path}: length {len(value)} out of range")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < node.get("minimum", value) or value > node.get("maximum", value):
            errors.append(f"{path}: {value} out of range")
    elif isinstance(value, list):
        if len(value) < node.get("minItems", 0) or len(value) > node.get("maxItems", len(value)):
            errors.append(f"{path}: {len(value)} items out of range")
        for i, item in enumerate(value):
            errors += validate(item, node["items"], f"{path}[{i}]")
        errors += _list_uniqueness(value, node, path)
    elif isinstance(value, dict):
        errors += _validate_object(value, node, path)
    return errors


def _validate_object(value, node, path):
    errors = [f"{path}: missing required {key!r}" for key in node.get("required", []) if key not in value]
    props = node.get("properties", {})
    extra = node.get("additionalProperties")
    for key, sub in value.items():
        if key in props:
            errors += validate(sub, props[key], f"{path}.{key}")
        elif isinstance(extra, dict):
            errors += validate(sub, extra, f"{path}.{key}")
        elif not node.get("x-kubernetes-preserve-unknown-fields"):
            errors.append(f"{path}: unknown field {key!r} (the apiserver would prune it)")
    matched = {c: sum(_has_required(value, b) for b in _branches(node, c)) for c in COMBINATORS if c in node}
    if matched.get("oneOf", 1) != 1:
        errors.append(f"{path}: must match exactly one of {node['oneOf']}, matches {matched['oneOf']}")
    if matched.get("anyOf", 1) < 1:
        errors.append(f"{path}: must match one of {node['anyOf']}")
    if "allOf" in node and matched["allOf"] != len(node["allOf"]):
        errors.append(f"{path}: must match all of {node['allOf']}")
    if matched.get("not", 0):
        errors.append(f"{path}: must not match {node['not']}")
    return errors


def _list_uniqueness(value, node, path):
    list_type = node.get("x-kubernetes-list-type")
    if list_type == "map":
        keys = [tuple(item.get(k) for k in node["x-kubernetes-list-map-keys"]) for item in value]
    elif list_type == "set":
        keys = [repr(item) for item in value]
    else:
        return []
    return [f"{path}: duplicate entry {k}" for i, k in enumerate(keys) if k in keys[:i]]


def apply_defaults(value, node):
    """Return a copy of `value` defaulted the way the apiserver does it: top-down, so a
    property defaulted to {} then gets the defaults of its own properties."""
    value = copy.deepcopy(value)
    if isinstance(value, dict):
        props = node.get("properties", {})
        for key, sub in props.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        for key in value:
            if key in props:
                value[key] = apply_defaults(value[key], props[key])
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        value = [apply_defaults(item, node["items"]) for item in value]
    return value
