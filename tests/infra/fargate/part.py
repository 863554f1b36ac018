"""The ecs-tasks part: turns on the task executor inside the moto server (server.py) for as long as the
part runs, pointed at the test dockerd, the ECR stand-in and the parts a task may reach.

A task's network reaches exactly what `routes` lists: port 5432 (every Aurora endpoint's, which the
task resolves to its loopback) goes to the test PostgreSQL, and moto's and the registries' ports to
themselves. Every container also gets `environment`: the AWS endpoint and credentials (standing in
for the task role's credentials endpoint) and the ECR stand-in's address for the operator's image.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request

from tests.infra.part import Part

DATABASE_PORT = 5432  # Aurora PostgreSQL's, which moto gives every cluster


class TaskExecutor(Part):
    name = "ecs-tasks"
    how_to_get = "the dockerd and base-image parts (root, docker.io, debootstrap)"

    def __init__(self, root, moto, dockerd, base, postgres, ecr_registry, registries: list):
        super().__init__(root)
        self.moto, self.dockerd, self.base, self.postgres = moto, dockerd, base, postgres
        self.ecr_registry, self.registries = ecr_registry, registries
        self.bounds: dict = {}
        self.extra_routes: dict[int, str] = {}

    def configure(self, routes: dict[int, str] | None = None, **bounds) -> None:
        """Turns the executor on again with other settings (max_containers, max_task_seconds, network, ...);
        `routes` adds to the task network's routes (port -> host:port), such as the API server's."""
        self.bounds, self.extra_routes = bounds, dict(routes or {})
        self.start()

    def start(self) -> None:
        self.fresh_dir()
        hosts = [r.host for r in self.registries]
        routes = {DATABASE_PORT: f"127.0.0.1:{self.postgres.port}", _port(self.moto.url): self.moto.url[7:],
                  **{_port(host): host for host in hosts}, **self.extra_routes}
        environment = {**self.moto.env(), "APPMOD_ECR_REGISTRY": f"http://{self.ecr_registry.host}",
                       "APPMOD_INSECURE_REGISTRIES": ",".join(hosts)}
        for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):  # the task's own region, as Fargate sets it
            environment.pop(key)
        self._call("enable", {"docker_host": f"unix://{self.dockerd.socket}", "moto_url": self.moto.url,
                              "ecr_registry": self.ecr_registry.host, "pause_image": self.base.reference,
                              "routes": routes, "environment": environment, **self.bounds})

    def stop(self) -> None:
        with contextlib.suppress(OSError, urllib.error.URLError):  # moto already gone: so are its tasks' records
            self._call("disable", {})

    def tasks(self) -> list[dict]:
        """Each task that has containers now: taskArn, container (its name), ports (container -> 127.0.0.1)."""
        return self._call("tasks")

    def calls(self) -> int:
        """AWS calls the operator (and `appmod` in its tasks) has made of moto since moto started."""
        return self._call("calls").get("appmod-operator", 0)

    def _call(self, action: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.moto.url}/appmod-executor/{action}", data=data,
                                         method="POST" if data is not None else "GET")
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])
