"""dockerd (Debian's docker.io) started by hand: vfs storage, no iptables, no bridge, a private socket
and data root, the loopback registries trusted over plain HTTP."""

from __future__ import annotations

import os
import subprocess

from tests.infra import process
from tests.infra.part import Part, which


class Dockerd(Part):
    name = "dockerd"
    how_to_get = "apt-get install docker.io (run as root)"

    def __init__(self, root, insecure_registries: list[str] = ()):
        super().__init__(root)
        self.insecure_registries = list(insecure_registries)

    def missing(self) -> str | None:
        if command := which("dockerd", "containerd", "runc"):
            return f"{command} is not on PATH"
        if os.geteuid() != 0:
            return "dockerd needs root"
        return None

    def start(self) -> None:
        _unmount_under(self.dir)  # what a dockerd that was killed left mounted (its netns file)
        d = self.fresh_dir()
        self.socket = d / "docker.sock"
        proc = self.spawn([
            "dockerd", f"--host=unix://{self.socket}", f"--data-root={d / 'data'}", f"--exec-root={d / 'exec'}",
            f"--pidfile={d / 'docker.pid'}", "--storage-driver=vfs", "--iptables=false", "--ip6tables=false",
            "--bridge=none", "--ip-masq=false",
            *[f"--insecure-registry={r}" for r in self.insecure_registries],
        ], "dockerd.log")
        process.wait_until(self._ready, "dockerd", 60, proc, d / "dockerd.log")

    def _ready(self) -> bool:
        import docker

        try:
            docker.DockerClient(base_url=f"unix://{self.socket}", timeout=2).ping()
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            return False
        return True

    def stop(self) -> None:
        super().stop()
        _unmount_under(self.dir)

    def client(self):
        """A docker-py client of this dockerd (long timeout: builds, pushes and loads take minutes)."""
        import docker

        return docker.DockerClient(base_url=f"unix://{self.socket}", timeout=900)

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": f"unix://{self.socket}"}


def _unmount_under(folder) -> None:
    """Unmounts every mount point inside `folder`, deepest first, so the folder can be removed."""
    prefix = f"{os.path.realpath(folder)}/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
