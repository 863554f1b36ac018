"""The local ECS task executor: runs on a Docker engine every task moto's ECS would have Fargate start
(RunTask's one-off tasks, and a service's tasks, which moto never makes), and writes what happened back
into moto's task and service records, as DescribeTasks and DescribeServices report them on AWS.

It lives in moto's own process (the demo's, demo/tasks.py; the tests' moto server,
tests/infra/fargate/server.py) because moto has no API for a task's exit code or a service's running
count; it changes moto's records directly and reads the rest (secrets, the ECR token, CloudWatch Logs)
through moto's API like any client. hooks.py makes moto's own ECS replies agree. What it stands in
for, and what it does not (no VPC, no IAM enforcement, no Fargate sizing), is in docs/development.md.

A task goes PROVISIONING (pull) -> PENDING -> RUNNING -> DEPROVISIONING -> STOPPED, with `stopCode`,
`stoppedReason` and `containers[].exitCode` as ECS sets them. Services (service.py) keep desiredCount
tasks running. Bounded: at most `max_containers` tasks at once (more fail to start, as ECS does when
capacity is short), each stopped after `max_task_seconds`; `disable()` removes every container.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from moto.ecs.models import ecs_backends
from moto.moto_api import state_manager

from appmod_operator.demo.fargate import containers, launch, service
from appmod_operator.demo.fargate.containers import Ended, TaskRun

TICK_SECONDS = 0.5
FAILED_TO_START = "TaskFailedToStart"
EXITED = "EssentialContainerExited"
USER_INITIATED = "UserInitiated"
# moto's tasks would otherwise walk to STOPPED by themselves, one step per DescribeTasks.
MANUAL = {"progression": "manual", "times": 10**9}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """Where tasks run and what they reach (demo/tasks.py; the tests' tests/infra/fargate/part.py)."""

    docker_host: str
    moto_url: str
    ecr_registry: str  # host:port of the ECR stand-in registry, or oci:DIR (its images are loaded, archive.py)
    pause_image: str | None  # holds a task's own network namespace; None: the task's image does
    routes: dict[int, tuple[str, int]]  # the task's loopback port -> host address (the VPC's routing)
    environment: dict[str, str]  # what every container gets besides its own (endpoints, credentials)
    network: str = containers.TASK  # or containers.HOST: the engine host's network, for any engine
    owner: str = "appmod-tests"  # names this executor's containers (containers.OWNER_LABEL)
    # With the host's network: the database stand-in's host:port, which the Aurora endpoints in a task's
    # secrets are replaced by (no VPC resolves them there; launch.py).
    database_host: str | None = None
    max_containers: int = 6
    max_task_seconds: int = 1800


class Executor:
    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.runs: dict[str, TaskRun] = {}  # task ARN -> its run, while it has containers
        self.lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def enabled(self) -> bool:
        return self.settings is not None

    def enable(self, settings: Settings) -> None:
        self.disable()
        containers.remove_strays(settings.docker_host, settings.owner)
        self.settings = settings
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ecs task executor", daemon=True)
        self._thread.start()
        log.info("task executor on: dockerd %s, ECR %s", settings.docker_host, settings.ecr_registry)

    def disable(self) -> None:
        """Stops every task's containers and leaves moto as it was before `enable`."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        settings, self.settings, self._thread = self.settings, None, None
        with self.lock:
            runs, self.runs = list(self.runs.values()), {}
        for run in runs:
            run.stop()
        state_manager.unset_transition("ecs::task")
        containers.remove_strays(settings.docker_host, settings.owner)
        log.info("task executor off")

    def tasks(self) -> list[dict]:
        """What runs where: every task with containers, and the 127.0.0.1 port of each container port."""
        with self.lock:
            return [{"taskArn": arn, "container": run.launch.name, "ports": {str(k): v for k, v in run.ports.items()}}
                    for arn, run in self.runs.items()]

    # --- the loop

    def _loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.tick()
            except Exception:
                log.exception("task executor tick failed")

    def tick(self) -> None:
        state_manager.set_transition("ecs::task", MANUAL)
        with self.lock:
            known = set()
            for _, _, backend in ecs_backends.iter_backends():
                for svc in list(backend.services.values()):
                    service.keep(backend, svc)
                for cluster_tasks in list(backend.tasks.values()):
                    for task in list(cluster_tasks.values()):
                        known.add(task.task_arn)
                        self._look_at(task)
            for arn in [a for a in self.runs if a not in known]:  # moto was reset: its tasks are gone
                self.runs.pop(arn).stop()

    def _look_at(self, task) -> None:
        if task.task_arn in self.runs:
            run = self.runs[task.task_arn]
            if (task.desired_status == "STOPPED" or self._overdue(task)) and not run.stopping:
                threading.Thread(target=run.stop, daemon=True).start()  # once: a stop waits out the stop timeout
            return
        if getattr(task, "appmod_seen", False) or task.last_status == "STOPPED":
            return
        task.appmod_seen = True
        adopt(task)
        if task.desired_status == "STOPPED":
            finish(task, Ended(reason="Task stopped before it was started"), USER_INITIATED)
        elif len(self.runs) >= self.settings.max_containers:
            finish(task, Ended(reason=f"RESOURCE:CONTAINERS: the local task executor runs at most "
                                      f"{self.settings.max_containers} tasks at once"), FAILED_TO_START)
        else:
            self._start(task)

    def _start(self, task) -> None:
        try:
            request = launch.build(task, self.settings, f"appmod-task-{task.id}")
        except launch.CannotStart as e:
            finish(task, Ended(reason=str(e)), FAILED_TO_START)
            return
        run = TaskRun(self.settings.docker_host, request, on_running=lambda _: mark_running(task))
        self.runs[task.task_arn] = run
        threading.Thread(target=self._run, args=(task, run), daemon=True, name=request.name).start()

    def _run(self, task, run: TaskRun) -> None:
        try:
            ended = run.run()
        except Exception as e:
            log.exception("task %s failed in the executor", task.task_arn)
            ended = Ended(reason=f"CannotStartContainerError: {e}")
        with self.lock:
            self.runs.pop(task.task_arn, None)
            if task.desired_status == "STOPPED":  # StopTask or the scheduler (service.py) said which
                code = getattr(task, "stop_code", None) or USER_INITIATED
            else:
                code = EXITED if ended.exit_code is not None else FAILED_TO_START
            if self._overdue(task):
                ended.reason = f"stopped by the local task executor after {self.settings.max_task_seconds} s"
            finish(task, ended, code)
        log.info("task %s stopped: %s, exit code %s %s", task.task_arn, code, ended.exit_code, ended.reason)

    def _overdue(self, task) -> bool:
        started, settings = getattr(task, "started_at", None), self.settings  # None once disabled
        return started is not None and settings is not None and (
            datetime.now().astimezone() - started).total_seconds() > settings.max_task_seconds


def adopt(task) -> None:
    """A task ECS has just accepted: PROVISIONING, no exit code yet (moto says RUNNING and 0)."""
    task.last_status = "PROVISIONING"
    task.created_at = getattr(task, "created_at", None) or datetime.now().astimezone()
    for container in task.containers:
        container.last_status, container.exitCode = "PENDING", None


def mark_running(task) -> None:
    now = datetime.now().astimezone()
    task.pull_stopped_at = now
    task.started_at = now
    task.last_status = "RUNNING"
    for container in task.containers:
        container.last_status = "RUNNING"


def finish(task, ended: Ended, stop_code: str) -> None:
    """STOPPED as ECS reports it: the stop code, the reason, the essential container's exit code."""
    now = datetime.now().astimezone()
    task.stop_code = stop_code
    task.stopped_reason = ended.reason or (task.stopped_reason if stop_code in (USER_INITIATED, service.SCHEDULER)
                                           else "Essential container in task exited")
    task.stopping_at = task.execution_stopped_at = task.stopped_at = now
    task.desired_status = "STOPPED"
    for container in task.containers:
        container.last_status, container.exitCode = "STOPPED", ended.exit_code
        if ended.exit_code is None:
            container.reason = ended.reason
    task.last_status = "STOPPED"
