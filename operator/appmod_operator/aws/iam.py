"""IAM roles and their policies: thin calls to the IAM API, for the ECS task execution role.

`find_*` returns the AWS description or None when absent; the rest make one call each, and the
deletions accept what is already gone. Policy documents go in as JSON text and come out parsed (a
dict), whichever way the API handed them over. What the role should look like is decided by
reconcile/execution.py, which calls this module.

IAM is global; `region` only picks the endpoint, which matters across partitions (aws, aws-cn,
aws-us-gov), and keeps the signatures those of the other aws/ modules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import unquote

from appmod_operator.aws import clients
from appmod_operator.aws.clients import translated


def _iam(region: str | None):
    return clients.client("iam", region)


def _document(value: str | dict) -> dict:
    """A policy document as a dict. IAM answers with URL-encoded JSON text
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html); boto3's clients
    decode it into a dict, but only through a handler botocore registers on them (json_decode_policies,
    not part of the API model), so the text is decoded here when it arrives as text."""
    return value if isinstance(value, dict) else json.loads(unquote(value))


def _role(found: dict) -> dict:
    return {**found, "AssumeRolePolicyDocument": _document(found["AssumeRolePolicyDocument"])}


@translated("iam.GetRole")
def find_role(region: str | None, name: str) -> dict | None:
    """RoleName, Arn, AssumeRolePolicyDocument (a dict) and Tags; None if absent."""
    with clients.tolerating("NoSuchEntity"):
        return _role(_iam(region).get_role(RoleName=name)["Role"])
    return None


@translated("iam.CreateRole")
def create_role(region: str | None, name: str, trust_policy_text: str, description: str,
                tags: Mapping[str, str]) -> dict:
    return _role(_iam(region).create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy_text,
                                          Description=description, Tags=clients.tag_list(tags))["Role"])


@translated("iam.UpdateAssumeRolePolicy")
def update_trust_policy(region: str | None, name: str, text: str) -> None:
    _iam(region).update_assume_role_policy(RoleName=name, PolicyDocument=text)


@translated("iam.TagRole")
def tag_role(region: str | None, name: str, tags: Mapping[str, str]) -> None:
    _iam(region).tag_role(RoleName=name, Tags=clients.tag_list(tags))


@translated("iam.ListAttachedRolePolicies")
def attached_policy_arns(region: str | None, name: str) -> list[str]:
    """The ARNs of the managed policies attached to the role."""
    pages = _iam(region).get_paginator("list_attached_role_policies").paginate(RoleName=name)
    return [p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]]


@translated("iam.AttachRolePolicy")
def attach_policy(region: str | None, name: str, arn: str) -> None:
    _iam(region).attach_role_policy(RoleName=name, PolicyArn=arn)


@translated("iam.DetachRolePolicy")
def detach_policy(region: str | None, name: str, arn: str) -> None:
    with clients.tolerating("NoSuchEntity"):
        _iam(region).detach_role_policy(RoleName=name, PolicyArn=arn)


@translated("iam.ListRolePolicies")
def inline_policy_names(region: str | None, name: str) -> list[str]:
    pages = _iam(region).get_paginator("list_role_policies").paginate(RoleName=name)
    return [policy for page in pages for policy in page["PolicyNames"]]


@translated("iam.GetRolePolicy")
def find_inline_policy(region: str | None, name: str, policy_name: str) -> dict | None:
    """The inline policy's document, parsed; None if the role has no policy of that name."""
    with clients.tolerating("NoSuchEntity"):
        return _document(_iam(region).get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
    return None


@translated("iam.PutRolePolicy")
def put_inline_policy(region: str | None, name: str, policy_name: str, text: str) -> None:
    """Creates the inline policy or replaces its document."""
    _iam(region).put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=text)


@translated("iam.DeleteRolePolicy")
def delete_inline_policy(region: str | None, name: str, policy_name: str) -> None:
    with clients.tolerating("NoSuchEntity"):
        _iam(region).delete_role_policy(RoleName=name, PolicyName=policy_name)


@translated("iam.DeleteRole")
def delete_role(region: str | None, name: str) -> None:
    """Deletes the role, which IAM refuses (DeleteConflict) while policies are still attached to it or
    inline in it (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage_delete.html#roles-managingrole-deleting-api);
    one already absent is fine."""
    with clients.tolerating("NoSuchEntity"):
        _iam(region).delete_role(RoleName=name)
