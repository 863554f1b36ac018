"""Crashes (issue 16): the operator, a real process, SIGKILLed at each step boundary and in the middle of
each long step (the image copy, the data copy, Aurora creating, the schema task running), then started
again; and PostgreSQL restarted mid data copy, the kube-apiserver mid reconcile, under a running operator.
After each, one resource per kill point: Ready; in moto exactly one of each AWS resource it owns, and no
create call repeated (moto overwrites a duplicate create silently, so the calls are counted too); the
database holding exactly the source's rows; ECR holding the image at the source's digest.

The source is an image of its own: six random layers (192 MB, so the copy outlasts a pass or two) and an SQLite
database of ROWS rows (so the copy takes some seconds), copied by the operator's process (runner Operator)
into a table made as the app's migrations would (AppCommand), in a database of each resource's own.
"""

from __future__ import annotations

import collections
import hashlib
import re
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from appmod_operator.names import OWNER_TAG, Owner
from appmod_operator.reconcile import schema
from appmod_operator.registry.client import Registry
from appmod_operator.status import (
    DATA_MIGRATED,
    DATABASE_READY,
    IMAGE_REPLICATED,
    SCHEMA_MIGRATED,
    SERVICE_STABLE,
    Reason,
)
from tests.e2e.conftest import ECS_CLUSTER, aws_client, conditions
from tests.e2e.watch import StatusWatch
from tests.migration.sqlite_db import build, fetch
from tests.registry.images import layer, push_image, random_layer

pytestmark = pytest.mark.e2e
NAMESPACE = "crashes"  # watched by this module's operator alone: other modules' resources are not resumed here
REGION = "us-east-2"  # oscar.yaml's
ROWS = 60_000
TITLE = "a product title long enough that the rows weigh something: "
# Each AWS call that makes something: per resource, exactly once, whatever the crashes. The ECS cluster and
# the default VPC's parts are shared by every resource of the region, made by whichever comes first.
SHARED = {"ecs:CreateCluster", "ec2:CreateDefaultVpc", "ec2:CreateDefaultSubnet"}
EXPECTED = {"ec2:CreateSecurityGroup": 2}  # the database's and the service's
MAKES = re.compile(r":(Create|Register|RunTask)")
STEPS = (DATABASE_READY, IMAGE_REPLICATED, SCHEMA_MIGRATED, DATA_MIGRATED, SERVICE_STABLE)
PROGRESS = re.compile(r"[1-9][\d,]* of [\d,]+ (bytes|rows) copied")


def step_is(condition: str, status: str = "True", reason: str | None = None, said: re.Pattern | None = None):
    """A predicate on the resource: `condition` has `status` (and `reason`, and a message `said` matches)."""
    def seen(obj: dict) -> bool:
        found = conditions(obj).get(condition, {})
        return (found.get("status") == status and (reason is None or found.get("reason") == reason)
                and (said is None or bool(said.search(found.get("message", "")))))
    return seen


def both(*predicates):
    return lambda obj: all(p(obj) for p in predicates)


# One pass runs every step it can, so some boundaries are one status write: the image replicated and the
# schema task started; the data migrated and the service created (moto's is stable at once). Those are one
# kill point each, and the schema task is killed under once it is under way (a later status than RUNNING).
KILL_POINTS = {
    "Aurora creating": step_is(DATABASE_READY, "False", Reason.CREATING),
    "DatabaseReady": step_is(DATABASE_READY),
    "image copy": step_is(IMAGE_REPLICATED, "False", Reason.COPYING, PROGRESS),
    "ImageReplicated, schema task started": step_is(IMAGE_REPLICATED),
    "schema task under way": step_is(SCHEMA_MIGRATED, "False", Reason.TASK_RUNNING, re.compile(r"is (?!RUNNING)")),
    "SchemaMigrated": step_is(SCHEMA_MIGRATED),
    "data copy": step_is(DATA_MIGRATED, "False", Reason.MIGRATING, PROGRESS),
    "DataMigrated, ServiceStable": both(step_is(DATA_MIGRATED), step_is(SERVICE_STABLE)),
}


@pytest.fixture(scope="module")
def crash_source(source_registry):
    """(the image reference, its SQLite file, its digest) of the module's source image."""
    folder = Path(tempfile.mkdtemp())
    rows = [(i, f"{TITLE}{i}") for i in range(1, ROWS + 1)]
    path = build(folder / "db.sqlite", "CREATE TABLE product (id INTEGER PRIMARY KEY, title TEXT NOT NULL)",
                 {"product": rows})
    registry = Registry(source_registry.host, side="the source registry", insecure=True)
    try:
        manifest = push_image(registry, "crashes/app", "v1", [
            layer({"app/sandbox/db.sqlite": path.read_bytes()}), *(random_layer(32 << 20) for _ in range(6))])
    finally:
        registry.close()
    return f"{source_registry.host}/crashes/app:v1", path, manifest.digest


