"""Secrets Manager secrets: the database credentials the operator generates and owns.

Thin calls; the secret's value never leaves these functions in an error or a log line (botocore's
own logging is held at INFO by logs.py, and errors carry only AWS's code and message).
Called by reconcile/credentials.py.
"""

from __future__ import annotations

import json

from appmod_operator.aws import clients
from appmod_operator.aws.clients import translated


def _secrets(region: str | None):
    return clients.client("secretsmanager", region)


@translated("secretsmanager.DescribeSecret")
def find_secret(region: str | None, name: str) -> dict | None:
    """ARN, Tags, DeletedDate (set while scheduled for deletion) and VersionIdsToStages; None if absent."""
    with clients.tolerating("ResourceNotFoundException"):
        return _secrets(region).describe_secret(SecretId=name)
    return None


@translated("secretsmanager.GetSecretValue")
def read_secret(region: str | None, arn: str) -> dict:
    """The current value, parsed from JSON."""
    return json.loads(_secrets(region).get_secret_value(SecretId=arn)["SecretString"])


@translated("secretsmanager.CreateSecret")
def create_secret(region: str | None, name: str, description: str, value: dict, tags: dict[str, str]) -> str:
    """The new secret's ARN."""
    return _secrets(region).create_secret(Name=name, Description=description, SecretString=json.dumps(value),
                                          Tags=clients.tag_list(tags))["ARN"]


@translated("secretsmanager.PutSecretValue")
def write_secret(region: str | None, arn: str, value: dict) -> None:
    _secrets(region).put_secret_value(SecretId=arn, SecretString=json.dumps(value))


@translated("secretsmanager.RestoreSecret")
def restore_secret(region: str | None, arn: str) -> None:
    """Cancel a scheduled deletion (a resource re-created within the recovery window gets its secret back)."""
    _secrets(region).restore_secret(SecretId=arn)


@translated("secretsmanager.DeleteSecret")
def delete_secret(region: str | None, arn: str, recovery_days: int) -> None:
    with clients.tolerating("ResourceNotFoundException"):
        _secrets(region).delete_secret(SecretId=arn, RecoveryWindowInDays=recovery_days)
