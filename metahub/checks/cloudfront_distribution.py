"""MetaChecks of CloudFront distributions: always on the internet; what matters is how."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check

DISTRIBUTION = "AwsCloudFrontDistribution"


def _behaviors(r: ResourceView) -> list[dict[str, Any]]:
    return [r.get("DefaultCacheBehavior", {}), *r.get("CacheBehaviors.Items", [])]


@check(DISTRIBUTION)
def is_enabled(r: ResourceView) -> bool:
    """Whether the distribution serves requests."""
    return bool(r.get("Enabled"))


@check(DISTRIBUTION)
def it_has_web_acl(r: ResourceView) -> str | No:
    """The AWS WAF web ACL in front of it; false without one."""
    return r.get("WebACLId") or No("no AWS WAF web ACL")


@check(DISTRIBUTION)
def it_has_plain_http_viewers(r: ResourceView) -> list[str]:
    """Cache behaviours that serve viewers over plain HTTP (``allow-all``)."""
    return [
        b.get("PathPattern", "default") for b in _behaviors(r) if b.get("ViewerProtocolPolicy") == "allow-all"
    ]


@check(DISTRIBUTION)
def it_has_origins_over_http(r: ResourceView) -> list[str]:
    """Custom origins fetched over plain HTTP."""
    return [
        o.get("DomainName")
        for o in r.get("Origins.Items", [])
        if o.get("CustomOriginConfig", {}).get("OriginProtocolPolicy") == "http-only"
    ]


@check(DISTRIBUTION, name="is_public")
def distribution_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Its domain and aliases when enabled: a distribution is an internet endpoint by design."""
    if not r.get("Enabled"):
        return No("the distribution is disabled")
    aliases = r.get("Aliases.Items", [])
    return {"domain": r.get("DomainName"), "aliases": aliases}


@check(DISTRIBUTION, name="is_encrypted")
def distribution_is_encrypted(r: ResourceView) -> str | No:
    """In transit, viewer to edge and edge to origin."""
    plain = r.check("it_has_plain_http_viewers")
    if plain:
        return No(f"viewers may use plain HTTP on: {', '.join(plain)}")
    origins = r.check("it_has_origins_over_http")
    if origins:
        return No(f"origins fetched over plain HTTP: {', '.join(origins)}")
    return "HTTPS to viewers and origins"


@check(DISTRIBUTION, name="is_unrestricted")
def distribution_is_unrestricted(r: ResourceView) -> str | No:
    """On the internet with neither a web ACL nor a geographic restriction in front."""
    if r.check("it_has_web_acl"):
        return No(f"behind web ACL {r.get('WebACLId')}")
    geo = r.get("Restrictions.GeoRestriction.RestrictionType", "none")
    if geo != "none":
        return No(f"geographic {geo}list")
    return "no web ACL and no geographic restriction"
