"""MetaChecks of EC2 instances: exposure (IP, security groups, routes, ACLs), metadata service,
volumes and the role the instance runs as."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, Unknown, check
from metahub.checks.network import (
    GROUP_RULES,
    NETWORK,
    Path,
    default_route,
    effective_route_table,
    groups_by_id,
    open_ingress,
    public_addresses,
    reachable,
    subnet_by_id,
)

INSTANCE = "AwsEc2Instance"
ROLE_POLICIES = ("instance_profile.roles.attached_policies",)


def interfaces(r: ResourceView) -> list[dict[str, Any]]:
    """The instance's network interfaces in one shape (the instance's own fields when AWS lists none)."""
    found = r.get("NetworkInterfaces", [])
    if found:
        return found  # type: ignore[no-any-return]
    return [
        {
            "Association": {"PublicIp": r.get("PublicIpAddress")},
            "Ipv6Addresses": [{"Ipv6Address": r.get("Ipv6Address")}] if r.get("Ipv6Address") else [],
            "Groups": r.get("SecurityGroups", []),
            "SubnetId": r.get("SubnetId"),
        }
    ]


def interface_paths(r: ResourceView, eni: dict[str, Any], groups: list[str] | None = None) -> list[Path] | No:
    """Paths from the internet to one interface (of an instance, or an interface itself), through
    its security groups (or only ``groups``), its subnet's network ACL and route table."""
    addresses = public_addresses(
        [(eni.get("Association") or {}).get("PublicIp")],
        [a.get("Ipv6Address") for a in eni.get("Ipv6Addresses", [])],
    )
    if not any(addresses.values()):
        return No("no public IPv4 address and no global IPv6 address")
    wanted = groups if groups is not None else [g.get("GroupId") for g in eni.get("Groups", [])]
    subnet = subnet_by_id(r, eni.get("SubnetId"))
    return reachable(addresses, groups_by_id(r, wanted), subnet)


@check(INSTANCE)
def it_has_public_ip(r: ResourceView) -> str | bool:
    """The instance's public IPv4 address."""
    return r.get("PublicIpAddress") or False


@check(INSTANCE)
def it_has_public_ipv6(r: ResourceView) -> list[str]:
    """Global IPv6 addresses of its interfaces (reachable over IPv6 where groups, ACL and routes let)."""
    found = [a.get("Ipv6Address") for eni in interfaces(r) for a in eni.get("Ipv6Addresses", [])]
    return public_addresses([], found)[6]


@check(INSTANCE)
def it_has_private_ip(r: ResourceView) -> str | bool:
    """The primary private IPv4 address; false without one."""
    return r.get("PrivateIpAddress") or False


@check(INSTANCE)
def it_has_public_dns(r: ResourceView) -> str | bool:
    """The public DNS name; false without one."""
    return r.get("PublicDnsName") or False


@check(INSTANCE)
def is_running(r: ResourceView) -> bool:
    """Whether the instance state is ``running``."""
    return bool(r.get("State.Name") == "running")


@check(INSTANCE)
def is_instance_metadata_v2(r: ResourceView) -> bool:
    """IMDSv2 required (session tokens), which blunts SSRF credential theft."""
    return bool(r.get("MetadataOptions.HttpTokens") == "required")


@check(INSTANCE)
def is_instance_metadata_hop_limit_1(r: ResourceView) -> bool:
    """Whether the metadata response hop limit is 1, so containers behind a bridge cannot reach it."""
    return bool(r.get("MetadataOptions.HttpPutResponseHopLimit") == 1)


@check(INSTANCE)
def it_has_instance_profile(r: ResourceView) -> str | bool:
    """The instance profile ARN; false without one."""
    return r.get("IamInstanceProfile.Arn") or False


@check(INSTANCE, needs=(GROUP_RULES,))
def its_associated_with_security_groups(r: ResourceView) -> list[str]:
    """Its security groups' ids."""
    return [group.id for group in r.related("security_groups")]


@check(INSTANCE, needs=(GROUP_RULES,))
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[str]:
    """What its security groups open to the whole internet, per protocol and port range (IPv4, IPv6)."""
    return open_ingress(r.related("security_groups", complete=True))


@check(INSTANCE, needs=("subnet.route_tables", "subnet.vpc_route_tables"))
def its_associated_with_subnet_routed_to_internet_gateway(r: ResourceView) -> str | No:
    """The internet gateway the primary interface's subnet sends its default route to."""
    table = effective_route_table(subnet_by_id(r, r.get("SubnetId")))
    gateway, why = default_route(table.data, 4)
    return gateway or default_route(table.data, 6)[0] or No(f"route table {table.id}: {why}")


