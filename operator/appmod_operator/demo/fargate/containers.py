"""One task's containers on a Docker engine, as Fargate runs a task, then its essential container with
the image by the reference ECS was given, its command, entry point and environment; its output goes to
a sink (the CloudWatch Logs stream, executor.py) line by line, and its exit code comes back.

The task's network is one of two:
- "task": a network namespace of its own, as `awsvpc` gives each task: a pause container holds it
  (`sleep infinity` in the pause image, or in the task's own image), with nothing but loopback, and
  network.py forwards what the VPC would route (root and a local engine: network.py enters it);
- "host": the engine host's own (`docker run --network host`): any engine, no root; the task reaches
  what the host reaches, and its ports are the host's.

An image that only an OCI layout holds (the demo's ECR) is loaded into the engine (archive.py);
any other is pulled by its reference. `TaskRun.run()` blocks from the pull to the container's end (the
executor gives each task a thread); `stop()` asks the container to stop as StopTask does (SIGTERM,
then SIGKILL after the stop timeout). Nothing here knows about moto: executor.py hands in a `Launch`
and reads back `Ended`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

import docker
import docker.errors

from appmod_operator.demo.fargate import archive
from appmod_operator.demo.fargate.network import TaskNetwork

LABEL = "io.appmod.task-arn"  # on every container an executor makes: the task's ARN
OWNER_LABEL = "io.appmod.task-executor"  # which executor made it, so one cleans up its own strays only
LOG_BATCH = 200
TASK, HOST = "task", "host"  # Launch.network

@dataclass(frozen=True)
class Launch:
    """Everything one task needs, resolved by the executor from the task, its definition and overrides."""

    task_arn: str
    name: str  # unique among running tasks; the containers are <name> and <name>-pause
    image: str
    auth: dict | None  # docker's auth_config for the pull
    archive: archive.Source | None  # set when the image is loaded from a layout instead of pulled
    command: list[str] | None
    entry_point: list[str] | None
    environment: dict[str, str]
    hosts: dict[str, str]  # extra /etc/hosts entries: the VPC's DNS names of what the routes reach
    routes: dict[int, tuple[str, int]]
    published: tuple[int, ...]
    network: str  # "task" or "host"
    pause_image: str | None  # what holds a "task" network: None, the task's own image
    stop_timeout: int
    owner: str  # the executor's name, on every container as OWNER_LABEL
    read_only: bool  # readonlyRootFilesystem
    user: str | None
    scratch: tuple[str, ...]  # container paths of task volumes, each a tmpfs
    sink: Callable[[list[tuple[int, str]]], None]  # (epoch milliseconds, line) batches, in order


@dataclass
class Ended:
    """How the task ended: `exit_code` None when its container never ran (then `reason` says why)."""

    exit_code: int | None = None
    reason: str = ""
    started_at: datetime | None = None


@dataclass
class TaskRun:
    docker_host: str
    launch: Launch
    on_running: Callable[[TaskRun], None] = lambda run: None
    network: TaskNetwork | None = None
    host_ports: dict[int, int] = field(default_factory=dict)
    _containers: list = field(default_factory=list)
    _stop_asked: threading.Event = field(default_factory=threading.Event)

    def run(self) -> Ended:
        client = docker.DockerClient(base_url=self.docker_host, timeout=300)
        try:
            return self._run(client)
        finally:
            self._remove()
            client.close()

    @property
    def stopping(self) -> bool:
        return self._stop_asked.is_set()

    def stop(self) -> None:
        self._stop_asked.set()
        for container in list(self._containers[1:]):
            with contextlib.suppress(docker.errors.APIError):  # already gone
                container.stop(timeout=self.launch.stop_timeout)

    @property
    def ports(self) -> dict[int, int]:
        """Each published container port and the host's 127.0.0.1 port that reaches it."""
        return dict(self.network.ports) if self.network else dict(self.host_ports)

    def _run(self, client: docker.DockerClient) -> Ended:
        launch = self.launch
        try:
            image = archive.load(client, launch.archive) if launch.archive else _pull(client, launch.image, launch.auth)
        except (docker.errors.APIError, archive.CannotLoad) as e:
            return Ended(reason=f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
                                f"{getattr(e, 'explanation', None) or e}")
        labels = {LABEL: launch.task_arn, OWNER_LABEL: launch.owner}
        network = self._network(client, image, labels)
        if self._stop_asked.is_set():
            return Ended(reason="Task stopped before its container started")
        try:
            container = client.containers.create(
                image.id, command=launch.command, entrypoint=launch.entry_point, environment=launch.environment,
                labels=labels, name=launch.name, read_only=launch.read_only, user=launch.user,
                tmpfs={path: "" for path in launch.scratch}, **network)
        except docker.errors.APIError as e:
            return Ended(reason=f"CannotCreateContainerError: {e.explanation or e}")
        self._containers.append(container)
        container.start()
        started = datetime.now().astimezone()
        self.on_running(self)
        reader = threading.Thread(target=_forward_output, args=(container, launch.sink), daemon=True,
                                  name=f"{launch.name} output")
        reader.start()
        code = container.wait()["StatusCode"]
        reader.join(timeout=30)  # the whole output is in the logs before the task reports STOPPED
        return Ended(exit_code=code, started_at=started)

    def _network(self, client: docker.DockerClient, image, labels: dict) -> dict:
        """The container's network settings: the pause container's namespace, or the host's."""
        launch = self.launch
        if launch.network == HOST:
            self.host_ports = {port: port for port in launch.published}
            return {"network_mode": "host", "extra_hosts": launch.hosts}
        pause = client.containers.run(launch.pause_image or image.id, entrypoint=["sleep", "infinity"], command=[],
                                      detach=True, network_mode="none", extra_hosts=launch.hosts, labels=labels,
                                      name=f"{launch.name}-pause")
        self._containers.append(pause)
        pause.reload()
        self.network = TaskNetwork(pause.attrs["State"]["Pid"], launch.routes, launch.published)
        return {"network_mode": f"container:{pause.id}"}

    def _remove(self) -> None:
        if self.network is not None:
            self.network.close()
        for container in reversed(self._containers):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)


