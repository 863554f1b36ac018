"""Deterministic AWS names and our ownership tags for one AppModernization (design.md, "Names").

Every AWS resource the operator makes is named from the resource's namespace and name, so a restarted
operator finds it instead of making a second one, and tagged with `appmod.io/owner` and `appmod.io/uid`,
so it can tell its own resources from someone else's with the same name. Called by reconcile/.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

OWNER_TAG = "appmod.io/owner"
UID_TAG = "appmod.io/uid"
# RDS identifiers: 1-63 letters, digits and hyphens, a letter first, no "--", no trailing hyphen.
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
RDS_IDENTIFIER_MAX = 63
# IAM role names: at most 64 characters. https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
IAM_ROLE_MAX = 64


@dataclass(frozen=True)
class Owner:
    """The resource that owns a set of AWS resources."""

    namespace: str
    name: str
    uid: str

    @classmethod
    def of(cls, body: Mapping) -> Owner:
        """The owner a resource's body describes (a resource read from a file has no uid)."""
        meta = body.get("metadata") or {}
        return cls(meta.get("namespace", "default"), meta.get("name", ""), meta.get("uid", ""))

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def key(self) -> str:
        """What this process keys its per-resource state by: the uid, or namespace/name for a resource read
        from a file (`appmod apply`), which has none."""
        return self.uid or self.ref

    @property
    def tags(self) -> dict[str, str]:
        """Our tags. Without a uid (a resource read from a file) only the owner tag: the command line
        neither writes an empty uid nor takes the uid away from the cluster's resource that has one."""
        return {OWNER_TAG: self.ref, **({UID_TAG: self.uid} if self.uid else {})}

    def owns(self, tags: Mapping[str, str]) -> bool:
        """Ours when the owner tag names this resource (the uid may differ: a re-created resource adopts)."""
        return tags.get(OWNER_TAG) == self.ref

    @property
    def base(self) -> str:
        """`appmod-<namespace>-<name>-<hash>`: readable, and unique because the hash covers namespace/name
        (joining with '-' alone would give a-b/c and a/b-c the same name). Short enough that the final
        snapshot's name, the longest made from it, stays a valid RDS identifier."""
        return self._named(RDS_IDENTIFIER_MAX - len("-snapshot-20260101000000"))

    def _named(self, limit: int, suffix: str = "") -> str:
        digest = hashlib.sha256(self.ref.encode()).hexdigest()[:8]
        readable = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", f"{self.namespace}-{self.name}".lower()))
        room = limit - len("appmod--") - len(digest) - len(suffix)
        return f"appmod-{readable[:room].strip('-')}-{digest}{suffix}"

    @property
    def cluster_identifier(self) -> str:
        return self.base

    @property
    def writer_identifier(self) -> str:
        return f"{self.base}-writer"

    @property
    def subnet_group_name(self) -> str:
        return self.base

    @property
    def database_security_group_name(self) -> str:
        return f"{self.base}-database"

    @property
    def service_security_group_name(self) -> str:
        return f"{self.base}-service"

    @property
    def execution_role_name(self) -> str:
        """The ECS task execution role (pulls the image, writes logs, reads our secret)."""
        return self._named(IAM_ROLE_MAX, "-execution")

    @property
    def migration_role_name(self) -> str:
        """The task role of the data migration task (`spec.migration.data.runner: Fargate`)."""
        return self._named(IAM_ROLE_MAX, "-migrate")

    @property
    def migration_family(self) -> str:
        """The task definition family of the data migration task."""
        return f"{self.base}-migrate"

    @property
    def log_group_name(self) -> str:
        return f"/appmod/{self.namespace}/{self.name}"

    @property
    def task_family(self) -> str:
        """The task definition family of the service, and the ECS service's name."""
        return self.base

    @property
    def secret_name(self) -> str:
        return f"appmod/{self.namespace}/{self.name}/database"

    def final_snapshot_identifier(self, at: str) -> str:
        """The snapshot taken on delete, named after the resource and the time (`at` as YYYYmmddHHMMSS)."""
        return f"{self.base}-snapshot-{at}"
