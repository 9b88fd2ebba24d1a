"""MetaChecks of RDS instances, clusters, snapshots and event subscriptions."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check, encrypted_at_rest
from metahub.checks.network import open_ingress, unrestricted_ingress

DB = "AwsRdsDbInstance"


@check(DB)
def is_publicly_accessible(r: ResourceView) -> str | bool:
    """RDS gives the instance a public DNS name (the value is its endpoint)."""
    return (r.get("Endpoint.Address") or True) if r.get("PubliclyAccessible") else False


@check(DB, needs=("security_groups",))
def its_associated_with_security_groups(r: ResourceView) -> list[str]:
    return [group.id for group in r.related("security_groups")]


@check(DB, needs=("security_groups",))
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[dict[str, Any]]:
    return [rule for group in r.related("security_groups") for rule in unrestricted_ingress(group.data)]


@check(DB, needs=("security_groups",), name="is_public")
def db_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Publicly accessible and its port open to the internet in a security group."""
    endpoint = r.check("is_publicly_accessible")
    if not endpoint:
        return No("not publicly accessible")
    port = r.get("Endpoint.Port")
    rules = open_ingress(r.related("security_groups"), [port] if port else None)
    if not rules:
        return No("publicly accessible, but no security group opens its port to the internet")
    return {"endpoint": endpoint, "port": port, "open_ingress": rules}


@check(DB, "AwsRdsDbCluster", name="is_encrypted")
def db_is_encrypted(r: ResourceView) -> str | No:
    return encrypted_at_rest(r, "StorageEncrypted")


@check(DB, "AwsRdsDbCluster")
def it_has_deletion_protection(r: ResourceView) -> bool:
    return bool(r.get("DeletionProtection"))


@check("AwsRdsDbSnapshot", name="is_encrypted")
def snapshot_is_encrypted(r: ResourceView) -> str | No:
    return encrypted_at_rest(r)


@check("AwsRdsDbSnapshot", needs=("Attributes",), name="is_public")
def snapshot_is_public(r: ResourceView) -> str | No:
    """Anyone may restore it (``restore`` attribute shared with ``all``)."""
    for attribute in r.detail("Attributes") or []:
        if attribute.get("AttributeName") == "restore" and "all" in attribute.get("AttributeValues", []):
            return "restorable by all AWS accounts"
    return No("not shared publicly")


@check("AwsRdsEventSubscription")
def is_enabled(r: ResourceView) -> bool:
    return bool(r.get("Enabled"))


@check(DB, needs=("security_groups",), name="is_unrestricted")
def db_is_unrestricted(r: ResourceView) -> list[str] | No:
    """Security group rules open to the internet on the database port."""
    port = r.get("Endpoint.Port")
    return open_ingress(r.related("security_groups"), [port] if port else None) or No(
        "no security group rule open to the internet on its port"
    )


@check("AwsRdsDbCluster", needs=("instances.*",), name="is_public")
def cluster_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Members of the cluster reachable from the internet."""
    public = {member.id: member.check("is_public") for member in r.related("instances")}
    return {k: v for k, v in public.items() if v} or No("no member instance is reachable from the internet")
