"""The cluster side of the end-to-end tests: the CRD and RBAC applied once, and the operator as a
subprocess running as a plain token user bound to the shipped ClusterRole (so RBAC gaps show up),
talking to the session's moto server for AWS and to the loopback registries for images (ECR's data plane is
the ECR stand-in). moto is not reset here: the operator outlives a test. No registry outside this machine
can be reached, so every resource applied here copies a local image (`local_example`)."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
import yaml

from appmod_operator.names import Owner
from tests import chart
from tests.conftest import REGIONS
from tests.e2e.kubectl import Kubectl
from tests.infra import process, produced
from tests.infra.moto import REGION

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "shop"
ECS_CLUSTER = "appmod"  # spec.service.cluster's default, and what the examples name
OSCAR_DATABASE = "/app/sandbox/db.sqlite"  # the sandbox image's SQLite, spec.source.database.sqlite.pathInImage


def example(name: str) -> dict:
    """A resource from examples/, as a dict to change before applying."""
    return yaml.safe_load((ROOT / "examples" / name).read_text())


def with_image(body: dict, image: str) -> dict:
    """`body` with spec.source.image set to `image` (changed in place, and returned)."""
    body["spec"]["source"]["image"] = image
    return body


def app(kubectl: Kubectl, name: str) -> dict:
    """The AppModernization `name` in the test namespace, as the API server has it now."""
    return kubectl.get("appmodernization", name, "-n", NAMESPACE)


def conditions(obj: dict) -> dict[str, dict]:
    """The status conditions of `obj` by type."""
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def condition_is(kubectl, name: str, condition: str, status: str = "True", timeout: float = 60) -> dict:
    """The resource once its `condition` has `status`, waited for as a user would: `kubectl wait`."""
    kubectl.run("wait", "-n", NAMESPACE, f"--for=condition={condition}={status}", f"appmod/{name}",
                f"--timeout={int(timeout)}s", timeout=timeout + 30)
    return app(kubectl, name)


def owner(name: str) -> Owner:
    """The names the operator gives the AWS resources of `name` (they do not depend on the uid)."""
    return Owner(NAMESPACE, name, "")


def find_service(ecs, name: str, cluster: str = ECS_CLUSTER) -> dict | None:
    """The ECS service of the resource `name` as ECS describes it (ACTIVE, or INACTIVE once deleted); None
    when ECS has never heard of it."""
    try:
        found = ecs.describe_services(cluster=cluster, services=[owner(name).task_family])["services"]
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "ClusterNotFoundException":
            raise
        return None
    return found[0] if found else None


def service_is_gone(ecs, name: str) -> bool:
    """No ACTIVE ECS service of the resource `name` (a deleted one lingers as DRAINING, then INACTIVE)."""
    found = find_service(ecs, name)
    return found is None or found["status"] != "ACTIVE"


def delete_and_wait(kubectl, name: str) -> None:
    """Deletes the resource and waits until the API server no longer has it (the finalizer released)."""
    kubectl.run("delete", "appmod", name, "-n", NAMESPACE, "--wait=true", "--timeout=60s")
    gone = kubectl.run("get", "appmod", name, "-n", NAMESPACE, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def aws_client(moto_server, service: str, region: str = REGION):
    """A boto3 client for moto, as the operator sees it (region: the resource's spec.region, if it names one)."""
    env = moto_server.env()
    return boto3.client(service, endpoint_url=moto_server.url, region_name=region,
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture(scope="session")
def kubectl(kube) -> Kubectl:
    """The admin's kubectl, after the CRD, the test namespace, and the chart's ServiceAccount and RBAC (as
    `helm install` makes them, pull secrets readable in the test namespace) are in place."""
    admin = Kubectl(kube.kubeconfig)
    admin.run("apply", "-f", str(ROOT / "crds"))
    admin.run("wait", "--for=condition=Established", "--timeout=60s", "crd/appmodernizations.appmod.io")
    admin.run("create", "namespace", NAMESPACE)
    admin.run("create", "namespace", chart.NAMESPACE)
    admin.run("apply", "-f", "-", stdin=chart.rbac({"rbac": {"secretNamespaces": [NAMESPACE]}}))
    return admin


@pytest.fixture(scope="session")
def operator_token(kubectl) -> str:
    """A token of the chart's ServiceAccount (TokenRequest), which every operator of the e2e tests runs as:
    the chart's RBAC is shown to be enough."""
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 86400}}
    answer = kubectl.run("create", "--raw", f"/api/v1/namespaces/{chart.NAMESPACE}/serviceaccounts/"
                         f"{chart.SERVICE_ACCOUNT}/token", "-f", "-", stdin=json.dumps(request))  # kubectl 1.20 too
    return json.loads(answer.stdout)["status"]["token"]