@pytest.fixture(scope="module")
def operator(kubectl, start_operator):
    kubectl.run("create", "namespace", NAMESPACE)
    # Resync far away: what carries a resource on after a crash is the restart (kopf's resume), not the timer.
    running = start_operator.process(resync_seconds=3600, namespaces=(NAMESPACE,))
    yield running
    kubectl.run("delete", "appmod", "--all", "-n", NAMESPACE, "--wait=true", "--timeout=180s", timeout=240)
    kubectl.run("delete", "namespace", NAMESPACE, "--wait=false")


@pytest.fixture
def resource(request, kubectl, local_example, crash_source, master_users):
    """A resource of its own (name, database and master user), whose table is made as Django's migrate would;
    applied by the test. It stays until the module ends (deletionPolicy Delete), so each restart resumes the
    resources of the tests before too, which must make nothing again."""
    name = "-".join(re.sub(r"[^a-z0-9]+", "-", str(v).lower()) for v in request.node.callspec.params.values())
    user = f"crash_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    body = local_example("oscar.yaml", name)
    body["metadata"]["namespace"] = NAMESPACE
    body["spec"]["source"]["image"] = crash_source[0]
    body["spec"]["deletionPolicy"] = "Delete"
    body["spec"]["database"].update(databaseName=user, masterUsername=user, deletionProtection=False)
    master_users.make_master(user, "replaced-by-the-secret", user)
    url = master_users.url(user)
    fetch(url, f"CREATE TABLE product (id bigint PRIMARY KEY, title text NOT NULL); ALTER TABLE product OWNER TO "
          f"{user}")
    return body, url


def apply_and_act(kubectl, kube, body: dict, seen, act) -> tuple[dict, float]:
    """Applies `body` with a watch already open, so `act` runs the moment the operator writes what `seen`
    waits for; (that status, seconds from the apply)."""
    name = body["metadata"]["name"]
    watch = StatusWatch(kube, NAMESPACE, name, seen, act)
    started = time.monotonic()
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
    found = watch.wait()
    return found, time.monotonic() - started


def ready(kubectl, name: str, timeout: float = 240) -> dict:
    kubectl.run("wait", "-n", NAMESPACE, "--for=condition=Ready", f"appmod/{name}", f"--timeout={int(timeout)}s",
                timeout=timeout + 30)
    return kubectl.get("appmodernization", name, "-n", NAMESPACE)


def moto_counts(moto_server, name: str) -> dict[str, int]:
    """What moto holds of the resource `name`, counted by its owner tag or its deterministic names."""
    owner, ref = Owner(NAMESPACE, name, ""), f"{NAMESPACE}/{name}"
    rds, ecs = aws_client(moto_server, "rds", REGION), aws_client(moto_server, "ecs", REGION)
    secrets, ecr = aws_client(moto_server, "secretsmanager", REGION), aws_client(moto_server, "ecr", REGION)
    clusters = [c for c in rds.describe_db_clusters()["DBClusters"]
                if {"Key": OWNER_TAG, "Value": ref} in c.get("TagList", [])]
    instances = [i for i in rds.describe_db_instances()["DBInstances"]
                 if i.get("DBClusterIdentifier") == owner.cluster_identifier]
    ours = [s for s in secrets.list_secrets(Filters=[{"Key": "tag-value", "Values": [ref]}])["SecretList"]
            if not s.get("DeletedDate")]
    repositories = [r for r in ecr.describe_repositories()["repositories"]
                    if r["repositoryName"] == f"{NAMESPACE}-{name}"]
    definitions = ecs.list_task_definitions(familyPrefix=owner.task_family, status="ACTIVE")["taskDefinitionArns"]
    services = [s for s in ecs.describe_services(cluster=ECS_CLUSTER, services=[owner.task_family])["services"]
                if s["status"] == "ACTIVE"]
    arns = {a for status in ("RUNNING", "STOPPED")
            for a in ecs.list_tasks(cluster=ECS_CLUSTER, family=owner.task_family, desiredStatus=status)["taskArns"]}
    described = ecs.describe_tasks(cluster=ECS_CLUSTER, tasks=list(arns))["tasks"] if arns else []
    schema_tasks = [t for t in described if t.get("startedBy", "").startswith(schema.KIND.prefix)]
    return {"clusters": len(clusters), "instances": len(instances), "secrets": len(ours),
            "repositories": len(repositories), "task definitions": len(definitions), "services": len(services),
            "schema tasks": len(schema_tasks)}


