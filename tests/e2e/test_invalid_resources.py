"""The corpus of invalid resources (tests/e2e/invalid/corpus.yaml) sent to the real kube-apiserver: each is
refused by the API server with a message naming the field, or accepted and then reported Stalled by the
operator with a message naming the field; either way nothing is made in AWS. Unknown fields: the 1.20 API
server prunes them silently, and `appmod validate` warns about them."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import NAMESPACE, aws_client, condition_is, conditions, example, owner

pytestmark = pytest.mark.e2e
CORPUS = yaml.safe_load((Path(__file__).parent / "invalid" / "corpus.yaml").read_text())
REFUSED = [c for c in CORPUS if c["by"] == "apiserver"]
STALLED = [c for c in CORPUS if c["by"] == "operator"]


def build(case: dict, image: str | None = None) -> dict:
    """examples/oscar.yaml with the case's changes, named after the case."""
    body = example("oscar.yaml")
    body["metadata"]["name"] = f"bad-{case['name']}"
    if image:
        body["spec"]["source"]["image"] = image
        body["spec"]["migration"]["data"]["runner"] = "Operator"
    for path, value in (case.get("set") or {}).items():
        *parents, last = path.split(".")
        node = body
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = copy.deepcopy(value)
    for path in case.get("delete") or ():
        *parents, last = path.split(".")
        node = body
        for part in parents:
            node = node[part]
        del node[last]
    return body


def create(kubectl, body: dict, check: bool = True):
    """`kubectl create`, with kubectl's own client-side checks off: the API server is what decides."""
    return kubectl.run("create", "--validate=false", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body),
                       check=check)


def test_the_corpus_is_large_and_each_case_distinct():
    assert len(CORPUS) >= 30 and len({c["name"] for c in CORPUS}) == len(CORPUS)
    print(f"invalid resources: {len(REFUSED)} refused by the API server, {len(STALLED)} by the operator")


@pytest.mark.parametrize("case", REFUSED, ids=[c["name"] for c in REFUSED])
def test_the_api_server_refuses_it_naming_the_field(kubectl, case):
    made = create(kubectl, build(case), check=False)
    assert made.returncode != 0, f"accepted: {case}"
    assert case["field"] in made.stderr, made.stderr


@pytest.fixture(scope="module")
def operator(start_operator):
    return start_operator(resync_seconds=3600)


@pytest.mark.parametrize("case", STALLED, ids=[c["name"] for c in STALLED])
def test_the_operator_stalls_it_naming_the_field_and_makes_nothing(kubectl, operator, moto_server, source_image,
                                                                     case):
    body = build(case, source_image)
    name = body["metadata"]["name"]
    create(kubectl, body)
    try:
        stalled = conditions(condition_is(kubectl, name, "Stalled"))["Stalled"]
        assert stalled["reason"] == "InvalidSpec" and stalled["message"].startswith(case["field"] + ":"), stalled
        made = owner(name)
        rds, ecr = aws_client(moto_server, "rds", "us-east-2"), aws_client(moto_server, "ecr", "us-east-2")
        assert not [c for c in rds.describe_db_clusters()["DBClusters"]
                    if c["DBClusterIdentifier"] == made.cluster_identifier]
        assert not [r for r in ecr.describe_repositories()["repositories"] if r["repositoryName"] == f"shop-{name}"]
    finally:
        kubectl.run("delete", "appmod", name, "-n", NAMESPACE, "--wait=true", "--timeout=60s")


def test_unknown_fields_are_pruned_by_the_api_server_and_warned_about_by_validate(kubectl, tmp_path):
    body = build({"name": "unknown-fields"})
    body["spec"]["replicas"] = 2
    body["spec"]["service"]["port"] = 80
    create(kubectl, body)
    try:
        stored = kubectl.get("appmod", "bad-unknown-fields", "-n", NAMESPACE)["spec"]
        assert "replicas" not in stored and "port" not in stored["service"]  # silently gone
    finally:
        kubectl.run("delete", "appmod", "bad-unknown-fields", "-n", NAMESPACE, "--wait=true", "--timeout=60s")
    path = tmp_path / "unknown.yaml"
    path.write_text(yaml.safe_dump(body))
    checked = subprocess.run(["appmod", "validate", str(path), "-n", NAMESPACE], capture_output=True, text=True)
    assert "spec.replicas" in checked.stderr and "spec.service.port" in checked.stderr, checked.stderr
