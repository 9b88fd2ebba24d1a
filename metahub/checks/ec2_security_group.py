"""MetaChecks of security groups: what they open to the internet, and whether that reaches anything."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, Unknown, check
from metahub.checks.ec2_instance import interface_paths
from metahub.checks.network import FAMILY_NAME, internet_openings, prefix_lists, resolve_group

GROUP = "AwsEc2SecurityGroup"
THROUGH = tuple(
    f"network_interfaces.{need}"
    for need in ("subnet.route_tables", "subnet.vpc_route_tables", "subnet.network_acls")
)


def _openings(r: ResourceView, egress: bool = False) -> list[str]:
    rules = resolve_group(r)
    found = [
        f"{o.describe()} ({FAMILY_NAME[family]})"
        for family in (4, 6)
        for o in internet_openings([rules], family, egress=egress)
    ]
    lists = prefix_lists([rules])
    if lists and not found and not egress:
        raise Unknown(f"rules allow from prefix lists {', '.join(lists)}, whose entries could not be read")
    return found


@check(GROUP, needs=("prefix_lists.Entries",))
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[str]:
    """Protocols and port ranges its ingress rules open to the whole internet (ranges that together
    cover it count)."""
    return _openings(r)


@check(GROUP, needs=("prefix_lists.Entries",))
def its_associated_with_security_group_rules_egress_unrestricted(r: ResourceView) -> list[str]:
    """Egress rules open to the whole internet, by protocol and ports."""
    return _openings(r, egress=True)


@check(GROUP)
def is_default(r: ResourceView) -> bool:
    """Whether it is the VPC's ``default`` group."""
    return bool(r.get("GroupName") == "default")


@check(GROUP, needs=("network_interfaces",))
def its_associated_with_network_interfaces(r: ResourceView) -> list[str]:
    """Network interfaces that use the group."""
    return [eni.id for eni in r.related("network_interfaces")]


@check(GROUP, needs=("network_interfaces",))
def its_associated_with_ec2_instances(r: ResourceView) -> list[str]:
    """Instances whose interfaces use the group."""
    return sorted({i for eni in r.related("network_interfaces") if (i := eni.get("Attachment.InstanceId"))})


@check(GROUP, needs=("network_interfaces",))
def its_associated_with_public_ips(r: ResourceView) -> list[str]:
    """Public IPv4 addresses of the interfaces that use the group."""
    return sorted({ip for eni in r.related("network_interfaces") if (ip := eni.get("Association.PublicIp"))})


@check(GROUP, needs=("network_interfaces",))
def is_attached(r: ResourceView) -> list[str] | No:
    """Used by at least one network interface (the value lists them)."""
    return r.check("its_associated_with_network_interfaces") or No("no network interface uses the group")


@check(GROUP, needs=("prefix_lists.Entries",))
def is_unrestricted(r: ResourceView) -> list[str] | No:
    """Some ingress rule is open to the whole internet."""
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    return rules or No("no ingress rule open to the whole internet")


@check(GROUP, needs=("network_interfaces", "prefix_lists.Entries", *THROUGH))
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Its rules let the internet reach an interface that uses it: the same model as the interface's
    own ``is_public`` (public address, network ACL both ways, route to an internet gateway), with only
    this group's rules, so a group and its instance never disagree about the group's part."""
    if not r.check("its_associated_with_security_group_rules_ingress_unrestricted"):
        return No("no ingress rule open to the whole internet")
    reached: dict[str, list[str]] = {}
    stops: list[str] = []
    unknown: list[str] = []
    for eni in r.related("network_interfaces"):
        try:
            paths = interface_paths(eni, eni.data, groups=[r.id])
        except Unknown as exc:
            unknown.append(f"{eni.id}: {exc}")
            continue
        if isinstance(paths, No):
            stops.append(f"{eni.id}: {paths.reason}")
        else:
            reached[eni.id] = [p.describe() for p in paths]
    if reached:
        return {"reachable": reached}
    if unknown:
        raise Unknown("; ".join(unknown))
    if not stops:
        return No("open to the internet, but no network interface uses it")
    return No("open to the internet, but it reaches no interface: " + "; ".join(stops))
