"""The AppModernization spec: parsed from the resource into frozen dataclasses, with defaults and the
cross-field rules the CRD's OpenAPI schema cannot express (Kubernetes 1.20 has no CEL).

The same parser serves the operator (after the API server applied the CRD's defaults) and the
`appmod` command line (which has no API server), so it applies the CRD's defaults itself and rejects
unknown fields; tests/unit/test_spec.py checks that its defaults and enums match the CRD.
Every error is a `SpecError` naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from appmod_operator import keywords
from appmod_operator.errors import SpecError

DELETION_POLICIES = ("Delete", "Snapshot", "Retain")
SCHEMA_STRATEGIES = ("Convert", "AppCommand", "None")
VERIFY_MODES = ("Checksum", "RowCount")
RUNNERS = ("Operator", "Fargate")
IMAGE_VIA = ("Registry", "Docker")
TAG_MUTABILITY = ("MUTABLE", "IMMUTABLE")
SQLITE_KINDS = ("pathInImage", "url", "path")
# The keys of the database secret (credentials.py) that spec.service.databaseEnv may hand the app.
SECRET_KEYS = ("host", "port", "dbname", "username", "password", "url")
# Fargate task sizes: CPU units -> allowed memory (MiB), per
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
FARGATE_MEMORY = {
    "256": (512, 1024, 2048),
    "512": tuple(range(1024, 4097, 1024)),
    "1024": tuple(range(2048, 8193, 1024)),
    "2048": tuple(range(4096, 16385, 1024)),
    "4096": tuple(range(8192, 30721, 1024)),
    "8192": tuple(range(16384, 61441, 4096)),
    "16384": tuple(range(32768, 122881, 8192)),
}
# Minimum capacity 0 (auto-pause) needs one of these minor versions or later of its major version:
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html
AUTO_PAUSE_MINIMUM = {13: 15, 14: 12, 15: 7, 16: 3}

REGION = r"^[a-z]{2}(-[a-z]+)+-\d+$"
IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_]{0,62}$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
ECR_REPOSITORY = r"^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$"
PLATFORM = r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$"
ENGINE_VERSION = r"^\d+\.\d+$"


@dataclass(frozen=True)
class SqliteSource:
    kind: str  # one of SQLITE_KINDS
    location: str


@dataclass(frozen=True)
class Source:
    image: str
    image_pull_secret: str | None
    platform: str
    sqlite: SqliteSource | None


@dataclass(frozen=True)
class Database:
    engine: str
    engine_version: str
    database_name: str
    master_username: str
    min_capacity: float
    max_capacity: float
    seconds_until_auto_pause: int
    deletion_protection: bool
    backup_retention_days: int
    subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class Migration:
    schema_strategy: str
    schema_command: tuple[str, ...]
    data_enabled: bool
    data_verify: str
    data_runner: str
    data_allow_replace: bool = False  # with the appmod.io/remigrate annotation: over rows the app has written


@dataclass(frozen=True)
class Image:
    repository: str
    via: str
    tag_mutability: str
    scan_on_push: bool
    keep_last: int


@dataclass(frozen=True)
class Service:
    cluster: str
    desired_count: int
    cpu: str
    memory: str
    container_port: int
    assign_public_ip: bool
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    database_url_env: str
    database_env: tuple[tuple[str, str], ...]  # (variable, key of the database secret), sorted by variable


@dataclass(frozen=True)
class AppSpec:
    region: str | None
    paused: bool
    deletion_policy: str
    source: Source
    database: Database
    migration: Migration
    image: Image
    service: Service


def parse(spec: Mapping, namespace: str, name: str) -> AppSpec:
    """The validated spec of resource namespace/name; raises SpecError naming the first bad field."""
    root = _Fields(spec, "spec")
    source = _source(root.obj("source", required=True))
    parsed = AppSpec(
        region=root.text("region", None, pattern=REGION),
        paused=root.flag("paused", False),
        deletion_policy=root.text("deletionPolicy", "Snapshot", enum=DELETION_POLICIES),
        source=source,
        database=_database(root.obj("database"), name),
        migration=_migration(root.obj("migration"), source),
        image=_image(root.obj("image"), namespace, name),
        service=_service(root.obj("service")),
    )
    root.done()
    _check_cross_fields(parsed)
    return parsed


def _source(f: _Fields) -> Source:
    db = f.obj("database")
    sqlite = db.obj("sqlite") if "sqlite" in db else None
    source = Source(
        image=f.text("image", required=True, pattern=r"^\S+$"),
        image_pull_secret=f.text("imagePullSecret", None, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
        platform=f.text("platform", "linux/amd64", pattern=PLATFORM),
        sqlite=_sqlite(sqlite) if sqlite is not None else None,
    )
    db.done()
    f.done()
    return source


def _sqlite(f: _Fields) -> SqliteSource:
    given = [k for k in SQLITE_KINDS if k in f]
    if len(given) != 1:
        got = ", ".join(given) if given else "none"
        raise SpecError(f.path, f"exactly one of {', '.join(SQLITE_KINDS)} must be set (got {got})")
    kind = given[0]
    location = f.text(kind, required=True, pattern=r"^s3://[^/]+/.+" if kind == "url" else r"^/")
    f.done()
    return SqliteSource(kind, location)


def _database(f: _Fields, name: str) -> Database:
    default_name = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not default_name[:1].isalpha() or keywords.reserved(default_name):
        default_name = f"app_{default_name}"
    database = Database(
        engine=f.text("engine", "aurora-postgresql", enum=("aurora-postgresql",)),
        engine_version=f.text("engineVersion", "16.4", pattern=ENGINE_VERSION),
        database_name=f.text("databaseName", default_name, pattern=IDENTIFIER),
        master_username=f.text("masterUsername", "appmod", pattern=IDENTIFIER),
        min_capacity=f.number("minCapacity", 0, 0, 256, step=0.5),
        max_capacity=f.number("maxCapacity", 4, 1, 256, step=0.5),
        seconds_until_auto_pause=f.integer("secondsUntilAutoPause", 300, 300, 86400),
        deletion_protection=f.flag("deletionProtection", True),
        backup_retention_days=f.integer("backupRetentionDays", 7, 1, 35),
        subnet_ids=f.texts("subnetIds", pattern=r"^subnet-[0-9a-f]+$"),
    )
    f.done()
    return database


def _migration(f: _Fields, source: Source) -> Migration:
    """The data runner's default is a Fargate task (it reaches Aurora inside the VPC, docs/migration.md),
    except for a file of the operator's own (`sqlite.path`), which only the operator can read."""
    schema, data = f.obj("schema"), f.obj("data")
    reads_a_path = source.sqlite is not None and source.sqlite.kind == "path"
    migration = Migration(
        schema_strategy=schema.text("strategy", "Convert", enum=SCHEMA_STRATEGIES),
        schema_command=schema.texts("command"),
        data_enabled=data.flag("enabled", True),
        data_verify=data.text("verify", "Checksum", enum=VERIFY_MODES),
        data_runner=data.text("runner", "Operator" if reads_a_path else "Fargate", enum=RUNNERS),
        data_allow_replace=data.flag("allowReplace", False),
    )
    for part in (schema, data, f):
        part.done()
    return migration


