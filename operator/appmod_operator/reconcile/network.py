"""Where the database lives: its DB subnet group and security groups.

The subnets are `spec.database.subnetIds`, else the default VPC's. The database's security group
admits, on the database port, the service's security groups: `spec.service.securityGroupIds`, else a
service group this step makes (issue 6's service runs in it). Called by database.py when it creates
the cluster, and at teardown once the cluster is gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from appmod_operator.aws import clients, ec2, rds
from appmod_operator.errors import NotOwned, SpecError
from appmod_operator.names import Owner
from appmod_operator.spec import AppSpec

DATABASE_PORT = 5432
# A DB subnet group must span at least two Availability Zones:
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html
MINIMUM_ZONES = 2


@dataclass(frozen=True)
class Network:
    vpc_id: str
    subnet_group_name: str
    database_security_group_id: str


def ensure_network(app: AppSpec, owner: Owner) -> Network:
    region = app.region
    subnets = _subnets(region, app.database.subnet_ids, "spec.database.subnetIds", MINIMUM_ZONES)
    vpc_id = subnets[0]["VpcId"]
    if rds.find_subnet_group(region, owner.subnet_group_name) is None:
        rds.create_subnet_group(region, owner.subnet_group_name, f"appmod-operator: database of {owner.ref}",
                                sorted(s["SubnetId"] for s in subnets), owner.tags)
    service_groups = list(app.service.security_group_ids) or [
        _ensure_group(region, vpc_id, owner.service_security_group_name, owner, "service")["GroupId"]]
    database_group = _ensure_group(region, vpc_id, owner.database_security_group_name, owner, "database")["GroupId"]
    ec2.allow_from_groups(region, database_group, DATABASE_PORT, service_groups)
    return Network(vpc_id, owner.subnet_group_name, database_group)


def delete_network(app: AppSpec, owner: Owner) -> None:
    """Removes what ensure_network made (after the cluster is gone); what is already gone is fine."""
    region = app.region
    rds.delete_subnet_group(region, owner.subnet_group_name)
    # The database's group first: its rule refers to the service's group.
    for name in (owner.database_security_group_name, owner.service_security_group_name):
        for group in ec2.find_security_groups(region, name):
            if owner.owns(clients.tag_dict(group.get("Tags"))):
                ec2.delete_security_group(region, group["GroupId"])


def ensure_service_network(app: AppSpec, owner: Owner) -> tuple[list[str], list[str]]:
    """The service's subnets and security groups: the spec's, else the default VPC's subnets and the
    service group (made here if the database step has not made it) admitting `containerPort` from anywhere."""
    region, svc = app.region, app.service
    subnets = _subnets(region, svc.subnet_ids, "spec.service.subnetIds", 1)
    if svc.security_group_ids:
        return [s["SubnetId"] for s in subnets], list(svc.security_group_ids)
    group = _ensure_group(region, subnets[0]["VpcId"], owner.service_security_group_name, owner, "service")
    if not _admits_anyone(group, svc.container_port):
        ec2.allow_from_anywhere(region, group["GroupId"], svc.container_port)
    return sorted(s["SubnetId"] for s in subnets), [group["GroupId"]]


def _subnets(region: str | None, wanted: tuple[str, ...], field: str, minimum_zones: int) -> list[dict]:
    if wanted:
        subnets = ec2.find_subnets(region, subnet_ids=list(wanted))
        where = field
    else:
        vpc_id = ec2.find_default_vpc(region)
        if vpc_id is None:
            raise SpecError(field, f"region {region or 'default'} has no default VPC: name the subnets to use")
        subnets = ec2.find_subnets(region, vpc_id=vpc_id)
        where = f"the default VPC {vpc_id}"
    if len({s["VpcId"] for s in subnets}) > 1:
        raise SpecError(field, "the subnets are in different VPCs: " + ", ".join(sorted({s["VpcId"] for s in subnets})))
    zones = {s["AvailabilityZone"] for s in subnets}
    if len(zones) < minimum_zones:
        listed = ", ".join(sorted(zones)) or "none"
        raise SpecError(field, f"{where} covers {len(zones)} Availability Zone(s) ({listed}); Aurora needs subnets "
                        f"in at least {minimum_zones}")
    return subnets


def _ensure_group(region: str | None, vpc_id: str, name: str, owner: Owner, role: str) -> dict:
    """The group as EC2 describes it (GroupId, IpPermissions, ...), made if absent."""
    found = ec2.find_security_groups(region, name, vpc_id)
    if not found:
        ec2.create_security_group(region, vpc_id, name, f"appmod-operator: {role} of {owner.ref}", owner.tags)
        return ec2.find_security_groups(region, name, vpc_id)[0]
    group = found[0]
    if not owner.owns(clients.tag_dict(group.get("Tags"))):
        raise NotOwned(f"security group {name} ({group['GroupId']}) exists in {vpc_id} but is not tagged "
                       f"appmod.io/owner={owner.ref}; not using it")
    return group


def _admits_anyone(group: dict, port: int) -> bool:
    return any(p.get("FromPort") == port and p.get("ToPort") == port
               and any(r.get("CidrIp") == "0.0.0.0/0" for r in p.get("IpRanges", ()))
               for p in group.get("IpPermissions", ()))

