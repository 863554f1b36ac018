"""AWS and ECR failing under the operator (issue 16, "Faults"): the operator's AWS endpoint and its ECR
registry are fault proxies (tests/infra/faults.py) in front of moto and the ECR stand-in, answering a seeded
20% of requests with throttling, 500s, dropped connections and slow answers. The resource still reaches
Ready, AWS holds one of each of its resources, the calls stay bounded (printed per operation), and the
conditions say the retries while they happen. A terminal refusal (the proxy's rule) stalls the resource with
AWS's words and then costs no AWS call until the spec changes; fixing the spec clears it."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
import yaml

from appmod_operator.names import Owner
from tests.e2e.conftest import ECS_CLUSTER, aws_client, conditions
from tests.e2e.kubectl import wait_for
from tests.infra.faults import KINDS, FaultProxy, Rule
from tests.infra.kube import kubectl_binary

pytestmark = pytest.mark.e2e
# A namespace of its own, watched by this module's operator alone: resources other modules left behind make
# no call through these proxies.
NAMESPACE = "faults"
# Faults are drawn per operation (faults.py), so each seed gives every run the same fates. With this one
# the first blob upload to ECR fails with a 500 (a registry client retries only reads, so the copy itself
# fails and is retried by the image step: a retry the conditions can show; botocore's retries of AWS calls
# are over within a call), and the answers to the first RegisterTaskDefinition, CreateSecret and
# CreateRepository are lost after AWS did the work (kind `lost`, on the AWS side only), so botocore sends
# each again.
RESYNC, RATE, SEED = 5, 0.2, 28527
AWS_KINDS = (*KINDS, "lost")
# The creates that must succeed in AWS at most once: moto overwrites some duplicates silently, so their count
# at the proxy (answered 2xx by moto) is the proof that none was made twice. Not among them: CreateSecret,
# idempotent by its ClientRequestToken (botocore fills it and keeps it across retries, so a retry after a
# lost answer succeeds again on the same secret), and RegisterTaskDefinition, not idempotent at all (a lost
# answer's retry makes a second revision): for both, what moto holds is counted instead.
ONCE = ("CreateDBCluster", "CreateDBInstance", "CreateDBSubnetGroup", "CreateRepository", "CreateService",
        "CreateRole", "CreateLogGroup")
# The bound on AWS calls from apply to Ready, and per operation: a tight retry loop would blow through both.
MOST_CALLS, MOST_PER_OPERATION = 250, 30
STEADY_CALLS_PER_TICK = 12  # once Ready: a read or so per step, and botocore's retries of the faulted ones


@pytest.fixture(scope="module")
def proxies(moto_server, ecr_registry):
    aws = FaultProxy(moto_server.url, seed=SEED, kinds=AWS_KINDS).start()
    ecr = FaultProxy(ecr_registry.url, seed=SEED, registry=True).start()
    yield aws, ecr
    print(aws.report("AWS proxy, whole module"))
    print(ecr.report("ECR proxy, whole module"))
    aws.stop()
    ecr.stop()


@pytest.fixture(scope="module")
def operator(kubectl, proxies, start_operator, operator_registries_env):
    # `proxies` before `start_operator`: set up first, torn down last, after the operator has stopped.
    aws, ecr = proxies
    kubectl.run("create", "namespace", NAMESPACE)
    insecure = f"{operator_registries_env['APPMOD_INSECURE_REGISTRIES']},{ecr.host}"
    yield start_operator(resync_seconds=RESYNC, namespaces=(NAMESPACE,), env={
        "AWS_ENDPOINT_URL": aws.url, "APPMOD_ECR_REGISTRY": ecr.url, "APPMOD_INSECURE_REGISTRIES": insecure})
    kubectl.run("delete", "namespace", NAMESPACE, "--wait=false")


def get(kubectl, name: str) -> dict:
    return kubectl.get("appmodernization", name, "-n", NAMESPACE)


def apply(kubectl, body: dict) -> None:
    kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(body))


def wait_condition(kubectl, name: str, condition: str, timeout: float) -> dict:
    kubectl.run("wait", "-n", NAMESPACE, f"--for=condition={condition}=True", f"appmod/{name}",
                f"--timeout={int(timeout)}s", timeout=timeout + 30)
    return get(kubectl, name)


class Watcher:
    """Watches the resource (`kubectl get --watch`, so no version of its status is missed, however short-lived)
    while it converges, and keeps every distinct condition message that mentions a retry."""

    def __init__(self, kubectl, name: str):
        self.retries: list[tuple[str, str, str]] = []
        self.versions = 0
        self._proc = subprocess.Popen(
            [kubectl_binary(), "--kubeconfig", str(kubectl.kubeconfig), "get", "appmod", "-n", NAMESPACE,
             "--field-selector", f"metadata.name={name}", "--watch", "-o", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        time.sleep(1)  # the last versions on their way
        self._proc.terminate()
        self._proc.wait(30)
        self._thread.join(30)

    def _read(self) -> None:
        decoder, buffer = json.JSONDecoder(), ""
        for line in self._proc.stdout:
            buffer += line
            try:
                version, end = decoder.raw_decode(buffer.lstrip())
            except json.JSONDecodeError:
                continue  # the object goes on in the next lines
            buffer = buffer.lstrip()[end:]
            self.versions += 1
            for c in (version.get("status") or {}).get("conditions") or ():
                said = (c["type"], c.get("reason", ""), c.get("message", ""))
                if "retrying" in said[2] and said not in self.retries:
                    self.retries.append(said)


def delete(kubectl, name: str) -> None:
    """Deletes the resource and waits until its finalizer is released (the teardown done)."""
    kubectl.run("delete", "appmod", name, "-n", NAMESPACE, "--wait=true", "--timeout=300s", timeout=330)


def own(items, prefix: str, key: str) -> list:
    return [i for i in items if i[key].startswith(prefix)]


def aws_resources(moto_server, who: Owner) -> dict[str, list]:
    """What moto holds of the resource `who`, read behind the proxies' backs."""
    rds, ecr, ecs = (aws_client(moto_server, s) for s in ("rds", "ecr", "ecs"))
    secrets, ec2 = aws_client(moto_server, "secretsmanager"), aws_client(moto_server, "ec2")
    family = who.task_family
    definitions = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    services = ecs.describe_services(cluster=ECS_CLUSTER, services=[family])["services"] if ecs.describe_clusters(
        clusters=[ECS_CLUSTER])["clusters"] else []
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{who.base}-*"]}])
    return {
        "clusters": own(rds.describe_db_clusters()["DBClusters"], who.cluster_identifier, "DBClusterIdentifier"),
        "instances": own(rds.describe_db_instances()["DBInstances"], who.base, "DBInstanceIdentifier"),
        "secrets": [s for s in secrets.list_secrets()["SecretList"] if s["Name"] == who.secret_name],
        "repositories": own(ecr.describe_repositories()["repositories"], f"{who.namespace}-{who.name}",
                            "repositoryName"),
        "services": [s["serviceArn"] for s in services if s["status"] == "ACTIVE"],  # a deleted one lingers
        "task definitions": [d for d in definitions if d.split("/")[-1].rsplit(":", 1)[0] == family],
        "security groups": groups["SecurityGroups"],
    }


