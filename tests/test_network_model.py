"""The network reachability model against the VPC documentation, one row per case.

Each row names the rule that decides it:
"""

from __future__ import annotations

from typing import Any

import pytest

from metahub.checks.base import No, ResourceView, Unknown
from metahub.resources.fetch import Inventory

A, R = "123456789012", "us-east-1"

SG = (
    "VPC security groups: stateful, allow-only; a port is open to what the union of its rules' sources covers"
)
SG_FAMILY = (
    "VPC security groups: IPv4 rules (CidrIp) and IPv6 rules (CidrIpv6) apply to their own family only"
)
ACL_ORDER = (
    "VPC network ACLs: rules evaluated from the lowest number; the first match decides; * denies the rest"
)
ACL_PORTS = "VPC network ACLs: a rule matches a protocol and a port range, for the whole range asked"
ACL_STATELESS = (
    "VPC network ACLs: stateless, so replies need an outbound rule to the client's ephemeral ports"
)
ACL_FAMILY = "VPC network ACLs: IPv4 (CidrBlock) and IPv6 (Ipv6CidrBlock) rules are separate"
ROUTE = "VPC route tables: a subnet uses its explicitly associated table, else the VPC's main table"
ROUTE_IGW = "VPC internet gateways: internet traffic needs a default route to an internet gateway (not NAT, TGW, peering)"
EIGW = "VPC egress-only internet gateways: outbound IPv6 only, no connection from the internet"
ADDRESS = "VPC IP addressing: reachable from the internet only on a public IPv4 or a global IPv6 address"
PROTOCOL = "VPC security groups and ACLs: rules are per protocol (tcp 6, udp 17, icmp 1, all -1)"
PARTIAL = "metahub: when something the decision needs could not be read, the answer is unknown"
LPM = (
    "VPC route priority: 'we direct traffic using the most specific route that matches the traffic. "
    "This is known as the longest prefix match'; IPv4 and IPv6 routes are independent"
)
GATEWAY_ENDPOINT = "VPC gateway endpoints: their route's prefix list holds the service's addresses only"


def route(cidr: str, target: str, key: str = "GatewayId", **extra: str) -> dict[str, Any]:
    family = "DestinationIpv6CidrBlock" if ":" in cidr else "DestinationCidrBlock"
    return {family: cidr, key: target, "State": "active", **extra}

STATE = "EC2 instance lifecycle: a stopped instance accepts no connections"


def sg(
    protocol: str, low: int | None, high: int | None, *sources: str, group: str = "sg-1"
) -> dict[str, Any]:
    return {
        "group": group,
        "IpProtocol": protocol,
        **({"FromPort": low, "ToPort": high} if low is not None else {}),
        "IpRanges": [{"CidrIp": s} for s in sources if ":" not in s],
        "Ipv6Ranges": [{"CidrIpv6": s} for s in sources if ":" in s],
    }


def acl(
    number: int,
    protocol: str,
    action: str,
    cidr: str,
    ports: tuple[int, int] | None = None,
    egress: bool = False,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "RuleNumber": number,
        "Protocol": protocol,
        "RuleAction": action,
        "Egress": egress,
    }
    entry["Ipv6CidrBlock" if ":" in cidr else "CidrBlock"] = cidr
    if ports:
        entry["PortRange"] = {"From": ports[0], "To": ports[1]}
    return entry


def out(
    number: int, protocol: str, action: str, cidr: str, ports: tuple[int, int] | None = None
) -> dict[str, Any]:
    return acl(number, protocol, action, cidr, ports, egress=True)


