"""MetaChecks of network interfaces: what ties addresses and security groups to things."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.ec2_instance import interface_paths
from metahub.checks.network import GROUP_RULES, NETWORK, open_ingress

ENI = "AwsEc2NetworkInterface"


@check(ENI)
def it_has_public_ip(r: ResourceView) -> str | No:
    """The public IPv4 address associated with the interface; false without one."""
    return r.get("Association.PublicIp") or No("no public IP address")


@check(ENI)
def its_associated_with(r: ResourceView) -> str | No:
    """What uses the interface: an instance, or the service that made it (Lambda, RDS, ELB ...)."""
    attachment = r.get("Attachment", {})
    return attachment.get("InstanceId") or r.get("InterfaceType") or r.get("Description") or No("nothing")


@check(ENI, needs=(GROUP_RULES,))
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[str]:
    """Ingress rules of its security groups open to the whole internet."""
    return open_ingress(r.related("security_groups", complete=True))


@check(ENI, name="is_attached")
def eni_is_attached(r: ResourceView) -> str | No:
    """The instance (or attachment) the interface is attached to."""
    return r.get("Attachment.InstanceId") or r.get("Attachment.AttachmentId") or No("not attached")


@check(ENI, needs=NETWORK, name="is_public")
def eni_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Reachable from the internet: a public address its groups open to the whole internet, through
    its subnet's network ACL (both ways) and route table."""
    paths = interface_paths(r, r.data)
    return paths if isinstance(paths, No) else {"reachable": [p.describe() for p in paths]}


@check(ENI, needs=(GROUP_RULES,), name="is_unrestricted")
def eni_is_unrestricted(r: ResourceView) -> list[str] | No:
    """Ingress rules of its security groups open to the whole internet, whatever the routes say."""
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    return rules or No("no ingress rule open to the whole internet")