def test_ready_at_20_percent_faults_with_one_of_each_and_bounded_calls(kubectl, operator, proxies, moto_server,
                                                                       local_example):
    aws, ecr = proxies
    aws.rate = ecr.rate = RATE
    name = "flaky"
    who = Owner(NAMESPACE, name, "")
    body = local_example("minimal.yaml", name)
    body["spec"]["deletionPolicy"] = "Delete"
    started, mark, ecr_mark = time.monotonic(), aws.mark(), ecr.mark()
    with Watcher(kubectl, name) as watcher:
        apply(kubectl, body)
        ready = wait_condition(kubectl, name, "Ready", timeout=600)
    took = time.monotonic() - started
    calls = aws.calls(mark)
    print(f"Ready after {took:.0f}s at {RATE:.0%} faults (seed {SEED})")
    print(aws.report("AWS calls, apply to Ready", mark))
    print(ecr.report("ECR registry requests, apply to Ready", ecr_mark))
    print(f"retries said in the conditions ({watcher.versions} versions of the resource watched):",
          *(f"  {t} {r}: {m}" for t, r, m in watcher.retries), sep="\n")

    # Faults of each kind were injected, on both sides, and it still converged.
    assert aws.faults(mark) and ecr.faults(ecr_mark), "no fault on one side"
    assert set(aws.faults(mark)) | set(ecr.faults(ecr_mark)) >= set(KINDS)
    assert aws.faults_by_operation(mark)["RegisterTaskDefinition"]["lost"] == 1
    status = ready["status"]
    assert status["phase"] == "Ready" and status["image"]["digest"] == status["image"]["sourceDigest"]

    # One of each in AWS: moto's own view, and each create reached moto (2xx) once.
    held = aws_resources(moto_server, who)
    print("in moto:", {k: len(v) for k, v in held.items()})
    assert {k: len(v) for k, v in held.items()} == {
        "clusters": 1, "instances": 1, "secrets": 1, "repositories": 1, "services": 1, "task definitions": 1,
        "security groups": 2}, held
    assert held["task definitions"] == [status["service"]["taskDefinitionArn"]]
    made = aws.succeeded(mark)
    print("creates answered 2xx by moto:", {op: made[op] for op in ONCE})
    assert all(made[op] <= 1 for op in ONCE) and made["CreateDBCluster"] == made["CreateService"] == 1, made

    # No tight retry loop: bounded in total and per operation.
    assert sum(calls.values()) <= MOST_CALLS and max(calls.values()) <= MOST_PER_OPERATION, calls

    # The retries were said while they happened (engine._Pass.retrying and the image step: "...; retrying").
    assert watcher.retries, "no condition message mentioned a retry"

    # At rest, the resync's calls stay few per tick.
    steady = aws.mark()
    time.sleep(RESYNC * 3)
    at_rest = aws.calls(steady)
    print(f"calls over {RESYNC * 3}s at rest (resync every {RESYNC}s): {sum(at_rest.values())} {dict(at_rest)}")
    assert sum(at_rest.values()) <= 4 * STEADY_CALLS_PER_TICK, at_rest

    # Deleted under the same faults, it leaves nothing behind.
    delete(kubectl, name)
    left = aws_resources(moto_server, who)
    print("in moto after the delete:", {k: len(v) for k, v in left.items()})
    assert left["clusters"] == left["instances"] == left["repositories"] == left["services"] == []