OPEN_ACL = [
    acl(100, "-1", "allow", "0.0.0.0/0"),
    acl(101, "-1", "allow", "::/0"),
    out(100, "-1", "allow", "0.0.0.0/0"),
    out(101, "-1", "allow", "::/0"),
]
IGW = [
    {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"},
    {"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-1", "State": "active"},
]
SSH = [sg("tcp", 22, 22, "0.0.0.0/0")]
V6_ONLY = {"rules": [sg("tcp", 22, 22, "::/0")], "ipv4": None, "ipv6": "2600:1f18::10"}
PL_RULE = {**sg("tcp", 22, 22), "PrefixListIds": [{"PrefixListId": "pl-1"}]}
PREFIX = (
    "VPC managed prefix lists: 'When you reference a prefix list in a security group rule ... the "
    "rule applies to every CIDR block in the prefix list'"
)
UNKNOWN_LAST = (
    "metahub: what could not be read makes the answer unknown only when it could change it "
    "(a prefix list that could hold the internet still meets the ACL and routes; one open interface suffices)"
)


def world(
    rules: list[dict[str, Any]] = SSH,
    entries: list[dict[str, Any]] = OPEN_ACL,
    main: list[dict[str, Any]] = IGW,
    explicit: list[dict[str, Any]] | None = None,
    ipv4: str | None = "54.10.10.10",
    ipv6: str | None = None,
    state: str = "running",
    groups: tuple[str, ...] = ("sg-1",),
    drop: tuple[str, ...] = (),
    lists: dict[str, Any] | None = None,
    second_eni: tuple[str, ...] | None = None,
) -> Inventory:
    """``lists``: managed prefix lists by id, each its CIDR entries, or None (not read), or
    ``"paged"`` (more than one page of entries); ``second_eni``: the groups of a second interface
    with a public address of its own."""
    eni = {
        "NetworkInterfaceId": "eni-1",
        "SubnetId": "subnet-1",
        "Groups": [{"GroupId": g} for g in groups],
        "Association": {"PublicIp": ipv4} if ipv4 else {},
        "Ipv6Addresses": [{"Ipv6Address": ipv6}] if ipv6 else [],
        "Attachment": {"InstanceId": "i-1"},
    }
    security_groups = {
        g: {
            "GroupId": g,
            "IpPermissions": [{k: v for k, v in r.items() if k != "group"} for r in rules if r["group"] == g],
        }
        for g in groups
    }
    tables = {
        "rtb-main": {
            "RouteTableId": "rtb-main",
            "VpcId": "vpc-1",
            "Associations": [{"Main": True}],
            "Routes": main,
        }
    }
    if explicit is not None:
        tables["rtb-x"] = {
            "RouteTableId": "rtb-x",
            "VpcId": "vpc-1",
            "Associations": [{"SubnetId": "subnet-1"}],
            "Routes": explicit,
        }
    enis = [eni]
    if second_eni is not None:
        enis.append({**eni, "NetworkInterfaceId": "eni-2", "Groups": [{"GroupId": g} for g in second_eni],
                     "Association": {"PublicIp": "54.10.10.11"}})  # fmt: skip
    groups_of = {
        "AwsEc2Instance": {
            "i-1": {
                "InstanceId": "i-1",
                "State": {"Name": state},
                "SubnetId": "subnet-1",
                "PublicIpAddress": ipv4,
                "SecurityGroups": eni["Groups"],
                "NetworkInterfaces": enis,
            }
        },
        "AwsEc2NetworkInterface": {"eni-1": eni},
        "AwsEc2SecurityGroup": security_groups,
        "AwsEc2Subnet": {"subnet-1": {"SubnetId": "subnet-1", "VpcId": "vpc-1"}},
        "AwsEc2RouteTable": tables,
        "AwsEc2NetworkAcl": {
            "acl-1": {"NetworkAclId": "acl-1", "Associations": [{"SubnetId": "subnet-1"}], "Entries": entries}
        },
    }
    pl_key = (A, R, "AwsEc2ManagedPrefixList")
    groups_of["AwsEc2ManagedPrefixList"] = {pl: {"PrefixListId": pl} for pl in lists or {}}
    inv = Inventory()
    for type_, items in groups_of.items():
        if type_ not in drop:
            inv.items[(A, R, type_)] = items
            inv.listed_all.add((A, R, type_))
    for pl, cidrs in (lists or {}).items():
        if cidrs is None:
            inv.detail_failures[(pl_key, pl, "Entries")] = "ec2:GetManagedPrefixListEntries: access denied"
        else:
            page = {"Entries": [{"Cidr": c} for c in (cidrs if cidrs != "paged" else ["198.51.100.0/24"])]}
            inv.details[(pl_key, pl)] = {"Entries": page | ({"NextToken": "more"} if cidrs == "paged" else {})}
    return inv


def verdict(inv: Inventory, type_: str = "AwsEc2Instance", item: str = "i-1") -> Any:
    view = ResourceView(inv, (A, R, type_), item, {})
    try:
        return view.check("is_public")
    except Unknown as exc:
        return exc


CASES: list[tuple[str, str, dict[str, Any], bool | None, str]] = [
    # Security groups
    ("ssh-open-v4", SG, {}, True, "tcp/22 from 0.0.0.0/0 over IPv4 to 54.10.10.10 via sg-1, acl-1 rule 100"),
    (
        "ssh-from-private-range",
        SG,
        {"rules": [sg("tcp", 22, 22, "10.0.0.0/8")]},
        False,
        "no security group rule",
    ),
    (
        "two-halves-cover-the-internet",
        SG,
        {"rules": [sg("tcp", 22, 22, "0.0.0.0/1", "128.0.0.0/1")]},
        True,
        "0.0.0.0/1, 128.0.0.0/1",
    ),
    ("half-the-internet-only", SG, {"rules": [sg("tcp", 22, 22, "0.0.0.0/1")]}, False, "only part of it"),
    (
        "halves-in-two-groups",
        SG,
        {
            "rules": [sg("tcp", 22, 22, "0.0.0.0/1"), sg("tcp", 22, 22, "128.0.0.0/1", group="sg-2")],
            "groups": ("sg-1", "sg-2"),
        },
        True,
        "via sg-1, sg-2",
    ),
    (
        "overlapping-port-ranges",
        SG,
        {"rules": [sg("tcp", 0, 1000, "0.0.0.0/1"), sg("tcp", 500, 2000, "128.0.0.0/1")]},
        True,
        "tcp/500-1000 from",
    ),
    (
        "private-ranges-only",
        SG,
        {"rules": [sg("tcp", 22, 22, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]},
        False,
        "",
    ),
    (
        "public-space-without-private-ranges",
        SG,
        {
            "rules": [
                sg(
                    "tcp",
                    22,
                    22,
                    "0.0.0.0/5",
                    "8.0.0.0/7",
                    "11.0.0.0/8",
                    "12.0.0.0/6",
                    "16.0.0.0/4",
                    "32.0.0.0/3",
                    "64.0.0.0/2",
                    "128.0.0.0/3",
                    "160.0.0.0/5",
                    "168.0.0.0/6",
                    "172.0.0.0/12",
                    "172.32.0.0/11",
                    "172.64.0.0/10",
                    "172.128.0.0/9",
                    "173.0.0.0/8",
                    "174.0.0.0/7",
                    "176.0.0.0/4",
                    "192.0.0.0/9",
                    "192.128.0.0/11",
                    "192.160.0.0/13",
                    "192.169.0.0/16",
                    "192.170.0.0/15",
                    "192.172.0.0/14",
                    "192.176.0.0/12",
                    "192.192.0.0/10",
                    "193.0.0.0/8",
                    "194.0.0.0/7",
                    "196.0.0.0/6",
                    "200.0.0.0/5",
                    "208.0.0.0/4",
                )
            ]
        },
        True,
        "tcp/22",
    ),
    ("all-ports", SG, {"rules": [sg("tcp", 0, 65535, "0.0.0.0/0")]}, True, "tcp/all ports"),
    ("all-traffic", PROTOCOL, {"rules": [sg("-1", None, None, "0.0.0.0/0")]}, True, "tcp/all ports"),
    ("udp-dns", PROTOCOL, {"rules": [sg("udp", 53, 53, "0.0.0.0/0")]}, True, "udp/53"),
    ("protocol-by-number", PROTOCOL, {"rules": [sg("6", 443, 443, "0.0.0.0/0")]}, True, "tcp/443"),
    ("icmp", PROTOCOL, {"rules": [sg("icmp", -1, -1, "0.0.0.0/0")]}, True, "icmp from 0.0.0.0/0"),
    ("no-rules", SG, {"rules": []}, False, "no security group rule"),
    (
        "ipv6-rule-ipv4-address",
        SG_FAMILY,
        {"rules": [sg("tcp", 22, 22, "::/0")]},
        False,
        "IPv4: no security group rule",
    ),
    (
        "ipv4-rule-ipv6-only",
        SG_FAMILY,
        {"ipv4": None, "ipv6": "2600:1f18::10"},
        False,
        "IPv6: no security group rule",
    ),
    (
        "ipv6-only-reachable",
        SG_FAMILY,
        {"rules": [sg("tcp", 22, 22, "::/0")], "ipv4": None, "ipv6": "2600:1f18::10"},
        True,
        "tcp/22 from ::/0 over IPv6 to 2600:1f18::10",
    ),
    (
        "ipv6-global-unicast-rule",
        SG_FAMILY,
        {"rules": [sg("tcp", 22, 22, "2000::/3")], "ipv4": None, "ipv6": "2600:1f18::10"},
        True,
        "2000::/3",
    ),
    (
        "both-families",
        SG_FAMILY,
        {"rules": [sg("tcp", 22, 22, "0.0.0.0/0", "::/0")], "ipv6": "2600:1f18::10"},
        True,
        "over IPv6",
    ),
    # Addresses
    ("no-public-address", ADDRESS, {"ipv4": None}, False, "no public IPv4 address and no global IPv6"),
    (
        "unique-local-ipv6",
        ADDRESS,
        {"rules": [sg("tcp", 22, 22, "::/0")], "ipv4": None, "ipv6": "fd00::10"},
        False,
        "no global IPv6",
    ),
    # Network ACLs, inbound
    (
        "acl-deny-before-allow",
        ACL_ORDER,
        {"entries": [acl(50, "6", "deny", "0.0.0.0/0", (22, 22)), *OPEN_ACL]},
        False,
        "network ACL acl-1 blocks tcp/22",
    ),
    (
        "acl-allow-before-deny",
        ACL_ORDER,
        {
            "entries": [
                acl(50, "-1", "allow", "0.0.0.0/0"),
                acl(60, "6", "deny", "0.0.0.0/0", (22, 22)),
                *OPEN_ACL[2:],
            ]
        },
        True,
        "rule 50",
    ),
    (
        "acl-allows-other-port",
        ACL_PORTS,
        {"entries": [acl(100, "6", "allow", "0.0.0.0/0", (80, 80)), *OPEN_ACL[2:]]},
        False,
        "blocks",
    ),
    (
        "acl-whole-range-not-first-port",
        ACL_PORTS,
        {
            "rules": [sg("tcp", 0, 65535, "0.0.0.0/0")],
            "entries": [acl(100, "6", "allow", "0.0.0.0/0", (1000, 2000)), *OPEN_ACL[2:]],
        },
        True,
        "tcp/1000-2000 from 0.0.0.0/0",
    ),
    (
        "acl-udp-deny-leaves-tcp",
        PROTOCOL,
        {"entries": [acl(50, "17", "deny", "0.0.0.0/0"), *OPEN_ACL]},
        True,
        "rule 100",
    ),
    (
        "acl-tcp-blocked-udp-allowed",
        PROTOCOL,
        {"entries": [acl(100, "17", "allow", "0.0.0.0/0"), *OPEN_ACL[2:]]},
        False,
        "blocks",
    ),
    (
        "acl-office-only",
        ACL_ORDER,
        {"entries": [acl(100, "-1", "allow", "203.0.113.0/24"), *OPEN_ACL[2:]]},
        False,
        "blocks",
    ),
    (
        "acl-office-then-deny-all",
        ACL_ORDER,
        {
            "entries": [
                acl(100, "-1", "allow", "203.0.113.0/24"),
                acl(200, "-1", "deny", "0.0.0.0/0"),
                *OPEN_ACL[2:],
            ]
        },
        False,
        "blocks",
    ),
    (
        "acl-two-halves",
        ACL_ORDER,
        {
            "entries": [
                acl(100, "-1", "allow", "0.0.0.0/1"),
                acl(110, "-1", "allow", "128.0.0.0/1"),
                *OPEN_ACL[2:],
            ]
        },
        True,
        "rule 100/110",
    ),
    (
        "acl-deny-list-one-address",
        ACL_ORDER,
        {"entries": [acl(50, "-1", "deny", "198.51.100.7/32"), *OPEN_ACL]},
        True,
        "rule 100",
    ),
    (
        "acl-deny-everything-first",
        ACL_ORDER,
        {"entries": [acl(50, "-1", "deny", "0.0.0.0/0"), *OPEN_ACL]},
        False,
        "blocks",
    ),
    ("acl-empty", ACL_ORDER, {"entries": []}, False, "blocks"),
    (
        "acl-ipv4-only-for-ipv6",
        ACL_FAMILY,
        {
            "rules": [sg("tcp", 22, 22, "::/0")],
            "ipv4": None,
            "ipv6": "2600:1f18::10",
            "entries": [acl(100, "-1", "allow", "0.0.0.0/0"), out(100, "-1", "allow", "0.0.0.0/0")],
        },
        False,
        "IPv6: network ACL",
    ),
    # Network ACLs, outbound (replies)
    ("acl-no-outbound", ACL_STATELESS, {"entries": OPEN_ACL[:2]}, False, "or the replies to it"),
    (
        "acl-outbound-ephemeral",
        ACL_STATELESS,
        {"entries": [*OPEN_ACL[:2], out(100, "6", "allow", "0.0.0.0/0", (1024, 65535))]},
        True,
        "replies: rule 100",
    ),
    (
        "acl-outbound-https-only",
        ACL_STATELESS,
        {"entries": [*OPEN_ACL[:2], out(100, "6", "allow", "0.0.0.0/0", (443, 443))]},
        False,
        "replies",
    ),
    (
        "acl-outbound-udp-only",
        ACL_STATELESS,
        {"entries": [*OPEN_ACL[:2], out(100, "17", "allow", "0.0.0.0/0")]},
        False,
        "replies",
    ),
    (
        "acl-outbound-ephemeral-denied",
        ACL_STATELESS,
        {
            "entries": [
                *OPEN_ACL[:2],
                out(50, "6", "deny", "0.0.0.0/0", (1024, 65535)),
                out(100, "-1", "allow", "0.0.0.0/0"),
            ]
        },
        False,
        "replies",
    ),
    (
        "acl-outbound-part-of-ephemeral",
        ACL_STATELESS,
        {"entries": [*OPEN_ACL[:2], out(100, "6", "allow", "0.0.0.0/0", (32768, 65535))]},
        True,
        "replies: rule 100",
    ),
    (
        "acl-outbound-private-only",
        ACL_STATELESS,
        {"entries": [*OPEN_ACL[:2], out(100, "-1", "allow", "10.0.0.0/8")]},
        False,
        "replies",
    ),
    # Route tables
    ("main-table-to-igw", ROUTE, {}, True, "rtb-main -> igw-1"),
    ("explicit-table-wins", ROUTE, {"explicit": []}, False, "route table rtb-x: no 0.0.0.0/0 route"),
    ("explicit-table-to-igw", ROUTE, {"explicit": IGW, "main": []}, True, "rtb-x -> igw-1"),
    (
        "default-to-nat",
        ROUTE_IGW,
        {"main": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}]},
        False,
        "goes to nat-1",
    ),
    (
        "default-to-transit-gateway",
        ROUTE_IGW,
        {"main": [{"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": "tgw-1"}]},
        False,
        "tgw-1",
    ),
    (
        "default-to-peering",
        ROUTE_IGW,
        {"main": [{"DestinationCidrBlock": "0.0.0.0/0", "VpcPeeringConnectionId": "pcx-1"}]},
        False,
        "pcx-1",
    ),
    (
        "default-to-appliance",
        ROUTE_IGW,
        {"main": [{"DestinationCidrBlock": "0.0.0.0/0", "NetworkInterfaceId": "eni-9"}]},
        False,
        "eni-9",
    ),
    (
        "blackhole",
        ROUTE_IGW,
        {"main": [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "blackhole"}]},
        False,
        "blackhole",
    ),
    (
        "no-default-route",
        ROUTE_IGW,
        {"main": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"}]},
        False,
        "no 0.0.0.0/0 route",
    ),
    (
        "ipv6-egress-only",
        EIGW,
        {
            "rules": [sg("tcp", 22, 22, "::/0")],
            "ipv4": None,
            "ipv6": "2600:1f18::10",
            "main": [{"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": "eigw-1"}],
        },
        False,
        "eigw-1",
    ),
    (
        "ipv4-route-for-ipv6-only",
        ROUTE_IGW,
        {"rules": [sg("tcp", 22, 22, "::/0")], "ipv4": None, "ipv6": "2600:1f18::10", "main": IGW[:1]},
        False,
        "no ::/0 route",
    ),
    ("ipv6-route-for-ipv4", ROUTE_IGW, {"main": IGW[1:]}, False, "no 0.0.0.0/0 route"),
    # Managed prefix lists: a rule that names one applies to every CIDR block in it.
    ("prefix-list-holds-the-world", PREFIX, {"rules": [PL_RULE], "lists": {"pl-1": ["0.0.0.0/0"]}}, True,
     "tcp/22 from 0.0.0.0/0 over IPv4"),
    ("prefix-list-holds-halves", PREFIX, {"rules": [PL_RULE], "lists": {"pl-1": ["0.0.0.0/1", "128.0.0.0/1"]}}, True,
     "0.0.0.0/1, 128.0.0.0/1"),
    ("prefix-list-holds-an-office", PREFIX, {"rules": [PL_RULE], "lists": {"pl-1": ["203.0.113.0/24"]}}, False,
     "no security group rule opens"),
    ("prefix-list-ipv6-world", PREFIX, {**V6_ONLY, "rules": [PL_RULE], "lists": {"pl-1": ["::/0"]}}, True,
     "tcp/22 from ::/0 over IPv6"),
    ("prefix-list-ipv6-for-ipv4-address", PREFIX, {"rules": [PL_RULE], "lists": {"pl-1": ["::/0"]}}, False,
     "no security group rule opens"),
    ("prefix-list-unread-acl-open", UNKNOWN_LAST, {"rules": [PL_RULE], "lists": {"pl-1": None}}, None,
     "prefix lists pl-1, whose entries are not read"),
    ("prefix-list-paged", UNKNOWN_LAST, {"rules": [PL_RULE], "lists": {"pl-1": "paged"}}, None, "prefix lists pl-1"),
    ("prefix-list-not-fetched", UNKNOWN_LAST, {"rules": [PL_RULE]}, None, "prefix lists pl-1"),
    ("prefix-list-unread-acl-blocks", UNKNOWN_LAST,
     {"rules": [PL_RULE], "lists": {"pl-1": None}, "entries": [acl(50, "-1", "deny", "0.0.0.0/0"), *OPEN_ACL]},
     False, "(whatever prefix lists pl-1 hold)"),
    ("prefix-list-unread-no-route", UNKNOWN_LAST,
     {"rules": [PL_RULE], "lists": {"pl-1": None}, "main": [route("0.0.0.0/0", "nat-1", "NatGatewayId")]},
     False, "goes to nat-1"),
    ("prefix-list-unread-beside-open-rule", UNKNOWN_LAST,
     {"rules": [PL_RULE, sg("tcp", 22, 22, "0.0.0.0/0")], "lists": {"pl-1": None}}, True, "tcp/22 from 0.0.0.0/0"),
    # What was not read matters only when it could change the answer.
    ("nothing-open-acl-not-read", UNKNOWN_LAST, {"rules": [], "drop": ("AwsEc2NetworkAcl",)}, False,
     "no security group rule opens"),
    ("no-route-acl-not-read", UNKNOWN_LAST,
     {"drop": ("AwsEc2NetworkAcl",), "main": [route("0.0.0.0/0", "nat-1", "NatGatewayId")]}, False, "goes to nat-1"),
    ("second-interface-unread-first-open", UNKNOWN_LAST, {"second_eni": ("sg-unread",)}, True,
     "tcp/22 from 0.0.0.0/0 over IPv4 to 54.10.10.10"),
    ("second-interface-unread-first-closed", UNKNOWN_LAST, {"rules": [], "second_eni": ("sg-unread",)}, None,
     "security groups sg-unread were not found"),
    # Longest prefix match: the most specific route for the client's address decides.
    ("halves-to-igw", LPM, {"main": [route("0.0.0.0/1", "igw-1"), route("128.0.0.0/1", "igw-1")]}, True,
     "rtb-main -> igw-1 (0.0.0.0/1, 128.0.0.0/1 -> igw-1)"),
    ("quarters-to-igw", LPM, {"main": [route(f"{q}.0.0.0/2", "igw-1") for q in (0, 64, 128, 192)]}, True, "-> igw-1"),
    ("default-igw-half-to-nat", LPM, {"main": [route("0.0.0.0/0", "igw-1"), route("0.0.0.0/1", "nat-1", "NatGatewayId")]},
     True, "the rest of the internet: its 0.0.0.0/1 route goes to nat-1"),
    ("default-igw-both-halves-to-nat", LPM,
     {"main": [route("0.0.0.0/0", "igw-1"), route("0.0.0.0/1", "nat-1", "NatGatewayId"),
               route("128.0.0.0/1", "nat-1", "NatGatewayId")]}, False, "its 0.0.0.0/1 route goes to nat-1"),
    ("default-igw-halves-blackhole", LPM,
     {"main": [route("0.0.0.0/0", "igw-1"), route("0.0.0.0/1", "igw-2", State="blackhole"),
               route("128.0.0.0/1", "igw-2", State="blackhole")]}, False, "blackhole"),
    ("default-nat-half-to-igw", LPM, {"main": [route("0.0.0.0/0", "nat-1", "NatGatewayId"), route("128.0.0.0/1", "igw-1")]},
     True, "128.0.0.0/1 -> igw-1"),
    ("default-nat-office-to-igw", LPM, {"main": [route("0.0.0.0/0", "nat-1", "NatGatewayId"), route("203.0.113.0/24", "igw-1")]},
     True, "203.0.113.0/24 -> igw-1"),
    ("default-igw-specific-to-tgw", LPM,
     {"main": [route("0.0.0.0/0", "igw-1"), route("52.0.0.0/8", "tgw-1", "TransitGatewayId")]}, True, "52.0.0.0/8 route goes to tgw-1"),
    ("private-range-to-igw-only", LPM, {"main": [route("10.0.0.0/8", "igw-1")]}, False, "no 0.0.0.0/0 route"),
    ("local-route-only", LPM, {"main": [route("10.0.0.0/16", "local")]}, False, "no 0.0.0.0/0 route"),
    ("ipv6-halves-to-igw", LPM, {**V6_ONLY, "main": [route("::/1", "igw-1"), route("8000::/1", "igw-1")]}, True,
     "(::/1 -> igw-1)"),  # global unicast (2000::/3) lies in ::/1
    ("ipv6-global-unicast-to-igw", LPM, {**V6_ONLY, "main": [route("2000::/3", "igw-1")]}, True, "2000::/3 -> igw-1"),
    ("ipv6-default-igw-global-to-eigw", LPM,
     {**V6_ONLY, "main": [route("::/0", "igw-1"), route("2000::/3", "eigw-1", "EgressOnlyInternetGatewayId")]},
     False, "eigw-1"),
    ("ipv4-halves-do-not-serve-ipv6", LPM, {**V6_ONLY, "main": [route("0.0.0.0/1", "igw-1"), route("128.0.0.0/1", "igw-1")]},
     False, "no ::/0 route"),
    ("gateway-endpoint-prefix-list", GATEWAY_ENDPOINT,
     {"main": [*IGW, {"DestinationPrefixListId": "pl-63a5400a", "GatewayId": "vpce-1", "State": "active"}]}, True,
     "rtb-main -> igw-1"),
    ("prefix-list-to-nat-beside-igw", PARTIAL,
     {"main": [*IGW, {"DestinationPrefixListId": "pl-0abc", "NatGatewayId": "nat-1", "State": "active"}]}, None,
     "prefix list pl-0abc (nat-1) may decide it"),
    ("prefix-list-to-igw-alone", PARTIAL,
     {"main": [{"DestinationPrefixListId": "pl-0abc", "GatewayId": "igw-1", "State": "active"}]}, None,
     "prefix list pl-0abc (igw-1) may decide it"),
    ("prefix-list-to-nat-no-igw", LPM,
     {"main": [{"DestinationPrefixListId": "pl-0abc", "NatGatewayId": "nat-1", "State": "active"}]}, False,
     "no 0.0.0.0/0 route"),
    # Partial data
    (
        "group-not-read",
        PARTIAL,
        {"drop": ("AwsEc2SecurityGroup",)},
        None,
        "security groups sg-1 were not found",
    ),
    ("subnet-not-read", PARTIAL, {"drop": ("AwsEc2Subnet",)}, None, "subnet subnet-1 was not found"),
    (
        "route-tables-not-read",
        PARTIAL,
        {"drop": ("AwsEc2RouteTable",)},
        None,
        "route table of subnet subnet-1",
    ),
    ("acl-not-read", PARTIAL, {"drop": ("AwsEc2NetworkAcl",)}, None, "network ACL of subnet subnet-1"),
    (
        "prefix-list-only",
        PARTIAL,
        {"rules": [{**sg("tcp", 22, 22), "PrefixListIds": [{"PrefixListId": "pl-0abc"}]}]},
        None,
        "prefix lists pl-0abc, whose entries are not read",
    ),
    (
        "prefix-list-beside-open-rule",
        SG,
        {"rules": [{**sg("tcp", 22, 22, "0.0.0.0/0"), "PrefixListIds": [{"PrefixListId": "pl-0abc"}]}]},
        True,
        "tcp/22",
    ),
    # State
    (
        "stopped-but-open",
        STATE,
        {"state": "stopped"},
        False,
        "stopped: not reachable now; when started, reachable on tcp/22",
    ),
    ("stopped-and-closed", STATE, {"state": "stopped", "rules": []}, False, "stopped: not reachable now"),
]


