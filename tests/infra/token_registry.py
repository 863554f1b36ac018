"""The hub-registry part: Debian's docker-registry behind a Docker-Hub-style Bearer token service.

Clients meet the challenge flow of Docker Hub (`WWW-Authenticate: Bearer realm=...,service=...,scope=...`,
then GET the realm for a token). Anonymous clients may pull repositories outside `private/`; the
user `user` with `password` may pull and push everywhere. Used by the `hub_registry` fixture.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import sys
from pathlib import Path

from tests.infra import process
from tests.infra.part import Part, which

SERVICE = "hub-registry"
ISSUER = "appmod-test-issuer"
USER = "hubuser"


class TokenRegistry(Part):
    name = "hub-registry"
    how_to_get = "apt-get install docker-registry; pip install cryptography"

    def missing(self) -> str | None:
        if command := which("docker-registry"):
            return f"{command} is not on PATH"
        try:
            import cryptography  # noqa: F401
        except ImportError:
            return "the cryptography module is not installed (token signing)"
        return None

    def start(self) -> None:
        d = self.fresh_dir()
        self.user, self.password = USER, os.urandom(16).hex()
        key, cert = write_signing_pair(d)
        (d / "users").write_text(f"{self.user}:{hashlib.sha256(self.password.encode()).hexdigest()}\n")
        self._start_token_server(d, key, cert)
        self._start_registry(d, cert)

    def _start_token_server(self, d: Path, key: Path, cert: Path) -> None:
        port = process.free_port()
        self.token_url = f"http://127.0.0.1:{port}/token"
        proc = self.spawn([
            sys.executable, "-m", "tests.infra.token_server", "--port", str(port), "--key", str(key),
            "--cert", str(cert), "--service", SERVICE, "--issuer", ISSUER, "--users", str(d / "users"),
        ], "token-server.log", env={"PYTHONPATH": process.repository_pythonpath()})
        process.wait_until(lambda: process.http_status(f"{self.token_url}?service={SERVICE}") == 200,
                           "hub-registry token server", 30, proc, d / "token-server.log")

    def _start_registry(self, d: Path, cert: Path) -> None:
        port = process.free_port()
        self.host = f"127.0.0.1:{port}"
        self.url = f"http://{self.host}"
        (d / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {d / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n  secret: {os.urandom(16).hex()}\n"
            f"auth:\n  token:\n    realm: {self.token_url}\n    service: {SERVICE}\n    issuer: {ISSUER}\n"
            f"    rootcertbundle: {cert}\n"
        )
        proc = self.spawn(["docker-registry", "serve", str(d / "config.yml")], "registry.log")
        process.wait_until(lambda: process.http_status(f"{self.url}/v2/") == 401, self.name, 30, proc,
                           d / "registry.log")


def write_signing_pair(d: Path) -> tuple[Path, Path]:
    """An EC P-256 key and its self-signed certificate: the token signer and, alone, the registry's root bundle.

    Distribution checks the token's x5c chain against the bundle; a self-signed CA certificate is its own chain.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{ISSUER} token signer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = d / "signer-key.pem", d / "signer-cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
