"""The `appmod` command line: the same engine as the operator, without a cluster.

Commands: `validate FILE` (the spec checks the operator runs) and `reconcile FILE` (one reconcile
pass over a resource read from a YAML file, printing the status it would write).
"""

from __future__ import annotations

import argparse
import sys

import yaml

from appmod_operator import KIND, config, logs, spec
from appmod_operator import __doc__ as package_doc
from appmod_operator.errors import ConfigError, SpecError
from appmod_operator.reconcile import engine

EXIT_USER_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appmod", description=package_doc.splitlines()[0])
    config.add_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("validate", "check a resource's spec"), ("reconcile", "run one reconcile pass")):
        command = commands.add_parser(name, help=help_)
        command.add_argument("file", help="an AppModernization YAML file ('-' for standard input)")
        command.add_argument("--namespace", "-n", default=None, help="namespace when the file names none")
    args = parser.parse_args(argv)
    try:
        logs.configure(config.load(args))
        body = _read_resource(args.file, args.namespace)
        if args.command == "validate":
            meta = body["metadata"]
            spec.parse(body.get("spec") or {}, meta["namespace"], meta["name"])
            print(f"{meta['namespace']}/{meta['name']}: valid")
            return 0
        result = engine.reconcile(body)
        yaml.safe_dump({"status": result}, sys.stdout, sort_keys=False)
        return EXIT_USER_ERROR if result["phase"] == "Failed" else 0
    except (ConfigError, SpecError, ResourceFileError) as e:
        print(f"appmod: {e}", file=sys.stderr)
        return EXIT_USER_ERROR


class ResourceFileError(Exception):
    pass


def _read_resource(path: str, namespace: str | None) -> dict:
    try:
        if path == "-":
            body = yaml.safe_load(sys.stdin)
        else:
            with open(path, encoding="utf-8") as f:
                body = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise ResourceFileError(f"{path}: {e}") from None
    kind = body.get("kind") if isinstance(body, dict) else None
    if kind != KIND:
        raise ResourceFileError(f"{path}: not an {KIND} resource (kind is {kind!r})")
    meta = body.setdefault("metadata", {})
    if not meta.get("name"):
        raise ResourceFileError(f"{path}: metadata.name is required")
    meta["namespace"] = meta.get("namespace") or namespace or "default"
    return body
