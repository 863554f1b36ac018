"""S3 objects: the SQLite database named by `spec.source.database.sqlite.url` (or `appmod migrate
s3://bucket/key`), looked at and downloaded. Thin calls.

`find_object` returns the object's description or None when absent; `download` makes one GetObject,
pinned to the ETag the caller saw, so what lands on disk is the version that was looked at or an
error (PreconditionFailed, retried: the next pass reads the new version). Called by reconcile/sqlite.py.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from appmod_operator.aws import clients
from appmod_operator.aws.clients import translated

CHUNK = 1 << 20  # bytes written at a time


def _s3(region: str | None):
    return clients.client("s3", region)


@translated("s3.HeadObject")
def find_object(region: str | None, bucket: str, key: str) -> dict | None:
    """ETag (quoted, as S3 sends it), VersionId (versioned buckets only), ContentLength, LastModified;
    None if the object or its bucket is absent. A HEAD answer has no body, so its error code is the bare
    HTTP status: "404" when absent, "403" when refused (which S3 also answers for a missing object when
    the caller may not list the bucket)."""
    with clients.tolerating("404", "NoSuchKey", "NotFound"):
        return _s3(region).head_object(Bucket=bucket, Key=key)
    return None


@translated("s3.GetObject")
def download(region: str | None, bucket: str, key: str, destination: Path, etag: str | None) -> None:
    """Writes the object to `destination`, streamed into a temporary file beside it that is renamed into
    place only once complete (a failed download leaves no partial file behind). With `etag`, S3 sends the
    object only while it still has that ETag (If-Match)."""
    conditions = {"IfMatch": etag} if etag else {}
    body = _s3(region).get_object(Bucket=bucket, Key=key, **conditions)["Body"]
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=destination.parent, prefix=f".{destination.name}.", delete=False) as out:
        try:
            for chunk in body.iter_chunks(CHUNK):
                out.write(chunk)
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
        finally:
            body.close()
    os.replace(out.name, destination)
