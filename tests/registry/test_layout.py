"""OCI image-layout directories (registry/layout.py) as the copy's source and target, on real files: from a
real registry into a layout and back, layout to layout byte for byte, tags moved, blobs skipped, corruption
caught, errors naming the path, a file read out of a layout, an index resolved by platform; and the
`oci:` setting of APPMOD_ECR_REGISTRY through the ECR login, the image step and the SQLite fetch."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from appmod_operator import config, spec
from appmod_operator.errors import ConfigError, DigestMismatch, ImageNotFound, RegistryError, SpecError
from appmod_operator.names import Owner
from appmod_operator.reconcile import image, jobs, repository, sqlite
from appmod_operator.reconcile.outcome import Context
from appmod_operator.registry import copy, media
from appmod_operator.registry.client import Registry
from appmod_operator.registry.extract import extract_file
from appmod_operator.registry.layout import REF_NAME, Layouts, open_registry
from appmod_operator.registry.reference import Reference, parse
from tests.registry.images import layer, push_image, push_index, random_layer
from tests.unit.test_spec import with_

DB = "app/sandbox/db.sqlite"
OWNER = Owner("shop", "oscar", "uid-1")


@pytest.fixture
def layouts(tmp_path) -> Layouts:
    return Layouts(tmp_path / "layouts", side="the source layouts")


def index_of(layout: Path) -> list[tuple[str, str]]:
    """(tag, digest) of each descriptor in the layout's index.json, in order."""
    return [(d["annotations"][REF_NAME], d["digest"]) for d in json.loads((layout / "index.json").read_text())
            ["manifests"]]


def blob_files(layout: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (layout / "blobs" / "sha256").iterdir()}


