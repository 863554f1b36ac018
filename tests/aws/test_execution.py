"""The ECS task execution role and the service's log group against moto server: creation with the
policies and our tags, no writes when nothing changed, only what differs rewritten, things that are
not ours, adoption, and each deletion policy."""

from __future__ import annotations

import copy
import json

import pytest

from appmod_operator import spec
from appmod_operator.aws import clients
from appmod_operator.errors import NotOwned
from appmod_operator.reconcile import execution
from tests.aws.conftest import NAME, NAMESPACE, OWNER
from tests.unit.test_spec import MINIMAL

ROLE = OWNER.execution_role_name
GROUP = OWNER.log_group_name
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:appmod/shop/oscar/database-AbCdEf"
OTHER_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:appmod/shop/oscar/database-GhIjKl"
OUR_TAGS = {"appmod.io/owner": "shop/oscar", "appmod.io/uid": "uid-1"}
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def app(deletion_policy: str = "Snapshot") -> spec.AppSpec:
    body = copy.deepcopy(MINIMAL)
    body["deletionPolicy"] = deletion_policy
    return spec.parse(body, NAMESPACE, NAME)


@pytest.fixture
def calls(calls):
    """conftest's recorder, extended to the operator's IAM and CloudWatch Logs clients."""
    for service in ("iam", "logs"):
        clients.client(service, None).meta.events.register("before-call", lambda model, **_: calls.update([model.name]))
    return calls


def role_of(boto) -> dict:
    return boto("iam").get_role(RoleName=ROLE)["Role"]


def roles(boto) -> list[str]:
    return [r["RoleName"] for r in boto("iam").list_roles()["Roles"]]


def attached(boto) -> list[str]:
    return [p["PolicyArn"] for p in boto("iam").list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]]


def inline(boto) -> dict:
    return boto("iam").get_role_policy(RoleName=ROLE, PolicyName=execution.INLINE_POLICY_NAME)["PolicyDocument"]


def group_of(boto, name: str = GROUP) -> dict:
    return next(g for g in boto("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
                if g["logGroupName"] == name)


def groups(boto) -> list[str]:
    return [g["logGroupName"] for g in boto("logs").describe_log_groups()["logGroups"]]


def group_tags(boto, name: str = GROUP) -> dict:
    return boto("logs").list_tags_for_resource(resourceArn=group_of(boto, name)["logGroupArn"])["tags"]


def writes(calls) -> int:
    return sum(calls.writes().values())


def test_the_trust_policy_lets_ecs_tasks_and_nothing_else_assume_the_role():
    assert execution.build_trust_policy() == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def test_the_secret_policy_reads_exactly_our_secret():
    assert execution.build_secret_policy(SECRET) == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": SECRET}]}


def test_the_role_is_created_with_its_trust_policy_managed_policy_and_secret_access(boto, calls):
    arn = execution.ensure_execution_role(app(), OWNER, SECRET)
    role = role_of(boto)
    assert arn == role["Arn"] and arn.endswith(f":role/{ROLE}")
    assert role["AssumeRolePolicyDocument"] == execution.build_trust_policy()
    assert clients.tag_dict(role["Tags"]) == OUR_TAGS
    assert attached(boto) == [execution.MANAGED_POLICY]
    assert inline(boto) == execution.build_secret_policy(SECRET)
    assert boto("iam").list_role_policies(RoleName=ROLE)["PolicyNames"] == [execution.INLINE_POLICY_NAME]
    assert calls.writes() == {"CreateRole": 1, "AttachRolePolicy": 1, "PutRolePolicy": 1}


def test_a_second_ensure_writes_nothing(boto, calls):
    arn = execution.ensure_execution_role(app(), OWNER, SECRET)
    calls.clear()
    assert execution.ensure_execution_role(app(), OWNER, SECRET) == arn
    assert writes(calls) == 0 and roles(boto) == [ROLE]


def test_a_changed_secret_arn_rewrites_only_the_inline_policy(boto, calls):
    execution.ensure_execution_role(app(), OWNER, SECRET)
    calls.clear()
    execution.ensure_execution_role(app(), OWNER, OTHER_SECRET)
    assert calls.writes() == {"PutRolePolicy": 1}
    assert inline(boto)["Statement"][0]["Resource"] == OTHER_SECRET


@pytest.mark.parametrize(("drift", "write"), [
    (lambda iam: iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(EC2_TRUST)),
     "UpdateAssumeRolePolicy"),
    (lambda iam: iam.detach_role_policy(RoleName=ROLE, PolicyArn=execution.MANAGED_POLICY), "AttachRolePolicy"),
    (lambda iam: iam.delete_role_policy(RoleName=ROLE, PolicyName=execution.INLINE_POLICY_NAME), "PutRolePolicy"),
])
def test_drift_is_put_right_and_only_it(boto, calls, drift, write):
    execution.ensure_execution_role(app(), OWNER, SECRET)
    drift(boto("iam"))
    calls.clear()
    execution.ensure_execution_role(app(), OWNER, SECRET)
    assert calls.writes() == {write: 1}
    role = role_of(boto)
    assert role["AssumeRolePolicyDocument"] == execution.build_trust_policy()
    assert attached(boto) == [execution.MANAGED_POLICY] and inline(boto) == execution.build_secret_policy(SECRET)