@pytest.mark.parametrize(
    ("rule", "setup", "expected", "evidence"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_instance_is_public(rule: str, setup: dict[str, Any], expected: bool | None, evidence: str) -> None:
    found = verdict(world(**setup))
    if expected is None:
        assert isinstance(found, Unknown) and evidence in str(found), rule
    elif expected:
        assert found and any(evidence in path for path in found["reachable"]), (rule, found)
    else:
        assert isinstance(found, No) and evidence in found.reason, (rule, found)
    # The interface and the instance are one model: the same answer for the same interface (an
    # instance with a second interface answers for both).
    if setup.get("state", "running") == "running" and "second_eni" not in setup:
        eni = verdict(world(**setup), "AwsEc2NetworkInterface", "eni-1")
        assert type(eni) is type(found) and bool(eni) == bool(found), rule


GROUP_CASES: list[tuple[str, str, dict[str, Any], str, bool]] = [
    ("group-open-and-reaching", SG, {}, "sg-1", True),
    ("group-prefix-list-world", PREFIX, {"rules": [PL_RULE], "lists": {"pl-1": ["0.0.0.0/0"]}}, "sg-1", True),
    ("group-prefix-list-office", PREFIX, {"rules": [PL_RULE], "lists": {"pl-1": ["203.0.113.0/24"]}}, "sg-1", False),
    ("group-open-no-public-address", ADDRESS, {"ipv4": None}, "sg-1", False),
    (
        "group-open-acl-blocks",
        ACL_ORDER,
        {"entries": [acl(50, "-1", "deny", "0.0.0.0/0"), *OPEN_ACL]},
        "sg-1",
        False,
    ),
    (
        "group-half-other-half",
        SG,
        {
            "rules": [sg("tcp", 22, 22, "0.0.0.0/1"), sg("tcp", 22, 22, "128.0.0.0/1", group="sg-2")],
            "groups": ("sg-1", "sg-2"),
        },
        "sg-1",
        False,
    ),
    (
        "group-closed-other-open",
        SG,
        {"rules": [sg("tcp", 22, 22, "0.0.0.0/0", group="sg-2")], "groups": ("sg-1", "sg-2")},
        "sg-1",
        False,
    ),
]


@pytest.mark.parametrize(
    ("rule", "setup", "group", "expected"), [c[1:] for c in GROUP_CASES], ids=[c[0] for c in GROUP_CASES]
)
def test_security_group_is_public_through_its_interfaces(
    rule: str, setup: dict[str, Any], group: str, expected: bool
) -> None:
    found = verdict(world(**setup), "AwsEc2SecurityGroup", group)
    assert bool(found) is expected, (rule, found)
    if expected:
        assert found["reachable"]["eni-1"][0].startswith("tcp/22 from 0.0.0.0/0 over IPv4")


def _with_load_balancer(inv: Inventory, lb: dict[str, Any], listeners: list[dict[str, Any]]) -> Inventory:
    inv.items[(A, R, "AwsElbv2LoadBalancer")] = {lb["LoadBalancerArn"]: lb}
    inv.details[((A, R, "AwsElbv2LoadBalancer"), lb["LoadBalancerArn"])] = {
        "Listeners": listeners,
        "Attributes": [],
    }
    return inv


def _lb(**extra: Any) -> dict[str, Any]:
    return {
        "LoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/1",
        "Scheme": "internet-facing",
        "DNSName": "a.elb.amazonaws.com",
        "AvailabilityZones": [{"SubnetId": "subnet-1"}],
        "SecurityGroups": ["sg-1"],
        **extra,
    }


LB_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], list[dict[str, Any]], bool | None]] = [
    (
        "alb-https-open",
        SG,
        {"rules": [sg("tcp", 443, 443, "0.0.0.0/0")]},
        {},
        [{"Protocol": "HTTPS", "Port": 443}],
        True,
    ),
    (
        "alb-internal",
        ADDRESS,
        {"rules": [sg("tcp", 443, 443, "0.0.0.0/0")]},
        {"Scheme": "internal"},
        [{"Protocol": "HTTPS", "Port": 443}],
        False,
    ),
    ("alb-group-opens-other-port", SG, {}, {}, [{"Protocol": "HTTPS", "Port": 443}], False),
    (
        "alb-udp-rule-tcp-listener",
        PROTOCOL,
        {"rules": [sg("udp", 443, 443, "0.0.0.0/0")]},
        {},
        [{"Protocol": "HTTPS", "Port": 443}],
        False,
    ),
    (
        "nlb-without-groups",
        SG,
        {"rules": []},
        {"SecurityGroups": []},
        [{"Protocol": "TCP", "Port": 80}],
        True,
    ),
    (
        "nlb-private-subnet",
        ROUTE_IGW,
        {"rules": [], "main": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}]},
        {"SecurityGroups": []},
        [{"Protocol": "TCP", "Port": 80}],
        False,
    ),
    (
        "nlb-udp-listener-acl-tcp-only",
        PROTOCOL,
        {"rules": [], "entries": [acl(100, "6", "allow", "0.0.0.0/0"), out(100, "-1", "allow", "0.0.0.0/0")]},
        {"SecurityGroups": []},
        [{"Protocol": "UDP", "Port": 53}],
        False,
    ),
    (
        "alb-dualstack-ipv6-rule",
        SG_FAMILY,
        {"rules": [sg("tcp", 443, 443, "::/0")]},
        {"IpAddressType": "dualstack"},
        [{"Protocol": "HTTPS", "Port": 443}],
        True,
    ),
    (
        "alb-subnet-not-read",
        PARTIAL,
        {"rules": [sg("tcp", 443, 443, "0.0.0.0/0")], "drop": ("AwsEc2Subnet",)},
        {},
        [{"Protocol": "HTTPS", "Port": 443}],
        None,
    ),
]


