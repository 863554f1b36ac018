"""The local ECS task executor (appmod_operator/demo/fargate/, inside the tests' moto server) does what ECS
does with the tasks moto records: runs them on dockerd with the image from ECR, the definition's and
overrides' command and environment, the secrets resolved, the output in CloudWatch Logs, the outcome in
DescribeTasks; keeps a service's count; reaches only what the task's network routes (or, on the host's
network, the database stand-in its secret names); stays within its bounds; and leaves no container
behind."""

from __future__ import annotations

import base64
import json
import socket
import urllib.request

import boto3
import docker
import pytest

from appmod_operator.demo.fargate.containers import LABEL
from appmod_operator.registry import reference
from appmod_operator.registry.client import Registry
from appmod_operator.registry.copy import copy_image
from appmod_operator.registry.layout import Layouts
from tests.infra.moto import REGION
from tests.infra.process import wait_for

pytestmark = pytest.mark.e2e

CLUSTER = "executor"
LOG_GROUP = "/appmod/executor-test"


@pytest.fixture(scope="module")
def aws_env(moto_server, ecs_tasks):
    moto_server.reset()
    yield moto_server
    moto_server.reset()


@pytest.fixture(scope="module")
def boto(aws_env):
    env = aws_env.env()

    def make(service: str):
        return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return make


@pytest.fixture(scope="module")
def image(boto, dockerd, base_image, ecr_registry) -> str:
    """The Debian base, pushed to the ECR stand-in: `<account>.dkr.ecr.<region>.amazonaws.com/...@digest`."""
    uri = boto("ecr").create_repository(repositoryName="executor-test")["repository"]["repositoryUri"]
    token = boto("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode().partition(":")
    client = dockerd.client()
    remote = f"{ecr_registry.host}/executor-test"
    client.images.get(base_image.reference).tag(remote, "v1")
    pushed = [line for line in client.api.push(remote, tag="v1", auth_config={"username": user, "password": password},
                                               stream=True, decode=True)]
    digest = next(line["aux"]["Digest"] for line in pushed if "aux" in line)
    return f"{uri}@{digest}"


@pytest.fixture(scope="module")
def network(boto) -> dict:
    boto("ecs").create_cluster(clusterName=CLUSTER)
    boto("logs").create_log_group(logGroupName=LOG_GROUP)
    subnet = boto("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    return {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": []}}