def test_a_terminal_refusal_stalls_with_awss_words_and_stops_calling_until_the_spec_changes(
        kubectl, operator, proxies, local_example):
    aws, _ = proxies
    name = "refused"
    who = Owner(NAMESPACE, name, "")
    refusal = "Cannot find version 16.9 for aurora-postgresql"
    # AWS's answer to an engine version it does not have; only this resource asks for 16.9.
    aws.rules.append(Rule("CreateDBCluster", "EngineVersion=16.9", "InvalidParameterCombination", refusal))
    body = local_example("minimal.yaml", name)
    body["spec"]["deletionPolicy"] = "Delete"
    body["spec"].setdefault("database", {})["engineVersion"] = "16.9"
    apply(kubectl, body)
    stalled = conditions(wait_condition(kubectl, name, "Stalled", timeout=300))["Stalled"]
    print("Stalled:", stalled)
    assert stalled["reason"] == "AwsRequestRejected"
    assert stalled["message"] == f"rds.CreateDBCluster: InvalidParameterCombination: {refusal}"

    # Over four resync ticks: no call naming this resource, and none at all when it is alone in the namespace.
    time.sleep(RESYNC)  # a pass already under way when Stalled was written
    mark = aws.mark()
    time.sleep(RESYNC * 4)
    mine = [s for s in aws.since(mark) if who.base in s.text or who.secret_name in s.text]
    ticks = operator.read_text().count(f"{NAMESPACE}/{name}: stalled on AWS's refusal at generation 1; not resynced")
    print(f"calls over {RESYNC * 4}s while stalled ({ticks} resync ticks skipped): naming {who.base}: {len(mine)}, "
          f"all: {dict(aws.calls(mark))}")
    assert mine == [] and ticks >= 3
    names = [i["metadata"]["name"] for i in kubectl.get("appmod", "-n", NAMESPACE)["items"]]
    if names == [name]:
        assert aws.calls(mark) == {}

    # The fix: a spec that the rule no longer matches. Stalled clears by itself.
    body["spec"]["database"]["engineVersion"] = "16.4"
    apply(kubectl, body)
    wait_for(lambda: conditions(get(kubectl, name))["Stalled"]["status"] == "False", "Stalled to clear", timeout=120)
    print("after the fix:", {t: (c["status"], c["reason"]) for t, c in conditions(get(kubectl, name)).items()})
    wait_for(lambda: aws.succeeded(mark)["CreateDBCluster"] == 1, "the fixed spec's cluster created", timeout=120)
    delete(kubectl, name)
