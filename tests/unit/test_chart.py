"""The Helm chart charts/appmod-operator/ with Helm 4 in process (helm-python-sdk): `lint --strict`, its
CRD the same as crds/, rendered with default and with custom values into what a platform team needs
(the security context, least-privilege RBAC, namespace scoping, IRSA, metrics), its values schema
refusing bad values by name, and manifests/ current with it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import helm_python as helm
import pytest
import yaml

from tests import chart

ROOT = Path(__file__).resolve().parents[2]
CHART = chart.CHART


render = chart.documents


def kinds(documents: list[dict], kind: str) -> list[dict]:
    return [d for d in documents if d["kind"] == kind]


def container(documents: list[dict]) -> dict:
    (deployment,) = kinds(documents, "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_lint_strict_finds_nothing_worse_than_advice():
    report = helm.lint(CHART, strict=True)
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == [], report


def test_the_charts_crd_is_the_repositorys_and_its_version_the_packages():
    crd = "appmodernization.yaml"
    assert (CHART / "crds" / crd).read_bytes() == (ROOT / "crds" / crd).read_bytes()
    package = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    metadata = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert metadata["version"] == metadata["appVersion"] == package


def test_defaults_render_a_locked_down_single_replica_watching_everything():
    documents = render()
    (deployment,) = kinds(documents, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"] == {
        "type": "RuntimeDefault"}
    operator = container(documents)
    assert operator["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                           "capabilities": {"drop": ["ALL"]}}
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {p["name"] for p in operator["ports"]} == {"health", "metrics"}
    assert operator["resources"]["requests"] and operator["resources"]["limits"]["memory"]
    env = {e["name"]: e.get("value") for e in operator["env"]}
    assert env["TMPDIR"] == "/tmp" and env["APPMOD_OPERATOR_IMAGE"] == operator["image"] == "appmod-operator:0.1.0"
    assert not [a for a in operator["args"] if a.startswith("--namespace")]
    assert {b["roleRef"]["name"] for b in kinds(documents, "ClusterRoleBinding")} == {
        "appmod-operator", "appmod-operator-discovery"}
    assert kinds(documents, "ServiceMonitor") == [] and kinds(documents, "Role") == []


def test_no_role_reads_secrets_beyond_the_namespaces_named_for_pull_secrets():
    def secret_rules(documents):
        return {(d["kind"], d["metadata"].get("namespace")) for d in documents if d["kind"] in ("Role", "ClusterRole")
                for rule in d["rules"] if "secrets" in rule["resources"]}
    assert secret_rules(render()) == set()
    named = render({"rbac": {"secretNamespaces": ["shop"]}})
    assert secret_rules(named) == {("Role", "shop")}
    assert all(rule["verbs"] == ["get"] for d in kinds(named, "Role") for rule in d["rules"])


def test_custom_values_scope_the_operator_and_wire_aws_and_metrics():
    documents = render({
        "watchNamespaces": ["shop", "seed"], "region": "eu-west-1", "log": {"level": "debug", "format": "text"},
        "aws": {"endpointUrl": "http://aws.internal:4566", "serviceEndpoints": {"RDS": "https://rds.internal"}},
        "serviceAccount": {"roleArn": "arn:aws:iam::123456789012:role/appmod-operator"},
        "image": {"repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/appmod", "tag": "1.2.3"},
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}]})
    operator = container(documents)
    assert [a for a in operator["args"] if a.startswith("--namespace")] == ["--namespace=shop", "--namespace=seed"]
    env = {e["name"]: e.get("value") for e in operator["env"]}
    assert (env["AWS_REGION"], env["APPMOD_LOG_LEVEL"], env["APPMOD_LOG_FORMAT"]) == ("eu-west-1", "debug", "text")
    assert env["AWS_ENDPOINT_URL"] == "http://aws.internal:4566" and env["AWS_ENDPOINT_URL_RDS"] == "https://rds.internal"
    assert env["HTTPS_PROXY"] == "http://proxy:3128"
    assert operator["image"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/appmod:1.2.3"
    (account,) = kinds(documents, "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/appmod-operator"}
    # Namespaced: the resources' rules bound in each watched namespace only; no cluster-wide namespaces watch.
    assert {(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in kinds(documents, "RoleBinding")} == {
        ("shop", "appmod-operator"), ("seed", "appmod-operator")}
    assert {b["roleRef"]["name"] for b in kinds(documents, "ClusterRoleBinding")} == {"appmod-operator-discovery"}
    discovery = next(d for d in kinds(documents, "ClusterRole") if d["metadata"]["name"].endswith("-discovery"))
    assert [r["resources"] for r in discovery["rules"]] == [["customresourcedefinitions"]]
    (monitor,) = kinds(documents, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"


@pytest.mark.parametrize(("values", "named"), [
    ({"log": {"level": "loud"}}, "/log/level"),
    ({"region": "Mars"}, "/region"),
    ({"image": {"repository": "x", "digest": "latest"}}, "/image/digest"),
    ({"watchNamespaces": ["Not_A_Namespace"]}, "/watchNamespaces/0"),
    ({"resyncSeconds": 0}, "/resyncSeconds"),
    ({"serviceAccount": {"roleArn": "appmod-operator"}}, "/serviceAccount/roleArn"),
    ({"aws": {"serviceEndpoints": {"rds": "https://x"}}}, "'rds' does not match"),
    ({"replicas": 2}, "replicas"),
])
def test_the_values_schema_refuses_bad_values_by_name(values, named):
    with pytest.raises(helm.HelmValuesError, match=named):
        render(values)


def test_manifests_are_current_with_the_chart():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_manifests.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    kustomization = yaml.safe_load((ROOT / "manifests" / "kustomization.yaml").read_text())
    assert all((ROOT / "manifests" / r).is_file() for r in kustomization["resources"])