def definition(boto, image: str, family: str, **container) -> str:
    body = {"name": "app", "image": image, "essential": True, "memory": 512,
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": LOG_GROUP, "awslogs-region": REGION, "awslogs-stream-prefix": "app"}}, **container}
    return boto("ecs").register_task_definition(
        family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[body])["taskDefinition"]["taskDefinitionArn"]


def run(boto, network, task_definition: str, command: list[str] | None = None) -> str:
    overrides = {"containerOverrides": [{"name": "app", "command": command}]} if command else {}
    return boto("ecs").run_task(cluster=CLUSTER, taskDefinition=task_definition, launchType="FARGATE",
                                networkConfiguration=network, overrides=overrides)["tasks"][0]["taskArn"]


def describe(boto, arn: str) -> dict:
    return boto("ecs").describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"][0]


def stopped(boto, arn: str, timeout: float = 120) -> dict:
    return wait_for(lambda: (t := describe(boto, arn))["lastStatus"] == "STOPPED" and t, f"task {arn} to stop",
                    timeout)


def output(boto, arn: str) -> list[str]:
    stream = f"app/app/{arn.rsplit('/', 1)[1]}"
    events = boto("logs").get_log_events(logGroupName=LOG_GROUP, logStreamName=stream)["events"]
    return [e["message"] for e in events]


def ours(dockerd) -> list:
    """Every container the executor made and has not removed. docker-py inspects each container it lists, so
    one removed in between fails the listing: then it is listed again."""
    for _ in range(5):
        try:
            return dockerd.client().containers.list(all=True, filters={"label": LABEL})
        except docker.errors.NotFound:
            continue
    return dockerd.client().containers.list(all=True, filters={"label": LABEL})


def test_a_one_off_task_runs_with_its_environment_and_secrets_and_reports_its_exit(boto, network, image):
    secret = boto("secretsmanager").create_secret(Name="executor-db", SecretString=json.dumps(
        {"password": "not-a-real-one", "port": 5432}))["ARN"]
    task_definition = definition(boto, image, "one-off", environment=[{"name": "FROM_DEFINITION", "value": "a"}],
                                 secrets=[{"name": "DB_PASSWORD", "valueFrom": f"{secret}:password::"},
                                          {"name": "DB_PORT", "valueFrom": f"{secret}:port::"},
                                          {"name": "WHOLE", "valueFrom": secret}])
    script = ("import os; [print(k, os.environ[k]) for k in ('FROM_DEFINITION', 'DB_PASSWORD', 'DB_PORT', "
              "'WHOLE', 'AWS_REGION')]; raise SystemExit(3)")
    arn = run(boto, network, task_definition, ["python3", "-c", script])
    first = describe(boto, arn)
    assert first["lastStatus"] in ("PROVISIONING", "PENDING", "RUNNING") and "exitCode" not in first["containers"][0]
    task = stopped(boto, arn)
    assert (task["stopCode"], task["containers"][0]["exitCode"]) == ("EssentialContainerExited", 3)
    assert task["stoppedReason"] == "Essential container in task exited" and task["desiredStatus"] == "STOPPED"
    assert task["startedAt"] <= task["stoppedAt"]
    assert output(boto, arn) == ["FROM_DEFINITION a", "DB_PASSWORD not-a-real-one", "DB_PORT 5432",
                                 'WHOLE {"password": "not-a-real-one", "port": 5432}', f"AWS_REGION {REGION}"]


def test_a_task_reaches_the_database_endpoint_and_nothing_else(boto, network, image, postgres):
    cluster = boto("rds").create_db_cluster(DBClusterIdentifier="executor-db", Engine="aurora-postgresql",
                                            MasterUsername="appmod", MasterUserPassword="not-a-real-one1")
    endpoint = cluster["DBCluster"]["Endpoint"]
    with socket.create_server(("127.0.0.1", 0)) as unrouted:  # a port of the host's that no route names
        probe = (
            "import socket, struct\n"
            f"db = socket.create_connection(({endpoint!r}, 5432), timeout=10)\n"
            "db.sendall(struct.pack('!ii', 8, 80877103))\n"  # PostgreSQL's SSLRequest: it answers S or N
            "print('database answered', db.recv(1).decode())\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {unrouted.getsockname()[1]}), timeout=5)\n"
            "    print('reached an unrouted port')\n"
            "except OSError:\n"
            "    print('unrouted port refused')\n")
        arn = run(boto, network, definition(boto, image, "probe"), ["python3", "-c", probe])
        task = stopped(boto, arn)
    assert task["containers"][0]["exitCode"] == 0, output(boto, arn)
    said = output(boto, arn)
    assert said[0] in ("database answered S", "database answered N") and said[1] == "unrouted port refused"


@pytest.mark.parametrize(("broken", "reason"), [
    ("image", "CannotPullContainerError"),
    ("secret", "ResourceInitializationError: unable to pull secrets"),
    ("log group", "ResourceInitializationError: failed to validate logger args"),
])
def test_a_task_ecs_could_not_start_stops_with_its_reason(boto, network, image, broken, reason):
    secret = boto("secretsmanager").create_secret(Name=f"executor-{broken.replace(' ', '-')}",
                                                  SecretString="{}")["ARN"]
    container = {
        "image": {"image": image.split("@")[0] + "@sha256:" + "0" * 64},
        "secret": {"secrets": [{"name": "X", "valueFrom": f"{secret}:missing::"}]},
        "log group": {"logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": "/no/such/group", "awslogs-region": REGION, "awslogs-stream-prefix": "app"}}},
    }[broken]
    family = f"broken-{broken.replace(' ', '-')}"
    arn = run(boto, network, definition(boto, container.pop("image", image), family, **container), ["true"])
    task = stopped(boto, arn)
    assert task["stopCode"] == "TaskFailedToStart" and task["stoppedReason"].startswith(reason), task
    assert "exitCode" not in task["containers"][0]


def test_stop_task_stops_the_container_and_says_who_asked(boto, network, image, dockerd):
    arn = run(boto, network, definition(boto, image, "sleeper", stopTimeout=2), ["sleep", "600"])
    wait_for(lambda: describe(boto, arn)["lastStatus"] == "RUNNING", "the task to run")
    answer = boto("ecs").stop_task(cluster=CLUSTER, task=arn, reason="a test stopped it")["task"]
    assert answer["desiredStatus"] == "STOPPED" and answer["lastStatus"] == "RUNNING"
    task = stopped(boto, arn)
    assert (task["stopCode"], task["stoppedReason"]) == ("UserInitiated", "a test stopped it")
    assert task["containers"][0]["exitCode"] == 137  # PID 1 ignores SIGTERM; SIGKILL after the stop timeout
    wait_for(lambda: not [c for c in ours(dockerd) if c.labels[LABEL] == arn], "its containers to go")


