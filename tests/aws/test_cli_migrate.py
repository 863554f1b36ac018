"""`appmod migrate` run the way the operator's Fargate task runs it: SOURCE read out of the image's ECR
copy (the ECR stand-in registry, logged in to with moto's token) or downloaded from S3 (moto), the
target URL from an environment variable, the rows into the real PostgreSQL."""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

import pytest

from appmod_operator.registry.client import Registry
from tests.aws.test_sqlite_source import BUCKET, PATH_IN_IMAGE, database, push_database_image
from tests.migration.sqlite_db import fetch
from tests.unit.test_cli import appmod

REPOSITORY = "shop-oscar"
ROWS = [(1, "Oscar"), (2, "Sandbox")]


@pytest.fixture
def scratch(tmp_path):
    """The TMPDIR the command fetches into, to see it left empty."""
    path = tmp_path / "tmp"
    path.mkdir()
    return path


@pytest.fixture
def env(pg_url, scratch) -> dict[str, str]:
    """This process's environment (the aws fixture pointed it at moto and the loopback registries, ECR's
    included), the target URL in DATABASE_URL, and the scratch TMPDIR."""
    return {**os.environ, "DATABASE_URL": pg_url, "TMPDIR": str(scratch)}


@pytest.fixture
def ecr_image(boto, ecr_registry, moto_server, tmp_path) -> str:
    """A reference to an image in ECR by digest, as the image step reports it (repositoryUri@digest), whose
    layers hold a real SQLite database at PATH_IN_IMAGE."""
    endpoint = boto("ecr").get_authorization_token()["authorizationData"][0]["proxyEndpoint"]
    registry = Registry(ecr_registry.host, side="ECR", credentials=("AWS", moto_server.ecr_password()), insecure=True)
    try:
        digest = push_database_image(registry, REPOSITORY, None, database(tmp_path / "made.sqlite", "Oscar", "Sandbox"))
    finally:
        registry.close()
    return f"{urlsplit(endpoint).netloc}/{REPOSITORY}@{digest}"


def product_rows(url: str) -> list[tuple]:
    return fetch(url, "SELECT id, title FROM product ORDER BY id")


def test_from_an_image_in_ecr_into_the_url_of_an_environment_variable(ecr_image, env, pg_url, scratch):
    result = appmod("migrate", PATH_IN_IMAGE, "--from-image", ecr_image, "--target-env", "DATABASE_URL", "--json",
                    env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == 2 and product_rows(pg_url) == ROWS
    assert ecr_image.split("@")[1] in result.stderr  # which image the data came from
    assert urlsplit(pg_url).password not in result.stdout + result.stderr
    assert not any(scratch.iterdir())


def test_from_an_s3_object(boto, env, pg_url, scratch, tmp_path):
    s3 = boto("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="legacy/db.sqlite", Body=database(tmp_path / "made.sqlite", "Oscar", "Sandbox"))
    result = appmod("migrate", f"s3://{BUCKET}/legacy/db.sqlite", pg_url, env=env)
    assert result.returncode == 0, result.stderr
    assert product_rows(pg_url) == ROWS
    assert not any(scratch.iterdir())


def test_what_cannot_be_had_is_one_line_naming_it(boto, ecr_image, env, scratch, tmp_path):
    boto("s3").create_bucket(Bucket=BUCKET)
    local = str(tmp_path / "made.sqlite")  # made by ecr_image
    cases = [
        (("migrate", local, "--target-env", "APPMOD_NO_SUCH_VARIABLE"), "--target-env APPMOD_NO_SUCH_VARIABLE"),
        (("migrate", local, "postgresql://u@h/d", "--target-env", "DATABASE_URL"), "not both"),
        (("migrate", local), "give TARGET"),
        (("migrate", f"s3://{BUCKET}/absent.sqlite", "--target-env", "DATABASE_URL"), f"s3://{BUCKET}/absent.sqlite"),
        (("migrate", "/app/other.sqlite", "--from-image", ecr_image, "--target-env", "DATABASE_URL"),
         "/app/other.sqlite is not in image"),
        (("migrate", PATH_IN_IMAGE, "--from-image", "Not A Reference", "--target-env", "DATABASE_URL"),
         "--from-image: "),
    ]
    for args, words in cases:
        result = appmod(*args, env=env)
        assert (result.returncode, result.stdout) == (2, ""), (args, result.stderr)
        said = [line for line in result.stderr.splitlines() if line.startswith("appmod:")]
        assert len(said) == 1 and words in said[0] and "Traceback" not in result.stderr, (args, result.stderr)
        assert not any(scratch.iterdir())


def test_a_registry_that_does_not_answer_is_worth_running_again(env):
    # The discard port: nothing listens. Added to the list, which names the plain-HTTP ECR stand-in too.
    env = {**env, "APPMOD_INSECURE_REGISTRIES": ",".join(filter(None, [env.get("APPMOD_INSECURE_REGISTRIES"),
                                                                        "127.0.0.1:9"]))}
    result = appmod("migrate", PATH_IN_IMAGE, "--from-image", "127.0.0.1:9/shop/app:v1", "--target-env",
                    "DATABASE_URL", env=env)
    assert result.returncode == 1, result.stderr
    assert "appmod: --from-image: the image's registry 127.0.0.1:9 could not be reached" in result.stderr
    assert "run the command again" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_s3_object_replaced_since_its_version_was_seen_is_not_read(boto, env, pg_url, tmp_path):
    """What the operator's Fargate task runs: --source-version pins the object the operator recorded."""
    s3 = boto("s3")
    s3.create_bucket(Bucket=BUCKET)
    seen = s3.put_object(Bucket=BUCKET, Key="legacy/db.sqlite", Body=database(tmp_path / "a.sqlite", "Oscar"))["ETag"]
    s3.put_object(Bucket=BUCKET, Key="legacy/db.sqlite", Body=database(tmp_path / "b.sqlite", "Other", "Rows"))
    result = appmod("migrate", f"s3://{BUCKET}/legacy/db.sqlite", pg_url, "--source-version",
                    "s3:" + seen.strip('"'), env=env)
    assert result.returncode == 1 and "run the command again" in result.stderr, result.stderr
    assert "product" not in [t for (t,) in fetch(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
