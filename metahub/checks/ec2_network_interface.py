"""MetaChecks of network interfaces: what ties addresses and security groups to things."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.network import (
    NETWORK,
    describe_rule,
    effective_route_table,
    internet_gateway_route,
    reachable_rules,
    unrestricted_ingress,
)

ENI = "AwsEc2NetworkInterface"


@check(ENI)
def it_has_public_ip(r: ResourceView) -> str | No:
    return r.get("Association.PublicIp") or No("no public IP address")


@check(ENI)
def its_associated_with(r: ResourceView) -> str | No:
    """What uses the interface: an instance, or the service that made it (Lambda, RDS, ELB ...)."""
    attachment = r.get("Attachment", {})
    return attachment.get("InstanceId") or r.get("InterfaceType") or r.get("Description") or No("nothing")


@check(ENI, needs=("security_groups",))
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[dict[str, Any]]:
    return [rule for group in r.related("security_groups") for rule in unrestricted_ingress(group.data)]


@check(ENI, name="is_attached")
def eni_is_attached(r: ResourceView) -> str | No:
    return r.get("Attachment.InstanceId") or r.get("Attachment.AttachmentId") or No("not attached")


@check(ENI, needs=NETWORK, name="is_public")
def eni_is_public(r: ResourceView) -> dict[str, Any] | No:
    """A public IP, a subnet routed to an internet gateway, and a security group rule open to the
    internet that the network ACL lets in."""
    ip = r.check("it_has_public_ip")
    if not ip:
        return ip
    subnet = r.one("subnet")
    table = effective_route_table(subnet) if subnet else None
    gateway = internet_gateway_route(table.data) if table else None
    if not gateway:
        return No(f"public IP {ip}, but the subnet has no route to an internet gateway")
    rules = reachable_rules(r.check("its_associated_with_security_group_rules_ingress_unrestricted"), subnet)
    if not rules:
        return No(f"public IP {ip}, but no rule open to the internet gets through")
    return {
        "public_ip": ip,
        "internet_gateway": gateway,
        "open_ingress": [describe_rule(rule) for rule in rules],
    }


@check(ENI, needs=("security_groups",), name="is_unrestricted")
def eni_is_unrestricted(r: ResourceView) -> list[str] | No:
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    return [describe_rule(rule) for rule in rules] or No("no ingress rule open to the internet")
