"""`appmod deploy-operator --print`: the operator as an ECS Fargate service (deploy.py). The task definition
runs the image's entry point with its liveness endpoint as the container health check, read-only, as the
non-root user, with the kubeconfig only as an ECS secret; the task role carries manifests/iam-policy.json
and the roles sit outside the prefix that policy lets the operator change. Bad input exits 2, named.
On the task, kubeconfig.py turns the secret into a private file, out of the environment, and kopf's login."""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import stat
from pathlib import Path

import kopf
import pytest
import yaml

from appmod_operator import cli, deploy, kubeconfig

ROOT = Path(__file__).resolve().parents[2]
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:eks-kubeconfig-AbCdEf"
ARGS = ["--region", "eu-west-1", "deploy-operator", "--print", "--image",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/appmod-operator@sha256:" + "a" * 64, "--account",
        "123456789012", "--kubeconfig-secret", SECRET, "--watch-namespace", "shop"]


def printed(capsys, args=ARGS) -> dict:
    assert cli.main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_the_task_definition_runs_the_operator_read_only_with_its_health_check(capsys):
    task = printed(capsys)["taskDefinition"]
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"
    (container,) = task["containerDefinitions"]
    assert container["command"] == ["--liveness=http://0.0.0.0:8080/healthz", "--namespace=shop"]
    assert container["healthCheck"]["command"][:2] == ["CMD", "python3"]
    assert "127.0.0.1:8080/healthz" in container["healthCheck"]["command"][-1]
    assert container["readonlyRootFilesystem"] is True and container["user"] == "10001"
    assert container["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp"}]
    assert container["secrets"] == [{"name": "APPMOD_KUBECONFIG", "valueFrom": SECRET}]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["AWS_REGION"] == "eu-west-1" and env["APPMOD_OPERATOR_IMAGE"] == container["image"]
    assert container["logConfiguration"]["options"]["awslogs-region"] == "eu-west-1"
    assert task["taskRoleArn"] == "arn:aws:iam::123456789012:role/AppModOperatorTask"


def test_the_roles_carry_the_policy_and_cannot_be_changed_by_the_operator(capsys):
    printed_ = printed(capsys)
    shipped = json.loads((ROOT / "manifests" / "iam-policy.json").read_text())
    assert printed_["taskRole"]["policyDocument"] == shipped == deploy.build_policy()
    assert (ROOT / "operator" / "appmod_operator" / "iam-policy.json").read_bytes() == (
        ROOT / "manifests" / "iam-policy.json").read_bytes()
    role_patterns = {r for s in shipped["Statement"] if any(a.startswith("iam:") for a in (
        [s["Action"]] if isinstance(s["Action"], str) else s["Action"])) for r in [s["Resource"]]}
    for role in (printed_["taskRole"], printed_["executionRole"]):
        arn = f"arn:aws:iam::123456789012:role/{role['roleName']}"
        assert not [p for p in role_patterns if fnmatch.fnmatchcase(arn, p)]
        assert role["assumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert printed_["executionRole"]["policyDocument"]["Statement"][0]["Resource"] == SECRET


def _with(option: str, value: str) -> list[str]:
    args = list(ARGS)
    args[args.index(option) + 1] = value
    return args


def test_a_secret_that_is_no_arn_exits_2_naming_it(capsys):
    assert cli.main(_with("--kubeconfig-secret", "eks-kubeconfig")) == 2
    assert "--kubeconfig-secret 'eks-kubeconfig': expected a Secrets Manager secret's ARN" in capsys.readouterr().err


def test_an_account_that_is_no_account_exits_2_naming_it(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(_with("--account", "12345"))
    assert exited.value.code == 2 and "--account: '12345': an AWS account is 12 digits" in capsys.readouterr().err


def test_the_secret_becomes_a_private_file_out_of_the_environment_and_kopfs_login(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.setattr(kubeconfig, "_written", [])
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "ecs",
                           "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:443",
                                                                   "certificate-authority-data": "Q0E="}}],
                           "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
                           "contexts": [{"name": "ecs", "context": {"cluster": "c", "user": "u"}}]})
    assert kubeconfig.use_secret_from_environment({"PATH": "/bin"}) is None and kubeconfig._written == []
    environ = {"APPMOD_KUBECONFIG": text, "PATH": "/bin"}
    path = kubeconfig.use_secret_from_environment(environ)
    assert environ == {"PATH": "/bin", "KUBECONFIG": path} and Path(path).parent == tmp_path
    assert Path(path).read_text() == text and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    monkeypatch.setenv("KUBECONFIG", path)
    info = kubeconfig.login(settings=kopf.OperatorSettings(), logger=logging.getLogger("test"))
    assert (info.server, info.token, info.ca_data) == ("https://10.0.0.1:443", "not-a-real-token", "Q0E=")
