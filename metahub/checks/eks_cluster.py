"""MetaChecks of EKS clusters: the Kubernetes API endpoint and secrets encryption."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.network import WORLD_V4, covers_internet

CLUSTER = "AwsEksCluster"


@check(CLUSTER)
def it_has_public_endpoint(r: ResourceView) -> dict[str, Any] | No:
    """The API endpoint is reachable from the internet (the CIDRs allowed to reach it)."""
    config = r.get("resourcesVpcConfig", {})
    if not config.get("endpointPublicAccess"):
        return No("the API endpoint is private")
    return {"endpoint": r.get("endpoint"), "allowed_cidrs": config.get("publicAccessCidrs") or [WORLD_V4]}


@check(CLUSTER)
def it_has_logging(r: ResourceView) -> list[str]:
    """The control plane log types sent to CloudWatch Logs."""
    return [
        kind
        for setup in r.get("logging.clusterLogging", [])
        if setup.get("enabled")
        for kind in setup.get("types", [])
    ]


@check(CLUSTER, needs=("security_groups",))
def its_associated_with_security_groups(r: ResourceView) -> list[str]:
    """The cluster's security groups."""
    return [group.id for group in r.related("security_groups")]


@check(CLUSTER, name="is_public")
def cluster_is_public(r: ResourceView) -> dict[str, Any] | No:
    """The API endpoint is open to the whole internet."""
    endpoint: dict[str, Any] | No = r.check("it_has_public_endpoint")
    if not endpoint:
        return endpoint
    cidrs = endpoint["allowed_cidrs"]
    if not any(
        covers_internet([c for c in cidrs if (":" in c) == (family == 6)], family) for family in (4, 6)
    ):
        return No(f"public endpoint restricted to {', '.join(cidrs)}")
    return endpoint


@check(CLUSTER, name="is_encrypted")
def cluster_is_encrypted(r: ResourceView) -> list[str] | No:
    """Kubernetes secrets encrypted with a KMS key (envelope encryption)."""
    keys = [
        c.get("provider", {}).get("keyArn", "")
        for c in r.get("encryptionConfig", [])
        if "secrets" in c.get("resources", [])
    ]
    return keys or No("Kubernetes secrets are not envelope-encrypted with a KMS key")
