"""manifests/iam-policy.json next to the AWS calls the code makes, for tests/unit/test_iam_policy.py and
the e2e check of the calls recorded in a whole run.

`code_actions()` reads the operations out of aws/ (the only modules that call boto3): each client method
or paginator named there that botocore's model of that module's service has, as the IAM action
`<prefix>:<Operation>`. `allows(policy, action)` is IAM's action match (wildcards, Allow statements;
conditions and resources are checked by the tests on the policy's structure)."""

from __future__ import annotations

import ast
import fnmatch
import json
from functools import cache
from pathlib import Path

import botocore.session

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "manifests" / "iam-policy.json"
AWS = ROOT / "operator" / "appmod_operator" / "aws"
# Each module of aws/ and the botocore service (and IAM prefix) it calls.
SERVICES = {"rds": "rds", "ec2": "ec2", "secrets": "secretsmanager", "ecr": "ecr", "ecs": "ecs", "iam": "iam",
            "logs": "logs", "s3": "s3"}
# Operations whose IAM action has another name (https://docs.aws.amazon.com/service-authorization/latest/reference/).
RENAMED = {"s3:HeadObject": "s3:GetObject"}


def policy() -> dict:
    return json.loads(POLICY.read_text())


@cache
def _operations(service: str) -> dict[str, str]:
    """boto3's method name -> the API operation, from botocore's own model."""
    model = botocore.session.get_session().get_service_model(service)
    return {botocore.xform_name(name): name for name in model.operation_names}


def code_actions() -> set[str]:
    """Every IAM action of a call the code in aws/ makes."""
    actions = set()
    for module, service in SERVICES.items():
        operations = _operations(service)
        for node in ast.walk(ast.parse((AWS / f"{module}.py").read_text())):
            if not isinstance(node, ast.Call):
                continue
            names = []
            if isinstance(node.func, ast.Attribute):
                names.append(node.func.attr)
                if node.func.attr == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                    names.append(node.args[0].value)
            for name in names:
                if name in operations:
                    action = f"{service}:{operations[name]}"
                    actions.add(RENAMED.get(action, action))
    return actions


def granted(document: dict) -> set[str]:
    """Every action an Allow statement names."""
    return {a for s in document["Statement"] if s["Effect"] == "Allow"
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def allows(document: dict, action: str) -> bool:
    service, _, operation = action.partition(":")
    return any(fnmatch.fnmatchcase(f"{service}:{operation}".lower(), pattern.lower())
               for pattern in granted(document))
