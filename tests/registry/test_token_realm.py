"""A registry's credentials go only to a token service on the registry's own host (or domain), or one the
user listed in APPMOD_TOKEN_REALMS: a registry, or a man in the middle of a plain-HTTP one, that names a
realm elsewhere gets nothing. Two loopback HTTP servers: a registry that challenges, and a token service
that counts who asked with credentials."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from appmod_operator.errors import RegistryAccessDenied
from appmod_operator.registry.client import Registry, realm_trusted


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(handler: type) -> Iterator[http.server.HTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture
def token_service():
    class Tokens(_Quiet):
        asked: list[str] = []

        def do_GET(self):
            Tokens.asked.append(self.headers.get("Authorization", ""))
            body = json.dumps({"token": "t", "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    yield from ((server, Tokens.asked) for server in serve(Tokens))


@pytest.fixture
def registry(token_service):
    """Challenges every request with the token service's realm named `localhost` (another host than the
    registry's 127.0.0.1), and answers 404 once a token comes."""
    port = token_service[0].server_address[1]

    class Challenging(_Quiet):
        def do_GET(self):
            if self.headers.get("Authorization", "").startswith("Bearer"):
                self.send_response(404)
            else:
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'Bearer realm="http://localhost:{port}/token",service="r"')
            self.send_header("Content-Length", "0")
            self.end_headers()
    yield from serve(Challenging)


def client(registry, trusted: tuple[str, ...] = ()) -> Registry:
    host = f"127.0.0.1:{registry.server_address[1]}"
    return Registry(host, side="the source registry", credentials=("user", "pull-secret-password"), insecure=True,
                    trusted_realms=trusted)


def test_credentials_are_not_sent_to_a_realm_on_another_host(registry, token_service):
    with pytest.raises(RegistryAccessDenied, match=r"names the token service localhost:\d+, on another host"):
        client(registry).get_manifest("shop/app", "v1")
    assert token_service[1] == []  # nothing reached the token service


def test_a_realm_the_user_listed_gets_them(registry, token_service):
    port = token_service[0].server_address[1]
    with pytest.raises(Exception, match="was not found"):  # the token came, and the registry answered 404
        client(registry, trusted=(f"localhost:{port}",)).get_manifest("shop/app", "v1")
    assert len(token_service[1]) == 1 and token_service[1][0].startswith("Basic ")


@pytest.mark.parametrize(("registry_host", "realm", "trusted"), [
    ("registry-1.docker.io", "https://auth.docker.io/token", True),  # Docker Hub: its own domain
    ("ghcr.io", "https://ghcr.io/token", True),
    ("ghcr.io", "https://evil.io/token", False),  # a two-label host is its own domain, not all of .io
    ("127.0.0.1:5000", "http://127.0.0.1:5001/token", True),  # the same host, another port
    ("127.0.0.1:5000", "http://127.0.0.2/token", False),
    ("registry.example.com", "https://auth.example.com/token", True),
    ("registry.example.com", "https://example.com.evil.net/token", False),
])
def test_which_realms_are_the_registrys_own(registry_host, realm, trusted):
    assert realm_trusted(registry_host, realm) is trusted
