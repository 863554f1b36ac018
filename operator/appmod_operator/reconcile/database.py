"""The database step: an Aurora PostgreSQL Serverless v2 cluster and its writer, as `spec.database`
says, reported as `status.database` and the DatabaseReady condition; and its removal at teardown,
per `spec.deletionPolicy`.

Shape (design.md): find, create if absent, compare, update, report. A cluster with our deterministic
identifier is adopted only when it carries our owner tag; changes AWS can apply in place
(scaling, backups, deletion protection, a newer engine version) go through ModifyDBCluster, the rest
are refused. Called by engine.py.
"""

from __future__ import annotations

import dataclasses
import logging

from appmod_operator.aws import clients, rds, secrets
from appmod_operator.errors import NotOwned, UnsafeChange
from appmod_operator.names import Owner
from appmod_operator.reconcile import credentials, markers, network
from appmod_operator.reconcile.outcome import Context, StepOutcome
from appmod_operator.spec import AppSpec, Database
from appmod_operator.status import Reason

WRITER_CLASS = "db.serverless"  # Serverless v2: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.create.html
AVAILABLE = "available"
# How long a deleted resource's secret can still be restored: with a final snapshot, long enough to
# restore the snapshot and find its credentials; without, a week to undo a mistake.
SECRET_RECOVERY_DAYS = {"Snapshot": 30, "Delete": 7}
# Fields AWS cannot change on an existing cluster: spec field, DescribeDBClusters key, spec attribute.
IMMUTABLE = (("spec.database.engine", "Engine", "engine"),
             ("spec.database.databaseName", "DatabaseName", "database_name"),
             ("spec.database.masterUsername", "MasterUsername", "master_username"))

log = logging.getLogger(__name__)


