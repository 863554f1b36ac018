"""reconcile/sqlite.py on real parts: `url` on moto server's S3, `path` on a real file, `pathInImage`
and `fetch_image_file` on the real source registry, each with a real SQLite database made by sqlite3."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from appmod_operator import spec
from appmod_operator.errors import AwsError, FileNotInImage, SourceError, UserError
from appmod_operator.reconcile import sqlite
from appmod_operator.registry.client import Registry
from tests.aws.conftest import NAME, NAMESPACE, OWNER
from tests.migration.sqlite_db import products as database
from tests.registry.images import layer, push_image

BUCKET = "legacy-data"
PATH_IN_IMAGE = "/app/sandbox/db.sqlite"


def titles(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT title FROM product ORDER BY id")]
    finally:
        conn.close()


def push_database_image(registry: Registry, repository: str, tag: str | None, data: bytes) -> str:
    """An image whose lower layer holds `data` at PATH_IN_IMAGE, under another layer with the app; its
    manifest digest (pushed by digest when `tag` is None)."""
    return push_image(registry, repository, tag, [layer({PATH_IN_IMAGE.lstrip("/"): data}),
                                                  layer({"app/manage.py": b"print('hello')\n"})]).digest


def app_with(image: str = "registry.example/app:1", **sqlite_source: str) -> spec.AppSpec:
    return spec.parse({"source": {"image": image, "database": {"sqlite": sqlite_source}}}, NAMESPACE, NAME)


@pytest.fixture
def s3(boto):
    client = boto("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def source(source_registry):
    registry = Registry(source_registry.host, side="the source registry", insecure=True)
    yield registry
    registry.close()


def test_an_s3_object_is_versioned_by_its_etag_and_downloaded_as_it_is(s3, tmp_path):
    data = database(tmp_path / "made.sqlite", "Oscar", "Sandbox")
    s3.put_object(Bucket=BUCKET, Key="legacy/db.sqlite", Body=data)
    app = app_with(url=f"s3://{BUCKET}/legacy/db.sqlite")
    version = sqlite.find_version(app, None)
    assert version == "s3:" + s3.head_object(Bucket=BUCKET, Key="legacy/db.sqlite")["ETag"].strip('"')
    work = tmp_path / "work"
    path = sqlite.fetch(app, OWNER, version, work)
    assert path == work / "db.sqlite" and path.read_bytes() == data
    assert titles(path) == ["Oscar", "Sandbox"]
    assert [p.name for p in work.iterdir()] == ["db.sqlite"]  # no temporary file left beside it


def test_a_versioned_bucket_adds_the_version_id(s3, tmp_path):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    data = database(tmp_path / "made.sqlite", "Oscar")
    made = s3.put_object(Bucket=BUCKET, Key="db.sqlite", Body=data)
    app = app_with(url=f"s3://{BUCKET}/db.sqlite")
    version = sqlite.find_version(app, None)
    assert version == f"s3:{made['ETag'].strip(chr(34))}:{made['VersionId']}"
    assert sqlite.fetch(app, OWNER, version, tmp_path / "work").read_bytes() == data


@pytest.mark.parametrize("url", [f"s3://{BUCKET}/absent.sqlite", "s3://no-such-bucket/db.sqlite"])
def test_a_missing_object_is_a_source_error_naming_the_field(s3, url):
    with pytest.raises(SourceError) as raised:
        sqlite.find_version(app_with(url=url), None)
    assert isinstance(raised.value, UserError)
    assert str(raised.value).startswith(f"spec.source.database.sqlite.url: {url} does not exist")


def test_an_object_replaced_after_its_version_was_read_is_retried_not_stalled(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="db.sqlite", Body=database(tmp_path / "old.sqlite", "Old"))
    app = app_with(url=f"s3://{BUCKET}/db.sqlite")
    version = sqlite.find_version(app, None)
    s3.put_object(Bucket=BUCKET, Key="db.sqlite", Body=database(tmp_path / "new.sqlite", "New"))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(AwsError) as raised:
        sqlite.fetch(app, OWNER, version, work)
    assert raised.value.code == "PreconditionFailed" and not isinstance(raised.value, UserError)
    assert not any(work.iterdir())  # nothing half-written is left to be mistaken for the database
    # The next pass reads the new version and gets the new object.
    newer = sqlite.find_version(app, None)
    assert newer != version and titles(sqlite.fetch(app, OWNER, newer, work)) == ["New"]


def test_a_path_is_versioned_by_its_content_and_read_in_place(tmp_path):
    location = tmp_path / "volume" / "db.sqlite"
    location.parent.mkdir()
    data = database(location, "Oscar")
    app = app_with(path=str(location))
    version = sqlite.find_version(app, None)
    assert version == "sha256:" + hashlib.sha256(data).hexdigest()
    work = tmp_path / "work"
    work.mkdir()
    assert sqlite.fetch(app, OWNER, version, work) == location and not any(work.iterdir())
    conn = sqlite3.connect(location)
    with conn:  # one row more: another version
        conn.execute("INSERT INTO product VALUES (2, 'Sandbox')")
    conn.close()
    assert sqlite.find_version(app, None) != version


def test_a_missing_path_is_a_source_error_naming_the_field(tmp_path):
    with pytest.raises(SourceError) as raised:
        sqlite.find_version(app_with(path=str(tmp_path / "absent.sqlite")), None)
    assert str(raised.value) == f"spec.source.database.sqlite.path: {tmp_path / 'absent.sqlite'} does not exist"


def test_a_database_in_the_image_is_read_at_the_digest_the_image_step_saw(source, source_registry, tmp_path):
    repository = "t/sqlite-source-path-in-image"
    first = push_database_image(source, repository, "v1", database(tmp_path / "first.sqlite", "Oscar"))
    app = app_with(image=f"{source_registry.host}/{repository}:v1", pathInImage=PATH_IN_IMAGE)
    version = sqlite.find_version(app, {"repositoryUri": "x", "sourceDigest": first, "digest": first})
    assert version == first
    # The tag moves between the image step and the fetch: the database still comes from the digest seen.
    push_database_image(source, repository, "v1", database(tmp_path / "moved.sqlite", "Moved"))
    path = sqlite.fetch(app, OWNER, version, tmp_path / "work")
    assert path == tmp_path / "work" / "db.sqlite" and titles(path) == ["Oscar"]


def test_path_in_image_needs_the_image_steps_status():
    with pytest.raises(ValueError, match="sourceDigest"):
        sqlite.find_version(app_with(pathInImage=PATH_IN_IMAGE), None)


def test_a_file_is_read_out_of_an_image_by_reference(source, source_registry, tmp_path):
    repository = "t/sqlite-source-by-reference"
    data = database(tmp_path / "made.sqlite", "Oscar")
    digest = push_database_image(source, repository, "v1", data)
    image = f"{source_registry.host}/{repository}:v1"
    assert sqlite.fetch_image_file(image, PATH_IN_IMAGE, tmp_path / "got.sqlite") == digest
    assert (tmp_path / "got.sqlite").read_bytes() == data
    with pytest.raises(FileNotInImage) as raised:
        sqlite.fetch_image_file(image, "/app/other.sqlite", tmp_path / "other.sqlite")
    assert str(raised.value).startswith(f"/app/other.sqlite is not in image {image} ({digest})")
    assert not (tmp_path / "other.sqlite").exists()
