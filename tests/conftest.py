"""Session fixtures for the real parts of tests/infra: each starts once, only when a test asks for it.

A part that cannot be had here is a skip naming how to get it; with APPMOD_REQUIRE_INFRA=1 (CI) it
is a failure instead, so a missing part is never counted as a pass.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from tests.infra import produced
from tests.infra.environment import Environment, PartMissing
from tests.infra.moto import REGION

# The regions the tests' resources name (moto's default, and the examples' spec.region).
REGIONS = (REGION, "us-east-2")

pytest_plugins = ["tests.django.fixtures"]  # the Django projects' databases, for the migration and data step tests

# The rows of the source image's SQLite database (source_image), which a data migration copies.
SOURCE_TITLES = ("Oscar", "Sandbox")

REQUIRE_INFRA = os.environ.get("APPMOD_REQUIRE_INFRA") == "1"


def pytest_collection_modifyitems(items: list) -> None:
    """Tests marked `last` run after every other one: they look at what the whole run did."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


@pytest.fixture(scope="session")
def environment(tmp_path_factory):
    env = Environment(tmp_path_factory.mktemp("infra"))
    yield env
    env.stop()


def _part(environment: Environment, name: str):
    try:
        return environment.get(name)
    except PartMissing as e:
        if REQUIRE_INFRA:
            pytest.fail(f"{e} (APPMOD_REQUIRE_INFRA=1)")
        pytest.skip(str(e))


def _session_part(name: str):
    @pytest.fixture(scope="session")
    def fixture(environment):
        return _part(environment, name)
    return fixture


kube = _session_part("kube")
moto_server = _session_part("moto")
source_registry = _session_part("source-registry")
ecr_registry = _session_part("ecr-registry")
hub_registry = _session_part("hub-registry")
postgres = _session_part("postgres")
dockerd = _session_part("dockerd")
base_image = _session_part("base-image")
oscar_image = _session_part("oscar-image")
operator_image_part = _session_part("operator-image")


@pytest.fixture(scope="session")
def source_image(source_registry) -> str:
    """A small image in the source registry, holding a real SQLite database at /app/sandbox/db.sqlite: a
    `product` table (id, title) with a row per SOURCE_TITLES."""
    from appmod_operator.registry.client import Registry
    from tests.migration.sqlite_db import products
    from tests.registry.images import layer, push_image

    with tempfile.TemporaryDirectory() as scratch:
        data = products(Path(scratch) / "db.sqlite", *SOURCE_TITLES)
    registry = Registry(source_registry.host, side="the source registry", insecure=True)
    push_image(registry, "shop/app", "v1", [layer({"app/sandbox/db.sqlite": data}),
                                            layer({"app/manage.py": b"print('hello')\n"})])
    registry.close()
    return f"{source_registry.host}/shop/app:v1"


@pytest.fixture(scope="session")
def registries_env(source_registry, ecr_registry) -> dict[str, str]:
    """Settings that point the operator at the loopback registries: ECR's data plane, plain HTTP."""
    return {"APPMOD_ECR_REGISTRY": ecr_registry.url,
            "APPMOD_INSECURE_REGISTRIES": f"{source_registry.host},{ecr_registry.host}"}


@pytest.fixture(scope="module")
def ecs_tasks(environment):
    """The local ECS task executor, on for one test module: its tasks really run on the test dockerd
    (elsewhere moto's tasks run nothing, which the tests of the steps rely on)."""
    part = _part(environment, "ecs-tasks")
    yield part
    environment.release("ecs-tasks")


@pytest.fixture
def aws(moto_server, registries_env, source_image, monkeypatch):
    """moto with no AWS resources (before and after), this process's AWS variables and settings on it, the
    registries' settings, and MINIMAL's source image a real one in the source registry."""
    from appmod_operator import config
    from appmod_operator.aws import clients
    from appmod_operator.reconcile import jobs, repository
    from tests.unit.test_spec import MINIMAL

    moto_server.reset()
    for key, value in {**moto_server.env(), **registries_env, "APPMOD_POLL_SECONDS": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setitem(MINIMAL["source"], "image", source_image)  # resources built on MINIMAL copy a real image
    config.load()
    clients.forget_clients()
    repository.forget_logins()
    yield moto_server
    jobs.stop()  # a copy the test left running does not go on into the next test's AWS
    jobs.wait(60)
    moto_server.reset()  # leaves nothing behind for tests that share moto without resetting it (e2e)


@pytest.fixture
def fault_proxy(aws, monkeypatch):
    """A fault proxy (tests/infra/faults.py) in front of moto, with this process's AWS settings on it: no
    fault until the test sets a rate or a rule. Afterwards the settings point at moto again."""
    from appmod_operator import config
    from appmod_operator.aws import clients
    from tests.infra.faults import FaultProxy

    proxy = FaultProxy(aws.url).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    config.load()
    clients.forget_clients()
    yield proxy
    proxy.stop()
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    config.load()
    clients.forget_clients()


@pytest.fixture
def pg_url(postgres):
    """A fresh, empty database for one test."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(scope="module")
def master_users(moto_server, postgres):
    """Stands in for what Aurora does with a new cluster, which moto's RDS does not: for every database
    secret of ours in moto (both regions the tests use), the master user with that password and the
    cluster's database, on the test PostgreSQL (the operator's APPMOD_DATABASE_HOST). Runs beside one
    module's tests (others check what happens before Aurora has made the user); a user shared by two
    resources gets the newest one's password. A secret's value is read only when it has a version not seen
    yet, and the listing is paged, so that a hundred secrets (test_load.py) cost a listing per round."""
    import psycopg

    stop, made, seen = threading.Event(), set(), set()

    def serve() -> None:
        env = moto_server.env()
        clients = [boto3.client("secretsmanager", endpoint_url=moto_server.url, region_name=region,
                                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"]) for region in REGIONS]
        while not stop.wait(0.3):
            for client in clients:
                pages = client.get_paginator("list_secrets").paginate(
                    Filters=[{"Key": "tag-key", "Values": ["appmod.io/owner"]}])
                for secret in (s for page in pages for s in page["SecretList"]):
                    versions = (secret["ARN"], *sorted(secret.get("SecretVersionsToStages") or {}))
                    if secret.get("DeletedDate") or versions in seen:  # deleted (kept for recovery), or known
                        continue
                    try:
                        value = json.loads(client.get_secret_value(SecretId=secret["ARN"])["SecretString"])
                    except botocore.exceptions.ClientError:  # deleted since it was listed
                        continue
                    key = (secret["ARN"], value["password"])
                    produced.secret(f"database password of {secret['Name']}", value["password"])
                    if key not in made:
                        try:
                            postgres.make_master(value["username"], value["password"], value["dbname"])
                        except psycopg.OperationalError:  # restarting (test_crashes.py): the next round makes it
                            continue
                        made.add(key)
                    seen.add(versions)

    thread = threading.Thread(target=serve, name="aurora master users", daemon=True)
    thread.start()
    yield postgres
    stop.set()
    thread.join()
