"""`appmod demo --run-tasks`: the tasks ECS would start (Django's migrate as the schema task, the shop as
the service's task) run for real on the Docker engine that DOCKER_HOST names, by the local task
executor (fargate/) in this process, beside moto. Their images are loaded from the ECR stand-in's layout
directory, their secrets name the embedded PostgreSQL, and their output goes to moto's CloudWatch Logs.

Two networks (`--task-network`): "host", the engine host's own, for any engine and without root (a
task's ports are then the host's, so one task per port); "task", a network namespace per task as awsvpc
gives it, its ports published on 127.0.0.1 (root, and an engine on this machine). Called by run.py.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import docker
import docker.errors

from appmod_operator.demo.fargate import containers, hooks
from appmod_operator.demo.fargate.executor import Executor, Settings

# The walkthrough's app; with --run-tasks the demo moves it instead of its own small image.
OSCAR_IMAGE = "docker.io/oscarcommerce/django-oscar-sandbox:latest"
DATABASE_PORT = 5432  # every Aurora endpoint's, which moto gives each cluster
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
_executor = Executor()  # moto's ECS is wrapped for one executor per process (hooks.py)


class EngineUnreachable(Exception):
    """No Docker engine answers at DOCKER_HOST; the message says where it looked."""


def docker_host() -> str:
    """DOCKER_HOST's engine, after checking that it answers; raises EngineUnreachable."""
    host = _engine()
    try:
        client = docker.DockerClient(base_url=host, timeout=10)
        version = client.version()
        client.close()
    except (docker.errors.DockerException, OSError) as e:
        raise EngineUnreachable(f"--run-tasks needs a Docker engine, and none answers at {host} (DOCKER_HOST): "
                                f"{e}") from None
    return f"{host} (Docker {version.get('Version', '?')})"


@contextmanager
def running(emulator, database_host: str, ecr_layouts: Path, network: str):
    """The executor on, for as long as the block runs: every task moto's ECS records gets containers.
    Leaves no container behind."""
    moto = _address(emulator.endpoint_url.removeprefix("http://"))
    routes = {DATABASE_PORT: _address(database_host), moto[1]: moto}
    environment = {k: v for k, v in emulator.environment().items() if k.startswith("AWS_") and "REGION" not in k}
    settings = Settings(docker_host=_engine(), moto_url=emulator.endpoint_url, ecr_registry=f"oci:{ecr_layouts}",
                        pause_image=None, routes=routes if network == containers.TASK else {},
                        environment=environment, network=network, owner=f"appmod-demo:{ecr_layouts}",
                        database_host=database_host if network == containers.HOST else None, max_containers=4)
    hooks.install(_executor)
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = "0"  # a service runs what the executor starts, no more
    _executor.enable(settings)
    try:
        yield _executor
    finally:
        _executor.disable()


def shop_url(executor: Executor, container_port: int) -> str | None:
    """The URL of the service's task on this machine, once one runs."""
    for task in executor.tasks():
        port = task["ports"].get(str(container_port))
        if port:
            return f"http://127.0.0.1:{port}/"
    return None


def wait_for_shop(url: str, timeout: float) -> int:
    """The HTTP status of the shop's front page, once it answers (redirects followed); 0 if it never did."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            if time.monotonic() > deadline:
                return 0
            time.sleep(1)


def _engine() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)