def test_policies_are_compared_as_json_not_as_text(boto, calls):
    execution.ensure_execution_role(app(), OWNER, SECRET)
    iam = boto("iam")
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(
        execution.build_trust_policy(), indent=4, sort_keys=True))
    iam.put_role_policy(RoleName=ROLE, PolicyName=execution.INLINE_POLICY_NAME, PolicyDocument=json.dumps(
        execution.build_secret_policy(SECRET), indent=2, sort_keys=True))
    calls.clear()
    execution.ensure_execution_role(app(), OWNER, SECRET)
    assert writes(calls) == 0


def test_policies_someone_else_attached_are_left_alone(boto, calls):
    execution.ensure_execution_role(app(), OWNER, SECRET)
    boto("iam").put_role_policy(RoleName=ROLE, PolicyName="team-extra", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    calls.clear()
    execution.ensure_execution_role(app(), OWNER, SECRET)
    assert writes(calls) == 0
    assert sorted(boto("iam").list_role_policies(RoleName=ROLE)["PolicyNames"]) == [
        execution.INLINE_POLICY_NAME, "team-extra"]


def test_a_role_without_our_tag_is_not_touched(boto, calls):
    boto("iam").create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(EC2_TRUST),
                            Tags=[{"Key": "team", "Value": "web"}])
    with pytest.raises(NotOwned) as caught:
        execution.ensure_execution_role(app(), OWNER, SECRET)
    assert f"IAM role {ROLE}" in str(caught.value) and "not tagged appmod.io/owner=shop/oscar" in str(caught.value)
    assert writes(calls) == 0
    role = role_of(boto)
    assert role["AssumeRolePolicyDocument"] == EC2_TRUST
    assert clients.tag_dict(role["Tags"]) == {"team": "web"}
    assert attached(boto) == [] and boto("iam").list_role_policies(RoleName=ROLE)["PolicyNames"] == []


def test_a_tagged_role_is_adopted_with_our_uid(boto, calls):
    boto("iam").create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(execution.build_trust_policy()), Tags=[
        {"Key": "appmod.io/owner", "Value": "shop/oscar"}, {"Key": "appmod.io/uid", "Value": "an-earlier-resource"}])
    execution.ensure_execution_role(app(), OWNER, SECRET)
    assert calls.writes() == {"TagRole": 1, "AttachRolePolicy": 1, "PutRolePolicy": 1}
    assert clients.tag_dict(role_of(boto)["Tags"]) == OUR_TAGS


def test_the_log_group_is_created_with_its_retention_and_our_tags(boto, calls):
    assert execution.ensure_log_group(app(), OWNER) == GROUP == "/appmod/shop/oscar"
    assert group_of(boto)["retentionInDays"] == execution.RETENTION_DAYS == 30
    assert group_tags(boto) == OUR_TAGS
    assert calls.writes() == {"CreateLogGroup": 1, "PutRetentionPolicy": 1}
    calls.clear()
    assert execution.ensure_log_group(app(), OWNER) == GROUP
    assert writes(calls) == 0 and groups(boto) == [GROUP]


