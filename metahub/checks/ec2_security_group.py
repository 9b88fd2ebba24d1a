from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.network import describe_rule, unrestricted_ingress

GROUP = "AwsEc2SecurityGroup"


@check(GROUP)
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[dict[str, Any]]:
    return unrestricted_ingress(r.data)


@check(GROUP)
def its_associated_with_security_group_rules_egress_unrestricted(r: ResourceView) -> list[dict[str, Any]]:
    return unrestricted_ingress({"GroupId": r.id, "IpPermissions": r.get("IpPermissionsEgress", [])})


@check(GROUP)
def is_default(r: ResourceView) -> bool:
    return r.get("GroupName") == "default"


@check(GROUP, needs=("network_interfaces",))
def its_associated_with_network_interfaces(r: ResourceView) -> list[str]:
    return [eni.id for eni in r.related("network_interfaces")]


@check(GROUP, needs=("network_interfaces",))
def its_associated_with_ec2_instances(r: ResourceView) -> list[str]:
    return sorted({i for eni in r.related("network_interfaces") if (i := eni.get("Attachment.InstanceId"))})


@check(GROUP, needs=("network_interfaces",))
def its_associated_with_public_ips(r: ResourceView) -> list[str]:
    return sorted({ip for eni in r.related("network_interfaces") if (ip := eni.get("Association.PublicIp"))})


@check(GROUP, needs=("network_interfaces",))
def is_attached(r: ResourceView) -> list[str] | No:
    """Used by at least one network interface (the value lists them)."""
    return r.check("its_associated_with_network_interfaces") or No("no network interface uses the group")


@check(GROUP)
def is_unrestricted(r: ResourceView) -> list[str] | No:
    """Some ingress rule is open to the whole internet."""
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    return [describe_rule(rule) for rule in rules] or No("no ingress rule open to the internet")


@check(GROUP, needs=("network_interfaces",))
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Open to the internet and used by an interface with a public IP."""
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    if not rules:
        return No("no ingress rule open to the internet")
    ips = r.check("its_associated_with_public_ips")
    if not ips:
        return No("open to the internet, but no interface using it has a public IP")
    return {"public_ips": ips, "open_ingress": [describe_rule(rule) for rule in rules]}
