"""The fault proxy (faults.py) answers as AWS and a registry would: botocore reads its throttling errors as
throttling in both protocols (query/XML and JSON), its rules as the terminal error they name, and a
registry client gets 429 TOOMANYREQUESTS; what it forwards arrives unchanged, and it counts per operation."""

from __future__ import annotations

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from tests.infra.faults import FaultProxy, Rule
from tests.infra.moto import REGION

pytestmark = pytest.mark.e2e
ONE_TRY = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def proxy(moto_server):
    started = FaultProxy(moto_server.url, seed=7).start()
    yield started
    started.stop()


def client(service: str, url: str, config=ONE_TRY):
    return boto3.client(service, endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=config)


def error_of(call) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value


def test_throttling_in_both_protocols_and_forwarding(proxy):
    rds, ecs = client("rds", proxy.url), client("ecs", proxy.url)
    assert rds.describe_db_clusters()["DBClusters"] is not None  # rate 0: forwarded
    proxy.rate, proxy.kinds = 1.0, ("throttle",)
    xml = error_of(rds.describe_db_clusters)
    json_ = error_of(ecs.list_clusters)
    assert xml.response["Error"]["Code"] == "Throttling" and xml.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert json_.response["Error"]["Code"] == "ThrottlingException"
    print(proxy.report("proxy"))
    assert proxy.calls() == {"DescribeDBClusters": 2, "ListClusters": 1}
    assert proxy.faults() == {"throttle": 2}


def test_botocore_retries_through_500s_and_dropped_connections(proxy):
    proxy.rate, proxy.kinds = 0.5, ("500", "drop")
    retried = client("secretsmanager", proxy.url, botocore.config.Config(retries={"mode": "standard",
                                                                                  "total_max_attempts": 20}))
    for _ in range(5):
        retried.list_secrets()
    print(proxy.report("proxy"))
    assert proxy.calls()["ListSecrets"] > 5 and proxy.faults().keys() <= {"500", "drop"}
    assert proxy.faults_by_operation()["ListSecrets"]["forwarded"] == 5


def test_a_lost_answer_reaches_the_target_but_not_the_client(proxy):
    proxy.rate, proxy.kinds = 1.0, ("lost",)
    logs = client("logs", proxy.url)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        logs.create_log_group(logGroupName="/fault-proxy/lost")
    proxy.rate = 0.0
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/fault-proxy/")["logGroups"]] == [
        "/fault-proxy/lost"]
    assert proxy.succeeded()["CreateLogGroup"] == 1 and proxy.faults() == {"lost": 1}
    logs.delete_log_group(logGroupName="/fault-proxy/lost")


def test_a_rule_answers_its_request_with_a_terminal_error(proxy):
    proxy.rules.append(Rule("CreateDBSubnetGroup", "DBSubnetGroupName=refused", "AccessDenied", "not allowed"))
    rds = client("rds", proxy.url)
    refused = error_of(lambda: rds.create_db_subnet_group(DBSubnetGroupName="refused", DBSubnetGroupDescription="x",
                                                          SubnetIds=["subnet-1"]))
    assert (refused.response["Error"]["Code"], refused.response["Error"]["Message"]) == ("AccessDenied", "not allowed")
    assert proxy.calls(containing="DBSubnetGroupName=refused") == {"CreateDBSubnetGroup": 1}
    assert proxy.faults() == {"rule": 1}


def test_a_registry_gets_429_toomanyrequests(ecr_registry):
    proxy = FaultProxy(ecr_registry.url, registry=True).start()
    try:
        assert requests.get(f"{proxy.url}/v2/", timeout=10).status_code == 401  # forwarded: htpasswd's challenge
        proxy.rate, proxy.kinds = 1.0, ("throttle",)
        answer = requests.get(f"{proxy.url}/v2/some/repo/manifests/latest", timeout=10)
        assert answer.status_code == 429 and answer.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
        assert proxy.calls() == {"GET /v2/": 1, "GET manifests": 1}
    finally:
        proxy.stop()
