"""The ECR repository and the ECR login against moto server: creation with the spec's settings and our
tags, no duplicates, in-place changes and no writes when nothing changed, repositories that are not
ours, each deletion policy, and the login's cache, renewal, secrecy and registry override."""

from __future__ import annotations

import base64
import copy
import json
import os
import urllib.request
from datetime import timedelta

import pytest

from appmod_operator import config, spec
from appmod_operator.aws import clients
from appmod_operator.errors import NotOwned
from appmod_operator.reconcile import repository
from tests.aws.conftest import NAME, NAMESPACE, OWNER
from tests.unit.test_spec import MINIMAL

REPOSITORY = f"{NAMESPACE}-{NAME}"  # spec.image.repository's default


def app(deletion_policy: str = "Snapshot", **image) -> spec.AppSpec:
    """MINIMAL with `image` fields."""
    body = copy.deepcopy(MINIMAL)
    body["image"], body["deletionPolicy"] = image, deletion_policy
    return spec.parse(body, NAMESPACE, NAME)


@pytest.fixture
def calls(calls):
    """conftest's recorder, extended to the operator's ECR client."""
    clients.client("ecr", None).meta.events.register(
        "before-call", lambda model, **_: calls.update([model.name]))
    return calls


@pytest.fixture(autouse=True)
def no_cached_logins():
    """Every test starts without a token (moto server, and so the cache key, is shared by the session)."""
    repository.forget_logins()
    yield
    repository.forget_logins()


def described(boto, name: str = REPOSITORY) -> dict:
    return boto("ecr").describe_repositories(repositoryNames=[name])["repositories"][0]


def tags_of(boto, arn: str) -> dict:
    return clients.tag_dict(boto("ecr").list_tags_for_resource(resourceArn=arn)["tags"])


def policy_of(boto, name: str = REPOSITORY) -> dict:
    return json.loads(boto("ecr").get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])


def test_the_lifecycle_policy_keeps_the_last_n_images():
    text = repository.build_lifecycle_policy(7)
    assert json.loads(text) == {"rules": [{
        "rulePriority": 1, "description": "keep the last 7 images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 7},
        "action": {"type": "expire"}}]}
    assert 100 <= len(text) <= 30720  # ECR's bounds on lifecyclePolicyText, which moto does not check


def test_created_with_the_spec_settings_and_our_tags(boto, calls):
    made = repository.ensure_repository(app(), OWNER)
    found = described(boto)
    assert made == repository.Repository(REPOSITORY, found["repositoryUri"], found["repositoryArn"], created=True)
    assert found["repositoryUri"].endswith(f".amazonaws.com/{REPOSITORY}")
    assert found["imageTagMutability"] == "IMMUTABLE" and found["imageScanningConfiguration"] == {"scanOnPush": True}
    assert tags_of(boto, made.arn) == {"appmod.io/owner": "shop/oscar", "appmod.io/uid": "uid-1"}
    assert policy_of(boto) == json.loads(repository.build_lifecycle_policy(10))
    assert calls.writes() == {"CreateRepository": 1, "PutLifecyclePolicy": 1}


def test_the_spec_names_the_repository_and_its_settings(boto):
    repository.ensure_repository(app(repository="team/shop", tagMutability="MUTABLE", scanOnPush=False,
                                     keepLast=3), OWNER)
    found = described(boto, "team/shop")
    assert found["imageTagMutability"] == "MUTABLE" and found["imageScanningConfiguration"] == {"scanOnPush": False}
    assert policy_of(boto, "team/shop")["rules"][0]["selection"]["countNumber"] == 3


def test_a_second_ensure_creates_nothing_and_writes_nothing(boto, calls):
    first = repository.ensure_repository(app(), OWNER)
    calls.clear()
    # moto, like AWS, refuses a second CreateRepository; counting calls shows none was even tried.
    second = repository.ensure_repository(app(), OWNER)
    assert (second.uri, second.arn, second.created, first.created) == (first.uri, first.arn, False, True)
    assert calls["CreateRepository"] == 0 and sum(calls.writes().values()) == 0
    assert len(boto("ecr").describe_repositories()["repositories"]) == 1


