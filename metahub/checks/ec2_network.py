"""MetaChecks of VPCs, subnets, route tables, network ACLs and VPC endpoint services."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.network import (
    FAMILY_NAME,
    WORLD_V4,
    WORLD_V6,
    default_route,
    effective_route_table,
    internet_gateway_route,
)


@check("AwsEc2Vpc", needs=("internet_gateways",))
def it_has_internet_gateway(r: ResourceView) -> list[str]:
    """Internet gateways attached to the VPC."""
    return [gateway.id for gateway in r.related("internet_gateways")]


@check("AwsEc2Vpc", name="is_default")
def vpc_is_default(r: ResourceView) -> bool:
    """Whether it is the region's default VPC."""
    return bool(r.get("IsDefault"))


@check("AwsEc2Vpc", needs=("flow_logs",))
def it_has_flow_logs(r: ResourceView) -> list[str]:
    """Flow logs that record the VPC's traffic."""
    return [log.id for log in r.related("flow_logs")]


@check("AwsEc2Vpc", needs=("route_tables",))
def its_associated_with_route_tables_to_internet_gateway(r: ResourceView) -> list[str]:
    """Route tables of the VPC with a route to an internet gateway."""
    return [table.id for table in r.related("route_tables") if internet_gateway_route(table.data)]


@check("AwsEc2Vpc", needs=("internet_gateways", "route_tables"), name="is_public")
def vpc_is_public(r: ResourceView) -> dict[str, Any] | No:
    """An internet gateway is attached and some route table sends traffic to it."""
    gateways = r.check("it_has_internet_gateway")
    if not gateways:
        return No("no internet gateway attached")
    tables = r.check("its_associated_with_route_tables_to_internet_gateway")
    if not tables:
        return No(f"internet gateway {gateways[0]} attached, but no route table uses it")
    return {"internet_gateways": gateways, "route_tables": tables}


@check("AwsEc2Subnet")
def it_has_map_public_ip_on_launch(r: ResourceView) -> bool:
    """Whether instances launched in the subnet get a public IPv4 address by default."""
    return bool(r.get("MapPublicIpOnLaunch"))


@check("AwsEc2Subnet")
def is_default_for_az(r: ResourceView) -> bool:
    """Whether it is the default subnet of its Availability Zone."""
    return bool(r.get("DefaultForAz"))


@check("AwsEc2Subnet", needs=("route_tables", "vpc_route_tables"))
def its_associated_with_route_table(r: ResourceView) -> str:
    """Its explicitly associated route table, else its VPC's main one."""
    return effective_route_table(r).id


@check("AwsEc2Subnet", needs=("route_tables", "vpc_route_tables"), name="is_public")
def subnet_is_public(r: ResourceView) -> dict[str, Any] | No:
    """A public subnet: its route table sends a default route (IPv4 or IPv6) to an internet gateway."""
    table = effective_route_table(r)
    routes = {FAMILY_NAME[f]: default_route(table.data, f) for f in (4, 6)}
    gateways = {family: gateway for family, (gateway, _) in routes.items() if gateway}
    if not gateways:
        return No(f"route table {table.id}: " + "; ".join(why for _, why in routes.values()))
    return {
        "route_table": table.id,
        "internet_gateway": gateways,
        "map_public_ip_on_launch": bool(r.get("MapPublicIpOnLaunch")),
    }


@check("AwsEc2Subnet", needs=("network_acls",))
def its_associated_with_network_acl(r: ResourceView) -> str | bool:
    """The network ACL that filters the subnet's traffic; false if none is found."""
    acl = r.one("network_acls")
    return acl.id if acl else False


@check("AwsEc2RouteTable")
def it_has_route_to_internet_gateway(r: ResourceView) -> str | bool:
    """The internet gateway a route of the table leads to; false without such a route."""
    return internet_gateway_route(r.data) or False


@check("AwsEc2RouteTable")
def is_main(r: ResourceView) -> bool:
    """Whether it is the VPC's main route table (used by subnets without an explicit one)."""
    return any(a.get("Main") for a in r.get("Associations", []))


@check("AwsEc2RouteTable", name="is_attached")
def route_table_is_attached(r: ResourceView) -> list[str] | No:
    """Associated with subnets, or the VPC's main table (used by every subnet without its own)."""
    subnets = [a["SubnetId"] for a in r.get("Associations", []) if a.get("SubnetId")]
    if subnets:
        return subnets
    return ["main route table"] if r.check("is_main") else No("associated with no subnet")


@check("AwsEc2RouteTable", name="is_public")
def route_table_is_public(r: ResourceView) -> dict[str, Any] | No:
    """The internet gateway its routes reach: subnets using the table are public subnets."""
    gateway = r.check("it_has_route_to_internet_gateway")
    return {"internet_gateway": gateway} if gateway else No("no route to an internet gateway")


def _open_entries(r: ResourceView, egress: bool) -> list[dict[str, Any]]:
    return [
        {"RuleNumber": e.get("RuleNumber"), "Protocol": e.get("Protocol"), "PortRange": e.get("PortRange")}
        for e in r.get("Entries", [])
        if bool(e.get("Egress")) == egress
        and e.get("RuleAction") == "allow"
        and (e.get("CidrBlock") == WORLD_V4 or e.get("Ipv6CidrBlock") == WORLD_V6)
        and e.get("RuleNumber") != 32767
    ]


@check("AwsEc2NetworkAcl")
def it_has_ingress_unrestricted(r: ResourceView) -> list[dict[str, Any]]:
    """Ingress rules that allow traffic from the whole internet."""
    return _open_entries(r, egress=False)


@check("AwsEc2NetworkAcl", name="is_default")
def network_acl_is_default(r: ResourceView) -> bool:
    """Whether it is the VPC's default network ACL."""
    return bool(r.get("IsDefault"))


@check("AwsEc2NetworkAcl", name="is_attached")
def network_acl_is_attached(r: ResourceView) -> list[str] | No:
    """The subnets the ACL is associated with."""
    subnets = [a["SubnetId"] for a in r.get("Associations", []) if a.get("SubnetId")]
    return subnets or No("associated with no subnet")


@check("AwsEc2NetworkAcl", name="is_unrestricted")
def network_acl_is_unrestricted(r: ResourceView) -> list[dict[str, Any]] | No:
    """Allows all traffic from the internet (every protocol)."""
    every = [e for e in r.check("it_has_ingress_unrestricted") if str(e["Protocol"]) == "-1"]
    return every or No("no rule allows all traffic from the internet")


@check("AwsEc2VpcEndpointService", needs=("AllowedPrincipals",))
def it_has_allowed_principals(r: ResourceView) -> list[str]:
    """Principals allowed to connect endpoints to the service."""
    return [p.get("Principal") for p in r.detail("AllowedPrincipals") or []]


@check("AwsEc2VpcEndpointService")
def it_requires_acceptance(r: ResourceView) -> bool:
    """Whether each endpoint connection must be accepted by the service owner."""
    return bool(r.get("AcceptanceRequired"))


@check("AwsEc2VpcEndpointService", needs=("AllowedPrincipals",), name="is_public")
def endpoint_service_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Any AWS principal may connect without the owner accepting the connection."""
    principals = r.check("it_has_allowed_principals")
    if "*" not in principals:
        return No("only named principals may connect")
    if r.check("it_requires_acceptance"):
        return No("anyone may request a connection, but the owner must accept it")
    return {"allowed_principals": "*", "acceptance_required": False}
