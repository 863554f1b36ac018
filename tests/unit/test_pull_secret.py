"""Credentials out of a docker config.json, matched the way `docker login` keys its entries."""

from __future__ import annotations

import base64

import pytest

from appmod_operator.reconcile.pull_secret import build_credentials


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("key", ["https://index.docker.io/v1/", "docker.io", "registry-1.docker.io"])
def test_docker_hub_under_any_of_its_keys(key):
    config = {"auths": {key: {"auth": auth("hubuser", "p:w")}}}
    assert build_credentials(config, "registry-1.docker.io") == ("hubuser", "p:w")


def test_a_registry_by_host_with_or_without_scheme():
    config = {"auths": {"https://ghcr.io": {"username": "u", "password": "p"},
                        "127.0.0.1:5000": {"auth": auth("local", "secret")}}}
    assert build_credentials(config, "ghcr.io") == ("u", "p")
    assert build_credentials(config, "127.0.0.1:5000") == ("local", "secret")


def test_no_entry_for_the_registry_is_none():
    config = {"auths": {"ghcr.io": {"auth": auth("u", "p")}}}
    assert build_credentials(config, "quay.io") is None
    assert build_credentials({}, "quay.io") is None