def leftovers(layout: Path) -> list[str]:
    return [p.name for p in layout.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.e2e
def test_an_image_goes_from_a_registry_into_a_layout_and_back(source, ecr, repo, tmp_path):
    pushed = push_image(source, repo, "v1", [layer({"app/a": b"a"}), random_layer(3 << 20)], media.OCI_MANIFEST)
    target = Layouts(tmp_path, side="ECR")
    report = copy.copy_image(source, Reference(source.host, repo, "v1", None), target, "shop", "linux/amd64")
    assert report.digest == pushed.digest and report.blobs_sent == 3
    shop = tmp_path / "shop"
    assert json.loads((shop / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert json.loads((shop / "index.json").read_text())["manifests"] == [
        {"mediaType": media.OCI_MANIFEST, "digest": pushed.digest, "size": len(pushed.data),
         "annotations": {REF_NAME: report.tag}}]
    assert blob_files(shop)[pushed.digest[7:]] == pushed.data and leftovers(shop) == []
    back = copy.copy_image(target, parse(f"oci:{shop}:{report.tag}"), ecr, repo, "linux/amd64")
    assert back.digest == pushed.digest and ecr.get_manifest(repo, back.tag).data == pushed.data
    assert back.blobs_sent == 3


def test_a_layout_copied_into_another_keeps_every_byte(tmp_path):
    source, target = Layouts(tmp_path / "a", side="the source layouts"), Layouts(tmp_path / "b", side="ECR")
    amd = push_image(source, "shop", None, [layer({DB: b"amd"})], platform="linux/amd64")
    arm = push_image(source, "shop", None, [layer({DB: b"arm"})], platform="linux/arm64")
    index = push_index(source, "shop", "v1", {"linux/amd64": amd, "linux/arm64": arm})
    report = copy.copy_image(source, Reference(source.host, "shop", "v1", None), target, "copy", None)
    assert report.digest == index.digest and report.manifests == [amd.digest, arm.digest, index.digest]
    assert target.get_manifest("copy", report.tag) == index
    assert target.get_manifest("copy", amd.digest) == amd and target.get_manifest("copy", arm.digest) == arm
    assert blob_files(tmp_path / "b" / "copy") == blob_files(tmp_path / "a" / "shop")
    assert index_of(tmp_path / "b" / "copy") == [(report.tag, index.digest)]  # children are reached by the index


def test_a_copy_between_two_layouts_of_one_root_sends_every_blob_through_its_check(layouts):
    pushed = push_image(layouts, "shop", "v1", [layer({"a": b"a"}), layer({"b": b"b"})])
    report = copy.copy_image(layouts, Reference(layouts.host, "shop", "v1", None), layouts, "other", None)
    assert (report.blobs_sent, report.blobs_mounted) == (3, 0)
    assert layouts.get_manifest("other", report.tag) == pushed


def test_a_moved_tag_replaces_its_index_entry(layouts):
    kept = push_image(layouts, "shop", "v0", [layer({"x": b"0"})])
    first = push_image(layouts, "shop", "v1", [layer({"x": b"1"})], media.OCI_MANIFEST)
    second = push_image(layouts, "shop", "v1", [layer({"x": b"2"})])
    assert index_of(layouts.root / "shop") == [("v0", kept.digest), ("v1", second.digest)]
    assert layouts.manifest_digest("shop", "v1") == second.digest
    assert layouts.get_manifest("shop", "v1") == second
    assert layouts.get_manifest("shop", first.digest) == first  # still there by digest
    assert layouts.manifest_digest("shop", "v9") is None and layouts.manifest_digest("absent", "v1") is None


def test_a_blob_already_there_is_skipped_and_a_rerun_sends_nothing(layouts, tmp_path):
    shared = random_layer(1 << 20)
    push_image(layouts, "shop", "v1", [shared, layer({"a": b"1"})])
    push_image(layouts, "shop", "v2", [shared, layer({"a": b"2"})])
    target = Layouts(tmp_path / "ecr", side="ECR")
    copy.copy_image(layouts, Reference(layouts.host, "shop", "v1", None), target, "shop", None)
    second = copy.copy_image(layouts, Reference(layouts.host, "shop", "v2", None), target, "shop", None)
    assert (second.blobs_sent, second.blobs_skipped) == (2, 1) and second.bytes_sent < len(shared)
    again = copy.copy_image(layouts, Reference(layouts.host, "shop", "v2", None), target, "shop", None)
    assert again.manifests == [] and again.blobs_sent == 0


def test_a_corrupt_blob_is_caught_and_never_lands(layouts, tmp_path):
    pushed = push_image(layouts, "shop", "v1", [layer({DB: b"data" * 100})])
    blob = pushed.layers()[0]["digest"]
    path = layouts.root / "shop" / "blobs" / "sha256" / blob[7:]
    path.write_bytes(bytes(b ^ 1 for b in path.read_bytes()))  # same size, other bytes
    target = Layouts(tmp_path / "ecr", side="ECR")
    with pytest.raises(DigestMismatch, match=blob):
        copy.copy_image(layouts, Reference(layouts.host, "shop", "v1", None), target, "shop", None)
    assert not target.blob_exists("shop", blob) and target.manifest_digest("shop", "v1") is None
    assert leftovers(tmp_path / "ecr" / "shop") == []
    with pytest.raises(DigestMismatch):
        extract_file(layouts, parse(f"oci:{layouts.root}/shop:v1"), "linux/amd64", DB, tmp_path / "db.sqlite")
    assert not (tmp_path / "db.sqlite").exists()


def test_a_corrupt_manifest_is_caught(layouts):
    pushed = push_image(layouts, "shop", "v1", [layer({"a": b"a"})])
    (layouts.root / "shop" / "blobs" / "sha256" / pushed.digest[7:]).write_bytes(pushed.data + b" ")
    with pytest.raises(DigestMismatch, match=re.escape(str(layouts.root / "shop"))):
        layouts.get_manifest("shop", "v1")


def test_an_upload_that_does_not_hash_to_its_digest_leaves_nothing(layouts):
    digest = media.digest_of(b"right")
    with pytest.raises(DigestMismatch):
        layouts.upload_blob("shop", digest, 5, [b"wrong"])
    assert not layouts.blob_exists("shop", digest) and leftovers(layouts.root / "shop") == []


def test_what_is_missing_is_image_not_found_naming_the_path(layouts):
    shop = layouts.root / "shop"
    with pytest.raises(ImageNotFound, match=f"no OCI image layout {re.escape(str(shop))}"):
        layouts.get_manifest("shop", "v1")
    pushed = push_image(layouts, "shop", "v1", [layer({"a": b"a"})])
    with pytest.raises(ImageNotFound) as raised:
        layouts.get_manifest("shop", "v2")
    assert str(raised.value) == (f"oci:{shop}:v2 was not found at the source layouts {shop}: its index.json "
                                 "tags no manifest 'v2'")
    with pytest.raises(ImageNotFound, match=re.escape(str(shop / "blobs" / "sha256" / ("0" * 64)))):
        layouts.get_manifest("shop", "sha256:" + "0" * 64)
    layer_path = shop / "blobs" / "sha256" / pushed.layers()[0]["digest"][7:]
    layer_path.unlink()
    with pytest.raises(ImageNotFound, match=re.escape(str(layer_path))):
        list(layouts.read_blob("shop", pushed.layers()[0]["digest"]))


def test_an_unreadable_layout_is_a_registry_error_naming_the_path(layouts):
    push_image(layouts, "shop", "v1", [layer({"a": b"a"})])
    index = layouts.root / "shop" / "index.json"
    index.write_text("{not json")
    with pytest.raises(RegistryError, match=f"{re.escape(str(layouts.root / 'shop'))} is a corrupt OCI image"):
        layouts.get_manifest("shop", "v1")
    index.write_text('{"schemaVersion": 2}')
    with pytest.raises(RegistryError, match=re.escape(f"{index} is not an image index")):
        layouts.manifest_digest("shop", "v1")
    (layouts.root / "plain").mkdir()
    with pytest.raises(RegistryError, match="plain is not an OCI image layout: it has no oci-layout"):
        layouts.get_manifest("plain", "v1")
    with pytest.raises(ImageNotFound, match="cannot name a layout directory"):
        layouts.get_manifest("../escape", "v1")


def test_a_file_is_extracted_from_a_layout(layouts, tmp_path):
    pushed = push_image(layouts, "shop", "v1", [layer({DB: b"old"}), layer({f"./{DB}": b"new"})])
    out = tmp_path / "got" / "db.sqlite"
    manifest = extract_file(layouts, parse(f"oci:{layouts.root}/shop:v1"), "linux/amd64", f"/{DB}", out)
    assert manifest.digest == pushed.digest and out.read_bytes() == b"new"


def test_an_index_in_a_layout_is_resolved_by_platform(layouts, tmp_path):
    amd = push_image(layouts, "shop", None, [layer({DB: b"amd64 data"})], platform="linux/amd64",
                     media_type=media.OCI_MANIFEST)
    arm = push_image(layouts, "shop", None, [layer({DB: b"arm64 data"})], platform="linux/arm64",
                     media_type=media.OCI_MANIFEST)
    push_index(layouts, "shop", "v1", {"linux/arm64": arm, "linux/amd64": amd}, media.OCI_MANIFEST)
    ref = parse(f"oci:{layouts.root}/shop:v1")
    manifest = extract_file(layouts, ref, "linux/arm64", DB, tmp_path / "db.sqlite")
    assert manifest.digest == arm.digest and (tmp_path / "db.sqlite").read_bytes() == b"arm64 data"
    target = Layouts(tmp_path / "ecr", side="ECR")
    report = copy.copy_image(layouts, ref, target, "shop", "linux/amd64")
    assert report.digest == amd.digest and target.get_manifest("shop", report.tag) == amd
    with pytest.raises(ImageNotFound, match="offers linux/amd64, linux/arm64"):
        copy.copy_image(layouts, ref, target, "shop", "linux/s390x")


def test_open_registry_chooses_by_the_host(tmp_path):
    opened = open_registry(f"oci:{tmp_path}", side="ECR", credentials=("AWS", "secret"))
    assert isinstance(opened, Layouts) and opened.root == tmp_path and opened.host == f"oci:{tmp_path}"
    assert opened.credentials_dict() is None and repr(opened) == f"Layouts({str(tmp_path)!r}, side='ECR')"
    assert isinstance(open_registry("127.0.0.1:5000", side="ECR"), Registry)


def test_the_ecr_setting_takes_a_layout_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.load(None, {"APPMOD_ECR_REGISTRY": "oci:ecr"}).ecr_registry == f"oci:{tmp_path}/ecr"
    assert config.load(None, {"APPMOD_ECR_REGISTRY": "https://127.0.0.1:5000"}).ecr_registry == "https://127.0.0.1:5000"
    for wrong in ("oci:", "ftp://x", "/plain/path"):
        with pytest.raises(ConfigError, match="expected an http:// or https:// URL or oci:PATH"):
            config.load(None, {"APPMOD_ECR_REGISTRY": wrong})
    config.load()


@pytest.fixture
def oci_ecr(aws, tmp_path):
    """APPMOD_ECR_REGISTRY=oci:<tmp>/ecr, on moto for the ECR API (repository, token)."""
    root = tmp_path / "ecr"
    config.load(None, {**os.environ, "APPMOD_ECR_REGISTRY": f"oci:{root}"})
    yield root
    config.load()


@pytest.mark.e2e
def test_the_ecr_login_of_an_oci_setting_opens_layouts(oci_ecr):
    login = repository.login("us-east-1")
    assert (login.host, login.url) == (f"oci:{oci_ecr}", f"oci:{oci_ecr}")
    target = image.ecr_registry(login)
    assert isinstance(target, Layouts) and target.root == oci_ecr and target.side == "ECR"


def app_of(source_image: str, **changes) -> spec.AppSpec:
    return spec.parse(with_(**{"source.image": source_image, **changes}), OWNER.namespace, OWNER.name)


@pytest.mark.e2e
def test_the_image_step_copies_from_a_layout_into_layouts(oci_ecr, layouts, tmp_path):
    pushed = push_image(layouts, "shop", "v1", [layer({DB: b"data"})], media.OCI_MANIFEST)
    app, context = app_of(f"oci:{layouts.root}/shop:v1"), Context({}, {}, frozenset())
    outcome = image.ensure_image(app, OWNER, context)
    while jobs.wait(60):  # the copy runs beside the step; the next look reports it
        outcome = image.ensure_image(app, OWNER, context)
    assert outcome.done and outcome.status["image"]["digest"] == pushed.digest
    tag = copy.target_tag(parse(f"oci:{layouts.root}/shop:v1"), pushed.digest)
    assert index_of(oci_ecr / "shop-oscar") == [(tag, pushed.digest)]
    # The data task reads the SQLite file from "ECR" by the repository's URI: from the layout here.
    uri = outcome.status["image"]["repositoryUri"]
    assert sqlite.fetch_image_file(f"{uri}@{pushed.digest}", f"/{DB}", tmp_path / "db.sqlite") == pushed.digest
    assert (tmp_path / "db.sqlite").read_bytes() == b"data"
    assert sqlite.fetch_image_file(f"oci:{layouts.root}/shop:v1", f"/{DB}", tmp_path / "again.sqlite") == (
        pushed.digest)


@pytest.mark.e2e
@pytest.mark.parametrize("where", ["source", "target"])
def test_via_docker_refuses_a_layout_naming_the_field(oci_ecr, layouts, source_image, where):
    if where == "target":
        source = source_image
    else:
        push_image(layouts, "shop", "v1", [layer({DB: b"data"})])
        source = f"oci:{layouts.root}/shop:v1"
        config.load()  # the target is the ECR stand-in registry again
    with pytest.raises(SpecError) as raised:
        image.ensure_image(app_of(source, **{"image.via": "Docker"}), OWNER, Context({}, {}, frozenset()))
    assert raised.value.field == "spec.image.via"
    assert ("spec.source.image" if where == "source" else "APPMOD_ECR_REGISTRY") in raised.value.message
