"""Debian's docker-registry (distribution 2.8) on 127.0.0.1: a source registry, and the ECR stand-in
with htpasswd user `AWS` whose password is the one moto's ECR hands out."""

from __future__ import annotations

import os

from tests.infra import process
from tests.infra.part import Part, which


class Registry(Part):
    name = "registry"
    how_to_get = "apt-get install docker-registry"

    def __init__(self, root, name: str = "registry", user: str | None = None, password: str | None = None):
        self.name = name
        super().__init__(root)
        self.user, self.password = user, password

    def missing(self) -> str | None:
        if command := which("docker-registry"):
            return f"{command} is not on PATH"
        if self.user:
            try:
                import bcrypt  # noqa: F401
            except ImportError:
                return "the bcrypt module is not installed (htpasswd)"
        return None

    def start(self) -> None:
        d = self.fresh_dir()
        port = process.free_port()
        self.host = f"127.0.0.1:{port}"
        self.url = f"http://{self.host}"
        auth = ""
        if self.user:
            import bcrypt

            # Cost 5 keeps each authenticated request fast; the format is what `htpasswd -B` writes.
            hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=5)).decode()
            (d / "htpasswd").write_text(f"{self.user}:{hashed}\n")
            auth = f"auth:\n  htpasswd:\n    realm: {self.name}\n    path: {d / 'htpasswd'}\n"
        (d / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {d / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n  secret: {os.urandom(16).hex()}\n" + auth
        )
        proc = self.spawn(["docker-registry", "serve", str(d / "config.yml")], "registry.log")
        process.wait_until(lambda: process.http_status(f"{self.url}/v2/") in (200, 401), self.name, 30, proc,
                           d / "registry.log")