def _image(f: _Fields, namespace: str, name: str) -> Image:
    image = Image(
        repository=f.text("repository", f"{namespace}-{name}".lower(), pattern=ECR_REPOSITORY),
        via=f.text("via", "Registry", enum=IMAGE_VIA),
        tag_mutability=f.text("tagMutability", "IMMUTABLE", enum=TAG_MUTABILITY),
        scan_on_push=f.flag("scanOnPush", True),
        keep_last=f.integer("keepLast", 10, 1, 1000),
    )
    f.done()
    return image


def _service(f: _Fields) -> Service:
    env = []
    for i, item in enumerate(f.items("env")):
        var = _Fields(item, f"spec.service.env[{i}]")
        env.append((var.text("name", required=True, pattern=ENV_NAME), var.text("value", "")))
        var.done()
    service = Service(
        cluster=f.text("cluster", "appmod", pattern=r"^[A-Za-z0-9_-]{1,255}$"),
        desired_count=f.integer("desiredCount", 1, 0, 1000),
        cpu=f.text("cpu", "512", enum=tuple(FARGATE_MEMORY)),
        memory=f.text("memory", "1024", pattern=r"^[0-9]+$"),
        container_port=f.integer("containerPort", 8080, 1, 65535),
        assign_public_ip=f.flag("assignPublicIp", True),
        subnet_ids=f.texts("subnetIds", pattern=r"^subnet-[0-9a-f]+$"),
        security_group_ids=f.texts("securityGroupIds", pattern=r"^sg-[0-9a-f]+$"),
        env=tuple(env),
        database_url_env=f.text("databaseUrlEnv", "DATABASE_URL", pattern=ENV_NAME),
        database_env=_database_env(f),
    )
    f.done()
    return service


