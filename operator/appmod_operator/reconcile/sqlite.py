"""Where the app's SQLite database comes from (`spec.source.database.sqlite`): which version of it a
migration would read, and that version made readable as a local file.

A version names the data without fetching it, so a migration can tell "done already" from "the
source changed" for the price of a look:
- pathInImage: the source image's manifest digest, as the image step of the same pass reported it
  (`status.image.sourceDigest`); the file is then read from the image at that digest, so a tag moved
  in between cannot slip in another database;
- url (`s3://bucket/key`): `s3:<ETag>[:<VersionId>]`; the download is pinned to that ETag (If-Match),
  so an object replaced in between is an error that the next pass retries with the new version;
- path (a file the operator can read, such as a mounted volume): `sha256:<hex>` of its content; it
  is read in place, not copied.

`fetch_image_file` and `fetch_url` serve `appmod migrate` (cli.py), which runs the migration inside a
Fargate task from the ECR copy of the image or from S3. Called by cli.py and the data migration step.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from appmod_operator import config
from appmod_operator.aws import s3
from appmod_operator.errors import SourceError
from appmod_operator.names import Owner
from appmod_operator.reconcile import image, repository
from appmod_operator.registry import extract, reference
from appmod_operator.registry.client import Registry
from appmod_operator.registry.layout import Layouts, open_registry
from appmod_operator.spec import AppSpec

URL_FIELD = "spec.source.database.sqlite.url"
PATH_FIELD = "spec.source.database.sqlite.path"
S3_VERSION = "s3:"
# ECR's registry endpoints name the account and the region, whose token opens them:
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html
_ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
# The image an index offers for this platform (spec.source.platform's default). The operator's own ECR
# copy is a single image, so `--from-image` with it never needs to choose.
INDEX_PLATFORM = "linux/amd64"

log = logging.getLogger(__name__)


def find_version(app: AppSpec, image_status: Mapping | None) -> str:
    """The version of the SQLite database a migration would read now. `image_status` is the image step's
    status part of this pass (`{"repositoryUri", "sourceDigest", "digest"}`), needed for pathInImage only.
    A missing S3 object or file raises SourceError naming the spec field."""
    sqlite = app.source.sqlite
    if sqlite.kind == "pathInImage":
        if not image_status or not image_status.get("sourceDigest"):
            raise ValueError("pathInImage's version is the image step's sourceDigest: run the image step first")
        return image_status["sourceDigest"]
    if sqlite.kind == "url":
        return build_s3_version(_existing_object(app.region, sqlite.location, URL_FIELD))
    return "sha256:" + _content_digest(Path(sqlite.location))


def build_s3_version(head: Mapping) -> str:
    """`s3:<ETag>[:<VersionId>]` from a HeadObject answer; the ETag without the quotes S3 puts around it."""
    version = S3_VERSION + head["ETag"].strip('"')
    return f"{version}:{head['VersionId']}" if head.get("VersionId") else version


def describe_source(app: AppSpec, version: str) -> str:
    """The database as the user named it (the spec field, and the image version it is read from), for
    messages about a file the user never sees under its local name (a temporary extract or download)."""
    sqlite = app.source.sqlite
    where = f" of {app.source.image}@{version}" if sqlite.kind == "pathInImage" else ""
    return f"spec.source.database.sqlite.{sqlite.kind}: {sqlite.location}{where}"


def fetch(app: AppSpec, owner: Owner, version: str, directory: Path) -> Path:
    """The path of the database at `version` (from `find_version`) as a local file: extracted or
    downloaded into `directory`, or the spec's own path."""
    sqlite = app.source.sqlite
    if sqlite.kind == "path":
        return Path(sqlite.location)
    destination = directory / PurePosixPath(sqlite.location).name
    if sqlite.kind == "url":
        log.info("%s: downloading %s (%s)", owner.ref, sqlite.location, version)
        return fetch_url(sqlite.location, app.region, directory, version)
    pinned = dataclasses.replace(image.parse_source(app), digest=version)
    source = image.source_registry(app, owner, pinned)
    try:
        log.info("%s: extracting %s from %s", owner.ref, sqlite.location, pinned)
        extract.extract_file(source, pinned, app.source.platform, sqlite.location, destination)
    finally:
        source.close()
    return destination


def fetch_url(url: str, region: str | None, directory: Path, version: str | None = None) -> Path:
    """The S3 object at `url` (`s3://bucket/key`) downloaded into `directory`, pinned to `version` (as
    `find_version` gives it) or else to the ETag it has now; SourceError when absent."""
    version = version or build_s3_version(_existing_object(region, url, None))
    if not version.startswith(S3_VERSION):
        raise SourceError(f"{version!r} is not an S3 object's version (s3:<ETag>)")
    destination = directory / PurePosixPath(url).name
    s3.download(region, *_bucket_key(url), destination, '"' + version.split(":")[1] + '"')
    return destination


def fetch_image_file(image_reference: str, path: str, destination: Path) -> str:
    """Writes the file at `path` inside the image `image_reference` to `destination`; returns the image's
    manifest digest. An ECR registry host (`<account>.dkr.ecr.<region>.amazonaws.com`) is logged in to
    with that region's token (APPMOD_ECR_REGISTRY redirects it as for the image step, to a layout
    directory too); any other registry is read anonymously, and `oci:PATH[:TAG]` from that layout
    directory. Raises SourceError for a reference that does not parse, FileNotInImage, ImageNotFound,
    RegistryAccessDenied (user errors), RegistryError or AwsError (worth retrying)."""
    try:
        ref = reference.parse(image_reference)
    except ValueError as e:
        raise SourceError(str(e)) from None
    registry = _registry_of(ref)
    try:
        return extract.extract_file(registry, ref, INDEX_PLATFORM, path, destination).digest
    finally:
        registry.close()


def _registry_of(ref: reference.Reference) -> Registry | Layouts:
    ecr_host = _ECR_HOST.match(ref.registry)
    if ecr_host:
        return image.ecr_registry(repository.login(ecr_host.group(1)))
    return open_registry(ref.registry, side="the image's registry",
                         insecure=ref.registry in config.current().insecure_registries)


def _bucket_key(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise SourceError(f"{url} is not an S3 object's URL (s3://bucket/key)")
    return bucket, key


def _existing_object(region: str | None, url: str, field: str | None) -> dict:
    head = s3.find_object(region, *_bucket_key(url))
    if head is None:
        raise SourceError((f"{field}: " if field else "") + f"{url} does not exist (no such bucket or object)")
    return head


def _content_digest(path: Path) -> str:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        raise SourceError(f"{PATH_FIELD}: {path} does not exist") from None
    except OSError as e:
        raise SourceError(f"{PATH_FIELD}: cannot read {path}: {e.strerror}") from None
