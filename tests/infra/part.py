"""The shape every part of the test environment shares: a folder, its processes, its environment."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.infra import process


class Part:
    """One real service. Subclasses set `name` and `how_to_get` and implement missing/start/env."""

    name = "part"
    how_to_get = ""

    def __init__(self, root: Path):
        self.dir = Path(root) / self.name
        self._pids: list[int] = []

    @classmethod
    def recorded_in(cls, folder: Path) -> Part:
        """A handle on a part started by another process, enough to stop it."""
        part = cls(folder.parent)
        part.dir = folder
        return part

    def missing(self) -> str | None:
        """Why this part cannot run on this machine, or None when it can."""
        return None

    def start(self) -> None:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        """Environment variables that point a client at this part."""
        return {}

    def stop(self) -> None:
        for pid in reversed(self._pids + self._recorded_pids()):
            process.stop_pid(pid)
        self._pids.clear()
        (self.dir / "pids").unlink(missing_ok=True)

    def fresh_dir(self) -> Path:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        return self.dir

    def spawn(self, argv: list[str], log: str, env: dict[str, str] | None = None):
        proc = process.spawn(argv, self.dir / log, env)
        self._pids.append(proc.pid)
        with open(self.dir / "pids", "a") as f:
            f.write(f"{proc.pid}\n")
        return proc

    def stop_one(self, proc) -> None:
        """Stops one of the part's processes and forgets it, for a restart that spawns its successor."""
        process.stop_pid(proc.pid)
        self._pids.remove(proc.pid)
        (self.dir / "pids").write_text("".join(f"{pid}\n" for pid in self._pids))

    def _recorded_pids(self) -> list[int]:
        path = self.dir / "pids"
        if not path.exists():
            return []
        return [int(p) for p in path.read_text().split() if int(p) not in self._pids]


def which(*commands: str) -> str | None:
    """The first command not on PATH, or None when all are there."""
    return next((c for c in commands if shutil.which(c) is None), None)
