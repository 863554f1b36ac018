"""The daemonless copy between real registries: digests preserved for both manifest media types and for
indexes, blobs skipped and mounted, chunked uploads, token and basic auth, errors in the user's terms,
corruption caught, and a copy killed midway then rerun."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from appmod_operator.errors import DigestMismatch, ImageNotFound, RegistryAccessDenied
from appmod_operator.registry import copy, media
from appmod_operator.registry.client import PART, Registry
from appmod_operator.registry.reference import Reference
from tests.registry.images import layer, push_image, push_index, random_layer

pytestmark = pytest.mark.e2e


def ref(registry: Registry, repository: str, tag: str = "v1") -> Reference:
    return Reference(registry.host, repository, tag, None)


def served(registry: Registry, repository: str, reference: str):
    return registry.get_manifest(repository, reference)


@pytest.mark.parametrize("media_type", [media.DOCKER_MANIFEST, media.OCI_MANIFEST])
def test_copy_preserves_the_digest_and_bytes(source, ecr, repo, media_type):
    image = push_image(source, repo, "v1", [layer({"app/a.txt": b"a"}), layer({"app/b.txt": b"b" * 5000})],
                       media_type)
    report = copy.copy_image(source, ref(source, repo), ecr, repo, None)
    assert report.digest == report.source_digest == image.digest
    assert report.tag == f"v1-{image.digest[7:19]}"
    pushed = served(ecr, repo, report.tag)
    assert (pushed.data, pushed.media_type, pushed.digest) == (image.data, media_type, image.digest)
    assert report.blobs_sent == 3 and report.bytes_sent == sum(b["size"] for b in image.blobs())
    for blob in image.blobs():
        assert ecr.blob_exists(repo, blob["digest"])


def test_a_second_copy_sends_nothing(source, ecr, repo):
    push_image(source, repo, "v1", [random_layer(100_000)])
    copy.copy_image(source, ref(source, repo), ecr, repo, None)
    started = time.monotonic()
    second = copy.copy_image(source, ref(source, repo), ecr, repo, None)
    assert (second.bytes_sent, second.blobs_sent) == (0, 0) and second.manifests == []
    assert time.monotonic() - started < 2  # a HEAD on each side (the benchmark measures it properly)


def test_blobs_already_at_the_target_are_not_sent_again(source, ecr, repo):
    shared = random_layer(50_000)
    push_image(source, repo, "v1", [shared])
    copy.copy_image(source, ref(source, repo), ecr, repo, None)
    image = push_image(source, repo, "v2", [shared, layer({"new": b"n"})])
    report = copy.copy_image(source, ref(source, repo, "v2"), ecr, repo, None)
    assert (report.blobs_skipped, report.blobs_sent) == (1, 2)  # the new layer and the new config
    assert report.bytes_sent == sum(b["size"] for b in image.blobs()) - len(shared)


def test_a_blob_bigger_than_a_part_goes_in_chunks(source, ecr, repo):
    image = push_image(source, repo, "big", [random_layer(PART + PART // 2)])
    report = copy.copy_image(source, ref(source, repo, "big"), ecr, repo, None)
    assert report.digest == image.digest
    assert ecr.blob_exists(repo, image.layers()[0]["digest"])


def test_same_registry_copies_mount_instead_of_sending(ecr, repo):
    image = push_image(ecr, repo, "v1", [random_layer(20_000)])
    report = copy.copy_image(ecr, ref(ecr, repo), ecr, f"{repo}-mounted", None)
    assert report.blobs_mounted == 2 and report.bytes_sent == 0
    assert served(ecr, f"{repo}-mounted", report.tag).digest == image.digest


@pytest.mark.parametrize("media_type", [media.DOCKER_MANIFEST, media.OCI_MANIFEST])
def test_one_platform_of_an_index(source, ecr, repo, media_type):
    amd = push_image(source, repo, None, [layer({"amd": b"x86"})], media_type, "linux/amd64")
    arm = push_image(source, repo, None, [layer({"arm": b"aarch64"})], media_type, "linux/arm64")
    push_index(source, repo, "multi", {"linux/amd64": amd, "linux/arm64": arm}, media_type)
    report = copy.copy_image(source, ref(source, repo, "multi"), ecr, repo, "linux/arm64")
    assert report.digest == arm.digest and served(ecr, repo, report.tag).digest == arm.digest
    assert not ecr.blob_exists(repo, amd.layers()[0]["digest"])


def test_a_whole_index(source, ecr, repo):
    amd = push_image(source, repo, None, [layer({"amd": b"x86"})], platform="linux/amd64")
    arm = push_image(source, repo, None, [layer({"arm": b"aarch64"})], platform="linux/arm64")
    index = push_index(source, repo, "multi", {"linux/amd64": amd, "linux/arm64": arm})
    report = copy.copy_image(source, ref(source, repo, "multi"), ecr, repo, None)
    assert report.digest == index.digest and served(ecr, repo, report.tag).data == index.data
    assert served(ecr, repo, arm.digest).digest == arm.digest
    assert served(ecr, repo, amd.digest).digest == amd.digest


def test_a_platform_the_index_lacks_names_what_it_offers(source, ecr, repo):
    amd = push_image(source, repo, None, [layer({"amd": b"x86"})])
    push_index(source, repo, "multi", {"linux/amd64": amd})
    with pytest.raises(ImageNotFound, match=r"no linux/s390x image \(it offers linux/amd64\)"):
        copy.copy_image(source, ref(source, repo, "multi"), ecr, repo, "linux/s390x")


def test_missing_tag_and_repository_are_image_not_found(source, ecr, repo):
    push_image(source, repo, "v1", [layer({"a": b"a"})])
    with pytest.raises(ImageNotFound, match=r"v404 was not found at the source registry"):
        copy.copy_image(source, ref(source, repo, "v404"), ecr, repo, None)
    with pytest.raises(ImageNotFound, match=r"MANIFEST_UNKNOWN|NAME_UNKNOWN"):
        copy.copy_image(source, ref(source, "no/such-repo"), ecr, repo, None)


def test_bearer_tokens_anonymous_and_with_the_pull_secret(hub, hub_registry, ecr, repo):
    public = push_image(hub, "public/app", "v1", [layer({"p": b"public"})])
    private = push_image(hub, "private/app", "v1", [layer({"s": b"secret"})])
    anonymous = Registry(hub_registry.host, side="the source registry", insecure=True)
    assert copy.copy_image(anonymous, ref(anonymous, "public/app"), ecr, repo, None).digest == public.digest
    with pytest.raises(RegistryAccessDenied, match=r"access denied at the source registry .*anonymously"):
        copy.copy_image(anonymous, ref(anonymous, "private/app"), ecr, repo, None)
    assert copy.copy_image(hub, ref(hub, "private/app"), ecr, repo, None).digest == private.digest


def test_wrong_credentials_name_the_side(source, hub_registry, ecr_registry, repo):
    push_image(source, repo, "v1", [layer({"a": b"a"})])
    wrong_ecr = Registry(ecr_registry.host, side="ECR", credentials=("AWS", "not-the-token"), insecure=True)
    with pytest.raises(RegistryAccessDenied, match="access denied at ECR") as raised:
        copy.copy_image(source, ref(source, repo), wrong_ecr, repo, None)
    assert "not-the-token" not in str(raised.value)
    wrong_hub = Registry(hub_registry.host, side="the source registry", credentials=("hubuser", "wrong-pw"),
                         insecure=True)
    with pytest.raises(RegistryAccessDenied, match="token service refused the pull secret") as raised:
        copy.copy_image(wrong_hub, ref(wrong_hub, "private/app"), wrong_ecr, repo, None)
    assert "wrong-pw" not in str(raised.value)


def test_a_corrupted_blob_is_caught_and_never_committed(source, source_registry, ecr, repo):
    image = push_image(source, repo, "v1", [random_layer(30_000)])
    digest = image.layers()[0]["digest"]
    stored = next(Path(source_registry.dir).rglob(f"blobs/sha256/{digest[7:9]}/{digest[7:]}/data"))
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch, match=digest):
        copy.copy_image(source, ref(source, repo), ecr, repo, None)
    assert not ecr.blob_exists(repo, digest)
    assert ecr.manifest_digest(repo, copy.target_tag(ref(source, repo), image.digest)) is None


KILLED_COPY = """
import sys
from appmod_operator.registry import copy
from appmod_operator.registry.client import Registry
from appmod_operator.registry.reference import Reference
source = Registry(sys.argv[1], side="the source registry", insecure=True)
ecr = Registry(sys.argv[2], side="ECR", credentials=("AWS", sys.argv[3]), insecure=True)
copy.copy_image(source, Reference(sys.argv[1], sys.argv[4], "v1", None), ecr, sys.argv[4], None)
"""


@pytest.mark.parametrize("delay", [0.15, 0.4])
def test_a_copy_killed_midway_then_rerun_is_complete(source, ecr, repo, moto_server, delay):
    image = push_image(source, repo, "v1", [random_layer(24 << 20), random_layer(24 << 20), random_layer(4 << 20)])
    tag = copy.target_tag(ref(source, repo), image.digest)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_COPY, source.host, ecr.host, moto_server.ecr_password(),
                             repo])
    time.sleep(delay)
    proc.kill()
    proc.wait()
    assert ecr.manifest_digest(repo, tag) in (None, image.digest)  # never a tag on a partial image
    report = copy.copy_image(source, ref(source, repo), ecr, repo, None)
    assert served(ecr, repo, tag).digest == image.digest == report.digest
    for blob in image.blobs():
        assert ecr.blob_exists(repo, blob["digest"])
