"""Image references read the way Docker reads them."""

from __future__ import annotations

import pytest

from appmod_operator.registry.reference import Reference, is_layout, parse

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("text", "expected"), [
    ("nginx", Reference("registry-1.docker.io", "library/nginx", "latest", None)),
    ("docker.io/oscarcommerce/django-oscar-sandbox:latest",
     Reference("registry-1.docker.io", "oscarcommerce/django-oscar-sandbox", "latest", None)),
    ("127.0.0.1:5000/shop/app:v1.2", Reference("127.0.0.1:5000", "shop/app", "v1.2", None)),
    ("localhost/app", Reference("localhost", "app", "latest", None)),
    (f"ghcr.io/org/app@{DIGEST}", Reference("ghcr.io", "org/app", None, DIGEST)),
    (f"ghcr.io/org/app:v1@{DIGEST}", Reference("ghcr.io", "org/app", "v1", DIGEST)),
    ("user/app:1", Reference("registry-1.docker.io", "user/app", "1", None)),
])
def test_parse(text, expected):
    assert parse(text) == expected


def test_the_reference_asked_for_is_the_digest_when_pinned():
    assert parse(f"ghcr.io/org/app:v1@{DIGEST}").reference == DIGEST
    assert parse("ghcr.io/org/app:v1").reference == "v1"


@pytest.mark.parametrize(("text", "words"), [
    ("Shop/App:v1", "not a valid repository name"),
    ("app:v1@sha256:123", "64 hex digits"),
    ("app:-bad", "not a valid tag"),
])
def test_bad_references_say_what_is_wrong(text, words):
    with pytest.raises(ValueError, match=words):
        parse(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("oci:/some/dir/shop:v1", Reference("oci:/some/dir", "shop", "v1", None)),
    ("oci:/some/dir/shop", Reference("oci:/some/dir", "shop", "latest", None)),
    ("oci:/some/dir/shop/", Reference("oci:/some/dir", "shop", "latest", None)),
    (f"oci:/some/Dir_1/My Shop@{DIGEST}", Reference("oci:/some/Dir_1", "My Shop", None, DIGEST)),
    (f"oci:/shop:v1@{DIGEST}", Reference("oci:/", "shop", "v1", DIGEST)),
])
def test_parse_an_image_layout_directory(text, expected):
    assert parse(text) == expected
    assert parse(str(expected)) == expected


def test_a_layout_prints_as_it_is_written():
    assert str(parse("oci:/some/dir/shop:v1")) == "oci:/some/dir/shop:v1"
    assert str(parse(f"oci:/shop@{DIGEST}")) == f"oci:/shop@{DIGEST}"


def test_a_relative_layout_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse("oci:images/shop:v2") == Reference(f"oci:{tmp_path}/images", "shop", "v2", None)
    assert parse("oci:shop").registry == f"oci:{tmp_path}"


def test_is_layout():
    assert is_layout("oci:/some/dir")
    assert not is_layout("127.0.0.1:5000") and not is_layout("registry-1.docker.io")


@pytest.mark.parametrize(("text", "words"), [
    ("oci:", "no layout directory"),
    ("oci::v1", "no layout directory"),
    ("oci:/", "root directory"),
    ("oci:/dir/shop:-bad", "not a valid tag"),
    ("oci:/dir/shop:", "not a valid tag"),
    ("oci:/dir/shop@sha256:123", "64 hex digits"),
    ("oci:/dir/shop:v1@md5:" + "ab" * 16, "64 hex digits"),
])
def test_bad_layout_references_say_what_is_wrong(text, words):
    with pytest.raises(ValueError, match=words):
        parse(text)
