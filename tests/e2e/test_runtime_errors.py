"""Bad input that only shows at run time, end to end: one operator serves at once a good resource and one
resource per kind of bad input (an image tag the source registry lacks, a pull secret the registry's token
service refuses, an SQLite path the image lacks, a corrupt SQLite file, a database whose table refuses the
rows). Each bad one stalls with a message naming the problem; its status lists what was made (the database,
and the image when it was copied); nothing half-made is left (no ECR image for an image never copied, no
rows in PostgreSQL); and the good one reaches Ready beside them."""

from __future__ import annotations

import base64
import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import botocore.exceptions
import psycopg
import pytest
import yaml

from appmod_operator.registry.client import Registry
from tests.conftest import SOURCE_TITLES
from tests.e2e.conftest import (
    NAMESPACE,
    app,
    apply_pull_secret,
    aws_client,
    condition_is,
    conditions,
    delete_and_wait,
    owner,
)
from tests.migration.sqlite_db import fetch, products
from tests.registry.images import layer, push_image

pytestmark = pytest.mark.e2e
GOOD = "rt-good"
PULL_SECRET = "rt-wrong-password"
WRONG_PASSWORD = "wrong-" + os.urandom(8).hex()
DB_PATH = "app/sandbox/db.sqlite"
# name -> (what is changed from examples/minimal.yaml, texts the Stalled message must hold, whether the image
# gets copied). The messages are the operator's; each names the thing the user must fix.
CASES = {
    "rt-no-image": ("a tag the source registry lacks", ("shop/app:v404 was not found at the source registry",), False),
    "rt-denied": ("a pull secret with a wrong password", ("its token service refused the pull secret",), False),
    "rt-no-sqlite": ("pathInImage naming no file", ("/app/nowhere/db.sqlite is not in image",), True),
    "rt-corrupt": ("a db.sqlite of garbage bytes", ("spec.source.database.sqlite.pathInImage: /app/sandbox/db.sqlite "
                                                   "of 127.0.0.1:", "shop/corrupt:v1@sha256:", "malformed"), True),
    "rt-rejects": ("a target table whose CHECK refuses a row", ("table product: the target refused the rows",
                                                               'violates check constraint "no_sandbox"'), True),
}


def user_of(name: str) -> str:
    """Each resource's own master user and database: the stand-in for Aurora (master_users) gives a user
    shared by two resources the newest one's password, which would lock the other out."""
    return name.replace("-", "_")


@pytest.fixture(scope="module")
def operator(start_operator):
    return start_operator(resync_seconds=3600, namespaces=(NAMESPACE,))


@pytest.fixture(scope="module")
def bad_images(source_registry, hub_registry) -> dict[str, str]:
    """A source image whose db.sqlite is a real SQLite header followed by garbage, and a private image on the
    Docker Hub stand-in (which only its user may pull)."""
    with tempfile.TemporaryDirectory() as scratch:
        good = products(Path(scratch) / "db.sqlite", *SOURCE_TITLES)
    corrupt = good[:100] + os.urandom(len(good) - 100)
    source = Registry(source_registry.host, side="the source registry", insecure=True)
    push_image(source, "shop/corrupt", "v1", [layer({DB_PATH: corrupt})])
    source.close()
    hub = Registry(hub_registry.host, side="the source registry", insecure=True,
                   credentials=(hub_registry.user, hub_registry.password))
    push_image(hub, "private/rt", "v1", [layer({DB_PATH: good})])
    hub.close()
    return {"corrupt": f"{source_registry.host}/shop/corrupt:v1", "private": f"{hub_registry.host}/private/rt:v1"}


@pytest.fixture(scope="module")
def wrong_pull_secret(kubectl, hub_registry):
    """A kubernetes.io/dockerconfigjson Secret for the hub stand-in with its user and a wrong password."""
    apply_pull_secret(kubectl, hub_registry, PULL_SECRET, NAMESPACE, WRONG_PASSWORD,
                      "the wrong pull secret's password")
    yield PULL_SECRET
    kubectl.run("delete", "secret", PULL_SECRET, "-n", NAMESPACE, "--ignore-not-found")


@pytest.fixture(scope="module")
def refusing_table(master_users) -> str:
    """The table `product` of rt-rejects' database, made beforehand as the app's own migrations would, with
    a CHECK that the source's second row breaks (the first passes, so a partial copy would show)."""
    user = user_of("rt-rejects")
    master_users.make_master(user, "replaced-by-the-secret", user)
    url = master_users.url(user)
    fetch(url, "CREATE TABLE product (id bigint PRIMARY KEY, title text NOT NULL, "
               f"CONSTRAINT no_sandbox CHECK (title <> '{SOURCE_TITLES[1]}')); ALTER TABLE product OWNER TO {user}")
    return url


