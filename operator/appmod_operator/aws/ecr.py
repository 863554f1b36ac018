"""ECR repositories and registry logins: thin calls to the ECR API.

`find_*` returns the AWS description or None when absent; the rest make one call each. What the
repository should look like is decided by reconcile/repository.py, which calls this module.
"""

from __future__ import annotations

import base64
from datetime import datetime

from appmod_operator.aws import clients
from appmod_operator.aws.clients import translated


def _ecr(region: str | None):
    return clients.client("ecr", region)


@translated("ecr.DescribeRepositories")
def find_repository(region: str | None, name: str) -> dict | None:
    """repositoryName, repositoryArn, repositoryUri, imageTagMutability, imageScanningConfiguration;
    None if absent. The description carries no tags: see `find_tags`."""
    with clients.tolerating("RepositoryNotFoundException"):
        return _ecr(region).describe_repositories(repositoryNames=[name])["repositories"][0]
    return None


@translated("ecr.CreateRepository")
def create_repository(region: str | None, name: str, tag_mutability: str, scan_on_push: bool,
                      tags: dict[str, str]) -> dict:
    return _ecr(region).create_repository(
        repositoryName=name, imageTagMutability=tag_mutability,
        imageScanningConfiguration={"scanOnPush": scan_on_push}, tags=clients.tag_list(tags))["repository"]


@translated("ecr.PutImageTagMutability")
def set_tag_mutability(region: str | None, name: str, tag_mutability: str) -> None:
    _ecr(region).put_image_tag_mutability(repositoryName=name, imageTagMutability=tag_mutability)


@translated("ecr.PutImageScanningConfiguration")
def set_scan_on_push(region: str | None, name: str, scan_on_push: bool) -> None:
    _ecr(region).put_image_scanning_configuration(repositoryName=name,
                                                  imageScanningConfiguration={"scanOnPush": scan_on_push})


@translated("ecr.GetLifecyclePolicy")
def find_lifecycle_policy(region: str | None, name: str) -> str | None:
    """The policy's JSON text as ECR holds it, or None when the repository has none."""
    with clients.tolerating("LifecyclePolicyNotFoundException"):
        return _ecr(region).get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
    return None


@translated("ecr.PutLifecyclePolicy")
def put_lifecycle_policy(region: str | None, name: str, policy_text: str) -> None:
    _ecr(region).put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy_text)


@translated("ecr.ListTagsForResource")
def find_tags(region: str | None, arn: str) -> dict[str, str]:
    return clients.tag_dict(_ecr(region).list_tags_for_resource(resourceArn=arn)["tags"])


@translated("ecr.TagResource")
def tag(region: str | None, arn: str, tags: dict[str, str]) -> None:
    _ecr(region).tag_resource(resourceArn=arn, tags=clients.tag_list(tags))


@translated("ecr.DeleteRepository")
def delete_repository(region: str | None, name: str) -> None:
    """Deletes the repository with its images (`force`: ECR refuses a repository that still holds
    images otherwise); one already absent is fine."""
    with clients.tolerating("RepositoryNotFoundException"):
        _ecr(region).delete_repository(repositoryName=name, force=True)


@translated("ecr.GetAuthorizationToken")
def authorization(region: str | None) -> tuple[str, str, datetime, str]:
    """(username, password, expires_at, proxy_endpoint) for the account's registry in `region`.
    The token is base64 of "AWS:<password>", valid 12 hours; the proxy endpoint is the registry's
    https:// URL (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html)."""
    data = _ecr(region).get_authorization_token()["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return username, password, data["expiresAt"], data["proxyEndpoint"]
