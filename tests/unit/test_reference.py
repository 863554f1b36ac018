"""Image references read the way Docker reads them."""

from __future__ import annotations

import pytest

from appmod_operator.registry.reference import Reference, parse

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
