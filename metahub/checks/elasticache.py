"""MetaChecks of ElastiCache clusters and replication groups."""

from __future__ import annotations

from metahub.checks.base import No, ResourceView, check
from metahub.checks.network import GROUP_RULES, open_ingress

CLUSTER, GROUP = "AwsElastiCacheCacheCluster", "AwsElastiCacheReplicationGroup"


@check(CLUSTER, GROUP)
def it_has_auth_token(r: ResourceView) -> bool:
    """Whether clients must present an AUTH token."""
    return bool(r.get("AuthTokenEnabled"))


@check(CLUSTER, GROUP)
def is_encrypted_in_transit(r: ResourceView) -> bool:
    """Whether connections to the nodes use TLS."""
    return bool(r.get("TransitEncryptionEnabled"))


@check(CLUSTER, GROUP, name="is_encrypted")
def cache_is_encrypted(r: ResourceView) -> str | No:
    """At rest and in transit."""
    if not r.get("AtRestEncryptionEnabled"):
        return No("not encrypted at rest")
    if not r.get("TransitEncryptionEnabled"):
        return No("encrypted at rest, but not in transit")
    return r.get("KmsKeyId") or "at rest and in transit"


@check(CLUSTER, GROUP, name="is_public")
def cache_is_public(r: ResourceView) -> No:
    """Always false: ElastiCache nodes get no public IP address."""
    return No("ElastiCache nodes have no public IP addresses")


@check(CLUSTER, needs=(GROUP_RULES,), name="is_unrestricted")
def cache_is_unrestricted(r: ResourceView) -> list[str] | No:
    """Security group rules open to the internet on the cache port."""
    port = r.get("ConfigurationEndpoint.Port") or r.get("CacheNodes[0].Endpoint.Port")
    rules = open_ingress(r.related("security_groups", complete=True), [("tcp", int(port))] if port else None)
    return rules or No("no security group rule open to the whole internet")


@check(GROUP)
def it_has_automatic_failover(r: ResourceView) -> bool:
    """Whether a replica is promoted when the primary fails."""
    return bool(r.get("AutomaticFailover") == "enabled")


@check(GROUP)
def is_multi_az(r: ResourceView) -> bool:
    """Whether replicas run in more than one Availability Zone."""
    return bool(r.get("MultiAZ") == "enabled")
