"""The image step through the engine, on moto (ECR's control plane) and the loopback registries (ECR's
data plane and the source): repository made, image copied by digest, reruns that send nothing, the
Docker backend, errors in the user's terms, and the repository's fate at teardown."""

from __future__ import annotations

import re
import threading
import time

import pytest

from appmod_operator.errors import CopyStopped
from appmod_operator.reconcile import engine, jobs
from appmod_operator.registry.client import Registry
from tests.aws.conftest import body, settled

REPOSITORY = "shop-oscar"  # spec.image.repository's default: <namespace>-<name>


def conditions(status: dict) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def messages(status: dict) -> dict[str, str]:
    return {c["type"]: c["message"] for c in status["conditions"]}


@pytest.fixture
def ecr_view(ecr_registry, moto_server):
    registry = Registry(ecr_registry.host, side="ECR", credentials=("AWS", moto_server.ecr_password()), insecure=True)
    yield registry
    registry.close()


@pytest.fixture
def source_digest(source_registry):
    registry = Registry(source_registry.host, side="the source registry", insecure=True)
    yield registry.manifest_digest("shop/app", "v1")
    registry.close()


def test_the_image_is_copied_by_digest_into_a_new_repository(boto, ecr_view, source_digest):
    result = settled(body())
    assert conditions(result.status)["ImageReplicated"] == ("True", "Replicated")
    image = result.status["image"]
    made = boto("ecr").describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]
    assert image == {"repositoryUri": made["repositoryUri"], "sourceDigest": source_digest, "digest": source_digest}
    assert made["imageTagMutability"] == "IMMUTABLE" and made["imageScanningConfiguration"]["scanOnPush"]
    tag = f"v1-{source_digest[7:19]}"
    assert ecr_view.manifest_digest(REPOSITORY, tag) == source_digest
    assert f"{REPOSITORY}@{source_digest}" in messages(result.status)["ImageReplicated"]


def test_a_rerun_sends_nothing(debug_logs):
    settled(body())
    debug_logs.clear()
    result = engine.reconcile(body())
    assert conditions(result.status)["ImageReplicated"] == ("True", "Replicated")
    assert "copied" not in debug_logs.text  # the fast path: a HEAD on each side, no blob, no manifest


def test_a_missing_tag_stalls_naming_the_image_and_makes_no_repository(boto, source_registry):
    resource = body()
    resource["spec"]["source"]["image"] = f"{source_registry.host}/shop/app:v404"
    result = engine.reconcile(resource)
    assert conditions(result.status)["Stalled"] == ("True", "ImageNotFound")
    assert "shop/app:v404 was not found at the source registry" in messages(result.status)["ImageReplicated"]
    assert result.status["phase"] == "Failed" and result.retry_after is None
    # The source is asked before ECR: no empty repository that the status would not name.
    assert "image" not in result.status and boto("ecr").describe_repositories()["repositories"] == []


def test_a_bad_reference_is_a_spec_error():
    resource = body()
    resource["spec"]["source"]["image"] = "Shop/App:v1"
    result = engine.reconcile(resource)
    assert conditions(result.status)["Stalled"] == ("True", "InvalidSpec")
    assert messages(result.status)["Stalled"].startswith("spec.source.image:")


def test_wrong_ecr_credentials_are_access_denied_at_ecr(monkeypatch, ecr_registry):
    from appmod_operator.reconcile import repository

    real = repository.login

    def wrong(region):
        login = real(region)
        return repository.RegistryLogin(login.host, login.url, login.username, "not-the-token", login.expires_at)
    monkeypatch.setattr(repository, "login", wrong)
    result = engine.reconcile(body())
    assert conditions(result.status)["Stalled"] == ("True", "RegistryAccessDenied")
    assert "access denied at ECR" in messages(result.status)["Stalled"]
    assert "not-the-token" not in str(result.status)