@pytest.mark.parametrize(("image", "write", "check"), [
    ({"tagMutability": "MUTABLE"}, "PutImageTagMutability", lambda b: described(b)["imageTagMutability"] == "MUTABLE"),
    ({"scanOnPush": False}, "PutImageScanningConfiguration",
     lambda b: described(b)["imageScanningConfiguration"]["scanOnPush"] is False),
    ({"keepLast": 25}, "PutLifecyclePolicy",
     lambda b: policy_of(b)["rules"][0]["selection"]["countNumber"] == 25),
])
def test_spec_changes_are_applied_in_place_and_only_they(boto, calls, image, write, check):
    repository.ensure_repository(app(), OWNER)
    calls.clear()
    repository.ensure_repository(app(**image), OWNER)
    assert calls.writes() == {write: 1} and check(boto)
    calls.clear()
    repository.ensure_repository(app(**image), OWNER)
    assert sum(calls.writes().values()) == 0


def test_the_lifecycle_policy_is_compared_as_json_not_as_text(boto, calls):
    repository.ensure_repository(app(), OWNER)
    same = json.dumps(json.loads(repository.build_lifecycle_policy(10)), indent=4, sort_keys=True)
    boto("ecr").put_lifecycle_policy(repositoryName=REPOSITORY, lifecyclePolicyText=same)
    calls.clear()
    repository.ensure_repository(app(), OWNER)
    assert sum(calls.writes().values()) == 0


def test_a_lifecycle_policy_removed_by_hand_is_put_back(boto, calls):
    repository.ensure_repository(app(), OWNER)
    boto("ecr").delete_lifecycle_policy(repositoryName=REPOSITORY)
    calls.clear()
    repository.ensure_repository(app(), OWNER)
    assert calls.writes() == {"PutLifecyclePolicy": 1} and policy_of(boto)["rules"][0]["rulePriority"] == 1


def test_a_repository_made_by_hand_without_our_tag_is_not_touched(boto, calls):
    boto("ecr").create_repository(repositoryName=REPOSITORY, imageTagMutability="MUTABLE",
                                  tags=[{"Key": "team", "Value": "web"}])
    with pytest.raises(NotOwned) as caught:
        repository.ensure_repository(app(), OWNER)
    assert f"ECR repository {REPOSITORY}" in str(caught.value)
    assert "not tagged appmod.io/owner=shop/oscar" in str(caught.value)
    assert sum(calls.writes().values()) == 0
    assert described(boto)["imageTagMutability"] == "MUTABLE"
    assert tags_of(boto, described(boto)["repositoryArn"]) == {"team": "web"}


def test_a_tagged_repository_is_adopted_with_our_uid(boto, calls):
    boto("ecr").create_repository(repositoryName=REPOSITORY, imageTagMutability="MUTABLE", tags=[
        {"Key": "appmod.io/owner", "Value": "shop/oscar"}, {"Key": "appmod.io/uid", "Value": "an-earlier-resource"}])
    made = repository.ensure_repository(app(), OWNER)
    assert calls["CreateRepository"] == 0 and calls["TagResource"] == 1
    assert tags_of(boto, made.arn)["appmod.io/uid"] == "uid-1"
    assert described(boto)["imageTagMutability"] == "IMMUTABLE"


def _push_an_image(boto) -> None:
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                           "digest": "sha256:" + "a" * 64}, "layers": []}
    boto("ecr").put_image(repositoryName=REPOSITORY, imageManifest=json.dumps(manifest), imageTag="1")


