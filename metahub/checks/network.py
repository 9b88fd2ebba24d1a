"""The one network reachability model: can the internet open a connection to an address?

It follows the VPC documentation, per network interface, per protocol, as port ranges, with IPv4
and IPv6 kept apart:

- *Addresses*: a public IPv4 (public IP or Elastic IP) for IPv4; a global unicast IPv6 (2000::/3)
  for IPv6. Without one of a family, nothing arrives over that family.
- *Security groups* are stateful and allow-only: a port is open when the union of the source
  ranges of the rules that cover it (in all the interface's groups) covers the whole internet
  (``0.0.0.0/1`` + ``128.0.0.0/1`` does). Replies need no egress rule.
- *Network ACLs* are stateless, evaluated in rule-number order, the first rule matching protocol,
  port and address deciding, and ``*`` denying the rest: the inbound ACL must let the whole
  internet in on the port, and the outbound ACL must let replies out to the client's ephemeral
  ports (1024-65535).
- *Route tables*: the subnet's explicitly associated table, else its VPC's main table, must send
  replies to internet addresses to an internet gateway (not a NAT gateway, transit gateway,
  peering, egress-only gateway, or a blackhole), route by route in longest-prefix-match order.

"The internet" is the public address space: IPv4 less the private, shared, loopback, link-local
and reserved ranges; IPv6 global unicast. What the model cannot read makes the answer unknown.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from metahub.checks.base import No, ResourceView, Unknown

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WORLD_V4, WORLD_V6 = "0.0.0.0/0", "::/0"
_NOT_INTERNET_V4 = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "224.0.0.0/3",
)  # fmt: skip


def _internet() -> dict[int, list[Network]]:
    v4: list[Network] = [ipaddress.ip_network(WORLD_V4)]
    for cut in _NOT_INTERNET_V4:
        v4 = _subtract(v4, ipaddress.ip_network(cut))
    return {4: v4, 6: [ipaddress.ip_network("2000::/3")]}


def _subtract(blocks: Sequence[Network], cut: Network) -> list[Network]:
    left: list[Network] = []
    for block in blocks:
        if block.version != cut.version or not block.overlaps(cut):
            left.append(block)
        elif not block.subnet_of(cut):  # type: ignore[arg-type]
            left.extend(block.address_exclude(cut))  # type: ignore[arg-type]
    return left


INTERNET = _internet()
FAMILY_NAME = {4: "IPv4", 6: "IPv6"}
EPHEMERAL = (1024, 65535)
GROUP_RULES = "security_groups.prefix_lists.Entries"
"""What reading a resource's security groups' rules needs: the groups, and the entries of the managed
prefix lists their rules name."""
NETWORK = (
    GROUP_RULES,
    "subnet.route_tables",
    "subnet.vpc_route_tables",
    "subnet.network_acls",
)
"""What reachability of something in a subnet needs fetched: its groups, routes and network ACL."""


def covers_internet(cidrs: Iterable[str], family: int) -> bool:
    """Whether these ranges together hold every public address of the family."""
    left = list(INTERNET[family])
    for cidr in cidrs:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        left = _subtract(left, net)
        if not left:
            return True
    return not left


def protocol_name(value: Any) -> str:
    text = str(value).lower()
    return {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}.get(text, text)


def _protocols(name: str, family: int) -> tuple[str, ...]:
    """What one rule's protocol covers; "all" is every protocol, shown as the three that carry
    services (and any other by number)."""
    if name == "all":
        return ("tcp", "udp", "icmp" if family == 4 else "icmpv6", "other")
    return (name,)


def _has_ports(protocol: str) -> bool:
    return protocol in ("tcp", "udp")


# --- security groups -----------------------------------------------------------------------


@dataclass(frozen=True)
class Opening:
    """A protocol and port range the security groups open to the whole internet."""

    family: int
    protocol: str
    low: int
    high: int
    sources: tuple[str, ...]
    groups: tuple[str, ...]

    @property
    def ports(self) -> str:
        if not _has_ports(self.protocol):
            return self.protocol
        if (self.low, self.high) == (0, 65535):
            return f"{self.protocol}/all ports"
        return f"{self.protocol}/{self.low}" + (f"-{self.high}" if self.high != self.low else "")

    def describe(self) -> str:
        return f"{self.ports} from {', '.join(self.sources)} via {', '.join(self.groups)}"


@dataclass(frozen=True)
class _Rule:
    protocol: str
    low: int
    high: int
    source: str
    group: str


def _group_rules(group: dict[str, Any], family: int, egress: bool = False) -> list[_Rule]:
    rules: list[_Rule] = []
    for permission in group.get("IpPermissionsEgress" if egress else "IpPermissions", []):
        name = protocol_name(permission.get("IpProtocol"))
        low, high = permission.get("FromPort"), permission.get("ToPort")
        ranged = name in ("tcp", "udp") and low is not None and low != -1
        span = (int(low), int(high if high is not None else low)) if ranged else (0, 65535)
        if family == 4:
            sources = [r.get("CidrIp") for r in permission.get("IpRanges", [])]
        else:
            sources = [r.get("CidrIpv6") for r in permission.get("Ipv6Ranges", [])]
        for protocol in _protocols(name, family):
            rules.extend(_Rule(protocol, *span, s, str(group.get("GroupId"))) for s in sources if s)
    return rules


def internet_openings(groups: Iterable[dict[str, Any]], family: int, egress: bool = False) -> list[Opening]:
    """Port ranges, per protocol, that the groups together open to the whole internet (or, with
    ``egress``, let out to all of it)."""
    rules = [rule for group in groups for rule in _group_rules(group, family, egress)]
    found: list[Opening] = []
    for protocol in sorted({r.protocol for r in rules}):
        mine = [r for r in rules if r.protocol == protocol]
        for low, high in _segments([(r.low, r.high) for r in mine]):
            covering = [r for r in mine if r.low <= low and high <= r.high]
            if covers_internet([r.source for r in covering], family):
                sources = tuple(dict.fromkeys(r.source for r in covering))
                groups_ = tuple(dict.fromkeys(r.group for r in covering))
                last = found[-1] if found else None
                if last and last.protocol == protocol and last.high + 1 == low and last.sources == sources:
                    found[-1] = Opening(family, protocol, last.low, high, sources, last.groups)
                else:
                    found.append(Opening(family, protocol, low, high, sources, groups_))
    return found


def partial_openings(groups: Iterable[dict[str, Any]], family: int) -> list[str]:
    """Rules open to a wide range short of the whole internet (/8 or wider), for evidence."""
    found = []
    for group in groups:
        for rule in _group_rules(group, family):
            net = ipaddress.ip_network(rule.source, strict=False)
            if net.prefixlen <= (8 if family == 4 else 16) and not covers_internet([rule.source], family):
                found.append(f"{rule.protocol} from {rule.source} via {rule.group}")
    return list(dict.fromkeys(found))


def prefix_lists(groups: Iterable[dict[str, Any]]) -> list[str]:
    """Managed prefix lists ingress rules still name after :func:`resolve_group` (their entries
    could not be read): what they open cannot be told (a customer list may hold 0.0.0.0/0)."""
    found = [
        p.get("PrefixListId", "?")
        for group in groups
        for permission in group.get("IpPermissions", [])
        for p in permission.get("PrefixListIds", [])
    ]
    return list(dict.fromkeys(found))


def resolve_group(group: ResourceView) -> dict[str, Any]:
    """The group's rules with each managed prefix list replaced by its entries (VPC managed prefix
    lists: a rule that references a list applies to every CIDR block in it). A list whose entries
    were not all read stays a reference, and :func:`prefix_lists` names it."""
    try:
        lists = {pl.id: pl for pl in group.related("prefix_lists")}
    except Unknown:
        lists = {}
    entries: dict[str, list[str]] = {}
    for pl_id, pl in lists.items():
        try:
            page = pl.detail("Entries") or {}
        except Unknown:
            continue
        if page.get("NextToken"):
            continue  # more than one page: not every entry is here
        entries[pl_id] = [str(e.get("Cidr")) for e in page.get("Entries", []) if e.get("Cidr")]
    if not entries:
        return group.data
    data = dict(group.data)
    for field_ in ("IpPermissions", "IpPermissionsEgress"):
        rules = []
        for permission in group.data.get(field_, []):
            refs = permission.get("PrefixListIds", [])
            cidrs = [c for ref in refs for c in entries.get(str(ref.get("PrefixListId")), [])]
            rules.append({
                **permission,
                "IpRanges": [*permission.get("IpRanges", []), *({"CidrIp": c} for c in cidrs if ":" not in c)],
                "Ipv6Ranges": [*permission.get("Ipv6Ranges", []), *({"CidrIpv6": c} for c in cidrs if ":" in c)],
                "PrefixListIds": [r for r in refs if str(r.get("PrefixListId")) not in entries],
            })  # fmt: skip
        data[field_] = rules
    return data


def _lists_open(groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups as if every unread prefix list held the whole internet: the most they could open."""
    world = {"IpRanges": [{"CidrIp": WORLD_V4}], "Ipv6Ranges": [{"CidrIpv6": WORLD_V6}]}
    return [
        {
            **g,
            "IpPermissions": [p | world if p.get("PrefixListIds") else p for p in g.get("IpPermissions", [])],
        }
        for g in groups
    ]