def _database_env(f: _Fields) -> tuple[tuple[str, str], ...]:
    """spec.service.databaseEnv: environment variable -> key of the database secret (the OpenAPI schema
    cannot check a map's keys)."""
    mapping = f.mapping("databaseEnv")
    for name, key in mapping.items():
        field = f"spec.service.databaseEnv.{name}"
        if not re.match(ENV_NAME, name):
            raise SpecError(field, f"{name!r} is not an environment variable name (pattern {ENV_NAME})")
        if key not in SECRET_KEYS:
            raise SpecError(field, f"{key!r} is not one of {', '.join(SECRET_KEYS)}")
    return tuple(sorted(mapping.items()))


def _check_cross_fields(s: AppSpec) -> None:
    """Rules that involve more than one field."""
    if s.source.sqlite is None and (s.migration.data_enabled or s.migration.schema_strategy == "Convert"):
        raise SpecError("spec.source.database.sqlite", "required when spec.migration.data.enabled is true "
                        "or spec.migration.schema.strategy is Convert")
    if s.migration.schema_strategy == "Convert" and not s.migration.data_enabled:
        raise SpecError("spec.migration.data.enabled", "Convert makes the tables as part of the data migration, so "
                        "it needs the data migration; use schema strategy None or AppCommand to copy no data")
    if s.migration.data_runner == "Fargate" and s.source.sqlite is not None and s.source.sqlite.kind == "path":
        raise SpecError("spec.migration.data.runner", "a Fargate task cannot read spec.source.database.sqlite.path "
                        "(a file of the operator's); use runner Operator, or pathInImage or url")
    if s.migration.schema_strategy == "AppCommand" and not s.migration.schema_command:
        raise SpecError("spec.migration.schema.command", "required when spec.migration.schema.strategy is AppCommand")
    if s.migration.schema_strategy != "AppCommand" and s.migration.schema_command:
        raise SpecError("spec.migration.schema.command",
                        f"only used with strategy AppCommand (strategy is {s.migration.schema_strategy})")
    db = s.database
    names = {"spec.database.masterUsername": db.master_username, "spec.database.databaseName": db.database_name}
    for field, name in names.items():
        if keywords.reserved(name):
            raise SpecError(field, f"{name!r} is reserved by PostgreSQL or RDS; choose another name")
    if db.min_capacity > db.max_capacity:
        raise SpecError("spec.database.minCapacity",
                        f"{db.min_capacity:g} is greater than spec.database.maxCapacity {db.max_capacity:g}")
    if db.min_capacity == 0 and not supports_auto_pause(db.engine_version):
        raise SpecError("spec.database.minCapacity",
                        f"0 (auto-pause) needs Aurora PostgreSQL 13.15, 14.12, 15.7, 16.3 or later, but "
                        f"spec.database.engineVersion is {db.engine_version}; "
                        "raise the version or set minCapacity >= 0.5")
    svc = s.service
    if int(svc.memory) not in FARGATE_MEMORY[svc.cpu]:
        allowed = ", ".join(str(m) for m in FARGATE_MEMORY[svc.cpu])
        raise SpecError("spec.service.memory",
                        f"{svc.memory} is not valid with cpu {svc.cpu} on Fargate (allowed: {allowed})")
    names = [name for name, _ in svc.env]
    from_secret = {svc.database_url_env: "spec.service.databaseUrlEnv",
                   **{name: f"spec.service.databaseEnv.{name}" for name, _ in svc.database_env}}
    for i, name in enumerate(names):
        if name in names[:i]:
            raise SpecError(f"spec.service.env[{i}].name", f"{name} is set twice")
        if name in from_secret:
            raise SpecError(f"spec.service.env[{i}].name",
                            f"{name} is {from_secret[name]}, which the operator fills from Secrets Manager")
    if svc.database_url_env in dict(svc.database_env):
        raise SpecError(f"spec.service.databaseEnv.{svc.database_url_env}",
                        f"{svc.database_url_env} is spec.service.databaseUrlEnv already")


