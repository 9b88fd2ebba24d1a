"""MetaChecks of classic and v2 load balancers: internet-facing, which listeners, which ports open."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.network import open_ingress

CLASSIC, V2 = "AwsElbLoadBalancer", "AwsElbv2LoadBalancer"
_ENCRYPTED = {"HTTPS", "SSL", "TLS"}


def _listeners(r: ResourceView) -> list[dict[str, Any]]:
    """(protocol, port) of every listener, in one shape for both APIs."""
    if r.type == CLASSIC:
        found = [d.get("Listener", {}) for d in r.get("ListenerDescriptions", [])]
        return [{"Protocol": x.get("Protocol", ""), "Port": x.get("LoadBalancerPort")} for x in found]
    return [{"Protocol": x.get("Protocol", ""), "Port": x.get("Port")} for x in r.detail("Listeners") or []]


@check(CLASSIC, V2)
def is_internet_facing(r: ResourceView) -> str | No:
    return r.get("DNSName") if r.get("Scheme") == "internet-facing" else No("internal")


@check(CLASSIC, needs=("security_groups",))
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[str]:
    return open_ingress(r.related("security_groups"), [x["Port"] for x in _listeners(r) if x["Port"]])


@check(
    V2,
    needs=("security_groups", "Listeners"),
    name="its_associated_with_security_group_rules_ingress_unrestricted",
)
def v2_open_ingress(r: ResourceView) -> list[str]:
    return open_ingress(r.related("security_groups"), [x["Port"] for x in _listeners(r) if x["Port"]])


@check(CLASSIC)
def it_has_listeners_unencrypted(r: ResourceView) -> list[str]:
    return [f"{x['Protocol']}:{x['Port']}" for x in _listeners(r) if x["Protocol"].upper() not in _ENCRYPTED]


@check(V2, needs=("Listeners",), name="it_has_listeners_unencrypted")
def v2_listeners_unencrypted(r: ResourceView) -> list[str]:
    return [f"{x['Protocol']}:{x['Port']}" for x in _listeners(r) if x["Protocol"].upper() not in _ENCRYPTED]


def _public(r: ResourceView) -> dict[str, Any] | No:
    dns = r.check("is_internet_facing")
    if not dns:
        return dns
    ports = [x["Port"] for x in _listeners(r) if x["Port"]]
    if not r.get("SecurityGroups"):  # network load balancers may have none: listeners are the door
        return {"dns": dns, "open_listeners": ports} if ports else No("internet-facing, but no listener")
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    if not rules:
        return No("internet-facing, but no security group opens a listener port to the internet")
    return {"dns": dns, "open_ingress": rules}


@check(CLASSIC, needs=("security_groups",), name="is_public")
def classic_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Internet-facing, with a listener port open to the internet."""
    return _public(r)


@check(V2, needs=("security_groups", "Listeners"), name="is_public")
def v2_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Internet-facing, with a listener port open to the internet."""
    return _public(r)


def _encrypted(r: ResourceView) -> list[str] | No:
    plain = r.check("it_has_listeners_unencrypted")
    if plain:
        return No(f"unencrypted listeners: {', '.join(plain)}")
    return [f"{x['Protocol']}:{x['Port']}" for x in _listeners(r)] or No("no listener")


@check(CLASSIC, name="is_encrypted")
def classic_is_encrypted(r: ResourceView) -> list[str] | No:
    """In transit: every listener is HTTPS, SSL or TLS."""
    return _encrypted(r)


@check(V2, needs=("Listeners",), name="is_encrypted")
def v2_is_encrypted(r: ResourceView) -> list[str] | No:
    """In transit: every listener is HTTPS or TLS."""
    return _encrypted(r)


@check(CLASSIC, needs=("security_groups",), name="is_unrestricted")
def classic_is_unrestricted(r: ResourceView) -> list[str] | No:
    return r.check("its_associated_with_security_group_rules_ingress_unrestricted") or No(
        "no listener port open to the internet"
    )


@check(V2, needs=("security_groups", "Listeners"), name="is_unrestricted")
def v2_is_unrestricted(r: ResourceView) -> list[str] | No:
    return r.check("its_associated_with_security_group_rules_ingress_unrestricted") or No(
        "no listener port open to the internet"
    )


@check(CLASSIC, name="is_attached")
def classic_is_attached(r: ResourceView) -> list[str] | No:
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