def test_deletion_policy_delete_removes_the_repository_and_its_images(boto):
    repository.ensure_repository(app(), OWNER)
    _push_an_image(boto)  # ECR refuses to delete a repository with images unless forced
    outcome = repository.delete_repository(app("Delete"), OWNER)
    assert outcome.done and "deleted" in outcome.message
    assert boto("ecr").describe_repositories()["repositories"] == []
    assert repository.delete_repository(app("Delete"), OWNER).done  # already gone is fine


@pytest.mark.parametrize("policy", ["Snapshot", "Retain"])
def test_deletion_policies_snapshot_and_retain_keep_the_repository_and_its_images(boto, calls, policy):
    repository.ensure_repository(app(), OWNER)
    _push_an_image(boto)
    calls.clear()
    outcome = repository.delete_repository(app(policy), OWNER)
    assert outcome.done and outcome.reason == "Retained" and f"deletionPolicy {policy}" in outcome.message
    assert sum(calls.values()) == 0
    assert len(boto("ecr").list_images(repositoryName=REPOSITORY)["imageIds"]) == 1


def test_delete_leaves_a_repository_that_is_not_ours(boto, calls):
    boto("ecr").create_repository(repositoryName=REPOSITORY)
    outcome = repository.delete_repository(app("Delete"), OWNER)
    assert outcome.done and outcome.reason == "Retained" and "not ours" in outcome.message
    assert sum(calls.writes().values()) == 0 and described(boto)["repositoryName"] == REPOSITORY


def test_login_decodes_the_token(aws, monkeypatch):
    monkeypatch.delenv("APPMOD_ECR_REGISTRY")  # the account's own registry endpoint, as in AWS
    config.load()
    login = repository.login(None)
    assert (login.username, login.password) == ("AWS", aws.ecr_password())
    assert login.url == f"https://{login.host}" and login.host.endswith(".dkr.ecr.us-east-1.amazonaws.com")


def test_login_is_cached_and_renewed_within_an_hour_of_expiry(monkeypatch, calls):
    # Tokens expire 12 hours after issue (AWS's, and the test moto's), so the clock is set relative to that.
    first = repository.login(None)
    expires_at = first.expires_at
    assert expires_at.tzinfo is not None
    for left in (timedelta(hours=12), timedelta(hours=1, minutes=1)):
        monkeypatch.setattr(repository, "clock", lambda left=left: expires_at - left)
        assert repository.login(None) == first
    assert calls["GetAuthorizationToken"] == 1
    monkeypatch.setattr(repository, "clock", lambda: expires_at - timedelta(minutes=59))
    renewed = repository.login(None)
    assert (renewed.username, renewed.password) == (first.username, first.password)
    assert calls["GetAuthorizationToken"] == 2


def test_the_login_never_shows_its_password(aws):
    login = repository.login(None)
    assert login.password not in repr(login) and login.password not in str(login)


@pytest.fixture
def registry_override(monkeypatch, aws):
    def use(url: str) -> None:
        monkeypatch.setenv("APPMOD_ECR_REGISTRY", url)
        host = url.split("://", 1)[1]  # plain HTTP only to a registry listed as insecure
        monkeypatch.setenv("APPMOD_INSECURE_REGISTRIES", f"{os.environ.get('APPMOD_INSECURE_REGISTRIES', '')},{host}")
        config.load()
    yield use
    monkeypatch.delenv("APPMOD_ECR_REGISTRY", raising=False)
    config.load()


def test_the_ecr_registry_override_is_where_the_login_talks_to(registry_override):
    registry_override("http://127.0.0.1:5000")
    login = repository.login(None)
    assert (login.host, login.url, login.username) == ("127.0.0.1:5000", "http://127.0.0.1:5000", "AWS")


def test_the_login_is_accepted_by_the_registry_standing_in_for_ecr(registry_override, ecr_registry):
    registry_override(ecr_registry.url)
    login = repository.login(None)
    basic = base64.b64encode(f"{login.username}:{login.password}".encode()).decode()
    request = urllib.request.Request(f"{login.url}/v2/", headers={"Authorization": f"Basic {basic}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
