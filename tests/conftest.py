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


@pytest.fixture
def aws(moto_server, monkeypatch):
    """moto with no AWS resources (before and after), and this process's AWS variables and settings on it."""
    from appmod_operator import config
    from appmod_operator.aws import clients

    moto_server.reset()
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("APPMOD_POLL_SECONDS", "1")
    config.load()
    clients.forget_clients()
    yield moto_server
    moto_server.reset()  # leaves nothing behind for tests that share moto without resetting it (e2e)


@pytest.fixture
def pg_url(postgres):
    """A fresh, empty database for one test."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)
