"""One-off Fargate tasks, run exactly once per spec generation and source version: the app's schema
migration command (schema.py) and the operator's own `appmod migrate` (data_task.py).

A task is started with a deterministic `startedBy` token (and tags), so a later pass, or a restarted
operator, finds it with ListTasks instead of starting another; RunTask's `clientToken` covers the gap
where ListTasks lags behind RunTask. The caller never waits in place: a running task is looked at
again on the next pass. A task that failed to start never ran its command, so another is started
under the same token, up to STARTS in all. Only a task whose essential container exited 0 succeeded.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from appmod_operator.aws import ecs

# ListTasks filters on the desired status, RUNNING unless asked otherwise; ECS keeps a stopped task for
# at least an hour (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html).
DESIRED_STATUSES = ("RUNNING", "STOPPED")
# How an essential container that ran to its end stops a task; any other stop code (UserInitiated,
# SpotInterruption, ...) means the command was cut short, whatever its exit code.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html
CLEAN_STOP_CODES = (None, "EssentialContainerExited")
# A task that failed to start never ran the command (an ENI, capacity, or an execution role IAM has not
# yet propagated), and one whose command exited asking to be run again did nothing lasting, so another
# may be started under the same token, this many in all.
FAILED_TO_START = "TaskFailedToStart"
STARTS = 3
# Tags of a task besides our owner tags, so a task in the console says which spec and source it ran for.
GENERATION_TAG = "appmod.io/generation"
SOURCE_DIGEST_TAG = "appmod.io/source-digest"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """A kind of one-off task: what it is called in messages, its `startedBy` prefix, and its container.

    `startedBy` takes letters, digits, hyphens and underscores (36 characters in older documentation, 128
    now): the prefix and 16 hex digits of a hash fit both."""

    what: str
    prefix: str
    container: str
    retry_exit_codes: tuple[int, ...] = ()  # exit codes that say "run me again", as started ones may

    def started_by(self, key: str) -> str:
        return self.prefix + hashlib.sha256(key.encode()).hexdigest()[:16]


def build_key(ref: str, uid: str, generation: int, version: str, cluster: str = "") -> str:
    """The same for the same resource (uid included: a re-created resource of the same name migrates its
    own new database), generation, source version and cluster (its resource id: a cluster made again under
    the same name is migrated again), and for nothing else."""
    return f"{ref}\n{uid}\n{generation}\n{version}" + (f"\n{cluster}" if cluster else "")


def build_tags(owner_tags: Mapping[str, str], generation: int, version: str) -> dict[str, str]:
    return {**owner_tags, GENERATION_TAG: str(generation), SOURCE_DIGEST_TAG: version}


def build_run_task_request(cluster: str, task_definition: str, token: str, attempt: int, network: dict,
                           tags: Mapping[str, str], overrides: dict | None = None) -> dict:
    """RunTask of one Fargate task; `clientToken` makes a repeated request (a ListTasks that lags behind
    RunTask, a crash after it) return the task it already started
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html)."""
    request = {"cluster": cluster, "taskDefinition": task_definition, "launchType": "FARGATE", "count": 1,
               "startedBy": token, "clientToken": f"{token}-{attempt}", "networkConfiguration": network,
               "tags": ecs.tag_list(dict(tags)), "enableECSManagedTags": True}
    return {**request, "overrides": overrides} if overrides else request


def find_tasks(region: str | None, cluster: str, token: str) -> list[dict]:
    """Every task started under `token` that ECS still knows, running or stopped, oldest first."""
    arns: list[str] = []
    for desired in DESIRED_STATUSES:
        arns += [a for a in ecs.list_tasks(region, cluster, startedBy=token, desiredStatus=desired) if a not in arns]
    tasks = [t for t in ecs.describe_tasks(region, cluster, arns) if t.get("startedBy") == token]
    return sorted(tasks, key=lambda t: timestamp(t.get("createdAt")) or "")


def find_earlier_task(region: str | None, cluster: str, family: str, kind: Kind, token: str) -> dict | None:
    """A task of this kind started under another token that has not stopped yet (the family's other tasks
    are the service's, whose startedBy is its deployment)."""
    arns = ecs.list_tasks(region, cluster, family=family, desiredStatus="RUNNING")
    return next((t for t in ecs.describe_tasks(region, cluster, arns) if t.get("lastStatus") != "STOPPED"
                 and t.get("startedBy", "").startswith(kind.prefix) and t["startedBy"] != token), None)


def ensure_task(region: str | None, cluster: str, family: str, kind: Kind, token: str,
                start: Callable[[int], dict]) -> tuple[dict, bool]:
    """(the task started under `token`, True): found, or started with `start(attempt)`. Or (a task of this
    kind for an earlier token, False) while that one has not stopped: two migrations at once could both
    apply the same change, so the earlier one runs to its end first."""
    tasks = find_tasks(region, cluster, token)
    task = next((t for t in tasks if not may_start_again(t, kind)), tasks[-1] if tasks else None)
    if task is not None and not (may_start_again(task, kind) and len(tasks) < STARTS):
        return task, True
    earlier = find_earlier_task(region, cluster, family, kind, token)
    if earlier is not None:
        return earlier, False
    if task is not None:
        log.warning("%s task %s stopped before it could finish (%s, exit code %s); starting another", kind.what,
                    task["taskArn"], task.get("stoppedReason", ""), container(task, kind).get("exitCode"))
    return start(len(tasks) + 1), True


def build_waiting(earlier: Mapping, kind: Kind) -> str:
    return (f"the {kind.what} task for this spec and source starts once task {task_id(earlier)} of an earlier "
            f"one has stopped (it is {earlier.get('lastStatus')})")


def succeeded(task: Mapping, kind: Kind) -> bool:
    return (task.get("lastStatus") == "STOPPED" and container(task, kind).get("exitCode") == 0
            and task.get("stopCode") in CLEAN_STOP_CODES)


def build_running(task: Mapping, kind: Kind) -> str:
    return f"{kind.what} task {task_id(task)} ({command(task, kind)}) is {task.get('lastStatus', 'PROVISIONING')}"


def build_failure_message(task: Mapping, kind: Kind, log_group: str) -> str:
    """What stopped the task and where its output is: awslogs names a stream `<prefix>/<container>/<task id>`
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html)."""
    found = container(task, kind)
    code = found.get("exitCode")
    exited = f"exit code {code}" if code is not None else "no exit code (the command did not run)"
    why = "; ".join(r for r in (task.get("stoppedReason"), found.get("reason")) if r)
    return (f"{kind.what} task {task_id(task)} ({command(task, kind)}) stopped with {exited}, stop code "
            f"{task.get('stopCode') or 'none'}" + (f": {why}" if why else "") + f"; its output is in CloudWatch Logs "
            f"group {log_group}, stream {log_stream(task, kind)}; it runs again for a new generation of the spec "
            "or a new version of the source")


def log_stream(task: Mapping, kind: Kind) -> str:
    """Our task definitions use the container's name as the awslogs-stream-prefix."""
    return f"{kind.container}/{kind.container}/{task_id(task)}"


def may_start_again(task: Mapping, kind: Kind) -> bool:
    """A stopped task that never ran its command, or whose command asked to be run again."""
    if task.get("lastStatus") != "STOPPED":
        return False
    code = container(task, kind).get("exitCode")
    return (task.get("stopCode") == FAILED_TO_START and code is None) or (
        code in kind.retry_exit_codes and task.get("stopCode") in CLEAN_STOP_CODES)


def stopped_at(task: Mapping) -> str | None:
    return timestamp(task.get("stoppedAt") or task.get("executionStoppedAt"))


def task_id(task: Mapping) -> str:
    return task["taskArn"].rsplit("/", 1)[-1]


def container(task: Mapping, kind: Kind) -> Mapping:
    return next((c for c in task.get("containers", ()) if c.get("name") == kind.container), {})


def command(task: Mapping, kind: Kind) -> str:
    overrides = (task.get("overrides") or {}).get("containerOverrides") or ()
    return " ".join(next((o.get("command") or [] for o in overrides if o.get("name") == kind.container), []))


def timestamp(value: datetime | str | None) -> str | None:
    """RFC 3339 in UTC, as Kubernetes writes times (boto3 gives datetimes)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value
