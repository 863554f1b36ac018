"""Aurora clusters, their instances, DB subnet groups and snapshots: thin calls to the RDS API.

`find_*` returns the AWS description or None when absent; the rest make one call each. The requests
themselves are built by reconcile/database.py. Called by reconcile/database.py, and `list_clusters` by
demo/aurora.py.
"""

from __future__ import annotations

from appmod_operator.aws import clients
from appmod_operator.aws.clients import translated

ENGINE = "aurora-postgresql"


def _rds(region: str | None):
    return clients.client("rds", region)


@translated("rds.DescribeDBClusters")
def find_cluster(region: str | None, identifier: str) -> dict | None:
    with clients.tolerating("DBClusterNotFoundFault"):
        return _rds(region).describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    return None


@translated("rds.DescribeDBClusters")
def list_clusters(region: str | None) -> list[dict]:
    """Every cluster in the region, tags included (the demo's Aurora stand-in, demo/aurora.py)."""
    pages = _rds(region).get_paginator("describe_db_clusters").paginate()
    return [cluster for page in pages for cluster in page["DBClusters"]]


@translated("rds.CreateDBCluster")
def create_cluster(region: str | None, request: dict) -> dict:
    return _rds(region).create_db_cluster(**request)["DBCluster"]


@translated("rds.ModifyDBCluster")
def modify_cluster(region: str | None, identifier: str, changes: dict) -> dict:
    return _rds(region).modify_db_cluster(DBClusterIdentifier=identifier, ApplyImmediately=True, **changes)["DBCluster"]


@translated("rds.AddTagsToResource")
def tag(region: str | None, arn: str, tags: dict[str, str]) -> None:
    _rds(region).add_tags_to_resource(ResourceName=arn, Tags=clients.tag_list(tags))


@translated("rds.DeleteDBCluster")
def delete_cluster(region: str | None, identifier: str, final_snapshot: str | None) -> None:
    """Deletes the cluster, after a final snapshot when `final_snapshot` names one."""
    snapshot = {"FinalDBSnapshotIdentifier": final_snapshot} if final_snapshot else {"SkipFinalSnapshot": True}
    _rds(region).delete_db_cluster(DBClusterIdentifier=identifier, **snapshot)


@translated("rds.DescribeDBInstances")
def find_instances(region: str | None, cluster_identifier: str) -> list[dict]:
    """The cluster's instances (empty when it has none)."""
    filters = [{"Name": "db-cluster-id", "Values": [cluster_identifier]}]
    return _rds(region).describe_db_instances(Filters=filters)["DBInstances"]


@translated("rds.CreateDBInstance")
def create_instance(region: str | None, request: dict) -> dict:
    return _rds(region).create_db_instance(**request)["DBInstance"]


@translated("rds.DeleteDBInstance")
def delete_instance(region: str | None, identifier: str) -> None:
    _rds(region).delete_db_instance(DBInstanceIdentifier=identifier)


@translated("rds.DescribeDBSubnetGroups")
def find_subnet_group(region: str | None, name: str) -> dict | None:
    with clients.tolerating("DBSubnetGroupNotFoundFault"):
        return _rds(region).describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"][0]
    return None


@translated("rds.CreateDBSubnetGroup")
def create_subnet_group(region: str | None, name: str, description: str, subnet_ids: list[str],
                        tags: dict[str, str]) -> dict:
    return _rds(region).create_db_subnet_group(
        DBSubnetGroupName=name, DBSubnetGroupDescription=description, SubnetIds=subnet_ids,
        Tags=clients.tag_list(tags))["DBSubnetGroup"]


@translated("rds.DeleteDBSubnetGroup")
def delete_subnet_group(region: str | None, name: str) -> None:
    with clients.tolerating("DBSubnetGroupNotFoundFault"):
        _rds(region).delete_db_subnet_group(DBSubnetGroupName=name)