def _segments(
    spans: Iterable[tuple[int, int]], within: tuple[int, int] = (0, 65535)
) -> list[tuple[int, int]]:
    """Cut ``within`` at every edge of ``spans``: inside a segment, every span holds or none does."""
    edges = {within[0], within[1] + 1}
    for low, high in spans:
        for edge in (low, high + 1):
            if within[0] < edge <= within[1]:
                edges.add(edge)
    points = sorted(edges)
    return [(a, b - 1) for a, b in itertools.pairwise(points)]


# --- network ACLs --------------------------------------------------------------------------


@dataclass(frozen=True)
class AclPass:
    low: int
    high: int
    rules: tuple[int, ...]


def acl_passes(
    acl: dict[str, Any], egress: bool, family: int, protocol: str, low: int, high: int
) -> list[AclPass]:
    """The parts of [low, high] on which the ACL lets the internet through, in one direction.

    Rules are read in number order; for each address the first rule that matches protocol, port and
    address decides; an address no rule matches is denied (the ``*`` rule). As with policies, an
    allow-list (allow rules that together cover less than the internet) bounds who gets through;
    allowing the internet with deny rules for some ranges first (a deny-list) still lets it in.
    """
    cidr_key = "CidrBlock" if family == 4 else "Ipv6CidrBlock"
    entries = sorted(
        (
            e
            for e in acl.get("Entries", [])
            if bool(e.get("Egress")) == egress
            and e.get(cidr_key)
            and protocol_name(e.get("Protocol")) in ("all", protocol)
        ),
        key=lambda e: int(e.get("RuleNumber", 32767)),
    )

    def span(entry: dict[str, Any]) -> tuple[int, int]:
        ports = entry.get("PortRange")
        if protocol_name(entry.get("Protocol")) == "all" or not _has_ports(protocol) or not ports:
            return (0, 65535)
        return (int(ports.get("From", 0)), int(ports.get("To", 65535)))

    found: list[AclPass] = []
    for a, b in _segments([span(e) for e in entries], (low, high)):
        here = [e for e in entries if span(e)[0] <= a and b <= span(e)[1]]
        if not covers_internet([e[cidr_key] for e in here if e.get("RuleAction") == "allow"], family):
            continue  # only listed ranges are ever allowed
        undecided, admitting = list(INTERNET[family]), []
        for entry in here:
            net = ipaddress.ip_network(entry[cidr_key], strict=False)
            if not any(block.overlaps(net) for block in undecided):
                continue
            if entry.get("RuleAction") == "allow":
                admitting.append(int(entry.get("RuleNumber", 0)))
            undecided = _subtract(undecided, net)
            if not undecided:
                break
        if not admitting:
            continue
        if found and found[-1].high + 1 == a and found[-1].rules == tuple(admitting):
            found[-1] = AclPass(found[-1].low, b, found[-1].rules)
        else:
            found.append(AclPass(a, b, tuple(admitting)))
    return found


