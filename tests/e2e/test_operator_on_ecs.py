"""The operator on ECS, as `appmod deploy-operator --print` describes it: its task definition registered in
moto and run by the local task executor (a task network of its own, read-only root filesystem, the non-root
user, /tmp a task volume), the kubeconfig handed over only as the ECS secret from Secrets Manager, holding
the chart's ServiceAccount token for the real API server. The task's liveness endpoint answers, and the
operator in it writes the status of a (paused) resource in the namespace it watches."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import chart
from tests.e2e.conftest import aws_client, example
from tests.e2e.kubectl import wait_for
from tests.infra import process

pytestmark = pytest.mark.e2e

NAMESPACE = "on-ecs"
REGION = "us-east-2"
ACCOUNT = "123456789012"  # moto's


def inline_kubeconfig(kube, token: str) -> str:
    """A kubeconfig with the CA inline, as one kept in Secrets Manager must be."""
    ca = base64.b64encode((kube.dir / "certs" / "apiserver.crt").read_bytes()).decode()
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ecs",
        "clusters": [{"name": "test", "cluster": {"server": kube.url, "certificate-authority-data": ca}}],
        "users": [{"name": chart.SERVICE_ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": "ecs", "context": {"cluster": "test", "user": chart.SERVICE_ACCOUNT}}]})


def printed(image: str, secret_arn: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APPMOD_"))}
    result = subprocess.run([str(Path(sys.executable).parent / "appmod"), "--region", REGION, "deploy-operator",
                             "--print", "--image", image, "--account", ACCOUNT, "--kubeconfig-secret", secret_arn,
                             "--watch-namespace", NAMESPACE], capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout)


def test_the_printed_task_runs_the_operator_against_the_cluster(kube, kubectl, operator_token, moto_server,
                                                                ecs_tasks, operator_image_part):
    kubectl.run("create", "namespace", NAMESPACE)
    secrets = aws_client(moto_server, "secretsmanager", REGION)
    secret = secrets.create_secret(Name="eks-kubeconfig", SecretString=inline_kubeconfig(kube, operator_token))["ARN"]
    definition = printed(operator_image_part.reference, secret)["taskDefinition"]
    assert operator_token not in json.dumps(definition)
    ecs, logs = aws_client(moto_server, "ecs", REGION), aws_client(moto_server, "logs", REGION)
    logs.create_log_group(logGroupName="/appmod/operator")
    ecs.create_cluster(clusterName="operator")
    registered = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    subnet = aws_client(moto_server, "ec2", REGION).describe_subnets()["Subnets"][0]["SubnetId"]
    api_port = int(kube.url.rsplit(":", 1)[1])
    ecs_tasks.configure(routes={api_port: f"127.0.0.1:{api_port}"})
    body = example("oscar.yaml")
    body["spec"]["paused"] = True  # observe and report only: nothing is made in AWS
    body["spec"]["deletionPolicy"] = "Retain"  # so that deleting it, paused, lets it go at once
    try:
        task = ecs.run_task(cluster="operator", taskDefinition=registered, launchType="FARGATE", networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": []}})["tasks"][0]["taskArn"]
        stream = f"operator/operator/{task.rsplit('/', 1)[1]}"

        def output() -> list[str]:
            return [e["message"] for e in logs.get_log_events(logGroupName="/appmod/operator",
                                                              logStreamName=stream)["events"]]
        try:
            port = wait_for(lambda: next((t["ports"].get("8080") for t in ecs_tasks.tasks() if t["taskArn"] == task),
                                         None), "the operator's task to run", 120)
            wait_for(lambda: process.http_status(f"http://127.0.0.1:{port}/healthz") == 200, "its liveness endpoint",
                     120)
            kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
            status = wait_for(lambda: app_status(kubectl), "the operator on ECS to write the status", 120)
        except AssertionError:
            print(ecs.describe_tasks(cluster="operator", tasks=[task])["tasks"][0], *output()[-40:], sep="\n")
            raise
        assert {c["type"] for c in status["conditions"]} >= {"Ready", "Reconciling", "Stalled"}
        kubectl.run("delete", "appmod", "oscar", "-n", NAMESPACE, "--timeout=120s")
        assert ecs.describe_tasks(cluster="operator", tasks=[task])["tasks"][0]["lastStatus"] == "RUNNING"
        ecs.stop_task(cluster="operator", task=task, reason="the test is done")
        stopped = wait_for(lambda: (t := ecs.describe_tasks(cluster="operator", tasks=[task])["tasks"][0])[
            "lastStatus"] == "STOPPED" and t, "the operator to stop", 90)
        assert stopped["containers"][0]["exitCode"] == 0  # SIGTERM: kopf stops cleanly
        lines = output()  # the local executor hands the output over in batches, the last when the task ends
        assert lines and all(json.loads(line) for line in lines if line.startswith("{"))  # json logs
        assert not [line for line in lines if operator_token in line]
    finally:
        ecs_tasks.configure()


def app_status(kubectl) -> dict | None:
    status = kubectl.get("appmodernization", "oscar", "-n", NAMESPACE).get("status") or {}
    return status if status.get("observedGeneration") == 1 and status.get("conditions") else None