def test_a_changed_retention_is_put_back(boto, calls):
    execution.ensure_log_group(app(), OWNER)
    boto("logs").put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    calls.clear()
    execution.ensure_log_group(app(), OWNER)
    assert calls.writes() == {"PutRetentionPolicy": 1} and group_of(boto)["retentionInDays"] == 30


def test_a_log_group_whose_name_only_starts_with_ours_is_another(boto):
    boto("logs").create_log_group(logGroupName=f"{GROUP}-2", tags={"team": "web"})
    execution.ensure_log_group(app(), OWNER)
    assert sorted(groups(boto)) == [GROUP, f"{GROUP}-2"] and group_tags(boto) == OUR_TAGS


def test_a_log_group_without_our_tag_is_not_touched(boto, calls):
    boto("logs").create_log_group(logGroupName=GROUP, tags={"team": "web"})
    with pytest.raises(NotOwned) as caught:
        execution.ensure_log_group(app(), OWNER)
    assert f"log group {GROUP}" in str(caught.value) and "not tagged appmod.io/owner=shop/oscar" in str(caught.value)
    assert writes(calls) == 0
    assert "retentionInDays" not in group_of(boto) and group_tags(boto) == {"team": "web"}


def test_a_tagged_log_group_is_adopted_with_our_uid(boto, calls):
    boto("logs").create_log_group(logGroupName=GROUP, tags={"appmod.io/owner": "shop/oscar",
                                                            "appmod.io/uid": "an-earlier-resource"})
    execution.ensure_log_group(app(), OWNER)
    assert calls.writes() == {"TagResource": 1, "PutRetentionPolicy": 1} and group_tags(boto) == OUR_TAGS


def _make_both(boto) -> None:
    """Our role and log group, with a policy someone else attached to the role (deletion removes it too:
    IAM deletes a role only once it holds no policies)."""
    execution.ensure_execution_role(app(), OWNER, SECRET)
    execution.ensure_log_group(app(), OWNER)
    boto("iam").put_role_policy(RoleName=ROLE, PolicyName="team-extra", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))


def test_deletion_policy_delete_removes_the_role_and_the_log_group(boto):
    _make_both(boto)
    outcome = execution.delete_execution(app("Delete"), OWNER)
    assert outcome.done and outcome.reason == "Deleting"
    assert f"IAM role {ROLE} is deleted" in outcome.message and f"log group {GROUP} and its logs are deleted" in \
        outcome.message
    assert roles(boto) == [] and groups(boto) == []
    assert boto("iam").list_entities_for_policy(PolicyArn=execution.MANAGED_POLICY)["PolicyRoles"] == []


def test_deletion_policy_snapshot_removes_the_role_and_keeps_the_logs(boto):
    _make_both(boto)
    outcome = execution.delete_execution(app("Snapshot"), OWNER)
    assert outcome.done and outcome.reason == "Deleting"
    assert f"IAM role {ROLE} is deleted" in outcome.message and "deletionPolicy Snapshot" in outcome.message
    assert roles(boto) == [] and groups(boto) == [GROUP]


@pytest.mark.parametrize("policy", ["Delete", "Snapshot"])
def test_deletion_when_nothing_is_there_is_fine(calls, policy):
    outcome = execution.delete_execution(app(policy), OWNER)
    assert outcome.done and outcome.reason == "Deleting" and f"IAM role {ROLE} is gone" in outcome.message
    assert writes(calls) == 0


def test_deletion_leaves_what_is_not_ours(boto, calls):
    boto("iam").create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(execution.build_trust_policy()))
    boto("logs").create_log_group(logGroupName=GROUP)
    outcome = execution.delete_execution(app("Delete"), OWNER)
    assert outcome.done and outcome.reason == "Retained" and outcome.message.count("not ours") == 2
    assert writes(calls) == 0 and roles(boto) == [ROLE] and groups(boto) == [GROUP]