# --- route tables --------------------------------------------------------------------------


_TARGETS = (
    "GatewayId", "NatGatewayId", "TransitGatewayId", "VpcPeeringConnectionId", "EgressOnlyInternetGatewayId",
    "NetworkInterfaceId", "InstanceId", "LocalGatewayId", "CarrierGatewayId", "CoreNetworkArn",
)  # fmt: skip


def _target(route: dict[str, Any]) -> str:
    return next((str(route[k]) for k in _TARGETS if route.get(k)), "nothing")


def default_route(table: dict[str, Any], family: int) -> tuple[str | None, str]:
    """(internet gateway, why): where the table sends replies to the internet's addresses.

    VPC route priority: "we direct traffic using the most specific route that matches the traffic.
    This is known as the longest prefix match." So ``0.0.0.0/1`` + ``128.0.0.0/1`` to an internet
    gateway is a default route, and a more specific route can take part of the internet elsewhere.
    The internet is reachable through the gateway for the addresses whose most specific route
    leads there; ``why`` names the routes that decided. A route to a prefix list whose entries are
    not read makes the answer unknown only when it could change it (a gateway endpoint's list
    holds an AWS service's addresses, never the internet's clients)."""
    key = "DestinationCidrBlock" if family == 4 else "DestinationIpv6CidrBlock"
    world = _world(family)
    routes: list[tuple[Network, dict[str, Any]]] = []
    lists: list[dict[str, Any]] = []
    for route in table.get("Routes", []):
        if route.get(key):
            try:
                routes.append((ipaddress.ip_network(route[key], strict=False), route))
            except ValueError:
                raise Unknown(f"route table route to {route[key]!r} is not a CIDR block") from None
        elif route.get("DestinationPrefixListId") and not _target(route).startswith("vpce-"):
            lists.append(route)
    left = list(INTERNET[family])
    through: dict[str, list[str]] = {}
    elsewhere: list[str] = []
    for dest, route in sorted(routes, key=lambda item: -item[0].prefixlen):
        if not any(block.overlaps(dest) for block in left):
            continue  # local, private, or already taken by a more specific route
        left = _subtract(left, dest)
        target = _target(route)
        if route.get("State") == "blackhole":
            elsewhere.append(f"its {dest} route to {target} is a blackhole")
        elif target.startswith("igw-"):
            through.setdefault(target, []).append(str(dest))
        else:
            elsewhere.append(f"its {dest} route goes to {target}, not an internet gateway")
    for route in lists:
        target, name = _target(route), route["DestinationPrefixListId"]
        if (through and not target.startswith("igw-")) or (not through and target.startswith("igw-")):
            raise Unknown(
                f"its route to prefix list {name} ({target}) may decide it; prefix list entries are not read"
            )
    if not through:
        return None, "; ".join(elsewhere) or f"no {world} route (nor any route for internet addresses)"
    gateway, destinations = next(iter(through.items()))
    why = f"{', '.join(destinations)} -> {gateway}"
    if elsewhere:
        why += f" (the rest of the internet: {'; '.join(elsewhere)})"
    return gateway, why


