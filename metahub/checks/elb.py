"""MetaChecks of classic and v2 load balancers: internet-facing, which listeners, which ports open."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, Unknown, check
from metahub.checks.network import GROUP_RULES, groups_by_id, open_ingress, reachable

CLASSIC, V2 = "AwsElbLoadBalancer", "AwsElbv2LoadBalancer"
_ENCRYPTED = {"HTTPS", "SSL", "TLS"}
# Classic load balancers carry their listeners in the item; v2 ones need DescribeListeners.
GROUPS = {CLASSIC: (GROUP_RULES,), V2: (GROUP_RULES, "Listeners")}
LISTENERS = {V2: ("Listeners",)}
_SUBNETS = ("subnets.route_tables", "subnets.vpc_route_tables", "subnets.network_acls")
NETWORK = {CLASSIC: (*GROUPS[CLASSIC], *_SUBNETS), V2: (*GROUPS[V2], *_SUBNETS)}
_TRANSPORT = {"UDP": ("udp",), "TCP_UDP": ("tcp", "udp"), "GENEVE": ()}
_EVERYONE = {
    "GroupId": "no security group",
    "IpPermissions": [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
    ],
}
"""A network load balancer without security groups filters nothing: its listeners are the door."""


def _listeners(r: ResourceView) -> list[dict[str, Any]]:
    """(protocol, port) of every listener, in one shape for both APIs."""
    if r.type == CLASSIC:
        found = [d.get("Listener", {}) for d in r.get("ListenerDescriptions", [])]
        return [{"Protocol": x.get("Protocol", ""), "Port": x.get("LoadBalancerPort")} for x in found]
    return [{"Protocol": x.get("Protocol", ""), "Port": x.get("Port")} for x in r.detail("Listeners") or []]


def _ports(r: ResourceView) -> list[tuple[str, int]]:
    """(transport protocol, port) of every listener."""
    return [
        (transport, int(x["Port"]))
        for x in _listeners(r)
        if x["Port"]
        for transport in _TRANSPORT.get(x["Protocol"].upper(), ("tcp",))
    ]


@check(CLASSIC, V2)
def is_internet_facing(r: ResourceView) -> str | No:
    """The DNS name when the scheme is internet-facing; false when internal."""
    return r.get("DNSName") if r.get("Scheme") == "internet-facing" else No("internal")


@check(CLASSIC, V2, needs=GROUPS)
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[str]:
    """Ingress rules of its security groups open to the internet on its listener ports."""
    return open_ingress(r.related("security_groups", complete=True), _ports(r))


@check(CLASSIC, V2, needs=LISTENERS)
def it_has_listeners_unencrypted(r: ResourceView) -> list[str]:
    """Listeners (protocol:port) that carry traffic without TLS."""
    return [f"{x['Protocol']}:{x['Port']}" for x in _listeners(r) if x["Protocol"].upper() not in _ENCRYPTED]


@check(CLASSIC, V2, needs=NETWORK)
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Reachable from the internet: internet-facing, a listener port its security groups open to the
    whole internet (all listeners when it has no groups), in a subnet whose network ACL lets it in
    and out and whose route table leads to an internet gateway. Its targets are reachable through it."""
    dns = r.check("is_internet_facing")
    if not dns:
        return dns  # type: ignore[no-any-return]
    ports = _ports(r)
    if not ports:
        return No("internet-facing, but no listener")
    wanted = r.get("SecurityGroups", [])
    groups = groups_by_id(r, wanted) if wanted else [_EVERYONE]
    ip_type = r.get("IpAddressType") or "ipv4"
    addresses = {
        4: [] if ip_type == "dualstack-without-public-ipv4" else [dns],
        6: [dns] if "dualstack" in ip_type else [],
    }
    ids = r.get("Subnets", []) if r.type == CLASSIC else r.get("AvailabilityZones[].SubnetId", [])
    subnets = [s for s in r.related("subnets") if s.id in ids]
    if len(subnets) < len(set(ids)) or not ids:
        raise Unknown(f"subnets of the load balancer were not all found ({', '.join(ids) or 'none listed'})")
    stops = []
    for subnet in subnets:
        paths = reachable(addresses, groups, subnet, ports)
        if not isinstance(paths, No):
            return {"dns": dns, "reachable": [p.describe() for p in paths]}
        stops.append(f"{subnet.id}: {paths.reason}")
    return No("internet-facing, but " + "; ".join(stops))


@check(CLASSIC, V2, needs=LISTENERS)
def is_encrypted(r: ResourceView) -> list[str] | No:
    """In transit: every listener is HTTPS, SSL or TLS."""
    plain = r.check("it_has_listeners_unencrypted")
    if plain:
        return No(f"unencrypted listeners: {', '.join(plain)}")
    return [f"{x['Protocol']}:{x['Port']}" for x in _listeners(r)] or No("no listener")


@check(CLASSIC, V2, needs=GROUPS)
def is_unrestricted(r: ResourceView) -> list[str] | No:
    """Listener ports its security groups open to the whole internet."""
    return r.check("its_associated_with_security_group_rules_ingress_unrestricted") or No(
        "no listener port open to the whole internet"
    )


@check(CLASSIC)
def is_attached(r: ResourceView) -> list[str] | No:
    """Instances registered behind it."""
    return [i.get("InstanceId") for i in r.get("Instances", [])] or No("no registered instance")


@check(V2, needs=("Attributes",))
def it_has_access_logs(r: ResourceView) -> str | No:
    """The S3 bucket access logs go to; false when access logs are off."""
    attributes = {a["Key"]: a["Value"] for a in r.detail("Attributes") or []}
    if attributes.get("access_logs.s3.enabled") == "true":
        return attributes.get("access_logs.s3.bucket") or "enabled"
    return No("access logs are off")


@check(V2, needs=("Attributes",))
def it_has_deletion_protection(r: ResourceView) -> bool:
    """Whether the load balancer refuses deletion until protection is turned off."""
    return any(
        a["Key"] == "deletion_protection.enabled" and a["Value"] == "true"
        for a in r.detail("Attributes") or []
    )
