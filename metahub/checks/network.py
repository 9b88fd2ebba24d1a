"""Network reachability from the internet: security group rules, route tables, network ACLs."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import ResourceView

WORLD_V4, WORLD_V6 = "0.0.0.0/0", "::/0"
NETWORK = ("security_groups", "subnet.route_tables", "subnet.vpc_route_tables", "subnet.network_acls")
"""What reachability of something in a subnet needs fetched: its groups, routes and network ACL."""
_PROTOCOLS = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "-1": "-1", "all": "-1"}


def unrestricted_ingress(group: dict[str, Any]) -> list[dict[str, Any]]:
    """Ingress rules of a security group open to the whole internet (IPv4 or IPv6)."""
    rules = []
    for permission in group.get("IpPermissions", []):
        sources = [r.get("CidrIp") for r in permission.get("IpRanges", [])]
        sources += [r.get("CidrIpv6") for r in permission.get("Ipv6Ranges", [])]
        for source in sources:
            if source in (WORLD_V4, WORLD_V6):
                rules.append(
                    {
                        "GroupId": group.get("GroupId"),
                        "IpProtocol": permission.get("IpProtocol"),
                        "FromPort": permission.get("FromPort"),
                        "ToPort": permission.get("ToPort"),
                        "Source": source,
                    }
                )
    return rules


def internet_gateway_route(route_table: dict[str, Any]) -> str | None:
    """The internet gateway a route table sends the default route to, if any."""
    for route in route_table.get("Routes", []):
        default = (
            route.get("DestinationCidrBlock") == WORLD_V4 or route.get("DestinationIpv6CidrBlock") == WORLD_V6
        )
        gateway = route.get("GatewayId") or ""
        if default and gateway.startswith("igw-") and route.get("State", "active") == "active":
            return gateway
    return None


def effective_route_table(subnet: ResourceView) -> ResourceView | None:
    """The subnet's explicitly associated route table, else its VPC's main route table."""
    explicit = subnet.related("route_tables")
    if explicit:
        return explicit[0]
    for table in subnet.related("vpc_route_tables"):
        if any(a.get("Main") for a in table.get("Associations", [])):
            return table
    return None


def network_acl_allows(acl: dict[str, Any], protocol: Any, port: Any) -> bool:
    """Whether a network ACL lets internet traffic in on (protocol, port): first matching rule wins."""
    wanted = _PROTOCOLS.get(str(protocol).lower(), str(protocol))
    entries = sorted(
        (e for e in acl.get("Entries", []) if not e.get("Egress")), key=lambda e: e.get("RuleNumber", 0)
    )
    for entry in entries:
        if entry.get("CidrBlock") != WORLD_V4 and entry.get("Ipv6CidrBlock") != WORLD_V6:
            continue
        entry_protocol = str(entry.get("Protocol"))
        if entry_protocol not in ("-1", wanted) and wanted != "-1":
            continue
        ports = entry.get("PortRange")
        if (
            ports
            and port is not None
            and port != -1
            and not (ports.get("From", 0) <= port <= ports.get("To", 65535))
        ):
            continue
        return entry.get("RuleAction") == "allow"
    return False


def reachable_rules(rules: list[dict[str, Any]], subnet: ResourceView | None) -> list[dict[str, Any]]:
    """The open rules the subnet's network ACL does not block."""
    if subnet is None:
        return rules
    acls = subnet.related("network_acls")
    if not acls:
        return rules
    acl = acls[0].data
    return [rule for rule in rules if network_acl_allows(acl, rule["IpProtocol"], rule["FromPort"])]


def describe_rule(rule: dict[str, Any]) -> str:
    protocol = "all traffic" if str(rule["IpProtocol"]) == "-1" else str(rule["IpProtocol"])
    ports = (
        ""
        if rule.get("FromPort") in (None, -1)
        else (
            f" port {rule['FromPort']}"
            if rule["FromPort"] == rule["ToPort"]
            else f" ports {rule['FromPort']}-{rule['ToPort']}"
        )
    )
    return f"{rule['GroupId']}: {protocol}{ports} from {rule['Source']}"


def covers_port(rule: dict[str, Any], port: int | None) -> bool:
    """Whether a security group rule lets traffic in on ``port`` (None: any port will do)."""
    if str(rule.get("IpProtocol")) == "-1" or port is None:
        return True
    return (rule.get("FromPort") or 0) <= port <= (rule.get("ToPort") or 65535)


def open_ingress(groups: list[ResourceView], ports: list[int] | None = None) -> list[str]:
    """Rules of ``groups`` open to the internet on any of ``ports`` (on any port without them)."""
    return [
        describe_rule(rule)
        for group in groups
        for rule in unrestricted_ingress(group.data)
        if not ports or any(covers_port(rule, port) for port in ports)
    ]