def test_an_unreachable_source_is_retried(monkeypatch):
    from tests.infra import process

    resource = body()
    resource["spec"]["source"]["image"] = f"127.0.0.1:{process.free_port()}/shop/app:v1"
    monkeypatch.setattr("appmod_operator.registry.client.READ_RETRIES.total", 0)
    result = engine.reconcile(resource)
    assert conditions(result.status)["Reconciling"] == ("True", "RegistryRetrying")
    assert conditions(result.status)["Stalled"] == ("False", "SpecValid") and result.retry_after == 1


def test_the_docker_backend(dockerd, monkeypatch, ecr_view, source_digest):
    monkeypatch.setenv("DOCKER_HOST", dockerd.env()["DOCKER_HOST"])
    from appmod_operator import config
    config.load()
    resource = body()
    resource["spec"]["image"] = {"via": "Docker", "repository": "shop-oscar-docker"}
    result = settled(resource)
    assert conditions(result.status)["ImageReplicated"] == ("True", "Replicated"), messages(result.status)
    image = result.status["image"]
    assert image["sourceDigest"] == source_digest
    assert ecr_view.manifest_digest("shop-oscar-docker", f"v1-{source_digest[7:19]}") == image["digest"]
    assert "recompresses" in messages(result.status)["ImageReplicated"]
    assert conditions(engine.reconcile(resource).status)["ImageReplicated"] == ("True", "Replicated")  # no re-push


@pytest.mark.parametrize(("policy", "kept"), [("Delete", False), ("Snapshot", True), ("Retain", True)])
def test_teardown_deletes_the_repository_only_for_delete(boto, policy, kept):
    resource = body()
    settled(resource)
    resource["spec"]["deletionPolicy"] = policy
    for _ in range(4):
        if engine.teardown(resource).retry_after is None:
            break
    names = [r["repositoryName"] for r in boto("ecr").describe_repositories()["repositories"]]
    assert (REPOSITORY in names) is kept


def test_the_copy_runs_beside_the_pass_and_says_how_far_it_got(ecr_view, source_digest, monkeypatch):
    from appmod_operator.registry import copy

    sent, release = threading.Event(), threading.Event()
    real = copy._watched

    def slow(chunks, digest, size, report):  # holds the first blob until the test has looked
        for chunk in real(chunks, digest, size, report):
            sent.set()
            release.wait(30)
            yield chunk
    monkeypatch.setattr(copy, "_watched", slow)
    resource = body()
    resource["spec"]["image"] = {"repository": "shop-oscar-slow"}  # one no earlier test filled
    result = engine.reconcile(resource)
    assert sent.wait(30)
    started = time.monotonic()
    result = engine.reconcile(resource)  # a pass while the copy runs: it returns at once, holding nothing
    assert time.monotonic() - started < 5 and result.retry_after == 1
    assert conditions(result.status)["ImageReplicated"] == ("False", "Copying")
    assert re.search(r"copying .*: [\d,]+ of [\d,]+ bytes copied", messages(result.status)["ImageReplicated"])
    release.set()
    assert conditions(settled(resource).status)["ImageReplicated"] == ("True", "Replicated")


def test_a_copy_stops_on_delete_before_its_tag_is_pushed(ecr_view, source_digest, monkeypatch):
    from appmod_operator.registry import copy

    sent, real = threading.Event(), copy._watched

    def held(chunks, digest, size, report):
        for chunk in real(chunks, digest, size, report):
            sent.set()
            report.stop.wait(30)  # until the teardown asks it to stop
            yield chunk
    monkeypatch.setattr(copy, "_watched", held)
    resource = body()
    resource["spec"]["image"] = {"repository": "shop-oscar-stopped"}
    engine.reconcile(resource)
    assert sent.wait(30)
    job = jobs.find_job(resource["metadata"]["uid"], jobs.IMAGE)
    resource["spec"]["deletionPolicy"] = "Retain"
    engine.teardown(resource)
    job.thread.join(30)
    assert isinstance(job.error, CopyStopped) and not job.running
    assert ecr_view.manifest_digest("shop-oscar-stopped", f"v1-{source_digest[7:19]}") is None  # nothing half-made
