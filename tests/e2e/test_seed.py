"""The seed's demo, end to end: the real Oscar sandbox image (tests/images/oscar/, on the Docker Hub
stand-in) moved onto "AWS" by the operator with examples/oscar.yaml as it is but for the image reference,
its tasks really running on the local ECS task executor (tests/infra/fargate/): Django's `migrate` as the
schema task, `appmod migrate` in the operator's own image as the data task, and the shop as the service,
served from the test PostgreSQL standing in for Aurora. The operator itself cannot reach the database,
as on AWS: only the tasks, inside their "VPC", do.

Prints `seed demo: ...` with the wall time from apply to Ready, the AWS calls, the rows copied and the
product page's HTTP status, and keeps a screenshot of the product page in artifacts/.
"""

from __future__ import annotations

import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from appmod_operator.demo.fargate.containers import LABEL
from appmod_operator.names import Owner
from tests.e2e.conftest import ROOT, aws_client, conditions, example, get, shop_database, with_image
from tests.e2e.kubectl import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.seed]

NAMESPACE = "seed"
NAME = "oscar"
REGION = "us-east-2"  # the example's
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


@pytest.fixture(scope="module")
def fresh_aws(moto_server, kubectl, master_users):
    """moto without the other e2e modules' resources (their services would run too), the namespace, and no
    database `oscar` left on the test PostgreSQL by them: the shop's is new, as a new Aurora cluster's is."""
    moto_server.reset()
    kubectl.run("create", "namespace", NAMESPACE)
    with psycopg.connect(master_users.url(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS oscar WITH (FORCE)")
    return moto_server


@pytest.fixture(scope="module")
def operator(fresh_aws, ecs_tasks, start_operator, operator_image_part) -> Path:
    """The operator for this namespace only, which cannot reach the database, with its own image for the
    Fargate data runner."""
    return start_operator(resync_seconds=20, namespaces=(NAMESPACE,), reach_database=False,
                          env={"APPMOD_OPERATOR_IMAGE": operator_image_part.reference})


def service_tasks(ecs_tasks, moto_server) -> dict[str, int]:
    """The service's running tasks: task ARN -> the 127.0.0.1 port of its container port 8080."""
    ecs = aws_client(moto_server, "ecs", REGION)
    ports = {t["taskArn"]: int(t["ports"]["8080"]) for t in ecs_tasks.tasks() if "8080" in t["ports"]}
    if not ports:
        return {}
    described = ecs.describe_tasks(cluster="appmod", tasks=list(ports))["tasks"]
    return {t["taskArn"]: ports[t["taskArn"]] for t in described
            if t["group"].startswith("service:") and t["lastStatus"] == "RUNNING"}


def screenshot(url: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,1000",
                        f"--screenshot={path}", url], check=True, capture_output=True, timeout=120)
    assert path.stat().st_size > 10_000, "an empty page"
    return path


def ready(kubectl, timeout: int = 1200) -> None:
    kubectl.run("wait", "-n", NAMESPACE, "--for=condition=Ready", f"appmod/{NAME}", f"--timeout={timeout}s",
                timeout=timeout + 30)


# Setup included: a machine's first run builds the images (about 10 minutes), then the demo takes about 8.
@pytest.mark.timeout(2400)
def test_the_oscar_shop_runs_on_fargate_from_aurora(kubectl, operator, ecs_tasks, oscar_image, hub_registry,
                                                    moto_server, master_users, dockerd):
    body = with_image(example("oscar.yaml"), f"{hub_registry.host}/{oscar_image.repository}:{oscar_image.tag}")
    calls, started = ecs_tasks.calls(), time.monotonic()
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
    ready(kubectl)
    wall, spent = time.monotonic() - started, ecs_tasks.calls() - calls
    status = kubectl.get("appmod", NAME, "-n", NAMESPACE)["status"]
    assert {t: c["status"] for t, c in conditions({"status": status}).items()}["ServiceStable"] == "True"

    # The image by digest; Django's migrate really ran as the schema task, and said so in its logs.
    assert status["image"]["digest"] == oscar_image.reference.rsplit("@", 1)[1]
    logs = aws_client(moto_server, "logs", REGION)
    schema_task = status["migration"]["schema"]["taskArn"].rsplit("/", 1)[1]
    said = [e["message"] for e in logs.get_log_events(logGroupName=Owner(NAMESPACE, NAME, "").log_group_name,
                                                      logStreamName=f"app/app/{schema_task}")["events"]]
    assert any("Applying catalogue.0001_initial" in line for line in said), said[-5:]

    # The shop's rows went into Django's tables: the products of the image's SQLite, no more, no fewer.
    source = sqlite3.connect(shop_database(dockerd, oscar_image.reference))
    product_id, slug, title = source.execute("SELECT id, slug, title FROM catalogue_product WHERE is_public "
                                             "AND structure = 'standalone' ORDER BY id LIMIT 1").fetchone()
    products = source.execute("SELECT count(*) FROM catalogue_product").fetchone()[0]
    with psycopg.connect(master_users.url("oscar")) as target:
        assert target.execute("SELECT count(*) FROM catalogue_product").fetchone()[0] == products
    data = status["migration"]["data"]
    assert data["rows"] > products and data["sourceDigest"] == status["image"]["sourceDigest"]

    # The service's task serves the shop from the database: a title only the image's SQLite had.
    (port,) = wait_for(lambda: service_tasks(ecs_tasks, moto_server), "the service's task").values()
    home, _ = get(f"http://127.0.0.1:{port}/")
    product_url = f"http://127.0.0.1:{port}/catalogue/{slug}_{product_id}/"
    page_status, page = get(product_url)
    assert (home, page_status) == (200, 200) and title in page
    picture = screenshot(product_url, ARTIFACTS / "seed-demo-product.png")
    print(f"seed demo screenshot: {picture}")

    # Two tasks for desiredCount 2; a task killed behind the operator's back is replaced.
    kubectl.run("patch", "appmod", NAME, "-n", NAMESPACE, "--type=merge", "-p",
                '{"spec": {"service": {"desiredCount": 2}}}')
    two = wait_for(lambda: len(tasks := service_tasks(ecs_tasks, moto_server)) == 2 and tasks, "two tasks", 300)
    ready(kubectl, 300)
    victim = next(iter(two))
    next(c for c in dockerd.client().containers.list(filters={"label": f"{LABEL}={victim}"})
         if not c.name.endswith("-pause")).kill()
    wait_for(lambda: len(t := service_tasks(ecs_tasks, moto_server)) == 2 and victim not in t, "a replacement", 300)
    for port in service_tasks(ecs_tasks, moto_server).values():
        assert get(f"http://127.0.0.1:{port}/catalogue/{slug}_{product_id}/")[0] == 200

    print(f"seed demo: apply to Ready {wall:.0f} s, {spent} AWS calls, {data['rows']} rows copied "
          f"({data['tables']} tables), product page HTTP {page_status}")

    # Deleting the resource stops every container it started.
    kubectl.run("delete", "appmod", NAME, "-n", NAMESPACE, "--wait=true", "--timeout=300s", timeout=330)
    # The low-level list: the high-level one inspects each container, and fails on one removed meanwhile.
    wait_for(lambda: not dockerd.client().api.containers(all=True, filters={"label": LABEL}),
             "every container to go", 120)