@pytest.mark.parametrize(
    ("rule", "setup", "extra", "listeners", "expected"),
    [c[1:] for c in LB_CASES],
    ids=[c[0] for c in LB_CASES],
)
def test_load_balancer_is_public(
    rule: str,
    setup: dict[str, Any],
    extra: dict[str, Any],
    listeners: list[dict[str, Any]],
    expected: bool | None,
) -> None:
    lb = _lb(**extra)
    found = verdict(
        _with_load_balancer(world(**setup), lb, listeners), "AwsElbv2LoadBalancer", lb["LoadBalancerArn"]
    )
    if expected is None:
        assert isinstance(found, Unknown), rule
    else:
        assert bool(found) is expected, (rule, found)


def _rds(inv: Inventory, port: int = 5432, public: bool = True) -> Inventory:
    inv.items[(A, R, "AwsRdsDbInstance")] = {
        "db": {
            "DBInstanceIdentifier": "db",
            "PubliclyAccessible": public,
            "AvailabilityZone": "us-east-1a",
            "Endpoint": {"Address": "db.x.rds.amazonaws.com", "Port": port},
            "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1"}],
            "DBSubnetGroup": {
                "Subnets": [
                    {"SubnetIdentifier": "subnet-1", "SubnetAvailabilityZone": {"Name": "us-east-1a"}}
                ]
            },
        }
    }
    return inv


