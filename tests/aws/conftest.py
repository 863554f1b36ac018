"""Helpers for tests of the AWS steps against moto server: a resource body, boto3 clients of our own to
look at what the operator made, and a recorder of every AWS call the operator's clients make."""

from __future__ import annotations

import copy
import logging
from collections import Counter
from pathlib import Path

import boto3
import pytest

from appmod_operator import config
from appmod_operator.aws import clients
from appmod_operator.names import Owner
from appmod_operator.reconcile import engine, jobs
from appmod_operator.reconcile.outcome import Result
from tests.migration.sqlite_db import products
from tests.unit.test_spec import MINIMAL

NAMESPACE, NAME, UID = "shop", "oscar", "uid-1"
OWNER = Owner(NAMESPACE, NAME, UID)
SERVICES = ("rds", "ec2", "secretsmanager")
EVERY_SERVICE = (*SERVICES, "ecr", "ecs", "iam", "logs", "s3")


# The steps besides the data migration's, for tests of those: no data to copy (test_data.py copies some).
NO_DATA = {"schema": {"strategy": "None"}, "data": {"enabled": False}}


def settled(made: dict) -> Result:
    """A pass, then as many as the copies it started beside it need (kopf's next passes, without the wait):
    the status once no image copy or data migration runs any more."""
    result = engine.reconcile(made)
    while jobs.wait(120):
        result = engine.reconcile(made)
    return result


def body(generation: int = 1, uid: str = UID, migration: dict = NO_DATA, **database) -> dict:
    """A resource whose spec is MINIMAL plus `database` fields and `migration` (its service of 1 task is
    stable on moto: see tests/infra/moto.py)."""
    spec = copy.deepcopy(MINIMAL)
    spec["database"] = database
    spec["migration"] = copy.deepcopy(migration)
    return {"metadata": {"namespace": NAMESPACE, "name": NAME, "uid": uid, "generation": generation}, "spec": spec}


@pytest.fixture(autouse=True)
def _on_moto(aws):
    """Every test here runs against a fresh moto and the loopback registries."""


@pytest.fixture
def boto(aws):
    """Our own view of moto: boto3 clients independent of the operator's."""
    env = aws.env()
    def make(service: str):
        return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return make


class Calls(Counter):
    """Counts the operator's AWS calls by operation name, e.g. calls["CreateDBCluster"]."""

    def writes(self) -> Counter:
        return Counter({k: v for k, v in self.items() if not k.startswith(("Describe", "Get", "List"))})


@pytest.fixture
def calls(aws) -> Calls:
    recorded = Calls()

    def record(model, **_):
        recorded[model.name] += 1

    for service in SERVICES:
        clients.client(service, None).meta.events.register("before-call", record)
    return recorded


@pytest.fixture
def every_call() -> Counter:
    """Every AWS call the operator makes, by service.Operation."""
    counted = Counter()

    def record(model, **_):
        counted[f"{model.service_model.service_name}.{model.name}"] += 1

    for service in EVERY_SERVICE:
        clients.client(service, None).meta.events.register("before-call", record)
    return counted


@pytest.fixture
def debug_logs(caplog):
    """The log records the operator writes with APPMOD_LOG_LEVEL=debug (logs.configure's levels)."""
    from appmod_operator import config, logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in ("botocore", "boto3", "urllib3")}
    logs.configure(config.Settings(log_level="debug"))
    root.addHandler(caplog.handler)
    yield caplog
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def database_name(postgres, pg_url, monkeypatch) -> str:
    """A fresh database in the test PostgreSQL, which stands in for the cluster's writer."""
    monkeypatch.setenv("APPMOD_DATABASE_HOST", f"127.0.0.1:{postgres.port}")
    config.load()
    return pg_url.rsplit("/", 1)[1]


@pytest.fixture
def sqlite_file(tmp_path) -> Path:
    path = tmp_path / "legacy.sqlite"
    products(path, "Oscar", "Sandbox", "Django")
    return path
