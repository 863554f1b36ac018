"""Process settings read by the operator and the command line alike: each comes from a flag, else its
environment variable, else a default (the table in docs/configuration.md). A value that cannot be
parsed stops the program at start with a ConfigError naming the setting.

Called by runner.py and cli.py (`load`), and by handlers.py (`current`) for the resync interval.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from appmod_operator.errors import ConfigError


def _region(value: str) -> str:
    if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d+$", value):
        raise ValueError("expected an AWS region such as us-east-2")
    return value


def _url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value


def _registry_location(value: str) -> str:
    """A registry's URL, or `oci:PATH` (a directory of OCI image layouts, registry/layout.py), made absolute."""
    if value.startswith("oci:"):
        if not value.removeprefix("oci:").strip():
            raise ValueError("expected an http:// or https:// URL or oci:PATH (the path is empty)")
        return "oci:" + os.path.abspath(value.removeprefix("oci:"))
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("expected an http:// or https:// URL or oci:PATH")
    return value


def _host_port(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port")
    return value


def _host_ports(value: str) -> tuple[str, ...]:
    return tuple(_host_port(v.strip()) for v in value.split(",") if v.strip())


def _hosts(value: str) -> tuple[str, ...]:
    hosts = tuple(v.strip().lower() for v in value.split(",") if v.strip())
    for host in hosts:
        if not re.match(r"^[a-z0-9.-]+(:\d{1,5})?$", host):
            raise ValueError(f"expected host or host:port, got {host!r}")
    return hosts


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.lower() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value.lower()
    return parse


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise ValueError("expected a positive integer")
    return int(value)


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError("expected a port number 1-65535")
    return int(value)


@dataclass(frozen=True)
class Setting:
    field: str
    env: tuple[str, ...]
    flag: str
    parse: Callable[[str], object]
    default: object
    help: str


SETTINGS = (
    Setting("region", ("AWS_REGION", "AWS_DEFAULT_REGION"), "--region", _region, None,
            "default AWS region when the resource names none"),
    Setting("endpoint_url", ("AWS_ENDPOINT_URL",), "--endpoint-url", _url, None,
            "AWS endpoint (an emulator); per-service AWS_ENDPOINT_URL_<SERVICE> also works"),
    Setting("database_host", ("APPMOD_DATABASE_HOST",), "--database-host", _host_port, None,
            "connect to the database here instead of the cluster endpoint (host:port)"),
    Setting("ecr_registry", ("APPMOD_ECR_REGISTRY",), "--ecr-registry", _registry_location, None,
            "talk to this registry (or write OCI image layouts under oci:DIR) instead of the ECR repository "
            "URI's host"),
    Setting("insecure_registries", ("APPMOD_INSECURE_REGISTRIES",), "--insecure-registries", _host_ports, (),
            "comma-separated host:port registries that may be reached without TLS"),
    Setting("token_realms", ("APPMOD_TOKEN_REALMS",), "--token-realms", _hosts, (),
            "comma-separated token services (host or host:port) on other hosts than their registry that may "
            "receive its credentials"),
    Setting("operator_image", ("APPMOD_OPERATOR_IMAGE",), "--operator-image", str, None,
            "the operator's own image, run as a one-off Fargate task by spec.migration.data.runner Fargate"),
    Setting("docker_host", ("DOCKER_HOST",), "--docker-host", str, None, "Docker engine for spec.image.via Docker"),
    Setting("log_format", ("APPMOD_LOG_FORMAT",), "--log-format", _choice("text", "json"), "text", "text or json"),
    Setting("log_level", ("APPMOD_LOG_LEVEL",), "--log-level", _choice("debug", "info", "warning", "error"),
            "info", "debug, info, warning or error"),
    Setting("metrics_port", ("APPMOD_METRICS_PORT",), "--metrics-port", _port, None,
            "port of the Prometheus endpoint; unset = off"),
    Setting("metrics_address", ("APPMOD_METRICS_ADDRESS",), "--metrics-address", str, "0.0.0.0",
            "address the Prometheus endpoint listens on"),
    Setting("resync_seconds", ("APPMOD_RESYNC_SECONDS",), "--resync-seconds", _positive, 60,
            "how often each resource is re-read from AWS to correct drift"),
    Setting("poll_seconds", ("APPMOD_POLL_SECONDS",), "--poll-seconds", _positive, 30,
            "how soon a resource is looked at again while AWS is still creating, changing or deleting"),
    Setting("max_reconciles", ("APPMOD_MAX_RECONCILES",), "--max-reconciles", _positive, 4,
            "how many resources are reconciled at once (kopf's worker threads); long copies run beside them"),
    Setting("max_migrations", ("APPMOD_MAX_MIGRATIONS",), "--max-migrations", _positive, 4,
            "how many in-process data migrations copy at once; the others wait, queued"),
    Setting("teardown_timeout_seconds", ("APPMOD_TEARDOWN_TIMEOUT_SECONDS",), "--teardown-timeout-seconds", _positive,
            1800, "how long after metadata.deletionTimestamp a teardown that is not done says Stalled=True"),
)


@dataclass(frozen=True)
class Settings:
    region: str | None = None
    endpoint_url: str | None = None
    database_host: str | None = None
    ecr_registry: str | None = None
    insecure_registries: tuple[str, ...] = ()
    token_realms: tuple[str, ...] = ()
    operator_image: str | None = None
    docker_host: str | None = None
    log_format: str = "text"
    log_level: str = "info"
    metrics_port: int | None = None
    metrics_address: str = "0.0.0.0"
    resync_seconds: int = 60
    poll_seconds: int = 30
    max_reconciles: int = 4
    max_migrations: int = 4
    teardown_timeout_seconds: int = 1800


_current: Settings | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (each flag overrides its environment variable)")
    for s in SETTINGS:
        group.add_argument(s.flag, dest=s.field, metavar=s.field.upper(), default=None,
                           help=f"{s.help} [{' / '.join(s.env)}]")


def load(args: argparse.Namespace | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Settings from flags, else environment, else defaults; remembered for `current()`."""
    global _current
    values = {}
    for s in SETTINGS:
        flag_value = getattr(args, s.field, None) if args is not None else None
        name, raw = (s.flag, flag_value) if flag_value is not None else _from_env(s, environ)
        if raw is None or raw == "":
            values[s.field] = s.default
            continue
        try:
            values[s.field] = s.parse(raw)
        except ValueError as e:
            raise ConfigError(name, f"{e} (got {raw!r})") from None
    _refuse_plain_http_ecr(values, args, environ)
    _current = Settings(**values)
    return _current


def _refuse_plain_http_ecr(values: dict, args: argparse.Namespace | None, environ: Mapping[str, str]) -> None:
    """APPMOD_ECR_REGISTRY as http:// sends ECR's token in the clear: only to a host listed as insecure, as
    every other plain-HTTP registry."""
    url = values.get("ecr_registry") or ""
    host = url.removeprefix("http://").split("/", 1)[0]
    if url.startswith("http://") and host not in values.get("insecure_registries", ()):
        setting = next(s for s in SETTINGS if s.field == "ecr_registry")
        name = setting.flag if getattr(args, setting.field, None) else _from_env(setting, environ)[0]
        raise ConfigError(name, f"{url} is plain HTTP: list {host} in APPMOD_INSECURE_REGISTRIES "
                          "(--insecure-registries) to allow it, or use https://")


def current() -> Settings:
    """The settings loaded at start (from the environment if nothing loaded them yet)."""
    return _current or load()


def _from_env(s: Setting, environ: Mapping[str, str]) -> tuple[str, str | None]:
    for name in s.env:
        if environ.get(name):
            return name, environ[name]
    return s.env[0], None