def service_tasks(boto, name: str) -> list[dict]:
    arns = boto("ecs").list_tasks(cluster=CLUSTER, desiredStatus="RUNNING")["taskArns"]
    return [t for t in (boto("ecs").describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"] if arns else [])
            if t["group"] == f"service:{name}" and t["lastStatus"] == "RUNNING"]


def stable(boto, name: str, count: int) -> dict:
    def probe():
        svc = boto("ecs").describe_services(cluster=CLUSTER, services=[name])["services"][0]
        deployment = svc["deployments"][0]
        return (svc["runningCount"] == count and deployment["rolloutState"] == "COMPLETED"
                and len(service_tasks(boto, name)) == count and svc)
    return wait_for(probe, f"service {name} to run {count} tasks", 180)


def test_a_service_runs_its_count_replaces_a_killed_task_and_stops_when_deleted(boto, network, image, ecs_tasks,
                                                                                   dockerd):
    task_definition = definition(boto, image, "web", portMappings=[{"containerPort": 8080}], stopTimeout=2,
                                 command=["python3", "-m", "http.server", "8080"])
    created = boto("ecs").create_service(cluster=CLUSTER, serviceName="web", taskDefinition=task_definition,
                                         desiredCount=2, launchType="FARGATE", networkConfiguration=network)
    assert created["service"]["runningCount"] == 0  # nothing runs yet, whatever moto would say
    stable(boto, "web", 2)
    running = {t["taskArn"]: t for t in service_tasks(boto, "web")}
    published = {t["taskArn"]: t["ports"]["8080"] for t in ecs_tasks.tasks() if t["taskArn"] in running}
    assert len(set(published.values())) == 2  # each task's port 8080 on a port of its own
    for port in published.values():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
    victim = next(iter(running))
    next(c for c in ours(dockerd) if c.labels[LABEL] == victim and not c.name.endswith("-pause")).kill()
    assert stopped(boto, victim)["containers"][0]["exitCode"] == 137
    stable(boto, "web", 2)
    assert victim not in {t["taskArn"] for t in service_tasks(boto, "web")}
    boto("ecs").update_service(cluster=CLUSTER, service="web", desiredCount=1)
    stable(boto, "web", 1)
    boto("ecs").delete_service(cluster=CLUSTER, service="web", force=True)
    wait_for(lambda: not [c for c in ours(dockerd) if c.labels[LABEL] in running or "web" in c.name] and
             not service_tasks(boto, "web"), "the service's containers to go", 60)


def test_on_the_hosts_network_a_task_reads_the_database_stand_in_from_its_secret(boto, network, image, postgres,
                                                                                   ecs_tasks, ecr_registry, tmp_path):
    """`appmod demo --run-tasks`'s default: no namespace of the task's own, so the secret's Aurora endpoint
    is replaced by the stand-in's address; the image comes from ECR's copy in a layout directory."""
    endpoint = boto("rds").create_db_cluster(DBClusterIdentifier="executor-host-db", Engine="aurora-postgresql",
                                             MasterUsername="appmod", MasterUserPassword="not-a-real-one1",
                                             )["DBCluster"]["Endpoint"]
    secret = boto("secretsmanager").create_secret(Name="executor-host-db", SecretString=json.dumps(
        {"host": endpoint, "port": 5432, "url": f"postgresql://appmod:pw@{endpoint}:5432/shop"}))["ARN"]
    repository, _, digest = image.partition("/")[2].partition("@")
    token = boto("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    ecr = Registry(ecr_registry.host, side="test", credentials=tuple(base64.b64decode(token).decode().split(":", 1)),
                   insecure=True)
    copy_image(ecr, reference.parse(f"{ecr_registry.host}/{repository}@{digest}"), Layouts(tmp_path, "test"),
               repository, None)
    ecs_tasks.configure(network="host", database_host=f"127.0.0.1:{postgres.port}", ecr_registry=f"oci:{tmp_path}")
    try:
        probe = ("import json, os, socket, struct\n"
                 "host, port = os.environ['DB_HOST'], int(os.environ['DB_PORT'])\n"
                 "print(host, port, json.loads(os.environ['WHOLE'])['url'])\n"
                 "db = socket.create_connection((host, port), timeout=10)\n"
                 "db.sendall(struct.pack('!ii', 8, 80877103))\n"
                 "print('database answered', db.recv(1).decode())\n")
        task_definition = definition(boto, image, "host-probe", secrets=[
            {"name": "DB_HOST", "valueFrom": f"{secret}:host::"}, {"name": "DB_PORT", "valueFrom": f"{secret}:port::"},
            {"name": "WHOLE", "valueFrom": secret}])
        arn = run(boto, network, task_definition, ["python3", "-c", probe])
        task = stopped(boto, arn)
    finally:
        ecs_tasks.configure()
    said = output(boto, arn)
    assert task["containers"][0]["exitCode"] == 0, said
    assert said[0] == f"127.0.0.1 {postgres.port} postgresql://appmod:pw@127.0.0.1:{postgres.port}/shop"
    assert said[1] in ("database answered S", "database answered N")


def test_the_executor_is_bounded_and_leaves_nothing_behind(boto, network, image, ecs_tasks, dockerd):
    ecs_tasks.configure(max_containers=1, max_task_seconds=3)
    sleeper = definition(boto, image, "bounded", stopTimeout=1)
    first = run(boto, network, sleeper, ["sleep", "600"])
    wait_for(lambda: describe(boto, first)["lastStatus"] == "RUNNING", "the first task to run")
    second = stopped(boto, run(boto, network, sleeper, ["sleep", "600"]))
    assert second["stopCode"] == "TaskFailedToStart" and "RESOURCE:CONTAINERS" in second["stoppedReason"]
    over = stopped(boto, first, 60)
    assert "after 3 s" in over["stoppedReason"]
    third = run(boto, network, sleeper, ["sleep", "600"])
    wait_for(lambda: describe(boto, third)["lastStatus"] == "RUNNING", "a third task to run")
    ecs_tasks.stop()
    assert ours(dockerd) == []