RDS_CASES: list[tuple[str, str, dict[str, Any], bool, bool]] = [
    ("postgres-open", SG, {"rules": [sg("tcp", 5432, 5432, "0.0.0.0/0")]}, True, True),
    ("postgres-udp-rule", PROTOCOL, {"rules": [sg("udp", 5432, 5432, "0.0.0.0/0")]}, True, False),
    (
        "postgres-not-publicly-accessible",
        ADDRESS,
        {"rules": [sg("tcp", 5432, 5432, "0.0.0.0/0")]},
        False,
        False,
    ),
    (
        "postgres-acl-blocks",
        ACL_ORDER,
        {
            "rules": [sg("tcp", 5432, 5432, "0.0.0.0/0")],
            "entries": [acl(50, "6", "deny", "0.0.0.0/0", (5432, 5432)), *OPEN_ACL],
        },
        True,
        False,
    ),
    (
        "postgres-private-route",
        ROUTE_IGW,
        {
            "rules": [sg("tcp", 5432, 5432, "0.0.0.0/0")],
            "main": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}],
        },
        True,
        False,
    ),
]


@pytest.mark.parametrize(
    ("rule", "setup", "public", "expected"), [c[1:] for c in RDS_CASES], ids=[c[0] for c in RDS_CASES]
)
def test_database_is_public(rule: str, setup: dict[str, Any], public: bool, expected: bool) -> None:
    found = verdict(_rds(world(**setup), public=public), "AwsRdsDbInstance", "db")
    assert bool(found) is expected, (rule, found)
    if expected:
        assert found["reachable"][0].startswith("tcp/5432 from 0.0.0.0/0 over IPv4 to db.x.rds.amazonaws.com")


