"""The set of parts and how they depend on each other; used by tests/conftest.py and `python -m tests.infra`."""

from __future__ import annotations

from pathlib import Path

from tests.infra.dockerd import Dockerd
from tests.infra.fargate.part import TaskExecutor
from tests.infra.images import BaseImage, OperatorImage, OscarImage
from tests.infra.kube import KubeApiServer
from tests.infra.moto import MotoServer
from tests.infra.part import Part
from tests.infra.postgres import Postgres
from tests.infra.registry import Registry
from tests.infra.token_registry import TokenRegistry

PART_NAMES = ("kube", "moto", "source-registry", "ecr-registry", "hub-registry", "postgres", "dockerd", "base-image",
              "oscar-image", "operator-image", "ecs-tasks")
REGISTRIES = ("source-registry", "ecr-registry", "hub-registry")


class Environment:
    """Starts each part at most once, with what it depends on first, and stops them all in reverse."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.started: dict[str, Part] = {}

    def get(self, name: str) -> Part:
        if name not in self.started:
            part = self._make(name)
            if reason := part.missing():
                raise PartMissing(name, f"{reason}; to get it: {part.how_to_get}")
            part.start()
            self.started[name] = part
        return self.started[name]

    def _make(self, name: str) -> Part:
        if name == "kube":
            return KubeApiServer(self.root)
        if name == "moto":
            return MotoServer(self.root)
        if name == "source-registry":
            return Registry(self.root, name)
        if name == "ecr-registry":
            return Registry(self.root, name, user="AWS", password=self.get("moto").ecr_password())
        if name == "hub-registry":
            return TokenRegistry(self.root)
        if name == "postgres":
            return Postgres(self.root)
        if name == "dockerd":
            return Dockerd(self.root, [self.get(r).host for r in REGISTRIES])
        if name == "base-image":
            return BaseImage(self.root, self.get("dockerd"))
        if name == "oscar-image":
            return OscarImage(self.root, self.get("dockerd"), self.get("base-image"), self.get("hub-registry"))
        if name == "operator-image":
            return OperatorImage(self.root, self.get("dockerd"), self.get("base-image"), self.get("source-registry"))
        if name == "ecs-tasks":
            return TaskExecutor(self.root, self.get("moto"), self.get("dockerd"), self.get("base-image"),
                                self.get("postgres"), self.get("ecr-registry"), [self.get(r) for r in REGISTRIES])
        raise KeyError(f"unknown part {name!r}; known: {', '.join(PART_NAMES)}")

    def env(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for part in self.started.values():
            merged.update(part.env())
        return merged

    def release(self, name: str) -> None:
        """Stops one part and forgets it (the next `get` starts it again)."""
        part = self.started.pop(name, None)
        if part is not None:
            part.stop()

    def stop(self) -> None:
        for part in reversed(list(self.started.values())):
            part.stop()
        self.started.clear()


class PartMissing(Exception):
    def __init__(self, name: str, why: str):
        super().__init__(f"test part {name!r} is not available: {why}")
        self.name = name
