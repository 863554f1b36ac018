"""The network the database lives in: the default VPC, subnets, and security groups with their
ingress rules. Thin calls to the EC2 API; called by reconcile/network.py.
"""

from __future__ import annotations

from appmod_operator.aws import clients
from appmod_operator.aws.clients import translated


def _ec2(region: str | None):
    return clients.client("ec2", region)


@translated("ec2.DescribeVpcs")
def find_default_vpc(region: str | None) -> str | None:
    vpcs = _ec2(region).describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return vpcs[0]["VpcId"] if vpcs else None


@translated("ec2.DescribeSubnets")
def find_subnets(region: str | None, *, subnet_ids: list[str] = (), vpc_id: str | None = None) -> list[dict]:
    """The named subnets, or every subnet of `vpc_id`; each with SubnetId, VpcId and AvailabilityZone."""
    if subnet_ids:
        return _ec2(region).describe_subnets(SubnetIds=list(subnet_ids))["Subnets"]
    return _ec2(region).describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]


@translated("ec2.DescribeSecurityGroups")
def find_security_groups(region: str | None, name: str, vpc_id: str | None = None) -> list[dict]:
    """The groups called `name` (in `vpc_id`, else in any VPC: names are unique only per VPC)."""
    filters = [{"Name": "group-name", "Values": [name]}]
    if vpc_id:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    return _ec2(region).describe_security_groups(Filters=filters)["SecurityGroups"]


@translated("ec2.CreateSecurityGroup")
def create_security_group(region: str | None, vpc_id: str, name: str, description: str,
                          tags: dict[str, str]) -> str:
    """The new group's id."""
    spec = [{"ResourceType": "security-group", "Tags": clients.tag_list(tags)}]
    return _ec2(region).create_security_group(
        VpcId=vpc_id, GroupName=name, Description=description, TagSpecifications=spec)["GroupId"]


@translated("ec2.AuthorizeSecurityGroupIngress")
def allow_from_groups(region: str | None, group_id: str, port: int, source_group_ids: list[str]) -> None:
    """Admit TCP `port` from each source group; a rule already there is fine."""
    for source in source_group_ids:
        permission = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                      "UserIdGroupPairs": [{"GroupId": source}]}
        with clients.tolerating("InvalidPermission.Duplicate"):
            _ec2(region).authorize_security_group_ingress(GroupId=group_id, IpPermissions=[permission])


@translated("ec2.AuthorizeSecurityGroupIngress")
def allow_from_anywhere(region: str | None, group_id: str, port: int) -> None:
    """Admit TCP `port` from any IPv4 address (the app's public port); a rule already there is fine."""
    permission = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                  "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "appmod-operator: the service's port"}]}
    with clients.tolerating("InvalidPermission.Duplicate"):
        _ec2(region).authorize_security_group_ingress(GroupId=group_id, IpPermissions=[permission])


@translated("ec2.DescribeNetworkInterfaces")
def public_ip(region: str | None, interface_id: str) -> str | None:
    """The public IPv4 address of a network interface, if it has one."""
    with clients.tolerating("InvalidNetworkInterfaceID.NotFound"):
        found = _ec2(region).describe_network_interfaces(NetworkInterfaceIds=[interface_id])["NetworkInterfaces"]
        return (found[0].get("Association") or {}).get("PublicIp") if found else None
    return None


@translated("ec2.DeleteSecurityGroup")
def delete_security_group(region: str | None, group_id: str) -> None:
    with clients.tolerating("InvalidGroup.NotFound"):
        _ec2(region).delete_security_group(GroupId=group_id)