@check(INSTANCE, needs=("volumes",))
def its_associated_with_ebs(r: ResourceView) -> list[str]:
    """The EBS volumes attached to it."""
    return [volume.id for volume in r.related("volumes")]


@check(INSTANCE, needs=("volumes",))
def its_associated_with_ebs_unencrypted(r: ResourceView) -> list[str]:
    """Attached EBS volumes that are not encrypted (unknown while one volume is missing)."""
    return [volume.id for volume in r.related("volumes", complete=True) if not volume.get("Encrypted")]


@check(INSTANCE, needs=("instance_profile.roles",))
def its_associated_with_iam_roles(r: ResourceView) -> list[str]:
    """The roles of its instance profile: the permissions code on it gets."""
    return [role.id for profile in r.related("instance_profile") for role in profile.related("roles")]


@check(INSTANCE, needs=ROLE_POLICIES)
def its_associated_with_iam_roles_unrestricted(r: ResourceView) -> list[str]:
    """Roles the instance runs as that may do anything (``*`` on ``*``)."""
    return [
        role.id
        for profile in r.related("instance_profile")
        for role in profile.related("roles")
        if role.check("is_unrestricted")
    ]


LOAD_BALANCERS = ("classic_load_balancers.*", "target_groups.load_balancers.*")


@check(INSTANCE, needs=LOAD_BALANCERS)
def its_associated_with_internet_facing_load_balancers(r: ResourceView) -> list[str]:
    """Load balancers reachable from the internet that send it traffic (it is their target)."""
    balancers = [*r.related("classic_load_balancers")]
    balancers += [lb for group in r.related("target_groups") for lb in group.related("load_balancers")]
    return [lb.id for lb in dict.fromkeys(balancers) if lb.check("is_public")]


@check(INSTANCE, needs=(*NETWORK, *LOAD_BALANCERS))
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Reachable from the internet now: on some interface, a public address of a family that its
    security groups open to the whole internet, its subnet's network ACL lets in (and replies out),
    and its route table sends to an internet gateway; or through an internet-facing load balancer
    that is itself reachable and has it as a target. A stopped instance is not, and says what it
    would be when started."""
    paths: list[Path] = []
    stops: list[str] = []
    unknown: list[str] = []  # per interface: one open interface makes it public whatever the others are
    enis = interfaces(r)
    for eni in enis:
        try:
            found = interface_paths(r, eni)
        except Unknown as exc:
            unknown.append(f"{eni.get('NetworkInterfaceId')}: {exc}" if len(enis) > 1 else str(exc))
            continue
        if isinstance(found, No):
            stops.append(found.reason)
        else:
            paths.extend(found)
    state = r.get("State.Name") or "unknown state"
    if state != "running":
        when = f"; when started, reachable on {'; '.join(p.describe() for p in paths)}" if paths else ""
        return No(f"{state}: not reachable now{when}")
    evidence: dict[str, Any] = {"reachable": [p.describe() for p in paths]} if paths else {}
    try:
        balancers = r.check("its_associated_with_internet_facing_load_balancers")
    except Unknown as exc:
        unknown.append(f"load balancers: {exc}")
        balancers = []
    if balancers:
        evidence["through_load_balancers"] = balancers
    if evidence:
        return evidence
    if unknown:
        raise Unknown("; ".join(unknown))
    return No("; ".join(dict.fromkeys(stops)))


@check(INSTANCE, needs=("volumes",))
def is_encrypted(r: ResourceView) -> list[str] | No:
    """Every attached EBS volume is encrypted (the value lists them). One unencrypted volume decides
    no; yes needs every volume read."""
    try:
        volumes = r.related("volumes", complete=True)
    except Unknown:
        plain = [v.id for v in r.related("volumes") if not v.get("Encrypted")]
        if plain:
            return No(f"unencrypted volumes: {', '.join(plain)}")
        raise
    if not volumes:
        return No("no EBS volume found")
    plain = [v.id for v in volumes if not v.get("Encrypted")]
    if plain:
        return No(f"unencrypted volumes: {', '.join(plain)}")
    return [v.id for v in volumes]


@check(INSTANCE, needs=(GROUP_RULES, *ROLE_POLICIES))
def is_unrestricted(r: ResourceView) -> dict[str, Any] | No:
    """Open to the whole internet on some port in its security groups, or running as a role that
    may do anything."""
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    roles = r.check("its_associated_with_iam_roles_unrestricted")
    if not rules and not roles:
        return No("no security group rule open to the whole internet and no unrestricted role")
    evidence: dict[str, Any] = {}
    if rules:
        evidence["open_ingress"] = rules
    if roles:
        evidence["unrestricted_roles"] = roles
    return evidence
