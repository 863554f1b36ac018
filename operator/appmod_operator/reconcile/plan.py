"""What a reconcile pass would create or change in AWS, field by field, read without changing anything
(`appmod plan`, as `terraform plan` or `kubectl diff`). Called by standalone.py.

It compares what AWS holds with what the steps would ask for, through the steps' own `build_*`
functions (database.build_changes, service.build_task_definition, ...), so that the plan and a pass
cannot disagree; the image, schema and data steps come from their read-only looks (engine.observe).
What it does not show: the security groups and subnets (made with the cluster or the service), and
superseded task definition revisions that a pass would deregister.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from appmod_operator import spec, status
from appmod_operator.aws import clients, ecr, ecs, iam, logs, rds, secrets
from appmod_operator.names import Owner
from appmod_operator.reconcile import database, engine, repository, service
from appmod_operator.reconcile.outcome import Result
from appmod_operator.status import DATA_MIGRATED, IMAGE_REPLICATED, SCHEMA_MIGRATED, STALLED, Reason

# ModifyDBCluster's parameters, as the spec fields that set them.
DATABASE_FIELDS = {"MinCapacity": "minCapacity", "MaxCapacity": "maxCapacity",
                   "SecondsUntilAutoPause": "secondsUntilAutoPause", "BackupRetentionPeriod": "backupRetentionDays",
                   "DeletionProtection": "deletionProtection", "EngineVersion": "engineVersion"}


@dataclass(frozen=True)
class Field:
    name: str
    current: object
    wanted: object


@dataclass(frozen=True)
class Change:
    action: str  # create | update | copy | run | refused
    resource: str
    fields: tuple[Field, ...] = ()
    note: str = ""

    def as_dict(self) -> dict:
        return {"action": self.action, "resource": self.resource, **({"note": self.note} if self.note else {}),
                "fields": [{"name": f.name, "current": f.current, "wanted": f.wanted} for f in self.fields]}


def build_plan(body: Mapping) -> tuple[list[Change], Result]:
    """The changes a pass would make now, and the status AWS gives today (engine.observe's)."""
    observed = engine.observe(body)
    owner = Owner.of(body)
    app = engine.parse(body)
    stalled = _condition(observed, STALLED)
    if stalled.get("status") == "True" and stalled.get("reason") == Reason.INVALID_SPEC:
        return [Change("refused", f"{owner.ref}", note=stalled.get("message", ""))], observed
    changes = [*_database(app, owner), *_repository(app, owner), *_steps(app, observed),
               *_service(app, owner, observed.status)]
    return changes, observed


def _database(app: spec.AppSpec, owner: Owner) -> list[Change]:
    region, db, identifier = app.region, app.database, owner.cluster_identifier
    cluster = rds.find_cluster(region, identifier)
    missing_secret = [] if secrets.find_secret(region, owner.secret_name) else [
        Change("create", f"Secrets Manager secret {owner.secret_name}", note="the master password, generated")]
    if cluster is None:
        wanted = {"engine": db.engine, "engineVersion": db.engine_version, "databaseName": db.database_name,
                  "masterUsername": db.master_username, **{DATABASE_FIELDS[k]: v for k, v in
                                                           database.build_scaling(db).items()},
                  "deletionProtection": db.deletion_protection, "backupRetentionDays": db.backup_retention_days}
        return [Change("create", f"Aurora cluster {identifier}", _created(wanted)), *missing_secret,
                Change("create", f"Aurora writer {owner.writer_identifier}",
                       (Field("instanceClass", None, database.WRITER_CLASS),))]
    if not owner.owns(clients.tag_dict(cluster.get("TagList"))):
        return [Change("refused", f"Aurora cluster {identifier}", note=f"not tagged appmod.io/owner={owner.ref}")]
    refusal = database.build_refusal(cluster, db)
    if refusal:
        return [Change("refused", f"Aurora cluster {identifier}", note=refusal)]
    current = {**(cluster.get("ServerlessV2ScalingConfiguration") or {}), **cluster}
    changes = {k: v for k, v in database.build_changes(cluster, db).items() if k != "AllowMajorVersionUpgrade"}
    wanted = {**changes.pop("ServerlessV2ScalingConfiguration", {}), **changes}
    fields = tuple(Field(DATABASE_FIELDS[k], current.get(k), v) for k, v in wanted.items() if current.get(k) != v)
    writer = [] if any(m.get("IsClusterWriter") for m in cluster.get("DBClusterMembers", ())) else [
        Change("create", f"Aurora writer {owner.writer_identifier}",
               (Field("instanceClass", None, database.WRITER_CLASS),))]
    return [*([Change("update", f"Aurora cluster {identifier}", fields)] if fields else []), *missing_secret, *writer]


def _repository(app: spec.AppSpec, owner: Owner) -> list[Change]:
    image, region = app.image, app.region
    found = ecr.find_repository(region, image.repository)
    wanted = {"tagMutability": image.tag_mutability, "scanOnPush": image.scan_on_push, "keepLast": image.keep_last}
    what = f"ECR repository {image.repository}"
    if found is None:
        return [Change("create", what, _created(wanted))]
    if not owner.owns(ecr.find_tags(region, found["repositoryArn"])):
        return [Change("refused", what, note=f"not tagged appmod.io/owner={owner.ref}")]
    policy = ecr.find_lifecycle_policy(region, image.repository)
    rules = json.loads(policy)["rules"] if policy else []
    same_policy = policy and json.loads(policy) == json.loads(repository.build_lifecycle_policy(image.keep_last))
    current = {"tagMutability": found.get("imageTagMutability"),
               "scanOnPush": found.get("imageScanningConfiguration", {}).get("scanOnPush"),
               "keepLast": image.keep_last if same_policy else
               (rules[0]["selection"].get("countNumber") if rules else None)}
    fields = tuple(Field(k, current[k], v) for k, v in wanted.items() if current[k] != v)
    return [Change("update", what, fields)] if fields else []


def _steps(app: spec.AppSpec, observed: Result) -> list[Change]:
    """The image copy and the migrations, from what their read-only looks found missing."""
    changes = []
    image = observed.status.get("image") or {}
    replicated = _condition(observed, IMAGE_REPLICATED)
    if replicated.get("status") != "True":
        why = "" if replicated.get("reason") in (Reason.NOT_FOUND, None) else f"; now: {replicated.get('message')}"
        changes.append(Change("copy", f"image {app.source.image}",
                              (Field("digest", None, image.get("sourceDigest", "(read at copy time)")),),
                              note=f"into ECR repository {app.image.repository}{why}"))
    if app.migration.schema_strategy == "AppCommand" and _condition(observed, SCHEMA_MIGRATED).get("status") != "True":
        changes.append(Change("run", "schema migration task", (Field("command", None,
                                                                     " ".join(app.migration.schema_command)),)))
    if app.migration.data_enabled and _condition(observed, DATA_MIGRATED).get("status") != "True":
        version = ((observed.status.get("migration") or {}).get("data") or {}).get("sourceDigest")
        changes.append(Change("run", "data migration", (
            Field("source", None, version or (app.source.sqlite.location if app.source.sqlite else "")),
            Field("runner", None, app.migration.data_runner), Field("verify", None, app.migration.data_verify))))
    return changes


def _service(app: spec.AppSpec, owner: Owner, observed: Mapping) -> list[Change]:
    region, svc = app.region, app.service
    changes = [Change("create", f"ECS cluster {svc.cluster}")] if ecs.find_cluster(region, svc.cluster) is None else []
    role = iam.find_role(region, owner.execution_role_name)
    if role is None:
        changes.append(Change("create", f"IAM role {owner.execution_role_name}", note="the task execution role"))
    if logs.find_log_group(region, owner.log_group_name) is None:
        changes.append(Change("create", f"log group {owner.log_group_name}"))
    image = observed.get("image") or {}
    uri = image.get("repositoryUri") or f"(ECR repository {app.image.repository})"
    reference = f"{uri}@{image.get('digest') or image.get('sourceDigest') or '(the copy digest)'}"
    found = ecs.find_service(region, svc.cluster, owner.task_family)
    what = f"ECS service {owner.task_family}"
    if found is None:
        return [*changes, Change("create", what, _created({
            "desiredCount": svc.desired_count, "cpu": svc.cpu, "memory": svc.memory, "image": reference,
            "containerPort": svc.container_port}))]
    fields = []
    if found.get("desiredCount") != svc.desired_count:
        fields.append(Field("desiredCount", found.get("desiredCount"), svc.desired_count))
    secret = secrets.find_secret(region, owner.secret_name)
    if role is not None and secret is not None:
        wanted = service.build_task_definition(app, owner, reference, secret["ARN"], role["Arn"], owner.log_group_name)
        running = ecs.find_task_definition(region, found["taskDefinition"])
        current = _flat(service.essentials(running)) if running else {}
        fields += [Field(f"taskDefinition.{k}", current.get(k), v)
                   for k, v in _flat(service.essentials(wanted)).items() if current.get(k) != v]
    return [*changes, *([Change("update", what, tuple(fields))] if fields else [])]


def _secret_arn(app: spec.AppSpec, owner: Owner) -> str:
    found = secrets.find_secret(app.region, owner.secret_name)
    return found["ARN"] if found else f"(secret {owner.secret_name})"


def _flat(value: Mapping, prefix: str = "") -> dict:
    out: dict = {}
    for key, item in value.items():
        if isinstance(item, Mapping):
            out.update(_flat(item, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = item
    return out


def _created(wanted: Mapping) -> tuple[Field, ...]:
    return tuple(Field(k, None, v) for k, v in wanted.items())


def _condition(result: Result, type_: str) -> Mapping:
    return status.condition(result.status, type_)
