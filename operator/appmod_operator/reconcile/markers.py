"""What a finished migration leaves on the Aurora cluster as tags, so that its outcome can be read from AWS
itself: the `appmod` command line has no status to remember between runs, and a restarted operator or a
re-created resource must agree with it (issue 13). The status stays the first place a step looks (no AWS
call); these tags are the record that outlives it.

- schema (AppCommand): the image's source digest it ran for, the task, when it finished;
- data: the source version it copied, the summary (tables, rows, bytes, checksum), when it finished, and
  the appmod.io/remigrate value it honoured.

A migration the status remembers counts only on the cluster it was made on (`clusterResourceId`, the
cluster's DbClusterResourceId, unique to one creation): a cluster re-created under the same name gets its
schema and data again. The database step hands the cluster's markers to the pass (`StepOutcome.markers`,
`Context.markers`); the schema and data steps read them and write them once their work is done (`ensure_markers`, one
AddTagsToResource, only when a marker differs). Tag values are limited to letters, digits, spaces and
`_.:/=+-@`, 256 characters (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Tagging.html):
versions and digests fit, a remigrate value that does not is kept as its hash.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping

from appmod_operator.aws import clients, rds
from appmod_operator.reconcile.outcome import Context

PREFIX = "appmod.io/"
SCHEMA_DIGEST = f"{PREFIX}schema-source-digest"
SCHEMA_TASK = f"{PREFIX}schema-task"
SCHEMA_AT = f"{PREFIX}schema-completed-at"
DATA_VERSION = f"{PREFIX}data-source-version"
DATA_SUMMARY = f"{PREFIX}data-summary"
DATA_AT = f"{PREFIX}data-completed-at"
DATA_REMIGRATE = f"{PREFIX}data-remigrate"
ALL = (SCHEMA_DIGEST, SCHEMA_TASK, SCHEMA_AT, DATA_VERSION, DATA_SUMMARY, DATA_AT, DATA_REMIGRATE)
SUMMARY_FIELDS = ("tables", "rows", "bytes", "checksum")
_TAG_SAFE = re.compile(r"^[\w\s.:/=+\-@]{0,256}$")

log = logging.getLogger(__name__)


def from_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The markers among a cluster's tags."""
    return {k: v for k, v in tags.items() if k in ALL}


def from_cluster(cluster: Mapping) -> dict[str, str]:
    return from_tags(clients.tag_dict(cluster.get("TagList")))


def build_schema_markers(schema: Mapping, source_digest: str) -> dict[str, str]:
    """From status.migration.schema of a migrated schema."""
    return {SCHEMA_DIGEST: source_digest, SCHEMA_TASK: schema.get("taskArn", ""),
            SCHEMA_AT: schema.get("completedAt", "")}


def build_data_markers(data: Mapping) -> dict[str, str]:
    """From status.migration.data of a finished migration."""
    summary = " ".join(f"{k}={data[k]}" for k in SUMMARY_FIELDS if k in data)
    return {DATA_VERSION: data["sourceDigest"], DATA_SUMMARY: summary, DATA_AT: data.get("completedAt", ""),
            DATA_REMIGRATE: remigrate_value(data.get("remigrate", ""))}


def read_schema(markers: Mapping[str, str], source_digest: str | None) -> dict | None:
    """status.migration.schema when the cluster says its schema was migrated for this image, else None."""
    if not source_digest or markers.get(SCHEMA_DIGEST) != source_digest:
        return None
    schema = {"strategy": "AppCommand", "taskArn": markers.get(SCHEMA_TASK), "completedAt": markers.get(SCHEMA_AT)}
    return {k: v for k, v in schema.items() if v}


def read_data(markers: Mapping[str, str], version: str | None, remigrate: str = "") -> dict | None:
    """status.migration.data when the cluster says this version was copied into it (and the remigrate
    value asked for, if any, honoured), else None."""
    if not version or markers.get(DATA_VERSION) != version:
        return None
    if remigrate and markers.get(DATA_REMIGRATE) != remigrate_value(remigrate):
        return None
    fields = dict(item.split("=", 1) for item in markers.get(DATA_SUMMARY, "").split() if "=" in item)
    data: dict = {k: int(v) if v.isdigit() else v for k, v in fields.items() if k in SUMMARY_FIELDS}
    data.update({"sourceDigest": version, "completedAt": markers.get(DATA_AT, "")})
    if remigrate:
        data["remigrate"] = remigrate
    return {k: v for k, v in data.items() if v != ""}


def remigrate_value(value: str) -> str:
    """The annotation's value as a tag can hold it: itself, or its hash."""
    return value if _TAG_SAFE.match(value) else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def on_this_cluster(context: Context, migrated: Mapping) -> bool:
    """Whether a migration the status remembers (status.migration.schema or .data) was made on the cluster
    there is now. A cluster deleted and made again under the same name (same identifier, same ARN) has
    another resource id, no schema and no data: it is migrated again, whatever the status says."""
    here = (context.current.get("database") or {}).get("resourceId")
    return bool(here) and migrated.get("clusterResourceId") == here


def stamped(context: Context, part: str, status: Mapping) -> dict:
    """`status` (a step's part of the status) with status.migration.<part> naming the cluster it was made on."""
    here = (context.current.get("database") or {}).get("resourceId")
    migrated = dict((status.get("migration") or {}).get(part) or {})
    if here:
        migrated["clusterResourceId"] = here
    return {**status, "migration": {**(status.get("migration") or {}), part: migrated}}


def ensure_markers(region: str | None, context: Context, wanted: Mapping[str, str]) -> None:
    """Tags the pass's cluster (the database step's status part) with `wanted` unless the markers the database
    step read from it carry them already (no call then)."""
    wanted = {k: v for k, v in wanted.items() if v}
    cluster_arn = (context.current.get("database") or {}).get("clusterArn")
    if not cluster_arn or all(context.markers.get(k) == v for k, v in wanted.items()):
        return
    log.info("recording on %s: %s", cluster_arn, ", ".join(f"{k}={v}" for k, v in sorted(wanted.items())))
    rds.tag(region, cluster_arn, wanted)
