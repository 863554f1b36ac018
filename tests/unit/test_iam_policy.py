"""manifests/iam-policy.json is what the operator needs and no more: every AWS call the code in aws/ makes
is allowed, every action it grants is one of those calls or one AWS checks on our behalf (IMPLIED), and
the scoping rules hold: IAM only on our role prefix, PassRole only to ECS tasks, Secrets Manager only on
our secret prefix, and each mutation either on our name prefix or conditioned on our tag."""

from __future__ import annotations

from tests import iam

# Granted though no boto3 call names them: AWS checks them for a call we make, or the registry API uses them.
IMPLIED = {
    "ecr:BatchCheckLayerAvailability": "the image copy's registry API (pull and push), with the ECR token",
    "ecr:BatchGetImage": "the registry API: reading a manifest",
    "ecr:GetDownloadUrlForLayer": "the registry API: reading a blob",
    "ecr:InitiateLayerUpload": "the registry API: pushing a blob",
    "ecr:UploadLayerPart": "the registry API: pushing a blob",
    "ecr:CompleteLayerUpload": "the registry API: pushing a blob",
    "ecr:PutImage": "the registry API: pushing the manifest",
    "rds:CreateDBClusterSnapshot": "DeleteDBCluster with FinalDBSnapshotIdentifier (deletionPolicy Snapshot)",
    "ec2:CreateTags": "CreateSecurityGroup with TagSpecifications",
    "ecs:TagResource": "CreateCluster, CreateService and RunTask with tags",
    "logs:TagLogGroup": "CreateLogGroup with tags (the older action name, still checked)",
    "iam:PassRole": "RegisterTaskDefinition and RunTask with our execution and task roles",
    "secretsmanager:TagResource": "CreateSecret with Tags",
    "s3:GetObjectVersion": "HeadObject and GetObject of a given VersionId (a versioned bucket's source)",
}
MUTATING = ("Create", "Delete", "Modify", "Put", "Update", "Authorize", "Attach", "Detach", "Tag", "Add", "Restore",
            "Run", "Register", "Deregister", "Initiate", "Upload", "Complete")


def test_the_scan_finds_the_calls_of_each_aws_module():
    actions = iam.code_actions()
    for expected in ("rds:CreateDBCluster", "rds:DescribeDBClusters", "ec2:CreateSecurityGroup", "ecs:RunTask",
                     "iam:PutRolePolicy", "secretsmanager:GetSecretValue", "ecr:GetAuthorizationToken",
                     "logs:GetLogEvents", "s3:GetObject"):
        assert expected in actions
    assert len(actions) > 60


def test_every_call_the_code_makes_is_allowed():
    policy = iam.policy()
    assert sorted(a for a in iam.code_actions() if not iam.allows(policy, a)) == []


def test_the_policy_grants_nothing_the_code_never_calls():
    extra = iam.granted(iam.policy()) - iam.code_actions() - set(IMPLIED)
    assert sorted(extra) == []
    assert not [a for a in iam.granted(iam.policy()) if "*" in a]  # no wildcard actions


def _statements(prefix: str) -> list[dict]:
    return [s for s in iam.policy()["Statement"]
            if any(a.startswith(prefix) for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))]


def _resources(statement: dict) -> list[str]:
    return [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]


def test_iam_only_for_roles_of_our_prefix_and_pass_role_only_to_ecs_tasks():
    for statement in _statements("iam:"):
        assert _resources(statement) == ["arn:aws:iam::*:role/appmod-*"], statement["Sid"]
    (passing,) = [s for s in _statements("iam:") if "iam:PassRole" in s["Action"]]
    assert passing["Action"] == "iam:PassRole"
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_secrets_only_under_our_prefix():
    for statement in _statements("secretsmanager:"):
        assert _resources(statement) == ["arn:aws:secretsmanager:*:*:secret:appmod/*"]


def test_each_mutation_is_on_our_names_or_conditioned():
    """A statement that changes something names our prefix in every resource, or has a condition (our tag
    in the request or on the resource, ecs:CreateAction, iam:PassedToService, iam:PolicyARN); only ECS's
    task definitions, which have no resource-level permissions, are on "*" without either."""
    loose = []
    for statement in iam.policy()["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        if not [a for a in actions if a.split(":")[1].startswith(MUTATING)]:
            continue
        named = all("appmod" in r for r in _resources(statement))
        if not (named or statement.get("Condition")):
            loose.append(statement["Sid"])
    assert loose == ["EcsTaskDefinitionsHaveNoResourceLevelPermissions"]
