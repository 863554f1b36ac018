"""What the test session produced, kept for the secrets test (tests/e2e/test_secrets.py), which runs last and
greps it all for every secret value: the operator logs the e2e tests wrote (start_operator), snapshots of
what the cluster, moto and the metrics endpoint showed before each of those operators stopped, and the
secret values handed out on the way (the database passwords, as master_users sees them appear in moto; the
pull secrets' passwords, as the tests that make them say).

moto is reset by later tests and deleted resources take their status with them, so what is grepped at the
end is what was kept here while it existed. Filled by tests/conftest.py, tests/e2e/conftest.py and the e2e
tests that make pull secrets."""

from __future__ import annotations

import base64
from pathlib import Path

LOGS: list[Path] = []
SNAPSHOTS: dict[str, str] = {}  # what it shows -> its text (a later look at the same thing replaces it)
SECRETS: dict[str, str] = {}  # value -> what it is


def log(path: Path) -> None:
    LOGS.append(path)


def snapshot(what: str, text: str) -> None:
    SNAPSHOTS[what] = text


def secret(what: str, value: str) -> None:
    SECRETS.setdefault(value, what)


def registry_secret(what: str, username: str, password: str, dockerconfigjson: str | None = None) -> None:
    """A registry password, with the forms it travels in: a Basic `Authorization` header's base64 of
    user:password, and the Secret's .dockerconfigjson as the Kubernetes API returns it (base64)."""
    secret(what, password)
    secret(f"{what}, as user:password in base64", base64.b64encode(f"{username}:{password}".encode()).decode())
    if dockerconfigjson:
        secret(f"{what}, as the Secret's .dockerconfigjson", dockerconfigjson)
