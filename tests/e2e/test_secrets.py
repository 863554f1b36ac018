"""No secret leaks, end to end: runs last (the `last` mark) and greps everything the e2e tests produced for
every secret value: the database master passwords (as they appeared in moto's Secrets Manager), the registry
passwords (pull secrets, the ECR stand-in's, which is moto's ECR token) and the ECR token, in every form they
travel in. It looks in every operator log the session wrote (debug level, tracebacks included), and in what
tests/infra/produced.py kept: the events, the AppModernizations' statuses, the task definitions' container
definitions (plain environment) and the metrics text.

So that it proves something when run alone too, the module first runs a reconcile of its own with known
secrets: a private image pulled with a pull secret, its data copied with the generated password, a second
resource whose pull secret is wrong, and the metrics endpoint on."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
import yaml

from appmod_operator.registry.client import Registry
from tests import chart
from tests.conftest import SOURCE_TITLES
from tests.e2e.conftest import apply_pull_secret, aws_client, conditions, record_outputs
from tests.infra import process, produced
from tests.migration.sqlite_db import products
from tests.registry.images import layer, push_image

pytestmark = [pytest.mark.e2e, pytest.mark.last]
NAMESPACE = "secrets"  # watched by this module's operator alone: what other modules left is not reconciled again
GOOD, DENIED = "sec-good", "sec-denied"


@pytest.fixture(scope="module")
def namespace(kubectl):
    """The namespace, and the chart's service account allowed to read the pull secrets in it (as
    rbac.secretNamespaces grants in the test namespace)."""
    kubectl.run("create", "namespace", NAMESPACE)
    kubectl.run("create", "role", "pull-secrets", "-n", NAMESPACE, "--verb=get", "--resource=secrets")
    kubectl.run("create", "rolebinding", "pull-secrets", "-n", NAMESPACE, "--role=pull-secrets",
                f"--serviceaccount={chart.NAMESPACE}:{chart.SERVICE_ACCOUNT}")
    yield NAMESPACE
    kubectl.run("delete", "namespace", NAMESPACE, "--wait=false")


@pytest.fixture(scope="module")
def operator(start_operator, namespace):
    port = process.free_port()
    log = start_operator(resync_seconds=3, namespaces=(namespace,),
                         env={"APPMOD_METRICS_PORT": str(port), "APPMOD_METRICS_ADDRESS": "127.0.0.1"})
    return f"http://127.0.0.1:{port}/metrics", log


@pytest.fixture(scope="module")
def private_image(hub_registry) -> str:
    """An image with the SQLite database, on the Docker Hub stand-in where only its user may pull it."""
    with tempfile.TemporaryDirectory() as scratch:
        data = products(Path(scratch) / "db.sqlite", *SOURCE_TITLES)
    hub = Registry(hub_registry.host, side="the source registry", insecure=True,
                   credentials=(hub_registry.user, hub_registry.password))
    push_image(hub, "private/secrets", "v1", [layer({"app/sandbox/db.sqlite": data})])
    hub.close()
    return f"{hub_registry.host}/private/secrets:v1"


def pull_secret(kubectl, hub_registry, name: str, password: str) -> None:
    """A kubernetes.io/dockerconfigjson Secret for the hub stand-in, kept in produced.SECRETS."""
    apply_pull_secret(kubectl, hub_registry, name, NAMESPACE, password, f"pull secret {NAMESPACE}/{name}'s password")


def run_own_reconcile(kubectl, hub_registry, local_example, private_image) -> dict:
    """sec-good to Ready with the right pull secret, sec-denied to Stalled with a wrong one; sec-good's status."""
    pull_secret(kubectl, hub_registry, "hub", hub_registry.password)
    pull_secret(kubectl, hub_registry, "hub-wrong", "wrong-" + os.urandom(8).hex())
    for name, secret in ((GOOD, "hub"), (DENIED, "hub-wrong")):
        body = local_example("minimal.yaml", name)
        body["spec"]["source"].update(image=private_image, imagePullSecret=secret)
        body["spec"]["database"] = {"masterUsername": name.replace("-", "_")}
        kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))
    for name, condition in ((GOOD, "Ready"), (DENIED, "Stalled")):
        kubectl.run("wait", "-n", NAMESPACE, f"--for=condition={condition}=True", f"appmod/{name}", "--timeout=300s",
                    timeout=330)
    return kubectl.get("appmod", GOOD, "-n", NAMESPACE)


def test_no_secret_appears_in_anything_the_run_produced(kubectl, operator, moto_server, hub_registry, local_example,
                                                        private_image):
    metrics_url, log = operator
    good = run_own_reconcile(kubectl, hub_registry, local_example, private_image)
    assert good["status"]["migration"]["data"]["rows"] == len(SOURCE_TITLES)  # the password was used
    assert "RegistryAccessDenied" in conditions(kubectl.get("appmod", DENIED, "-n", NAMESPACE))["Stalled"]["reason"]
    arn = good["status"]["database"]["secretArn"]
    value = json.loads(aws_client(moto_server, "secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    produced.secret(f"database password of {GOOD}", value["password"])
    ecr_password = moto_server.ecr_password()
    produced.registry_secret("the ECR registry's password (moto's ECR token)", "AWS", ecr_password)
    token = aws_client(moto_server, "ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    produced.secret("the ECR authorization token", token)
    produced.registry_secret("the Docker Hub stand-in's password", hub_registry.user, hub_registry.password)
    record_outputs(kubectl, moto_server, metrics_url)

    sources = {str(p): p.read_bytes() for p in produced.LOGS if p.exists()}
    sources.update({what: text.encode() for what, text in produced.SNAPSHOTS.items()})
    assert log.stat().st_size > 0 and str(log) in sources
    # The grep reaches what it should: the status of sec-good, its task definition and the metrics are in there.
    assert any(arn.encode() in text for what, text in sources.items() if what.startswith("AppModernizations"))
    assert any(what.startswith("task definition") and good["status"]["service"]["taskDefinitionArn"] in what
               for what in sources)
    assert any(what.startswith(f"metrics {metrics_url}") and b"appmod_reconciles_total" in text
               for what, text in sources.items())
    print(f"grepped {sum(len(t) for t in sources.values()):,} bytes: {len(produced.LOGS)} operator logs, "
          f"{len(produced.SNAPSHOTS)} snapshots (events, statuses, task definitions, metrics) for "
          f"{len(produced.SECRETS)} secret values ({len({w.split(',')[0] for w in produced.SECRETS.values()})} "
          "secrets, with their encoded forms)")
    for value, what in produced.SECRETS.items():
        assert len(value) >= 8, what  # a short value would match by chance, and prove nothing
    found = [f"{what} in {where}" for value, what in produced.SECRETS.items()
             for where, text in sources.items() if value.encode() in text]
    assert not found, found