@pytest.fixture(scope="session")
def local_example(source_image):
    """Builds a resource from examples/ that copies the source registry's `shop/app:v1` instead of the
    example's Docker Hub image, and copies its data from the operator's process (moto's tasks run
    nothing here; test_seed.py runs the Oscar example as it is, tasks and all); `name` renames it."""
    def build(file: str, name: str | None = None) -> dict:
        body = with_image(example(file), source_image)
        body["spec"].setdefault("migration", {}).setdefault("data", {})["runner"] = "Operator"
        if name:
            body["metadata"]["name"] = name
        return body
    return build


@pytest.fixture(scope="session")
def operator_registries_env(registries_env, hub_registry) -> dict[str, str]:
    """The registries' settings for the operator: also plain HTTP to the Docker Hub stand-in."""
    insecure = ",".join(filter(None, [registries_env.get("APPMOD_INSECURE_REGISTRIES"), hub_registry.host]))
    return {**registries_env, "APPMOD_INSECURE_REGISTRIES": insecure}


@pytest.fixture(scope="module")
def app_schema(master_users):
    """The table the source image's SQLite holds, made in the database `oscar` as the example's AppCommand
    (Django's migrate) would make it: moto's tasks run no command."""
    import psycopg

    master_users.make_master("appmod", "replaced-by-the-secret", "oscar")
    with psycopg.connect(master_users.url("oscar")) as conn, conn.cursor() as cur:  # committed and closed at exit
        cur.execute("CREATE TABLE IF NOT EXISTS product (id bigint PRIMARY KEY, title text NOT NULL)")
        cur.execute("ALTER TABLE product OWNER TO appmod")
    return master_users.url("oscar")


class OperatorProcess:
    """One `appmod-operator` process of the e2e tests, which a test may SIGKILL and start again with the same
    flags, environment and log (appended to), as a crashed pod's container is restarted."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, health_url: str):
        self.argv, self.env, self.log, self.health_url = argv, env, log, health_url
        self.proc = None

    def start(self) -> OperatorProcess:
        self.proc = process.spawn(self.argv, self.log, env=self.env)
        (self.log.parent / "pid").write_text(str(self.proc.pid))
        healthy = lambda: process.http_status(self.health_url) == 200  # noqa: E731
        process.wait_until(healthy, "appmod-operator", 60, self.proc, self.log)
        return self

    def kill(self) -> None:
        """SIGKILL, no cleanup of any kind (its jobs die with it), and waited for."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        process.stop_pid(self.proc.pid)