def made(moto_server, before: collections.Counter) -> dict[str, int]:
    """The operator's calls that make something, since `before` (moto_server.actions())."""
    return {action: n for action, n in (collections.Counter(moto_server.actions()) - before).items()
            if MAKES.search(action)}


def rows_digest(rows) -> tuple[int, str]:
    rows = list(rows)
    return len(rows), hashlib.sha256("\n".join(f"{i}\t{t}" for i, t in rows).encode()).hexdigest()


def assert_converged(kubectl, moto_server, ecr_registry, crash_source, body: dict, url: str,
                     before: collections.Counter, what: str) -> None:
    """Ready, one of each AWS resource and one call making it, exactly the source's rows, and ECR holding the
    image at the source's digest; printed."""
    name, (_, sqlite_path, digest) = body["metadata"]["name"], crash_source
    obj = ready(kubectl, name)
    counts, calls = moto_counts(moto_server, name), made(moto_server, before)
    with sqlite3.connect(sqlite_path) as conn:
        source = rows_digest(conn.execute("SELECT id, title FROM product ORDER BY id"))
    target = rows_digest(fetch(url, "SELECT id, title FROM product ORDER BY id"))
    ecr = Registry(ecr_registry.host, side="ECR", credentials=(ecr_registry.user, ecr_registry.password),
                   insecure=True)
    try:
        in_ecr = ecr.manifest_digest(f"{NAMESPACE}-{name}", digest)
    finally:
        ecr.close()
    print(f"{what}: Ready; moto holds {counts}; create calls {calls}; rows {target[0]:,} of {source[0]:,} "
          f"(sha256 {'equal' if target == source else 'DIFFERENT'}); ECR {in_ecr}")
    assert counts == dict.fromkeys(counts, 1), counts
    assert all(n == EXPECTED.get(a, 1) for a, n in calls.items() if a not in SHARED), calls
    assert target == source
    assert in_ecr == digest and obj["status"]["image"]["digest"] == digest


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_restart_converges(point, kubectl, kube, moto_server, ecr_registry, operator, crash_source,
                                        resource):
    body, url = resource
    before = collections.Counter(moto_server.actions())
    seen, took = apply_and_act(kubectl, kube, body, KILL_POINTS[point], lambda _: operator.kill())
    said = {c: f"{v['status']}/{v['reason']}" for c, v in conditions(seen).items() if c in STEPS}
    under_way = [v["message"][-90:] for c, v in conditions(seen).items() if c in STEPS and v["status"] == "False"
                 and v["reason"] not in ("WaitingForSteps", "Creating")]
    print(f"SIGKILL at {point!r}, {took:.1f}s after the apply; the status then: {said}; under way: {under_way}")
    operator.start()
    restarted = time.monotonic()
    assert_converged(kubectl, moto_server, ecr_registry, crash_source, body, url, before, f"kill at {point!r}")
    print(f"{point!r}: Ready {time.monotonic() - restarted:.1f}s after the restart")


@pytest.mark.parametrize(("part", "point"), [("postgres", "data copy"), ("kube", "schema task under way")])
def test_a_restarted_part_is_noticed_and_the_operator_carries_on(part, point, request, kubectl, kube, moto_server,
                                                                  ecr_registry, operator, crash_source, resource):
    body, url = resource
    name, restarted, took = body["metadata"]["name"], request.getfixturevalue(part), {}
    before, logged = collections.Counter(moto_server.actions()), len(operator.log.read_text().splitlines())

    def restart(_) -> None:
        started = time.monotonic()
        restarted.restart()
        took["restart"] = time.monotonic() - started

    seen, took["apply"] = apply_and_act(kubectl, kube, body, KILL_POINTS[point], restart)
    step = DATA_MIGRATED if part == "postgres" else SCHEMA_MIGRATED
    print(f"{part} restarted at {point!r}, {took['apply']:.1f}s after the apply, down and up again in "
          f"{took['restart']:.1f}s; the step then: {conditions(seen)[step]['message']}")
    started = time.monotonic()
    assert_converged(kubectl, moto_server, ecr_registry, crash_source, body, url, before, f"{part} restart")
    print(f"{part} restart: Ready {time.monotonic() - started:.1f}s after it")
    assert operator.proc.poll() is None  # the same operator process, never restarted
    lines = operator.log.read_text().splitlines()[logged:]
    if part == "postgres":
        # A database that went away is the database not answering, retried, not an error of ours.
        ended = [line for line in lines if f"[{NAMESPACE}/{name}]" in line and "the data job ended with" in line]
        print(f"the data job's ends: {[line.split(' ended with ', 1)[1][:100] for line in ended]}")
        assert ended and all("ended with TargetError: lost the connection" in line for line in ended), ended
    else:
        retried = [line for line in lines if "failed; will retry" in line]
        print(f"kopf's requests retried while the API server was away: {len(retried)}")
        assert retried