def _world(family: int) -> str:
    return WORLD_V4 if family == 4 else WORLD_V6


def effective_route_table(subnet: ResourceView) -> ResourceView:
    """The subnet's explicitly associated route table, else its VPC's main one (unknown if neither
    could be read: the subnet then has *some* table that was not seen)."""
    explicit = subnet.related("route_tables")
    if explicit:
        return explicit[0]
    for table in subnet.related("vpc_route_tables"):
        if any(a.get("Main") for a in table.get("Associations", [])):
            return table
    raise Unknown(f"the route table of subnet {subnet.id} was not found")


def internet_gateway_route(table: dict[str, Any]) -> str | None:
    """The internet gateway a route table sends either family's default route to, if any."""
    return default_route(table, 4)[0] or default_route(table, 6)[0]


def subnet_acl(subnet: ResourceView) -> ResourceView:
    acls = subnet.related("network_acls")
    if not acls:
        raise Unknown(f"the network ACL of subnet {subnet.id} was not found")
    return acls[0]


# --- a whole path ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """One way in from the internet: what is open, on which address, through what."""

    opening: Opening
    low: int
    high: int
    address: str
    acl: str
    acl_rules: tuple[int, ...]
    egress_rules: tuple[int, ...]
    route_table: str
    gateway: str
    route: str = ""
    """The routes that decided, when not simply the family's default route to the gateway."""

    def describe(self) -> str:
        open_ = Opening(self.opening.family, self.opening.protocol, self.low, self.high, (), ())
        return (
            f"{open_.ports} from {', '.join(self.opening.sources)} over {FAMILY_NAME[self.opening.family]} "
            f"to {self.address} via {', '.join(self.opening.groups)}, {self.acl} rule "
            f"{'/'.join(map(str, self.acl_rules))} (replies: rule {'/'.join(map(str, self.egress_rules))}), "
            f"{self.route_table} -> {self.gateway}" + (f" ({self.route})" if self.route else "")
        )