@pytest.fixture(scope="module")
def start_operator(kube, kubectl, operator_token, moto_server, master_users, operator_registries_env, tmp_path_factory):
    """Starts `appmod-operator` (one per test module) against moto, the loopback registries and the test
    PostgreSQL (as every cluster's writer), polling AWS every second; returns the path of its log (its
    process id is in `pid` beside it). `start_operator.process(...)` takes the same arguments and returns the
    OperatorProcess instead, for a test that kills and restarts it."""
    started: list[OperatorProcess] = []

    def start_process(resync_seconds: int, namespaces: tuple[str, ...] = (), reach_database: bool = True,
                      env: dict[str, str] | None = None) -> OperatorProcess:
        """`reach_database`: the operator connects to the test PostgreSQL itself (the Operator data runner);
        without it, only tasks in the "VPC" (the task executor's) reach it, as on AWS."""
        folder = tmp_path_factory.mktemp("operator")
        kubeconfig = kube.write_kubeconfig(folder / "kubeconfig", chart.SERVICE_ACCOUNT, operator_token)
        port, log = process.free_port(), folder / "operator.log"
        flags = [f"--namespace={n}" for n in namespaces]
        database = {"APPMOD_DATABASE_HOST": master_users.env()["APPMOD_DATABASE_HOST"]} if reach_database else {}
        operator = OperatorProcess(["appmod-operator", "--liveness", f"http://127.0.0.1:{port}/healthz", *flags], {
            **moto_server.env(), **operator_registries_env, "KUBECONFIG": str(kubeconfig), **database,
            "APPMOD_RESYNC_SECONDS": str(resync_seconds), "APPMOD_POLL_SECONDS": "1", "APPMOD_LOG_LEVEL": "debug",
            **(env or {})}, log, f"http://127.0.0.1:{port}/healthz")
        started.append(operator)
        produced.log(log)
        return operator.start()

    def start(*args, **kwargs) -> Path:
        return start_process(*args, **kwargs).log

    start.process = start_process
    yield start
    for operator in started:
        port = operator.env.get("APPMOD_METRICS_PORT")
        try:
            record_outputs(kubectl, moto_server, f"http://127.0.0.1:{port}/metrics" if port else None)
        except Exception as e:  # noqa: BLE001 - a part already gone must not keep the operator running
            print(f"the outputs of {operator.log} were not recorded: {e!r}")
        operator.stop()
        print(f"--- {operator.log} (tail) ---\n{operator.log.read_text()[-5000:]}")


def record_outputs(kubectl, moto_server, metrics_url: str | None = None) -> None:
    """Keeps what the cluster, moto and an operator's metrics endpoint show now, for the secrets test at the
    end of the session (tests/infra/produced.py): the events, every AppModernization with its status, the
    container definitions (plain environment) of every task definition, and the metrics text."""
    taken = len(produced.SNAPSHOTS)
    produced.snapshot(f"events #{taken}", kubectl.run("get", "events", "-A", "-o", "json").stdout)
    produced.snapshot(f"AppModernizations #{taken}", kubectl.run("get", "appmodernizations", "-A", "-o", "json").stdout)
    for region in REGIONS:
        ecs = aws_client(moto_server, "ecs", region)
        for status in ("ACTIVE", "INACTIVE"):
            for page in ecs.get_paginator("list_task_definitions").paginate(status=status):
                for arn in page["taskDefinitionArns"]:
                    found = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                    produced.snapshot(f"task definition {arn}", json.dumps(found["containerDefinitions"]))
    if metrics_url:
        produced.snapshot(f"metrics {metrics_url} #{taken}", get(metrics_url)[1])


def apply_pull_secret(kubectl, registry, name: str, namespace: str, password: str, what: str) -> None:
    """A kubernetes.io/dockerconfigjson Secret `name` for `registry` (its host and user) with `password`, kept
    in produced.SECRETS as `what` for the secrets test, in every form it travels in."""
    auth = base64.b64encode(f"{registry.user}:{password}".encode()).decode()
    config = {"auths": {registry.host: {"username": registry.user, "password": password, "auth": auth}}}
    data = base64.b64encode(json.dumps(config).encode()).decode()
    kubectl.run("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": name, "namespace": namespace}, "data": {".dockerconfigjson": data}}))
    produced.registry_secret(what, registry.user, password, data)


def shop_database(dockerd, image: str) -> Path:
    """The image's own SQLite file, read out of the image as the test's own look at the source."""
    client = dockerd.client()
    container = client.containers.create(image)
    try:
        stream, _ = container.get_archive(OSCAR_DATABASE)
        packed = b"".join(stream)
    finally:
        container.remove()
    path = Path(tempfile.mkdtemp()) / "db.sqlite"
    with tarfile.open(fileobj=io.BytesIO(packed)) as archive:
        path.write_bytes(archive.extractfile(archive.getmembers()[0]).read())
    return path


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode()
