"""A few of moto's ECS calls wrapped while the task executor is on, so that their own replies already
say what ECS would: RunTask's tasks are PROVISIONING with no exit code, StopTask leaves a running task
RUNNING until its container has stopped, and Create/Update/DeleteService count only what runs
(service.py). moto's backend class is changed once per process; the wrappers call through to moto
unchanged whenever no executor is on.

Installed by whoever runs moto with an executor in its process: demo/tasks.py for `appmod demo
--run-tasks`, and the tests' moto server (tests/infra/fargate/server.py).
"""

from __future__ import annotations

import functools
import threading

from moto.ecs.models import EC2ContainerServiceBackend
from moto.moto_api import state_manager

from appmod_operator.demo.fargate import executor as executor_module
from appmod_operator.demo.fargate import service
from appmod_operator.demo.fargate.executor import Executor

_installed: list[Executor] = []
_lock = threading.Lock()


def install(executor: Executor) -> None:
    """Routes moto's ECS calls through `executor` (the process's one executor) from now on."""
    with _lock:
        if _installed:
            if _installed[0] is not executor:
                raise RuntimeError("moto's ECS is wrapped for another task executor in this process")
            return
        _installed.append(executor)
        _wrap(EC2ContainerServiceBackend, executor)


def _wrap(backend: type, executor: Executor) -> None:
    def when_on(method):
        original = getattr(backend, method.__name__)

        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):
            if not executor.enabled:
                return original(self, *args, **kwargs)
            with executor.lock:
                return method(self, original, *args, **kwargs)
        setattr(backend, method.__name__, wrapper)

    @when_on
    def run_task(self, original, *args, **kwargs):
        state_manager.set_transition("ecs::task", executor_module.MANUAL)
        tasks = original(self, *args, **kwargs)
        for task in tasks:
            executor_module.adopt(task)
        return tasks

    @when_on
    def stop_task(self, original, cluster_str, task_str, reason):
        task = next((t for tasks in self.tasks.values() for arn, t in tasks.items()
                     if arn.endswith(task_str.split("/")[-1])), None)
        before = task.last_status if task is not None else None
        stopped = original(self, cluster_str, task_str, reason)
        if before != "STOPPED":
            stopped.last_status, stopped.stop_code = before, executor_module.USER_INITIATED
        return stopped

    for name in ("create_service", "update_service", "delete_service"):
        def counted(self, original, *args, **kwargs):
            svc = original(self, *args, **kwargs)
            service.keep(self, svc)
            return svc
        counted.__name__ = name
        when_on(counted)
