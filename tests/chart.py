"""The Helm chart (charts/appmod-operator/) rendered for the tests with Helm 4 in process
(helm-python-sdk), released as manifests/ is: `appmod-operator` in `appmod-system`. Used by
tests/unit/test_chart.py and the e2e fixtures, which run the operator under the chart's ServiceAccount."""

from __future__ import annotations

from pathlib import Path

import helm_python as helm
import yaml

CHART = Path(__file__).resolve().parents[1] / "charts" / "appmod-operator"
RELEASE, NAMESPACE = "appmod-operator", "appmod-system"
SERVICE_ACCOUNT = "appmod-operator"  # the release's full name


def render(values: dict | None = None) -> dict[str, str]:
    """Template file name (deployment.yaml, rbac.yaml, ...) -> the rendered text."""
    rendered = helm.Chart.load(CHART).render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return {path.rsplit("/", 1)[1]: text for path, text in rendered.items()}


def documents(values: dict | None = None) -> list[dict]:
    """Every object the chart makes, in template order."""
    return [d for name, text in sorted(render(values).items()) if name.endswith(".yaml")
            for d in yaml.safe_load_all(text) if d]


def rbac(values: dict | None = None) -> str:
    """The ServiceAccount and the RBAC, as one multi-document YAML for kubectl apply."""
    rendered = render(values)
    return "\n---\n".join(rendered[name] for name in ("serviceaccount.yaml", "rbac.yaml"))
