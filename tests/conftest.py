"""Session fixtures for the real parts of tests/infra: each starts once, only when a test asks for it.

A part that cannot be had here is a skip naming how to get it; with APPMOD_REQUIRE_INFRA=1 (CI) it
is a failure instead, so a missing part is never counted as a pass.
"""

from __future__ import annotations

import os

import pytest

from tests.infra.environment import Environment, PartMissing

REQUIRE_INFRA = os.environ.get("APPMOD_REQUIRE_INFRA") == "1"


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


@pytest.fixture(scope="session")
def kube(environment):
    return _part(environment, "kube")


@pytest.fixture(scope="session")
def moto_server(environment):
    return _part(environment, "moto")


@pytest.fixture
def aws(moto_server, monkeypatch):
    """moto with no AWS resources, and the AWS variables of this process pointing at it."""
    moto_server.reset()
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    return moto_server


@pytest.fixture(scope="session")
def source_registry(environment):
    return _part(environment, "source-registry")


@pytest.fixture(scope="session")
def ecr_registry(environment):
    return _part(environment, "ecr-registry")


@pytest.fixture(scope="session")
def postgres(environment):
    return _part(environment, "postgres")


@pytest.fixture
def pg_url(postgres):
    """A fresh, empty database for one test."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(scope="session")
def dockerd(environment):
    return _part(environment, "dockerd")
