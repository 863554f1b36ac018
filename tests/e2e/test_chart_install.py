"""The chart installed with Helm 4 in process (helm-python-sdk) into the real kube-apiserver, as
`helm install` does it (server-side apply): every object is accepted, the release is deployed, and its
NOTES say the next command. Its own release and namespace, beside the chart RBAC the other e2e tests'
operators run under (conftest.py). No kubelet runs here, so no pod starts."""

from __future__ import annotations

import helm_python as helm
import pytest

from tests import chart

pytestmark = pytest.mark.e2e

RELEASE = "chart-test"
NAMESPACE = "appmod-chart-test"
VALUES = {"watchNamespaces": ["chart-test-apps"], "rbac": {"secretNamespaces": ["chart-test-apps"]},
          "serviceAccount": {"roleArn": "arn:aws:iam::123456789012:role/appmod-operator"}}


@pytest.fixture
def helm_config(kube, kubectl):
    kubectl.run("create", "namespace", "chart-test-apps")
    config = helm.Config(kubeconfig_path=str(kube.kubeconfig), namespace=NAMESPACE)
    yield config
    config.uninstall(RELEASE, timeout=60)
    kubectl.run("delete", "namespace", NAMESPACE, "chart-test-apps", "--wait=false")


def test_the_chart_installs_and_the_api_server_accepts_every_object(helm_config, kubectl):
    release = helm_config.install(chart.CHART, RELEASE, VALUES, namespace=NAMESPACE, create_namespace=True, timeout=60)
    assert release["status"] == "deployed" and "kubectl apply -n shop -f examples/oscar.yaml" in release["notes"]
    name = f"{RELEASE}-appmod-operator"
    deployment = kubectl.get("deployment", name, "-n", NAMESPACE)
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == name
    account = kubectl.get("serviceaccount", name, "-n", NAMESPACE)
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/appmod-operator")
    assert kubectl.get("rolebinding", name, "-n", "chart-test-apps")["roleRef"]["name"] == name
    assert kubectl.get("role", f"{name}-pull-secrets", "-n", "chart-test-apps")["rules"][0]["resources"] == ["secrets"]
    assert kubectl.get("service", f"{name}-metrics", "-n", NAMESPACE)["spec"]["ports"][0]["port"] == 9090
    can = kubectl.run("auth", "can-i", "get", "secrets", "-n", "default",
                      f"--as=system:serviceaccount:{NAMESPACE}:{name}", check=False)
    assert can.stdout.strip() == "no"  # Secrets only where pull secrets live
