"""Registry clients on the real loopback registries of tests/infra: the source (anonymous), the
Docker Hub stand-in (Bearer tokens), and the ECR stand-in (Basic, user AWS with moto's token)."""

from __future__ import annotations

import re

import pytest

from appmod_operator.registry.client import Registry


@pytest.fixture
def source(source_registry):
    registry = Registry(source_registry.host, side="the source registry", insecure=True)
    yield registry
    registry.close()


@pytest.fixture
def ecr(ecr_registry, moto_server):
    registry = Registry(ecr_registry.host, side="ECR", credentials=("AWS", moto_server.ecr_password()),
                        insecure=True)
    yield registry
    registry.close()


@pytest.fixture
def hub(hub_registry):
    """Docker Hub stand-in with the pull secret's credentials (push allowed, to set up images)."""
    registry = Registry(hub_registry.host, side="the source registry", insecure=True,
                        credentials=(hub_registry.user, hub_registry.password))
    yield registry
    registry.close()


@pytest.fixture
def repo(request) -> str:
    """A repository name of this test's own, so tests sharing a registry do not see each other's blobs."""
    return "t/" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60]