def test_the_table_is_large_enough() -> None:
    # The bar: at least 60 network cases, each naming its rule.
    assert len(CASES) + len(GROUP_CASES) + len(LB_CASES) + len(RDS_CASES) >= 60


TARGET = "VPC/ELB: a target receives what an internet-facing load balancer it is registered with lets in"


@pytest.mark.parametrize(
    ("rule", "lb_rules", "classic", "expected"),
    [
        (TARGET, [sg("tcp", 443, 443, "0.0.0.0/0", group="sg-lb")], False, True),
        (TARGET, [sg("tcp", 443, 443, "0.0.0.0/0", group="sg-lb")], True, True),
        (SG, [sg("tcp", 443, 443, "10.0.0.0/8", group="sg-lb")], False, False),
    ],
    ids=["behind-public-alb", "behind-public-classic-elb", "behind-alb-open-to-private-range"],
)
def test_private_instance_behind_a_load_balancer(
    rule: str, lb_rules: list[dict[str, Any]], classic: bool, expected: bool
) -> None:
    inv = world(ipv4=None)
    inv.items[(A, R, "AwsEc2SecurityGroup")]["sg-lb"] = {
        "GroupId": "sg-lb",
        "IpPermissions": [{k: v for k, v in r.items() if k != "group"} for r in lb_rules],
    }
    if classic:
        inv.items[(A, R, "AwsElbLoadBalancer")] = {
            "web": {
                "LoadBalancerName": "web",
                "Scheme": "internet-facing",
                "DNSName": "web.elb",
                "Subnets": ["subnet-1"],
                "SecurityGroups": ["sg-lb"],
                "Instances": [{"InstanceId": "i-1"}],
                "ListenerDescriptions": [{"Listener": {"Protocol": "HTTPS", "LoadBalancerPort": 443}}],
            }
        }
        inv.items[(A, R, "AwsElbv2TargetGroup")] = {}
    else:
        lb = _lb(SecurityGroups=["sg-lb"])
        _with_load_balancer(inv, lb, [{"Protocol": "HTTPS", "Port": 443}])
        inv.items[(A, R, "AwsElbv2TargetGroup")] = {
            "tg": {
                "TargetGroupArn": "tg",
                "LoadBalancerArns": [lb["LoadBalancerArn"]],
                "Targets": [{"Target": {"Id": "i-1", "Port": 8080}}],
            }
        }
        inv.items[(A, R, "AwsElbLoadBalancer")] = {}
    found = verdict(inv)
    assert bool(found) is expected, (rule, found)
    if expected:
        assert "reachable" not in found and len(found["through_load_balancers"]) == 1
    else:
        assert "no public IPv4 address" in found.reason