def build(local_example, bad_images, name: str) -> dict:
    body = local_example("minimal.yaml", name)
    spec = body["spec"]
    spec["database"] = {"masterUsername": user_of(name), "databaseName": user_of(name)}
    spec["deletionPolicy"] = "Delete"
    if name == "rt-no-image":
        spec["source"]["image"] = spec["source"]["image"].rsplit(":", 1)[0] + ":v404"
    elif name == "rt-denied":
        spec["source"].update(image=bad_images["private"], imagePullSecret=PULL_SECRET)
    elif name == "rt-no-sqlite":
        spec["source"]["database"]["sqlite"]["pathInImage"] = "/app/nowhere/db.sqlite"
    elif name == "rt-corrupt":
        spec["source"]["image"] = bad_images["corrupt"]
    elif name == "rt-rejects":  # the app's own migrations made the tables (here: the fixture); the rows go in
        spec["migration"]["schema"] = {"strategy": "AppCommand", "command": ["python", "manage.py", "migrate"]}
    return body


def ecr_tags(ecr_registry, moto_server, repository: str) -> list[str]:
    """The tags ECR's registry (the stand-in of APPMOD_ECR_REGISTRY) holds in `repository`, as its tag list
    says them ([] when it holds none)."""
    token = base64.b64encode(f"AWS:{moto_server.ecr_password()}".encode()).decode()
    request = urllib.request.Request(f"{ecr_registry.url}/v2/{repository}/tags/list",
                                     headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read()).get("tags") or []
    except urllib.error.HTTPError as e:
        if e.code != 404:  # NAME_UNKNOWN: nothing was ever pushed there
            raise
        return []


def find_repository(moto_server, repository: str) -> dict | None:
    try:
        return aws_client(moto_server, "ecr").describe_repositories(repositoryNames=[repository])["repositories"][0]
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise
        return None


def tables(url: str) -> dict[str, int]:
    """The tables of every schema but PostgreSQL's own, with their row counts."""
    found = fetch(url, "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN "
                       "('pg_catalog', 'information_schema')")
    with psycopg.connect(url) as conn:
        return {f"{s}.{t}": conn.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in found}


def test_bad_input_stalls_naming_the_problem_while_the_good_resource_reaches_ready(
        kubectl, operator, moto_server, ecr_registry, master_users, local_example, bad_images, wrong_pull_secret,
        refusing_table):
    names = [GOOD, *CASES]
    for name in names:
        kubectl.run("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump(build(local_example, bad_images, name)))
    try:
        good = condition_is(kubectl, GOOD, "Ready", timeout=420)
        print(f"{GOOD}: Ready, {good['status']['migration']['data']['rows']} rows, beside {len(CASES)} bad resources")
        for name, (what, expected, copied) in CASES.items():
            stalled = conditions(condition_is(kubectl, name, "Stalled", timeout=300))
            obj = app(kubectl, name)
            print(f"{name} ({what}): Stalled {stalled['Stalled']['reason']}: {stalled['Stalled']['message']}")
            assert all(e in stalled["Stalled"]["message"] for e in expected), stalled["Stalled"]
            assert "/tmp/" not in stalled["Stalled"]["message"], stalled["Stalled"]  # no name the user never sees
            assert stalled["Ready"]["status"] == "False" and obj["status"]["phase"] == "Failed"
            assert_made_is_said(moto_server, ecr_registry, master_users, obj, copied)
    finally:
        for name in names:
            delete_and_wait(kubectl, name)


def assert_made_is_said(moto_server, ecr_registry, master_users, obj: dict, copied: bool) -> None:
    """What the resource made is in its status (the cluster; the image once copied), and nothing else is:
    no ECR image for an image never copied, no table rows from a copy that failed."""
    name, status = obj["metadata"]["name"], obj["status"]
    assert status["database"]["clusterIdentifier"] == owner(name).cluster_identifier, status
    repository, image = f"{NAMESPACE}-{name}", status.get("image") or {}
    tags, found = ecr_tags(ecr_registry, moto_server, repository), find_repository(moto_server, repository)
    if copied:
        assert len(tags) == 1 and image["digest"] == image["sourceDigest"], (tags, image)
    else:
        assert tags == [] and not image.get("digest"), (tags, image)
    # A repository that exists is in the status; one that is not there is not said to be.
    assert image.get("repositoryUri") == (found or {}).get("repositoryUri"), (found, image)
    held = tables(master_users.url(user_of(name)))
    print(f"  {name}: ECR repository {'made' if found else 'not made'}, tags {tags}, PostgreSQL tables {held}")
    assert not any(held.values()), held
