"""The Docker-engine backend (`spec.image.via: Docker`) against the real dockerd and registries: the digest it
reports is the one ECR serves; refusals, missing tags and platforms, and unreachable places are named in the
user's terms; no password reaches a message or a log."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import tarfile
import urllib.request

import docker
import pytest

from appmod_operator.errors import DockerPushFailed, ImageNotFound, RegistryAccessDenied, RegistryError
from appmod_operator.registry.docker import copy_with_docker

pytestmark = pytest.mark.e2e

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_INDEX = "application/vnd.docker.distribution.manifest.list.v2+json"
WRONG_PASSWORD = "not-the-ecr-token-5f3a9c"


@pytest.fixture(scope="module")
def source_image(dockerd, source_registry):
    """A tiny image built in dockerd (FROM scratch, no network) and pushed to the source registry as hello:1;
    its manifest digest, size and architecture."""
    client = docker.DockerClient(base_url=dockerd.env()["DOCKER_HOST"])
    try:
        name = f"{source_registry.host}/hello"
        image, _ = client.images.build(fileobj=_build_context(), custom_context=True, tag=f"{name}:1")
        events = list(client.api.push(name, tag="1", stream=True, decode=True))
        assert not [e for e in events if "error" in e], events
        aux = next(e["aux"] for e in events if "aux" in e)
        client.api.remove_image(f"{name}:1")  # so that copies pull it, as they would from a real registry
        return {"name": name, "digest": aux["Digest"], "size": aux["Size"], "arch": image.attrs["Architecture"]}
    finally:
        client.close()


def _build_context() -> io.BytesIO:
    """A tar build context holding a Dockerfile and the one file it copies."""
    files = {"Dockerfile": b"FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": b"hello from appmod\n"}
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    return context


@pytest.fixture
def docker_copy(dockerd, ecr_registry, moto_server, source_image):
    """copy_with_docker into the ECR stand-in with the password moto's ECR hands out, for the test image's
    platform, unless told otherwise."""
    def run(source: str, repository: str = "shop-hello", tag: str = "v1", *, platform: str | None = None,
            password: str | None = None, source_auth: dict | None = None, target_registry: str | None = None):
        target_auth = {"username": "AWS", "password": password or moto_server.ecr_password()}
        platform = platform or f"linux/{source_image['arch']}"
        return copy_with_docker(source, target_registry or ecr_registry.host, repository, tag, platform=platform,
                                source_auth=source_auth, target_auth=target_auth,
                                docker_host=dockerd.env()["DOCKER_HOST"])
    return run


def served_digest(registry, repository: str, tag: str, password: str) -> str:
    """The digest the registry serves for repository:tag (Docker-Content-Digest of GET manifests)."""
    request = urllib.request.Request(f"{registry.url}/v2/{repository}/manifests/{tag}", headers={
        "Authorization": "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode(),
        "Accept": f"{DOCKER_MANIFEST}, {DOCKER_INDEX}",
    })
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Docker-Content-Digest"]


def test_copy_reports_the_digest_ecr_serves_and_keeps_the_password_out_of_logs(
        docker_copy, source_image, ecr_registry, moto_server, caplog):
    caplog.set_level(logging.DEBUG)
    result = docker_copy(f"{source_image['name']}:1")
    password = moto_server.ecr_password()
    assert result.digest.startswith("sha256:")
    assert result.digest == served_digest(ecr_registry, "shop-hello", "v1", password)
    assert result.reference == f"{ecr_registry.host}/shop-hello:v1"
    assert "recompresses" in result.note
    assert password not in caplog.text


def test_copy_by_digest(docker_copy, source_image, ecr_registry, moto_server):
    # name:tag@digest as users write it: the digest decides, the tag is only a label.
    result = docker_copy(f"{source_image['name']}:1@{source_image['digest']}", tag="by-digest")
    assert result.digest == served_digest(ecr_registry, "shop-hello", "by-digest", moto_server.ecr_password())


def test_wrong_ecr_password_is_access_denied_at_ecr(docker_copy, source_image, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RegistryAccessDenied, match="access denied at ECR") as raised:
        docker_copy(f"{source_image['name']}:1", password=WRONG_PASSWORD)
    assert WRONG_PASSWORD not in str(raised.value)
    assert WRONG_PASSWORD not in caplog.text


def test_refused_source_credentials_are_access_denied_at_the_source(docker_copy, ecr_registry):
    # The ECR stand-in is the only registry here that wants credentials, so it plays a private source.
    with pytest.raises(RegistryAccessDenied, match="access denied at the source registry") as raised:
        docker_copy(f"{ecr_registry.host}/private:1", source_auth={"username": "AWS", "password": WRONG_PASSWORD})
    assert WRONG_PASSWORD not in str(raised.value)


def test_private_source_pulls_with_the_pull_secret_and_refuses_without(docker_copy, private_source, hub_registry):
    right = {"username": hub_registry.user, "password": hub_registry.password}
    result = docker_copy(private_source, tag="from-hub", source_auth=right)
    assert result.digest.startswith("sha256:")
    wrong = {"username": hub_registry.user, "password": WRONG_PASSWORD}
    for auth in (wrong, None):
        with pytest.raises(RegistryAccessDenied, match="access denied at the source registry") as raised:
            docker_copy(private_source, tag="from-hub", source_auth=auth)
        assert WRONG_PASSWORD not in str(raised.value) and hub_registry.password not in str(raised.value)


@pytest.fixture(scope="module")
def private_source(dockerd, source_image, hub_registry):
    """hello:1 in the Docker Hub stand-in's private/ space, which only its user may pull (Bearer tokens)."""
    client = docker.DockerClient(base_url=dockerd.env()["DOCKER_HOST"])
    try:
        client.api.pull(source_image["name"], tag="1")
        name = f"{hub_registry.host}/private/hello"
        client.api.tag(f"{source_image['name']}:1", name, "1")
        auth = {"username": hub_registry.user, "password": hub_registry.password}
        events = list(client.api.push(name, tag="1", stream=True, decode=True, auth_config=auth))
        assert not [e for e in events if "error" in e], events
        for local in (f"{name}:1", f"{source_image['name']}:1"):
            client.api.remove_image(local)  # so that the copy has to pull with credentials
        return f"{name}:1"
    finally:
        client.close()


