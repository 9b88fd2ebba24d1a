"""MetaChecks of OpenSearch (and Elasticsearch) domains."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, Unknown, check
from metahub.checks.policy import PolicyError, load
from metahub.checks.resource_policy import register_policy_checks

DOMAIN = "AwsOpenSearchServiceDomain"


def _access_policy(r: ResourceView) -> Any:
    text = r.get("AccessPolicies")
    if not text:
        return None
    try:
        return load(text, "the access policy")
    except PolicyError as exc:
        raise Unknown(str(exc)) from exc


register_policy_checks(
    DOMAIN, document=_access_policy, needs=(), what="access policy", public="it_has_access_policies_public"
)


@check(DOMAIN)
def it_has_public_endpoint(r: ResourceView) -> str | No:
    """Domains outside a VPC have an internet endpoint."""
    if r.get("VPCOptions.VPCId") or r.get("Endpoints.vpc"):
        return No("in a VPC")
    return r.get("Endpoint") or No("no endpoint")


@check(DOMAIN, name="is_public")
def domain_is_public(r: ResourceView) -> dict[str, Any] | No:
    """The internet endpoint and the access policy statements that let anyone use it."""
    endpoint = r.check("it_has_public_endpoint")
    if isinstance(endpoint, No):
        return endpoint
    statements = r.check("it_has_access_policies_public")
    if not statements:
        return No(f"internet endpoint, but {statements.reason}")
    return {"endpoint": endpoint, "policy_statements": statements}


@check(DOMAIN, name="is_encrypted")
def domain_is_encrypted(r: ResourceView) -> str | No:
    """At rest, node to node, and HTTPS enforced."""
    if not r.get("EncryptionAtRestOptions.Enabled"):
        return No("not encrypted at rest")
    if not r.get("NodeToNodeEncryptionOptions.Enabled"):
        return No("no node-to-node encryption")
    if not r.get("DomainEndpointOptions.EnforceHTTPS"):
        return No("HTTPS is not enforced")
    return r.get("EncryptionAtRestOptions.KmsKeyId") or "at rest, node to node and HTTPS"


@check(DOMAIN, name="is_unrestricted")
def domain_is_unrestricted(r: ResourceView) -> list[dict[str, Any]] | No:
    """Access policy statements that let anyone use the domain."""
    return r.check("it_has_access_policies_public")  # type: ignore[no-any-return]
