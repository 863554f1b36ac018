"""End to end for the image step with a private source image: the Docker Hub stand-in (Bearer token
auth, anonymous pull refused under `private/`) read with the credentials of spec.source.imagePullSecret,
a kubernetes.io/dockerconfigjson Secret the operator reads through the API server with its own RBAC."""

from __future__ import annotations

import json

import pytest
import yaml

from appmod_operator.registry import reference
from appmod_operator.registry.client import Registry
from appmod_operator.registry.copy import target_tag
from tests.e2e.conftest import NAMESPACE, aws_client, condition_is, conditions, delete_and_wait, with_image
from tests.registry.images import layer, push_image

pytestmark = pytest.mark.e2e
PULL_SECRET = "hub-pull"


@pytest.fixture(scope="module")
def operator(start_operator):
    # Resync far away: a stalled resource is looked at again only on a change.
    return start_operator(resync_seconds=3600)


@pytest.fixture(scope="module")
def private_image(hub_registry) -> tuple[str, str]:
    """`private/app:v1` pushed to the Docker Hub stand-in by its user: (reference, manifest digest)."""
    registry = Registry(hub_registry.host, side="the source registry", insecure=True,
                        credentials=(hub_registry.user, hub_registry.password))
    try:
        manifest = push_image(registry, "private/app", "v1", [layer({"app/sandbox/db.sqlite": b"SQLite format 3\x00",
                                                                     "app/private.txt": b"not for everyone\n"})])
    finally:
        registry.close()
    return f"{hub_registry.host}/private/app:v1", manifest.digest


@pytest.fixture(scope="module")
def pull_secret(kubectl, hub_registry) -> str:
    """A dockerconfigjson Secret in the namespace with the stand-in's user, keyed by its host:port."""
    kubectl.run("create", "secret", "docker-registry", PULL_SECRET, "-n", NAMESPACE,
                f"--docker-server={hub_registry.host}", f"--docker-username={hub_registry.user}",
                f"--docker-password={hub_registry.password}")
    assert kubectl.get("secret", PULL_SECRET, "-n", NAMESPACE)["type"] == "kubernetes.io/dockerconfigjson"
    yield PULL_SECRET
    kubectl.run("delete", "secret", PULL_SECRET, "-n", NAMESPACE, "--ignore-not-found")


@pytest.fixture
def apply(kubectl, operator, local_example, private_image):
    """Applies a resource named `name` copying the private image (deletionPolicy Delete, so that nothing is
    left in moto), with `pull_secret` as spec.source.imagePullSecret if given; deletes it after the test."""
    applied = []

    def apply_(name: str, pull_secret: str | None = None) -> None:
        body = with_image(local_example("minimal.yaml", name), private_image[0])
        body["spec"]["deletionPolicy"] = "Delete"
        if pull_secret:
            body["spec"]["source"]["imagePullSecret"] = pull_secret
        kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
        applied.append(name)

    yield apply_
    for name in applied:
        delete_and_wait(kubectl, name)


def test_a_private_image_is_copied_with_the_pull_secret(kubectl, apply, pull_secret, private_image, moto_server,
                                                        ecr_registry):
    ref, pushed = private_image
    apply("hub-private", pull_secret)
    obj = condition_is(kubectl, "hub-private", "ImageReplicated", "True")
    assert conditions(obj)["ImageReplicated"]["reason"] == "Replicated"
    assert conditions(obj)["Stalled"]["status"] == "False"
    image = obj["status"]["image"]
    assert image["sourceDigest"] == pushed and image["digest"] == pushed
    # The repository <namespace>-<name> exists in moto, and the ECR stand-in serves the digest, under the tag
    # the copy pushed (the source tag and the digest).
    repository = aws_client(moto_server, "ecr").describe_repositories(
        repositoryNames=[f"{NAMESPACE}-hub-private"])["repositories"][0]
    assert image["repositoryUri"] == repository["repositoryUri"]
    name = image["repositoryUri"].split("/", 1)[1]
    assert name == f"{NAMESPACE}-hub-private"
    ecr = Registry(ecr_registry.host, side="ECR", insecure=True, credentials=("AWS", moto_server.ecr_password()))
    try:
        assert ecr.manifest_digest(name, pushed) == pushed
        assert ecr.manifest_digest(name, target_tag(reference.parse(ref), pushed)) == pushed
    finally:
        ecr.close()


def test_a_private_image_without_the_pull_secret_stalls_on_access_denied(kubectl, apply, pull_secret,
                                                                         private_image, hub_registry):
    apply("hub-anonymous")
    obj = condition_is(kubectl, "hub-anonymous", "Stalled", "True")
    stalled = conditions(obj)["Stalled"]
    assert stalled["reason"] == "RegistryAccessDenied"
    assert "the source registry" in stalled["message"] and hub_registry.host in stalled["message"], stalled
    assert obj["status"]["phase"] == "Failed"
    replicated = conditions(obj)["ImageReplicated"]
    assert (replicated["status"], replicated["reason"]) == ("False", "RegistryAccessDenied")
    assert "image" not in obj["status"]
    # Naming the Secret is the change that unblocks it.
    kubectl.run("patch", "appmod", "hub-anonymous", "-n", NAMESPACE, "--type=merge", "-p",
                json.dumps({"spec": {"source": {"imagePullSecret": pull_secret}}}))
    fixed = condition_is(kubectl, "hub-anonymous", "ImageReplicated", "True")
    assert fixed["status"]["observedGeneration"] == 2
    assert conditions(fixed)["Stalled"]["status"] == "False"
    assert fixed["status"]["image"]["digest"] == private_image[1]


def test_a_pull_secret_that_does_not_exist_stalls_naming_the_field(kubectl, apply):
    apply("hub-no-secret", "no-such-secret")
    obj = condition_is(kubectl, "hub-no-secret", "Stalled", "True")
    stalled = conditions(obj)["Stalled"]
    assert stalled["reason"] == "InvalidSpec"
    assert stalled["message"].startswith("spec.source.imagePullSecret:"), stalled["message"]
    assert f"{NAMESPACE}/no-such-secret" in stalled["message"] and "does not exist" in stalled["message"]
    assert obj["status"]["phase"] == "Failed"
    replicated = conditions(obj)["ImageReplicated"]
    assert (replicated["status"], replicated["reason"]) == ("False", "InvalidSpec")
