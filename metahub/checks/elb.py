"""MetaChecks of classic and v2 load balancers: internet-facing, which listeners, which ports open."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.network import open_ingress

CLASSIC, V2 = "AwsElbLoadBalancer", "AwsElbv2LoadBalancer"
_ENCRYPTED = {"HTTPS", "SSL", "TLS"}
# Classic load balancers carry their listeners in the item; v2 ones need DescribeListeners.
GROUPS = {CLASSIC: ("security_groups",), V2: ("security_groups", "Listeners")}
LISTENERS = {V2: ("Listeners",)}


def _listeners(r: ResourceView) -> list[dict[str, Any]]:
    """(protocol, port) of every listener, in one shape for both APIs."""
    if r.type == CLASSIC:
        found = [d.get("Listener", {}) for d in r.get("ListenerDescriptions", [])]
        return [{"Protocol": x.get("Protocol", ""), "Port": x.get("LoadBalancerPort")} for x in found]
    return [{"Protocol": x.get("Protocol", ""), "Port": x.get("Port")} for x in r.detail("Listeners") or []]


def _ports(r: ResourceView) -> list[int]:
    return [x["Port"] for x in _listeners(r) if x["Port"]]


@check(CLASSIC, V2)
def is_internet_facing(r: ResourceView) -> str | No:
    return r.get("DNSName") if r.get("Scheme") == "internet-facing" else No("internal")


@check(CLASSIC, V2, needs=GROUPS)
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[str]:
    return open_ingress(r.related("security_groups"), _ports(r))


@check(CLASSIC, V2, needs=LISTENERS)
def it_has_listeners_unencrypted(r: ResourceView) -> list[str]:
    return [f"{x['Protocol']}:{x['Port']}" for x in _listeners(r) if x["Protocol"].upper() not in _ENCRYPTED]


@check(CLASSIC, V2, needs=GROUPS)
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Internet-facing, with a listener port open to the internet."""
    dns = r.check("is_internet_facing")
    if not dns:
        return dns
    if not r.get("SecurityGroups"):  # network load balancers may have none: listeners are the door
        ports = _ports(r)
        return {"dns": dns, "open_listeners": ports} if ports else No("internet-facing, but no listener")
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    if not rules:
        return No("internet-facing, but no security group opens a listener port to the internet")
    return {"dns": dns, "open_ingress": rules}


@check(CLASSIC, V2, needs=LISTENERS)
def is_encrypted(r: ResourceView) -> list[str] | No:
    """In transit: every listener is HTTPS, SSL or TLS."""
    plain = r.check("it_has_listeners_unencrypted")
    if plain:
        return No(f"unencrypted listeners: {', '.join(plain)}")
    return [f"{x['Protocol']}:{x['Port']}" for x in _listeners(r)] or No("no listener")


@check(CLASSIC, V2, needs=GROUPS)
def is_unrestricted(r: ResourceView) -> list[str] | No:
    return r.check("its_associated_with_security_group_rules_ingress_unrestricted") or No(
        "no listener port open to the internet"
    )


@check(CLASSIC)
def is_attached(r: ResourceView) -> list[str] | No:
    """Instances registered behind it."""
    return [i.get("InstanceId") for i in r.get("Instances", [])] or No("no registered instance")


@check(V2, needs=("Attributes",))
def it_has_access_logs(r: ResourceView) -> str | No:
    attributes = {a["Key"]: a["Value"] for a in r.detail("Attributes") or []}
    if attributes.get("access_logs.s3.enabled") == "true":
        return attributes.get("access_logs.s3.bucket") or "enabled"
    return No("access logs are off")


@check(V2, needs=("Attributes",))
def it_has_deletion_protection(r: ResourceView) -> bool:
    return any(
        a["Key"] == "deletion_protection.enabled" and a["Value"] == "true"
        for a in r.detail("Attributes") or []
    )
