"""The hub-registry part behaves like Docker Hub for a client: Bearer challenges, a token realm, scoped grants."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urljoin

import pytest
import requests

pytestmark = pytest.mark.e2e


def challenge(response: requests.Response) -> dict[str, str]:
    """The parameters of a `WWW-Authenticate: Bearer k="v",...` header, which must be there."""
    header = response.headers["WWW-Authenticate"]
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def token(hub, scope: str, auth: tuple[str, str] | None = None) -> str:
    response = requests.get(hub.token_url, params={"service": "hub-registry", "scope": scope}, auth=auth, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300 and body["issued_at"].endswith("Z")
    return body["token"]


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_base_endpoint_challenges_with_the_realm_and_service(hub_registry):
    response = requests.get(f"{hub_registry.url}/v2/", timeout=10)
    assert response.status_code == 401
    assert challenge(response) == {"realm": hub_registry.token_url, "service": "hub-registry"}


def test_manifest_challenge_names_the_pull_scope(hub_registry):
    response = requests.head(f"{hub_registry.url}/v2/public/app/manifests/latest", timeout=10)
    assert response.status_code == 401
    assert challenge(response)["scope"] == "repository:public/app:pull"


def test_anonymous_token_pulls_a_public_repository(hub_registry):
    headers = bearer(token(hub_registry, "repository:public/app:pull"))
    response = requests.get(f"{hub_registry.url}/v2/public/app/tags/list", headers=headers, timeout=10)
    # Past auth: an empty registry does not know the repository.
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_anonymous_token_is_refused_for_a_private_repository(hub_registry):
    headers = bearer(token(hub_registry, "repository:private/app:pull"))
    response = requests.get(f"{hub_registry.url}/v2/private/app/tags/list", headers=headers, timeout=10)
    assert response.status_code in (401, 403)
    # A valid token without the grant, not a token the registry could not verify.
    assert challenge(response)["error"] == "insufficient_scope"


def test_user_token_pushes_a_blob(hub_registry):
    blob = b"hub-registry test blob"
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    headers = bearer(token(hub_registry, "repository:private/app:pull,push",
                           auth=(hub_registry.user, hub_registry.password)))
    started = requests.post(f"{hub_registry.url}/v2/private/app/blobs/uploads/", headers=headers, timeout=10)
    assert started.status_code == 202, started.text
    upload = urljoin(f"{hub_registry.url}/", started.headers["Location"])
    finished = requests.put(upload, params={"digest": digest}, data=blob, timeout=10,
                            headers={**headers, "Content-Type": "application/octet-stream"})
    assert finished.status_code == 201, finished.text
    head = requests.head(f"{hub_registry.url}/v2/private/app/blobs/{digest}", headers=headers, timeout=10)
    assert head.status_code == 200


def test_anonymous_token_cannot_push_a_public_repository(hub_registry):
    headers = bearer(token(hub_registry, "repository:public/app:pull,push"))
    response = requests.post(f"{hub_registry.url}/v2/public/app/blobs/uploads/", headers=headers, timeout=10)
    assert response.status_code == 401
    refused = challenge(response)
    assert refused["error"] == "insufficient_scope"
    # distribution lists the actions in its own order (push,pull): compare them as a set.
    kind, name, actions = refused["scope"].rsplit(":", 2)
    assert (kind, name, set(actions.split(","))) == ("repository", "public/app", {"pull", "push"})


def test_wrong_password_is_refused_by_the_token_server(hub_registry):
    response = requests.get(hub_registry.token_url, auth=(hub_registry.user, "wrong"), timeout=10,
                            params={"service": "hub-registry", "scope": "repository:private/app:pull"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
