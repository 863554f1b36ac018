"""The `appmod` command line: the same engine as the operator, without a cluster.

Commands: `validate FILE` (the spec checks the operator runs), `reconcile FILE` (one reconcile
pass over a resource read from a YAML file, printing the status it would write) and
`migrate SOURCE TARGET` (SQLite to PostgreSQL, see migration/).
"""

from __future__ import annotations

import argparse
import json
import sys

import yaml

from appmod_operator import KIND, config, logs, spec
from appmod_operator import __doc__ as package_doc
from appmod_operator.errors import ConfigError, MigrationError, SpecError
from appmod_operator.migration import progress, run
from appmod_operator.reconcile import engine

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appmod", description=package_doc.splitlines()[0])
    config.add_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("validate", "check a resource's spec"), ("reconcile", "run one reconcile pass")):
        command = commands.add_parser(name, help=help_)
        command.add_argument("file", help="an AppModernization YAML file ('-' for standard input)")
        command.add_argument("--namespace", "-n", default=None, help="namespace when the file names none")
    _add_migrate(commands)
    args = parser.parse_args(argv)
    try:
        logs.configure(config.load(args))
        if args.command == "migrate":
            return _migrate(args)
        body = _read_resource(args.file, args.namespace)
        if args.command == "validate":
            meta = body["metadata"]
            spec.parse(body.get("spec") or {}, meta["namespace"], meta["name"])
            print(f"{meta['namespace']}/{meta['name']}: valid")
            return 0
        result = engine.reconcile(body)
        yaml.safe_dump({"status": result.status}, sys.stdout, sort_keys=False)
        if result.retry_after is not None:
            print(f"appmod: {result.message}; run again in about {result.retry_after:g}s", file=sys.stderr)
        return EXIT_USER_ERROR if result.status["phase"] == "Failed" else 0
    except (ConfigError, SpecError, MigrationError, ResourceFileError) as e:
        print(f"appmod: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("appmod: interrupted; every table is either complete or untouched: run the same command again "
              "to finish", file=sys.stderr)
        return EXIT_INTERRUPTED


def _add_migrate(commands) -> None:
    command = commands.add_parser(
        "migrate", help="copy a SQLite database into PostgreSQL, exactly",
        description="Copy a SQLite database into PostgreSQL, verified. The password may come from the URL, "
                    "PGPASSWORD or ~/.pgpass; it is never printed.")
    command.add_argument("source", help="SQLite file: a path or sqlite:///path")
    command.add_argument("target", help="postgresql://user[:password]@host:port/database")
    command.add_argument("--schema", choices=["convert", "existing"], default="convert",
                         help="convert: create the tables from the SQLite schema (default); existing: the "
                              "tables exist already (the app's own migrations made them)")
    command.add_argument("--verify", choices=["checksum", "rowcount"], default="checksum",
                         help="after the copy, compare an order-independent checksum of every value (default) "
                              "or only row counts")
    command.add_argument("--replace", action="store_true",
                         help="overwrite target tables that already hold different data")
    command.add_argument("--keep-as-text", action="append", default=[], metavar="TABLE.COLUMN",
                         help="convert mode: keep this column as text instead of stopping on a value its "
                              "declared type cannot hold (repeatable)")
    command.add_argument("--exclude", action="append", default=[], metavar="TABLE", help="do not copy (repeatable)")
    command.add_argument("--target-schema", default="public", help="PostgreSQL schema to copy into")
    command.add_argument("--workers", type=int, default=2, help="parallel copies (default 2)")
    command.add_argument("--json", action="store_true", help="print one JSON summary on standard output")


def _migrate(args: argparse.Namespace) -> int:
    source_path = args.source.removeprefix("sqlite://") if args.source.startswith("sqlite:///") else args.source
    options = run.Options(schema=args.schema, verify=args.verify, replace=args.replace,
                          workers=max(1, args.workers), keep_as_text=frozenset(args.keep_as_text),
                          exclude=frozenset(args.exclude), target_schema=args.target_schema)
    display = progress.TerminalProgress(sys.stderr)
    try:
        report = run.migrate(source_path, args.target, options, display.update)
    finally:
        display.close()
    for line in report.warnings:
        print(f"appmod: warning: {line}", file=sys.stderr)
    for line in report.untranslated:
        print(f"appmod: not carried over: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.summary()))
    else:
        print(f"{len(report.tables)} tables, {report.rows:,} rows, {report.bytes:,} bytes in "
              f"{report.seconds:.1f}s ({report.rows / max(report.seconds, 1e-9):,.0f} rows/s); "
              f"checksum {report.checksum} ({args.verify})")
    return 0


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