def supports_auto_pause(engine_version: str) -> bool:
    major, minor = (int(p) for p in engine_version.split("."))
    return major > max(AUTO_PAUSE_MINIMUM) or minor >= AUTO_PAUSE_MINIMUM.get(major, 10**6)


_MISSING = object()


class _Fields:
    """Reads one object of the spec, checking types and bounds, and remembers which keys it read so
    that `done()` can reject the rest as unknown (the CLI has no API server to prune them)."""

    def __init__(self, obj: object, path: str):
        if not isinstance(obj, Mapping):
            raise SpecError(path, f"must be an object, got {_kind(obj)}")
        self.obj_, self.path, self.read = obj, path, set()

    def __contains__(self, key: str) -> bool:
        return key in self.obj_

    def _get(self, key: str, default, required: bool = False):
        self.read.add(key)
        value = self.obj_.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                raise SpecError(f"{self.path}.{key}", "is required")
            return default
        return value

    def obj(self, key: str, required: bool = False) -> _Fields:
        return _Fields(self._get(key, {}, required), f"{self.path}.{key}")

    def text(self, key: str, default=None, *, required: bool = False, pattern: str | None = None,
            enum: tuple[str, ...] = ()):
        value = self._get(key, default, required)
        field = f"{self.path}.{key}"
        if value is None:
            return None
        if not isinstance(value, str):
            raise SpecError(field, f"must be a string, got {_kind(value)}")
        if enum and value not in enum:
            raise SpecError(field, f"{value!r} is not one of {', '.join(enum)}")
        if pattern and not re.match(pattern, value):
            raise SpecError(field, f"{value!r} does not match {pattern}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise SpecError(f"{self.path}.{key}", f"must be true or false, got {_kind(value)}")
        return value

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{self.path}.{key}", f"must be an integer, got {_kind(value)}")
        return self._bounded(key, value, lo, hi)

    def number(self, key: str, default: float, lo: float, hi: float, step: float) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{self.path}.{key}", f"must be a number, got {_kind(value)}")
        if (value / step) != int(value / step):
            raise SpecError(f"{self.path}.{key}", f"{value:g} is not a multiple of {step:g}")
        return float(self._bounded(key, value, lo, hi))

    def _bounded(self, key: str, value, lo, hi):
        if not lo <= value <= hi:
            raise SpecError(f"{self.path}.{key}", f"{value:g} is out of range [{lo:g}, {hi:g}]")
        return value

    def items(self, key: str) -> list:
        value = self._get(key, [])
        if not isinstance(value, list):
            raise SpecError(f"{self.path}.{key}", f"must be a list, got {_kind(value)}")
        return value

    def mapping(self, key: str) -> Mapping:
        """An object whose keys are the user's (not fields of ours), e.g. environment variable names."""
        value = self._get(key, {})
        if not isinstance(value, Mapping):
            raise SpecError(f"{self.path}.{key}", f"must be an object, got {_kind(value)}")
        return value

    def texts(self, key: str, pattern: str = r"") -> tuple[str, ...]:
        values = self.items(key)
        for i, value in enumerate(values):
            if not isinstance(value, str) or not re.match(pattern, value):
                raise SpecError(f"{self.path}.{key}[{i}]",
                                f"{value!r} is not a valid value (pattern {pattern or 'string'})")
        return tuple(values)

    def done(self) -> None:
        unknown = sorted(set(self.obj_) - self.read)
        if unknown:
            raise SpecError(f"{self.path}.{unknown[0]}", "unknown field")


def _kind(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)
