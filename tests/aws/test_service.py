"""The service step on moto: the whole creation, Fargate sizes checked before any AWS call, the image by
digest, the database URL from Secrets Manager, revisions only on change, drift of each kind put right
with a correction, stability and the endpoint, and the AWS read budget of a steady resync (its teardown is in
test_teardown.py)."""

from __future__ import annotations

import json

from appmod_operator.aws import clients
from appmod_operator.reconcile import engine, jobs
from tests.aws.conftest import OWNER, body

SERVICE = OWNER.task_family
CLUSTER = "appmod"


def conditions(status: dict) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def app_body(**service) -> dict:
    resource = body()
    resource["spec"]["service"] = {"desiredCount": 1, **service}
    return resource


def run(resource: dict, passes: int = 1):
    """Passes as kopf makes them, each after the copies the one before started have finished."""
    for _ in range(passes):
        jobs.wait(120)
        result = engine.reconcile(resource)
        resource["status"] = result.status
    return result


def settle(resource: dict):
    """Two passes make everything (the cluster is `creating` on the first); moto reports one task running
    for a new service (tests/infra/moto.py), so a service of 1 is stable."""
    return run(resource, 2)


def described_service(boto) -> dict:
    return boto("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]


def task_definition(boto, arn: str) -> dict:
    return boto("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]


def test_a_service_still_rolling_out_is_not_stable(boto):
    result = run(app_body(desiredCount=2), 2)
    assert conditions(result.status)["ServiceStable"] == ("False", "RollingOut") and result.retry_after == 1
    assert result.status["service"]["runningCount"] == 1 and result.status["phase"] == "Deploying"


def test_the_whole_service_is_created(boto):
    sent = []  # moto does not describe deploymentConfiguration back, so the request is looked at
    clients.client("ecs", None).meta.events.register("provide-client-params.ecs.CreateService",
                                                     lambda params, **_: sent.append(params))
    resource = app_body(env=[{"name": "DJANGO_SETTINGS_MODULE", "value": "settings"}])
    result = run(resource, 2)
    assert conditions(result.status)["ServiceStable"] == ("True", "Stable") and result.retry_after is None
    cluster = boto("ecs").describe_clusters(clusters=[CLUSTER])["clusters"][0]
    assert cluster["status"] == "ACTIVE" and set(cluster["capacityProviders"]) == {"FARGATE", "FARGATE_SPOT"}
    service = described_service(boto)
    assert (service["launchType"], service["desiredCount"]) == ("FARGATE", 1)
    assert sent[0]["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    network = service["networkConfiguration"]["awsvpcConfiguration"]
    assert network["assignPublicIp"] == "ENABLED" and network["subnets"]
    group = boto("ec2").describe_security_groups(GroupIds=network["securityGroups"])["SecurityGroups"][0]
    assert group["GroupName"] == OWNER.service_security_group_name
    assert any(p["FromPort"] == 8080 and {"CidrIp": "0.0.0.0/0"}.items() <= p["IpRanges"][0].items()
               for p in group["IpPermissions"])
    definition = task_definition(boto, service["taskDefinition"])
    assert (definition["family"], definition["networkMode"], definition["cpu"], definition["memory"]) == (
        SERVICE, "awsvpc", "512", "1024")
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    role = boto("iam").get_role(RoleName=OWNER.execution_role_name)["Role"]
    assert definition["executionRoleArn"] == role["Arn"]
    container = definition["containerDefinitions"][0]
    image = result.status["image"]
    assert container["image"] == f"{image['repositoryUri']}@{image['digest']}"  # by digest, never a tag
    assert container["portMappings"][0]["containerPort"] == 8080
    assert container["environment"] == [{"name": "DJANGO_SETTINGS_MODULE", "value": "settings"}]
    secret_arn = result.status["database"]["secretArn"]
    assert container["secrets"] == [{"name": "DATABASE_URL", "valueFrom": f"{secret_arn}:url::"}]
    assert container["logConfiguration"]["options"]["awslogs-group"] == OWNER.log_group_name
    password = json.loads(boto("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])["password"]
    assert password not in json.dumps(definition, default=str)  # the URL comes from the secret at start


def public_task(boto) -> str:
    """A running task of the service with a public IP, as ECS would start it (moto starts none)."""
    service = described_service(boto)
    task = boto("ecs").run_task(cluster=CLUSTER, taskDefinition=service["taskDefinition"], group=f"service:{SERVICE}",
                                launchType="FARGATE", networkConfiguration=service["networkConfiguration"])["tasks"][0]
    eni = next(d["value"] for d in task["attachments"][0]["details"] if d["name"] == "networkInterfaceId")
    address = boto("ec2").allocate_address(Domain="vpc")
    boto("ec2").associate_address(AllocationId=address["AllocationId"], NetworkInterfaceId=eni)
    return address["PublicIp"]


def test_stable_when_the_deployment_completes_with_the_endpoint_of_a_running_task(boto):
    resource = app_body()
    run(resource, 2)
    ip = public_task(boto)
    result = run(resource)
    assert conditions(result.status)["ServiceStable"] == ("True", "Stable")
    service = result.status["service"]
    assert (service["desiredCount"], service["runningCount"], service["rolloutState"]) == (1, 1, "COMPLETED")
    assert service["endpoint"] == f"http://{ip}:8080"
    assert service["serviceArn"] == described_service(boto)["serviceArn"]


def test_fargate_sizes_are_checked_before_any_aws_call(every_call):
    result = run(app_body(cpu="256", memory="4096"))
    assert conditions(result.status)["Stalled"] == ("True", "InvalidSpec")
    assert "spec.service.memory" in result.status["conditions"][0]["message"] and sum(every_call.values()) == 0


def test_a_new_revision_only_when_something_changed(boto, every_call):
    resource = app_body()
    settle(resource)
    first = described_service(boto)["taskDefinition"]
    every_call.clear()
    run(body_with(resource, generation=2, desiredCount=1))
    assert every_call["ecs.RegisterTaskDefinition"] == 0 and described_service(boto)["taskDefinition"] == first
    run(body_with(resource, generation=3, desiredCount=1, env=[{"name": "MODE", "value": "b"}]))
    second = described_service(boto)["taskDefinition"]
    assert every_call["ecs.RegisterTaskDefinition"] == 1 and second != first
    active = boto("ecs").list_task_definitions(familyPrefix=SERVICE, status="ACTIVE")["taskDefinitionArns"]
    assert active == [second]  # the superseded revision we made is deregistered


def test_a_registration_whose_answer_was_lost_leaves_one_revision(boto, fault_proxy):
    """The first RegisterTaskDefinition reaches ECS but its answer is lost (the fault proxy's `lose` rule), so
    botocore sends it again and ECS holds two new revisions: the pass deregisters the one it never got."""
    from tests.infra.faults import Rule

    fault_proxy.rules.append(Rule("RegisterTaskDefinition", lose=True, times=1))
    resource = app_body()
    settle(resource)
    print(fault_proxy.report("AWS calls"))
    assert fault_proxy.succeeded()["RegisterTaskDefinition"] == 2 and fault_proxy.faults() == {"lost": 1}
    active = boto("ecs").list_task_definitions(familyPrefix=SERVICE, status="ACTIVE")["taskDefinitionArns"]
    assert active == [described_service(boto)["taskDefinition"]] == [resource["status"]["service"]["taskDefinitionArn"]]


def body_with(resource: dict, generation: int, **service) -> dict:
    resource["metadata"]["generation"] = generation
    resource["spec"]["service"] = service
    return resource


def test_a_resync_that_finds_everything_in_place_reads_at_most_five_times(boto, every_call):
    resource = app_body()
    settle(resource)
    public_task(boto)
    run(resource)  # finds the endpoint
    every_call.clear()
    result = run(resource)
    assert conditions(result.status)["ServiceStable"] == ("True", "Stable")
    writes = [k for k in every_call if not k.split(".")[1].startswith(("Describe", "Get", "List"))]
    assert writes == [] and sum(every_call.values()) <= 5, every_call


def test_a_resync_that_finds_no_endpoint_looks_for_it_alone(boto, every_call):
    """Running tasks without a public IP found (moto reports a task running for a service it runs none of):
    the tick looks for the endpoint (the running tasks, their interfaces), not the whole step again, and
    finds it once there is one."""
    resource = app_body()
    settle(resource)
    every_call.clear()
    result = run(resource)
    assert conditions(result.status)["ServiceStable"] == ("True", "Stable")
    assert "endpoint" not in result.status["service"]
    assert sum(every_call.values()) <= 5 and every_call["ecs.ListTasks"] == 1, every_call
    ip = public_task(boto)
    assert run(resource).status["service"]["endpoint"] == f"http://{ip}:8080"


def test_a_deleted_service_is_created_again_with_a_correction(boto):
    resource = app_body()
    settle(resource)
    boto("ecs").delete_service(cluster=CLUSTER, service=SERVICE, force=True)
    result = run(resource)
    assert described_service(boto)["status"] == "ACTIVE"
    assert any("was deleted outside the operator" in c for c in result.corrections)


def test_a_changed_desired_count_is_set_back_with_a_correction(boto):
    resource = app_body()
    settle(resource)
    boto("ecs").update_service(cluster=CLUSTER, service=SERVICE, desiredCount=3)
    result = run(resource)
    assert described_service(boto)["desiredCount"] == 1
    assert any("desired count" in c and "set back to 1" in c for c in result.corrections)


def test_a_task_definition_swapped_out_of_band_is_set_back(boto):
    resource = app_body()
    settle(resource)
    ours = described_service(boto)["taskDefinition"]
    theirs = boto("ecs").register_task_definition(
        family="someone-else", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{"name": "x", "image": "nginx"}])["taskDefinition"]["taskDefinitionArn"]
    boto("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=theirs)
    result = run(resource)
    assert described_service(boto)["taskDefinition"] == ours
    assert any("swapped" in c for c in result.corrections)


def test_a_deleted_repository_and_database_come_back_with_corrections(boto):
    resource = app_body()
    settle(resource)
    boto("ecr").delete_repository(repositoryName="shop-oscar", force=True)
    rds = boto("rds")
    rds.modify_db_cluster(DBClusterIdentifier=OWNER.cluster_identifier, DeletionProtection=False, ApplyImmediately=True)
    rds.delete_db_instance(DBInstanceIdentifier=OWNER.writer_identifier)
    rds.delete_db_cluster(DBClusterIdentifier=OWNER.cluster_identifier, SkipFinalSnapshot=True)
    # moto names its automated backup by the minute, and a cluster made again within that minute collides
    # with it (AWS does not): the test removes it.
    for snapshot in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]:
        rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot["DBClusterSnapshotIdentifier"])
    result = run(resource)
    assert any("ECR repository shop-oscar was deleted" in c for c in result.corrections)
    assert any(f"Aurora cluster {OWNER.cluster_identifier} was deleted" in c for c in result.corrections)
    assert boto("ecr").describe_repositories(repositoryNames=["shop-oscar"])["repositories"]
    assert rds.describe_db_clusters(DBClusterIdentifier=OWNER.cluster_identifier)["DBClusters"]


def test_paused_observes_the_service_and_changes_nothing(boto, every_call):
    resource = app_body()
    settle(resource)
    boto("ecs").update_service(cluster=CLUSTER, service=SERVICE, desiredCount=3)
    resource["spec"]["paused"] = True
    every_call.clear()
    result = run(resource)
    assert result.status["phase"] == "Paused" and described_service(boto)["desiredCount"] == 3
    assert result.status["service"]["desiredCount"] == 3  # reported as it is
    assert not [k for k in every_call if not k.split(".")[1].startswith(("Describe", "Get", "List"))]