def test_missing_tag_is_image_not_found_naming_the_reference(docker_copy, source_image):
    missing = f"{source_image['name']}:no-such-tag"
    with pytest.raises(ImageNotFound, match=re.escape(missing)):
        docker_copy(missing)


def test_platform_a_single_platform_image_lacks_is_image_not_found(docker_copy, source_image):
    other = "arm64" if source_image["arch"] == "amd64" else "amd64"
    with pytest.raises(ImageNotFound, match=f"no linux/{other} image"):
        docker_copy(f"{source_image['name']}:1", platform=f"linux/{other}")


def test_index_source_gives_the_platform_manifest_not_the_index(docker_copy, source_image, source_registry,
                                                                ecr_registry, moto_server):
    index_digest = _put_index(source_registry, source_image)
    result = docker_copy(f"{source_image['name']}:multi", tag="from-index")
    assert result.digest != index_digest
    assert result.digest == served_digest(ecr_registry, "shop-hello", "from-index", moto_server.ecr_password())
    other = "arm64" if source_image["arch"] == "amd64" else "amd64"
    with pytest.raises(ImageNotFound, match="no matching manifest"):
        docker_copy(f"{source_image['name']}:multi", platform=f"linux/{other}")


def _put_index(registry, image: dict) -> str:
    """A one-platform index hello:multi over hello:1 in the source registry; its digest."""
    index = {"schemaVersion": 2, "mediaType": DOCKER_INDEX, "manifests": [{
        "mediaType": DOCKER_MANIFEST, "digest": image["digest"], "size": image["size"],
        "platform": {"os": "linux", "architecture": image["arch"]},
    }]}
    request = urllib.request.Request(f"{registry.url}/v2/hello/manifests/multi", data=json.dumps(index).encode(),
                                     method="PUT", headers={"Content-Type": DOCKER_INDEX})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Docker-Content-Digest"]


def test_push_error_in_the_stream_is_raised(docker_copy, source_image):
    # Nothing listens on port 1: the engine reports that only as an error event in the push stream.
    with pytest.raises(DockerPushFailed, match=re.escape("127.0.0.1:1/shop-hello:v1")):
        docker_copy(f"{source_image['name']}:1", target_registry="127.0.0.1:1")


def test_unreachable_engine_names_docker_host(tmp_path):
    socket = f"unix://{tmp_path}/no-engine.sock"
    with pytest.raises(RegistryError, match="DOCKER_HOST") as raised:
        copy_with_docker("example.com/app:1", "127.0.0.1:1", "app", "1", platform="linux/amd64", source_auth=None,
                         target_auth={"username": "AWS", "password": WRONG_PASSWORD}, docker_host=socket)
    assert socket in str(raised.value) and WRONG_PASSWORD not in str(raised.value)
