"""Each real part of the test environment does what the tests rely on."""

from __future__ import annotations

import base64
import json
import subprocess

import boto3
import psycopg
import pytest

from tests.infra.kube import kubectl_binary
from tests.infra.process import http_status

pytestmark = pytest.mark.e2e


def test_kube_apiserver_enforces_token_auth_and_rbac(kube):
    admin = subprocess.run([kubectl_binary(), "--kubeconfig", str(kube.kubeconfig), "get", "namespaces", "-o",
                            "name"], capture_output=True, text=True)
    assert "namespace/default" in admin.stdout
    operator_config = kube.write_kubeconfig(kube.dir / "operator-kubeconfig", "appmod-operator", kube.operator_token)
    denied = subprocess.run([kubectl_binary(), "--kubeconfig", str(operator_config), "get", "configmaps"],
                            capture_output=True, text=True)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    version = subprocess.run([kubectl_binary(), "--kubeconfig", str(kube.kubeconfig), "version", "-o", "json"],
                             capture_output=True, text=True)
    assert json.loads(version.stdout)["serverVersion"]["gitVersion"] == "v1.20.2"


def test_moto_reset_forgets_resources(aws):
    ec2 = boto3.client("ec2")
    ec2.create_key_pair(KeyName="appmod-test")
    assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]] == ["appmod-test"]
    aws.reset()
    assert ec2.describe_key_pairs()["KeyPairs"] == []


def test_ecr_registry_wants_the_password_moto_hands_out(aws, ecr_registry):
    assert http_status(f"{ecr_registry.url}/v2/") == 401
    token = boto3.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    assert http_status(f"{ecr_registry.url}/v2/", f"Basic {token}") == 200
    wrong = base64.b64encode(b"AWS:not-the-token").decode()
    assert http_status(f"{ecr_registry.url}/v2/", f"Basic {wrong}") == 401


def test_source_registry_is_anonymous(source_registry):
    assert http_status(f"{source_registry.url}/v2/") == 200


def test_postgres_gives_each_test_a_fresh_database(postgres, pg_url):
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert cur.fetchone() == (0,)
        cur.execute("CREATE TABLE t (id int)")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg_url.replace(postgres.password, "wrong")).close()


def test_dockerd_pushes_to_the_ecr_registry(dockerd, aws, ecr_registry, tmp_path):
    import docker

    client = docker.DockerClient(base_url=dockerd.env()["DOCKER_HOST"])
    (tmp_path / "hello.txt").write_text("hello\n")
    subprocess.run(["tar", "-C", str(tmp_path), "-cf", str(tmp_path / "rootfs.tar"), "hello.txt"], check=True)
    with open(tmp_path / "rootfs.tar", "rb") as rootfs:
        imported = client.api.import_image_from_data(rootfs.read(), repository=f"{ecr_registry.host}/hello", tag="1")
    assert "sha256:" in imported
    password = aws.ecr_password()
    lines = list(client.images.push(f"{ecr_registry.host}/hello", tag="1", stream=True, decode=True,
                                    auth_config={"username": "AWS", "password": password}))
    assert not [line for line in lines if "error" in line], lines
    assert any("Digest" in (line.get("aux") or {}) for line in lines), lines