def _pull(client: docker.DockerClient, reference: str, auth: dict | None):
    """The image by `reference` (a digest reference pulls exactly that manifest)."""
    repository, separator, rest = reference.rpartition("@") if "@" in reference else (reference, "", "")
    if not separator:
        return client.images.pull(reference, auth_config=auth)
    client.api.pull(repository, tag=rest, auth_config=auth)
    return client.images.get(reference)


def _forward_output(container, sink: Callable[[list[tuple[int, str]]], None]) -> None:
    """The container's stdout and stderr, line by line with docker's timestamps, into `sink` in batches."""
    batch: list[tuple[int, str]] = []
    pending = b""
    for chunk in container.logs(stream=True, follow=True, timestamps=True):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        batch += [_timestamped(line) for line in lines]
        if len(batch) >= LOG_BATCH:
            sink(batch)
            batch = []
    if pending:
        batch.append(_timestamped(pending))
    if batch:
        sink(batch)


def _timestamped(line: bytes) -> tuple[int, str]:
    """docker's `<RFC 3339 with nanoseconds>Z <text>` as (epoch milliseconds, text)."""
    stamp, _, text = line.decode(errors="replace").partition(" ")
    seconds, _, fraction = stamp.rstrip("Z").partition(".")
    try:
        when = datetime.fromisoformat(f"{seconds}.{(fraction + '000000')[:6]}+00:00")
    except ValueError:
        return int(datetime.now().timestamp() * 1000), line.decode(errors="replace")
    return int(when.timestamp() * 1000), text


def remove_strays(docker_host: str, owner: str, keep: Collection[str] = ()) -> int:
    """Removes the containers of executor `owner` whose task is not in `keep` (a moto reset forgot it, an
    executor died); how many."""
    client = docker.DockerClient(base_url=docker_host, timeout=60)
    try:
        strays = [c for c in client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner}"})
                  if c.labels.get(LABEL) not in keep]
        for container in strays:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        return len(strays)
    finally:
        client.close()