_DESCRIBED = re.compile(
    r"^(?P<protocol>[\w-]+)(?:/(?P<ports>all ports|\d+(?:-\d+)?))? from (?P<sources>.+?) "
    r"over (?P<family>IPv[46]) to (?P<address>\S+) via "
)


def described_path(text: str) -> dict[str, Any] | None:
    """What :meth:`Path.describe` wrote, read back: ``{"protocol", "ports", "family", "address"}``
    (ports ``None`` for a protocol without them, ``"all"`` for every port); None for other text."""
    found = _DESCRIBED.match(text)
    if found is None:
        return None
    ports = found["ports"]
    return {"protocol": found["protocol"], "ports": "all" if ports == "all ports" else ports,
            "family": found["family"], "address": found["address"]}  # fmt: skip


def public_addresses(ipv4: Iterable[str | None], ipv6: Iterable[str | None]) -> dict[int, list[str]]:
    """Addresses the internet can send to, by family: IPv6 only when global unicast."""
    v6 = [a for a in ipv6 if a and ipaddress.ip_address(a) in INTERNET[6][0]]
    return {4: [a for a in ipv4 if a], 6: v6}


def reachable(
    addresses: dict[int, list[str]],
    groups: Sequence[dict[str, Any]],
    subnet: ResourceView,
    ports: Sequence[tuple[str, int]] | None = None,
) -> list[Path] | No:
    """Every path from the internet to ``addresses`` through ``groups`` and ``subnet``'s ACL and
    routes; ``ports`` limits it to (protocol, port) a service listens on. A No says what stops it.

    Unknown is decided last: what could not be read (a prefix list's entries, the ACL, the route
    table) makes the answer unknown only when it could change it. No rule open to the internet
    needs no ACL; a prefix list that could hold the whole internet still meets the ACL and routes,
    and only when those would let it through is the answer unknown."""
    if not any(addresses.values()):
        return No("no public IPv4 address and no global IPv6 address")
    paths: list[Path] = []
    stops: list[str] = []
    for family, found in addresses.items():
        if not found:
            continue
        name = FAMILY_NAME[family]
        openings = [o for o in internet_openings(groups, family) if _wanted(o, ports)]
        lists = prefix_lists(groups)
        if not openings and lists:
            could = [o for o in internet_openings(_lists_open(groups), family) if _wanted(o, ports)]
            maybe, stop = _through(family, found, could, subnet, ports) if could else ([], "")
            if maybe:
                raise Unknown(
                    f"{name}: nothing opens {_port_list(ports)} to the whole internet but rules from prefix "
                    f"lists {', '.join(lists)}, whose entries are not read, and the network ACL and routes "
                    "would let them through"
                )
            if stop:
                stops.append(f"{stop} (whatever prefix lists {', '.join(lists)} hold)")
                continue
        if not openings:
            partial = partial_openings(groups, family)
            stops.append(
                f"{name}: no security group rule opens {_port_list(ports)} to the whole internet"
                + (f" (only part of it: {'; '.join(partial)})" if partial else "")
            )
            continue
        found_paths, stop = _through(family, found, openings, subnet, ports)
        paths.extend(found_paths)
        if not found_paths:
            stops.append(stop)
    return paths or No("; ".join(stops))


