"""The operator itself as an ECS Fargate service, watching a Kubernetes cluster (EKS or any other) through
a kubeconfig kept in Secrets Manager: `appmod deploy-operator --print` (cli.py) prints what to create,
all built here and pure:
- the task definition: the operator's image with its liveness endpoint as the container health check,
  a read-only root filesystem with /tmp a task volume, the non-root user, awslogs, and the kubeconfig
  as the secret APPMOD_KUBECONFIG (kubeconfig.py writes it to a private file; it is never in plain env);
- the task role (the operator's AWS permissions: manifests/iam-policy.json, shipped as iam-policy.json)
  and the execution role (pulling the image, writing the logs, reading the kubeconfig secret).

The roles are named outside the `appmod-` prefix the policy lets the operator manage, so the operator
cannot change its own permissions. Nothing here calls AWS; the printed JSON goes to `aws ecs
register-task-definition` and `aws iam create-role` (docs: README, "The operator on ECS").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

FAMILY = "appmod-operator"
CONTAINER = "operator"
HEALTH_PORT = 8080
KUBECONFIG_SECRET_ENV = "APPMOD_KUBECONFIG"  # the variable ECS fills from the secret (kubeconfig.py reads it)
TASK_ROLE = "AppModOperatorTask"
EXECUTION_ROLE = "AppModOperatorExecution"
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
# The image's own HEALTHCHECK, as ECS runs a container health check (the image has Python, not curl).
HEALTH_COMMAND = ["CMD", "python3", "-c", "import urllib.request; "
                  f"urllib.request.urlopen('http://127.0.0.1:{HEALTH_PORT}/healthz', timeout=4)"]


@dataclass(frozen=True)
class OperatorTask:
    """What the user chooses; the rest follows from it."""

    image: str
    account: str
    region: str
    kubeconfig_secret_arn: str
    namespaces: tuple[str, ...] = ()
    cpu: str = "512"
    memory: str = "1024"
    log_group: str = "/appmod/operator"


def build_task_definition(task: OperatorTask) -> dict:
    """The RegisterTaskDefinition request."""
    command = [f"--liveness=http://0.0.0.0:{HEALTH_PORT}/healthz", *(f"--namespace={n}" for n in task.namespaces)]
    environment = {"AWS_REGION": task.region, "APPMOD_OPERATOR_IMAGE": task.image, "APPMOD_LOG_FORMAT": "json",
                   "TMPDIR": "/tmp"}
    return {
        "family": FAMILY,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": task.cpu,
        "memory": task.memory,
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        "executionRoleArn": _role_arn(task, EXECUTION_ROLE),
        "taskRoleArn": _role_arn(task, TASK_ROLE),
        "containerDefinitions": [{
            "name": CONTAINER,
            "image": task.image,
            "essential": True,
            # The task's whole memory, as reconcile/service.py says it for the app (moto's RunTask needs it).
            "memory": int(task.memory),
            "command": command,
            "environment": [{"name": k, "value": v} for k, v in environment.items()],
            "secrets": [{"name": KUBECONFIG_SECRET_ENV, "valueFrom": task.kubeconfig_secret_arn}],
            "user": "10001",
            "readonlyRootFilesystem": True,
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
            "portMappings": [{"containerPort": HEALTH_PORT, "protocol": "tcp"}],
            "healthCheck": {"command": HEALTH_COMMAND, "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 60},
            "stopTimeout": 30,
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": task.log_group, "awslogs-region": task.region, "awslogs-stream-prefix": "operator"}},
        }],
        "volumes": [{"name": "tmp"}],
    }


def build_roles(task: OperatorTask) -> dict:
    """The two roles, each with its trust policy and permissions (CreateRole, PutRolePolicy, AttachRolePolicy)."""
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": task.account}}}]}
    execution = {"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadTheKubeconfig", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": task.kubeconfig_secret_arn}]}
    return {
        "taskRole": {"roleName": TASK_ROLE, "assumeRolePolicyDocument": trust, "policyDocument": build_policy()},
        "executionRole": {"roleName": EXECUTION_ROLE, "assumeRolePolicyDocument": trust,
                          "managedPolicyArns": [EXECUTION_POLICY], "policyDocument": execution},
    }


def build_policy() -> dict:
    """The operator's IAM policy, manifests/iam-policy.json."""
    return json.loads(resources.files("appmod_operator").joinpath("iam-policy.json").read_text(encoding="utf-8"))


def _role_arn(task: OperatorTask, name: str) -> str:
    return f"arn:aws:iam::{task.account}:role/{name}"