def ensure_database(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    region, db = app.region, app.database
    cluster = _find_owned_cluster(region, owner)
    if cluster is not None:
        _refuse_unsafe_changes(cluster, db)
    secret = credentials.ensure_credentials(region, owner, db)
    corrections: tuple[str, ...] = ()
    if cluster is None:
        if (context.previous.get("database") or {}).get("clusterArn"):
            corrections = (f"Aurora cluster {owner.cluster_identifier} was deleted outside the operator; "
                           "creating it again (its data comes back with the migration step)",)
        where = network.ensure_network(app, owner)
        log.info("%s: creating Aurora cluster %s", owner.ref, owner.cluster_identifier)
        cluster = rds.create_cluster(region, build_cluster_request(db, owner, secret.password, where))
        secret = credentials.ensure_current(region, secret, db, cluster)
    elif cluster["Status"] == AVAILABLE:  # AWS refuses changes to a cluster that is busy
        cluster, secret = _converge(region, cluster, db, owner, secret)
    report = build_report(cluster, _ensure_writer(region, cluster, owner), secret.arn)
    return dataclasses.replace(report, corrections=corrections)


def check_database(app: AppSpec, owner: Owner, context: Context) -> StepOutcome | None:
    """The resync's cheap look (one AWS read) at a database the last pass left ready: the report when the
    cluster still matches the spec and its writer is still a member, else None (the full step runs)."""
    cluster = rds.find_cluster(app.region, owner.cluster_identifier)
    previous = context.previous.get("database") or {}
    if (cluster is None or not owner.owns(clients.tag_dict(cluster.get("TagList"))) or cluster["Status"] != AVAILABLE
            or build_refusal(cluster, app.database) or build_changes(cluster, app.database)
            or cluster.get("Endpoint") != previous.get("endpoint")):
        return None
    members = [m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", ()) if m.get("IsClusterWriter")]
    if not members:
        return None
    writer = {"DBInstanceIdentifier": members[0], "DBInstanceStatus": AVAILABLE}  # available when last looked at
    return build_report(cluster, writer, previous.get("secretArn"))


def observe_database(app: AppSpec, owner: Owner, context: Context) -> StepOutcome:
    """Read only (paused, `appmod status`): what exists, changing nothing."""
    cluster = rds.find_cluster(app.region, owner.cluster_identifier)
    if cluster is None:
        return StepOutcome(False, Reason.NOT_FOUND, f"cluster {owner.cluster_identifier} does not exist")
    found = secrets.find_secret(app.region, owner.secret_name)
    report = build_report(cluster, _find_writer(app.region, cluster, owner), found["ARN"] if found else None)
    return StepOutcome(report.done, report.reason, report.message, report.status, markers=report.markers)


def delete_database(app: AppSpec, owner: Owner, at: str) -> StepOutcome:
    """One teardown pass; `done` once AWS confirms the cluster is gone and what came with it is removed.
    `at` (YYYYmmddHHMMSS) names the final snapshot."""
    region, identifier, policy = app.region, owner.cluster_identifier, app.deletion_policy
    if policy == "Retain":
        return StepOutcome(True, Reason.RETAINED, f"deletionPolicy Retain: cluster {identifier} and secret "
                           f"{owner.secret_name} are left in place")
    cluster = rds.find_cluster(region, identifier)
    if cluster is not None and not owner.owns(clients.tag_dict(cluster.get("TagList"))):
        return StepOutcome(True, Reason.RETAINED, f"cluster {identifier} is not ours (no appmod.io/owner="
                           f"{owner.ref} tag); left alone")
    if cluster is not None:
        snapshot = owner.final_snapshot_identifier(at) if policy == "Snapshot" else None
        if cluster["Status"] != "deleting":
            _delete_cluster(region, cluster, snapshot)
        taking = f", final snapshot {snapshot}" if snapshot else ""
        return StepOutcome(False, Reason.DELETING, f"cluster {identifier} is being deleted{taking}", waiting=True)
    network.delete_network(app, owner)
    credentials.delete_credentials(region, owner, SECRET_RECOVERY_DAYS[policy])
    return StepOutcome(True, Reason.DELETING, f"cluster {identifier} is gone")


def build_scaling(db: Database) -> dict:
    scaling = {"MinCapacity": db.min_capacity, "MaxCapacity": db.max_capacity}
    if db.min_capacity == 0:  # auto-pause: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html
        scaling["SecondsUntilAutoPause"] = db.seconds_until_auto_pause
    return scaling


def build_cluster_request(db: Database, owner: Owner, password: str, where: network.Network) -> dict:
    return {
        "DBClusterIdentifier": owner.cluster_identifier,
        "Engine": db.engine,
        "EngineVersion": db.engine_version,
        "EngineMode": "provisioned",
        "DatabaseName": db.database_name,
        "MasterUsername": db.master_username,
        "MasterUserPassword": password,
        "Port": network.DATABASE_PORT,
        "StorageEncrypted": True,
        "DeletionProtection": db.deletion_protection,
        "BackupRetentionPeriod": db.backup_retention_days,
        "CopyTagsToSnapshot": True,
        "DBSubnetGroupName": where.subnet_group_name,
        "VpcSecurityGroupIds": [where.database_security_group_id],
        "ServerlessV2ScalingConfiguration": build_scaling(db),
        "Tags": clients.tag_list(owner.tags),
    }


def build_writer_request(cluster: dict, owner: Owner) -> dict:
    return {"DBInstanceIdentifier": owner.writer_identifier, "DBClusterIdentifier": cluster["DBClusterIdentifier"],
            "Engine": cluster["Engine"], "DBInstanceClass": WRITER_CLASS, "Tags": clients.tag_list(owner.tags)}


def build_changes(cluster: dict, db: Database) -> dict:
    """The ModifyDBCluster parameters that bring `cluster` to `db` (empty when it matches)."""
    changes: dict = {}
    scaling, current = build_scaling(db), cluster.get("ServerlessV2ScalingConfiguration") or {}
    if any(current.get(k) != v for k, v in scaling.items()):
        changes["ServerlessV2ScalingConfiguration"] = scaling
    if cluster.get("BackupRetentionPeriod") != db.backup_retention_days:
        changes["BackupRetentionPeriod"] = db.backup_retention_days
    if cluster.get("DeletionProtection") != db.deletion_protection:
        changes["DeletionProtection"] = db.deletion_protection
    if _version(db.engine_version) > _version(cluster["EngineVersion"]):  # AWS may have upgraded a minor already
        changes["EngineVersion"] = db.engine_version
        changes["AllowMajorVersionUpgrade"] = _version(db.engine_version)[0] != _version(cluster["EngineVersion"])[0]
    return changes


def build_refusal(cluster: dict, db: Database) -> str | None:
    """Why the spec cannot be applied to this cluster in place, or None."""
    identifier = cluster["DBClusterIdentifier"]
    for field, key, attribute in IMMUTABLE:
        wanted, actual = getattr(db, attribute), cluster.get(key)
        if wanted != actual:
            return (f"{field} is {wanted!r} but cluster {identifier} has {actual!r}, which cannot change in place "
                    "(it would need a new database); set it back, or create a new resource and migrate")
    if _version(db.engine_version)[0] < _version(cluster["EngineVersion"])[0]:
        return (f"spec.database.engineVersion is {db.engine_version} but cluster {identifier} runs "
                f"{cluster['EngineVersion']}; a major version cannot be downgraded")
    return None


def build_report(cluster: dict, writer: dict | None, secret_arn: str | None) -> StepOutcome:
    """DatabaseReady and status.database from what AWS reports: ready only when the cluster and its
    writer are `available` and the endpoint is known."""
    identifier, endpoint = cluster["DBClusterIdentifier"], cluster.get("Endpoint")
    status = {"database": {
        "clusterIdentifier": identifier, "clusterArn": cluster.get("DBClusterArn"), "endpoint": endpoint,
        "port": cluster.get("Port"), "status": cluster["Status"], "engineVersion": cluster.get("EngineVersion"),
        "secretArn": secret_arn, "resourceId": cluster.get("DbClusterResourceId")}}
    status["database"] = {k: v for k, v in status["database"].items() if v is not None}
    writer_status = writer["DBInstanceStatus"] if writer else "not created yet"
    writer_name = writer["DBInstanceIdentifier"] if writer else ""
    states = (cluster["Status"], writer_status)
    recorded = markers.from_cluster(cluster)
    if states == (AVAILABLE, AVAILABLE) and endpoint:
        return StepOutcome(True, Reason.AVAILABLE, f"cluster {identifier} is available at {endpoint}:"
                           f"{cluster.get('Port')}", status, markers=recorded)
    reason = (Reason.CREATING if "creating" in states or writer is None
              else Reason.DELETING if "deleting" in states else Reason.UPDATING)
    return StepOutcome(False, reason, f"AWS reports cluster {identifier} {cluster['Status']}, writer {writer_name} "
                       f"{writer_status}".replace("  ", " "), status, waiting=True, markers=recorded)


def _find_owned_cluster(region: str | None, owner: Owner) -> dict | None:
    cluster = rds.find_cluster(region, owner.cluster_identifier)
    if cluster is not None and not owner.owns(clients.tag_dict(cluster.get("TagList"))):
        raise NotOwned(f"cluster {owner.cluster_identifier} exists but is not tagged appmod.io/owner={owner.ref}; "
                       "it is not touched: delete or rename it, or add the tag to adopt it")
    return cluster


def _refuse_unsafe_changes(cluster: dict, db: Database) -> None:
    refusal = build_refusal(cluster, db)
    if refusal:
        raise UnsafeChange(refusal)


def _converge(region: str | None, cluster: dict, db: Database, owner: Owner,
              secret: credentials.Credentials) -> tuple[dict, credentials.Credentials]:
    tags = clients.tag_dict(cluster.get("TagList"))
    if any(tags.get(k) != v for k, v in owner.tags.items()):
        rds.tag(region, cluster["DBClusterArn"], owner.tags)  # adopted by a re-created resource: its uid now
    changes = build_changes(cluster, db)
    if not secret.used_by(cluster["DBClusterIdentifier"]):  # adopted, or a crash before the secret was marked
        changes["MasterUserPassword"] = secret.password
    if changes:
        log.info("%s: modifying cluster %s: %s", owner.ref, cluster["DBClusterIdentifier"], ", ".join(sorted(changes)))
        cluster = rds.modify_cluster(region, cluster["DBClusterIdentifier"], changes)
    return cluster, credentials.ensure_current(region, secret, db, cluster)


def _find_writer(region: str | None, cluster: dict, owner: Owner) -> dict | None:
    writers = [m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", ()) if m.get("IsClusterWriter")]
    wanted = writers[0] if writers else owner.writer_identifier
    return next((i for i in rds.find_instances(region, cluster["DBClusterIdentifier"])
                 if i["DBInstanceIdentifier"] == wanted), None)


def _ensure_writer(region: str | None, cluster: dict, owner: Owner) -> dict | None:
    writer = _find_writer(region, cluster, owner)
    if writer is None and cluster["Status"] != "deleting":
        log.info("%s: creating writer instance %s", owner.ref, owner.writer_identifier)
        writer = rds.create_instance(region, build_writer_request(cluster, owner))
    return writer


def _delete_cluster(region: str | None, cluster: dict, snapshot: str | None) -> None:
    identifier = cluster["DBClusterIdentifier"]
    if cluster.get("DeletionProtection"):  # lifted only here, when the policy deletes
        rds.modify_cluster(region, identifier, {"DeletionProtection": False})
    for instance in rds.find_instances(region, identifier):
        if instance["DBInstanceStatus"] != "deleting":
            rds.delete_instance(region, instance["DBInstanceIdentifier"])
    log.info("deleting cluster %s%s", identifier, f" after final snapshot {snapshot}" if snapshot else "")
    rds.delete_cluster(region, identifier, snapshot)


def _version(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))