def _through(
    family: int,
    addresses: list[str],
    openings: list[Opening],
    subnet: ResourceView,
    ports: Sequence[tuple[str, int]] | None,
) -> tuple[list[Path], str]:
    """The paths ``openings`` make through the subnet's route table and network ACL, or what stops
    them. The route table is asked first: a subnet without a way out to the internet needs no ACL."""
    name = FAMILY_NAME[family]
    table = effective_route_table(subnet)
    gateway, route_why = default_route(table.data, family)
    if gateway is None:
        return [], f"{name}: route table {table.id}: {route_why}"
    acl = subnet_acl(subnet)
    route = "" if route_why == f"{_world(family)} -> {gateway}" else route_why
    paths: list[Path] = []
    for opening in openings:
        for low, high in _limit(opening, ports):
            for inbound in acl_passes(acl.data, False, family, opening.protocol, low, high):
                replies = acl_passes(
                    acl.data, True, family, opening.protocol, *_reply_ports(opening.protocol)
                )
                if not replies:
                    continue
                egress_rules = tuple(dict.fromkeys(r for p in replies for r in p.rules))
                for address in addresses:
                    paths.append(
                        Path(opening, inbound.low, inbound.high, address, acl.id, inbound.rules, egress_rules,
                             table.id, gateway, route)
                    )  # fmt: skip
    if paths:
        return paths, ""
    return [], (
        f"{name}: network ACL {acl.id} blocks {', '.join(o.ports for o in openings)} "
        "from the internet, or the replies to it"
    )


def _wanted(opening: Opening, ports: Sequence[tuple[str, int]] | None) -> bool:
    return not ports or any(
        p == opening.protocol and (not _has_ports(p) or opening.low <= port <= opening.high)
        for p, port in ports
    )


def _limit(opening: Opening, ports: Sequence[tuple[str, int]] | None) -> list[tuple[int, int]]:
    if not ports or not _has_ports(opening.protocol):
        return [(opening.low, opening.high)]
    return [
        (port, port) for p, port in ports if p == opening.protocol and opening.low <= port <= opening.high
    ]


def _reply_ports(protocol: str) -> tuple[int, int]:
    return EPHEMERAL if _has_ports(protocol) else (0, 65535)


def _port_list(ports: Sequence[tuple[str, int]] | None) -> str:
    return ", ".join(f"{p}/{n}" for p, n in ports) if ports else "any port"


# --- helpers for checks ----------------------------------------------------------------------


def groups_by_id(
    r: ResourceView, wanted: Iterable[str], relation: str = "security_groups"
) -> list[dict[str, Any]]:
    """The security groups ``wanted``, from ``relation``; unknown when one could not be read."""
    wanted = list(dict.fromkeys(wanted))
    found = {g.id: resolve_group(g) for g in r.related(relation)}
    missing = [g for g in wanted if g not in found]
    if missing:
        raise Unknown(f"security groups {', '.join(missing)} were not found")
    return [found[g] for g in wanted]


def subnet_by_id(r: ResourceView, subnet_id: str | None, relation: str = "subnet") -> ResourceView:
    if not subnet_id:
        raise Unknown(f"{r.type} {r.id} names no subnet")
    for subnet in r.related(relation):
        if subnet.id == subnet_id:
            return subnet
    raise Unknown(f"subnet {subnet_id} was not found")


def open_ingress(groups: Sequence[ResourceView], ports: Sequence[tuple[str, int]] | None = None) -> list[str]:
    """What the groups open to the whole internet (on ``ports`` when given), either family."""
    data = [resolve_group(g) for g in groups]
    return [
        f"{o.describe()} ({FAMILY_NAME[family]})"
        for family in (4, 6)
        for o in internet_openings(data, family)
        if _wanted(o, ports)
    ]
