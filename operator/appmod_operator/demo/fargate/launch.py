"""What ECS works out before it starts a task's container, from moto's records: the essential container
of the task definition with the RunTask overrides applied (command, environment; its user, read-only
root filesystem and task volumes too), the image and how to
get it (an ECR image from the ECR stand-in: pulled from its registry with moto's ECR token, or loaded
from its layout directory), the `secrets` read from moto's Secrets Manager (JSON keys included), the
awslogs stream, and the task's network (network.py): the database endpoints moto's RDS knows resolve
to the task's loopback, where the routes go on to the host. With the host's network instead, the
endpoints in the secrets are replaced by the database stand-in's address (`Settings.database_host`).

A task that ECS would fail to start raises `CannotStart` with the reason ECS gives. Called by
executor.py, in moto's process.
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache

import boto3
import botocore.exceptions
from moto.ecs.models import ecs_backends
from moto.rds.models import rds_backends

from appmod_operator.demo.fargate import archive
from appmod_operator.demo.fargate.containers import Launch
from appmod_operator.reconcile import data
from appmod_operator.registry.reference import is_layout

ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
# ECS's default time between SIGTERM and SIGKILL when a task is stopped.
STOP_TIMEOUT = 30


class CannotStart(Exception):
    """The task fails to start; the message is the stoppedReason ECS would give."""


def build(task, settings, name: str) -> Launch:
    backend = ecs_backends[task._account_id][task.region_name]
    definition = backend.describe_task_definition(task.task_definition_arn)
    container = next(c for c in definition.container_definitions if c.get("essential", True))
    override = next((o for o in (task.overrides or {}).get("containerOverrides", [])
                     if o.get("name") == container["name"]), {})
    image, auth, source = _image(container["image"], settings)
    environment = {
        **settings.environment,
        "AWS_REGION": task.region_name, "AWS_DEFAULT_REGION": task.region_name,
        "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
        **{e["name"]: e["value"] for e in container.get("environment") or []},
        **{e["name"]: e["value"] for e in override.get("environment") or []},
        **_secrets(container.get("secrets") or [], settings),
    }
    return Launch(
        task_arn=task.task_arn, name=name, image=image, auth=auth, archive=source, owner=settings.owner,
        command=override.get("command") or container.get("command") or None,
        entry_point=container.get("entryPoint") or None,
        environment=environment, hosts={host: "127.0.0.1" for host in database_endpoints()},
        routes=dict(settings.routes), published=tuple(p["containerPort"] for p in container.get("portMappings", [])),
        network=settings.network, pause_image=settings.pause_image,
        stop_timeout=int(container.get("stopTimeout") or STOP_TIMEOUT),
        read_only=bool(container.get("readonlyRootFilesystem")), user=container.get("user") or None,
        # A task volume without a host path is the task's ephemeral storage: a tmpfs stands in for it.
        scratch=tuple(m["containerPath"] for m in container.get("mountPoints") or []
                      if _ephemeral(definition, m["sourceVolume"])),
        sink=_log_sink(container, task, settings))


def _ephemeral(definition, volume: str) -> bool:
    found = next((v for v in definition.volumes or [] if v.get("name") == volume), None)
    return (found is not None and not (found.get("host") or {}).get("sourcePath")
            and "efsVolumeConfiguration" not in found)


def database_endpoints() -> set[str]:
    """Every writer and reader endpoint of every cluster moto's RDS has: the VPC's DNS for them."""
    return {host for _, _, backend in rds_backends.iter_backends() for cluster in backend.clusters.values()
            for host in (cluster.endpoint, cluster.reader_endpoint)}


def _image(reference: str, settings) -> tuple[str, dict | None, archive.Source | None]:
    """An ECR image as the ECR stand-in has it (its registry with moto's ECR token, or its layout); any
    other as it is named."""
    host, _, path = reference.partition("/")
    found = ECR_HOST.match(host)
    if not found:
        return reference, None, None
    if is_layout(settings.ecr_registry):
        repository, _, digest = path.partition("@")
        if not digest:
            raise CannotStart(f"CannotPullContainerError: {reference}: the local task executor loads ECR images "
                              "from a layout by digest only")
        return reference, None, archive.Source(settings.ecr_registry, repository, digest)
    try:
        token = _client(settings.moto_url, "ecr", found.group(2)).get_authorization_token()["authorizationData"][0]
    except botocore.exceptions.ClientError as e:
        raise CannotStart(f"ResourceInitializationError: unable to pull registry auth: {e}") from e
    user, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    return f"{settings.ecr_registry}/{path}", {"username": user, "password": password}, None


def _secrets(secrets: list[dict], settings) -> dict[str, str]:
    """`valueFrom: <secret arn>[:<json key>:<version stage>:<version id>]`, as ECS resolves it
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html)."""
    values = {}
    for secret in secrets:
        parts = secret["valueFrom"].split(":")
        arn, (key, stage, version) = ":".join(parts[:7]), ([*parts[7:], "", "", ""])[:3]
        request = {"SecretId": arn, **({"VersionStage": stage} if stage else {}),
                   **({"VersionId": version} if version else {})}
        try:
            text = _client(settings.moto_url, "secretsmanager", parts[3]).get_secret_value(**request)["SecretString"]
        except botocore.exceptions.ClientError as e:
            raise CannotStart(f"ResourceInitializationError: unable to pull secrets or registry auth: "
                              f"retrieving secret from {arn}: {e}") from e
        text = _to_stand_in(text, settings.database_host)
        if key:
            document = json.loads(text)
            if key not in document:
                raise CannotStart(f"ResourceInitializationError: unable to pull secrets or registry auth: "
                                  f"retrieved secret from Secrets Manager did not contain json key {key}")
            value = document[key]
            text = value if isinstance(value, str) else json.dumps(value)
        values[secret["name"]] = text
    return values


def _to_stand_in(text: str, address: str | None) -> str:
    """A database secret (credentials.py's JSON) whose `host` is an Aurora endpoint, naming the stand-in at
    `address` instead: its host, port and url, as APPMOD_DATABASE_HOST redirects the operator's own."""
    try:
        document = json.loads(text) if address else None
    except ValueError:
        return text
    if not isinstance(document, dict) or document.get("host") not in database_endpoints():
        return text
    host, _, port = address.rpartition(":")
    url = document.get("url")
    return json.dumps({**document, "host": host, "port": int(port),
                       **({"url": data.build_target_url(url, address)} if url else {})})


def _log_sink(container: dict, task, settings):
    """Where the container's output goes: awslogs names its stream `<prefix>/<container>/<task id>`
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html)."""
    configuration = container.get("logConfiguration") or {}
    if configuration.get("logDriver") != "awslogs":
        return lambda batch: None
    options = configuration.get("options") or {}
    group = options["awslogs-group"]
    stream = f"{options.get('awslogs-stream-prefix', 'ecs')}/{container['name']}/{task.id}"
    client = _client(settings.moto_url, "logs", options.get("awslogs-region") or task.region_name)
    try:
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    except client.exceptions.ResourceNotFoundException as e:
        raise CannotStart(f"ResourceInitializationError: failed to validate logger args: create stream has been "
                          f"retried 1 times: failed to create Cloudwatch log stream: {e}") from e
    except client.exceptions.ResourceAlreadyExistsException:
        pass

    def put(batch: list[tuple[int, str]]) -> None:
        client.put_log_events(logGroupName=group, logStreamName=stream,
                              logEvents=[{"timestamp": ms, "message": text or " "} for ms, text in batch])
    return put


@cache
def _client(url: str, service: str, region: str):
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing")
