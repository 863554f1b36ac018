"""A Docker-Hub-style token service for the hub-registry part (tests/infra/token_registry.py runs it).

GET /token?service=S&scope=repository:NAME:pull,push (scope may repeat), with optional HTTP Basic
credentials, answers {"token", "access_token", "expires_in", "issued_at"} like auth.docker.io does.
The token is a JWT signed with the part's key and carrying its certificate in `x5c`, which is what
distribution 2.8's `auth: token` verifies against its `rootcertbundle`.

Run on its own: python -m tests.infra.token_server --port P --key KEY.pem --cert CERT.pem
--service NAME --issuer ISSUER --users FILE   (FILE: one `user:sha256-hex-of-password` a line)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

TOKEN_SECONDS = 300
PRIVATE_PREFIX = "private/"


class Config:
    """What the handler needs: the signer, its certificate, whom tokens are for and who may log in."""

    def __init__(self, key_pem: Path, cert_pem: Path, service: str, issuer: str, users_file: Path):
        self.key = serialization.load_pem_private_key(key_pem.read_bytes(), password=None)
        if not isinstance(self.key, ec.EllipticCurvePrivateKey) or self.key.curve.name != "secp256r1":
            raise SystemExit("the signing key must be an EC P-256 key (ES256)")
        cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self.service, self.issuer = service, issuer
        self.users = read_users(users_file)


def read_users(path: Path) -> dict[str, str]:
    """user -> sha256 hex of the password; hashes so the file never holds a password in the clear."""
    users = {}
    for line in path.read_text().splitlines():
        if line.strip():
            user, digest = line.strip().split(":", 1)
            users[user] = digest
    return users


def authenticate(config: Config, authorization: str | None) -> str | None:
    """The user named by valid Basic credentials, "" when there are none, None when they are wrong."""
    if not authorization:
        return ""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except ValueError:
        return None
    expected = config.users.get(user)
    given = hashlib.sha256(password.encode()).hexdigest()
    # compare_digest even for unknown users, so timing does not tell which user names exist.
    matches = hmac.compare_digest(given, expected or "")
    return user if matches and expected is not None else None


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """`repository:NAME:pull,push` -> (type, name, actions). NAME may hold a colon (host:port/repo)."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    return kind, name, [a for a in actions.split(",") if a]


def granted(user: str, kind: str, name: str, wanted: list[str]) -> list[str]:
    """Docker Hub's rules, simplified: users get everything; anonymous pulls anything not private."""
    if kind != "repository":
        return []
    if user:
        return [a for a in wanted if a in ("pull", "push", "delete", "*")]
    return ["pull"] if "pull" in wanted and not name.startswith(PRIVATE_PREFIX) else []


def access(user: str, scopes: list[str]) -> list[dict]:
    """The `access` claim: one entry per requested resource, holding only what was granted."""
    entries = []
    for scope in scopes:
        parsed = parse_scope(scope)
        if parsed is None:
            continue
        kind, name, wanted = parsed
        entries.append({"type": kind, "name": name, "actions": granted(user, kind, name, wanted)})
    return entries


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_es256(key: ec.EllipticCurvePrivateKey, signing_input: bytes) -> bytes:
    """JWS wants the raw 64-byte r||s, not the DER that cryptography returns."""
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def make_token(config: Config, user: str, scopes: list[str], now: int) -> str:
    header = {"typ": "JWT", "alg": "ES256", "x5c": config.x5c}
    claims = {
        "iss": config.issuer, "sub": user,
        # A plain string: distribution 2.8 declares `aud` as a string, later versions take either form.
        "aud": config.service,
        "exp": now + TOKEN_SECONDS, "nbf": now - 1, "iat": now, "jti": os.urandom(16).hex(),
        "access": access(user, scopes),
    }
    signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    return signing_input + "." + b64url(sign_es256(config.key, signing_input.encode()))


def token_response(config: Config, user: str, scopes: list[str]) -> dict:
    now = int(time.time())
    token = make_token(config, user, scopes, now)
    issued_at = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"token": token, "access_token": token, "expires_in": TOKEN_SECONDS, "issued_at": issued_at}


class Handler(BaseHTTPRequestHandler):
    config: Config  # set on the class by serve()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/token":
            return self._json(404, {"errors": [{"code": "NOT_FOUND", "message": "only /token is served"}]})
        query = parse_qs(url.query)
        service = query.get("service", [self.config.service])[0]
        if service != self.config.service:
            return self._json(400, {"errors": [{"code": "UNSUPPORTED", "message": f"unknown service {service!r}"}]})
        user = authenticate(self.config, self.headers.get("Authorization"))
        if user is None:
            return self._json(401, {"details": "incorrect username or password",
                                    "errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]})
        self._json(200, token_response(self.config, user, query.get("scope", [])))

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(port: int, config: Config) -> None:
    Handler.config = config
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Part.stop interrupts the process group: a normal way to end
    finally:
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.infra.token_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", type=Path, required=True, help="PEM EC P-256 private key that signs tokens")
    parser.add_argument("--cert", type=Path, required=True, help="PEM certificate of that key, sent as x5c")
    parser.add_argument("--service", required=True, help="the registry's service name (the token's aud)")
    parser.add_argument("--issuer", required=True, help="the token's iss, as the registry's config expects")
    parser.add_argument("--users", type=Path, required=True, help="file of user:sha256-hex-of-password lines")
    args = parser.parse_args()
    serve(args.port, Config(args.key, args.cert, args.service, args.issuer, args.users))


if __name__ == "__main__":
    main()
