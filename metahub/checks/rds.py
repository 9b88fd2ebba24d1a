"""MetaChecks of RDS instances, clusters, snapshots and event subscriptions."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, Unknown, any_member, check, encrypted_at_rest
from metahub.checks.network import GROUP_RULES, groups_by_id, open_ingress, reachable

DB = "AwsRdsDbInstance"


@check(DB)
def is_publicly_accessible(r: ResourceView) -> str | bool:
    """RDS gives the instance a public DNS name (the value is its endpoint)."""
    return (r.get("Endpoint.Address") or True) if r.get("PubliclyAccessible") else False


@check(DB, needs=(GROUP_RULES,))
def its_associated_with_security_groups(r: ResourceView) -> list[str]:
    """The instance's VPC security groups."""
    return [group.id for group in r.related("security_groups")]


def _port(r: ResourceView) -> list[tuple[str, int]] | None:
    port = r.get("Endpoint.Port")
    return [("tcp", int(port))] if port else None


@check(DB, needs=(GROUP_RULES,))
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[str]:
    """What its security groups open to the whole internet on the database port."""
    return open_ingress(r.related("security_groups", complete=True), _port(r))


_NETWORK = (GROUP_RULES, "subnets.route_tables", "subnets.vpc_route_tables", "subnets.network_acls")


@check(DB, needs=_NETWORK, name="is_public")
def db_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Reachable from the internet on its port: publicly accessible (RDS gives it a public IPv4
    address in a subnet of its subnet group), its security groups open the port to the whole
    internet, and a subnet of its zone lets it in and out (network ACL) and routes to an internet
    gateway."""
    endpoint = r.check("is_publicly_accessible")
    if not endpoint:
        return No("not publicly accessible")
    groups = groups_by_id(r, r.get("VpcSecurityGroups[].VpcSecurityGroupId", []))
    zone = r.get("AvailabilityZone")
    listed = r.get("DBSubnetGroup.Subnets", [])
    in_zone = {
        s.get("SubnetIdentifier")
        for s in listed
        if not zone or s.get("SubnetAvailabilityZone", {}).get("Name") == zone
    }
    subnets = [s for s in r.related("subnets") if s.id in in_zone]
    if len(subnets) < len(in_zone):
        raise Unknown(f"subnets {', '.join(sorted(in_zone - {s.id for s in subnets}))} were not found")
    if not listed:
        raise Unknown(
            "its description names no DB subnet group: the subnets it runs in (routes, network ACL) are unknown"
        )
    if not subnets:
        raise Unknown(f"its DB subnet group lists no subnet in its availability zone {zone}")
    address = str(endpoint) if endpoint is not True else r.id
    stops = []
    for subnet in subnets:
        paths = reachable({4: [address], 6: []}, groups, subnet, _port(r))
        if not isinstance(paths, No):
            return {"endpoint": endpoint, "reachable": [p.describe() for p in paths]}
        stops.append(f"{subnet.id}: {paths.reason}")
    return No("publicly accessible, but " + "; ".join(stops))


@check(DB, "AwsRdsDbCluster", name="is_encrypted")
def db_is_encrypted(r: ResourceView) -> str | No:
    """The KMS key the storage is encrypted with; false when it is not."""
    return encrypted_at_rest(r, "StorageEncrypted")


@check(DB, "AwsRdsDbCluster")
def it_has_deletion_protection(r: ResourceView) -> bool:
    """Whether the database refuses deletion until protection is turned off."""
    return bool(r.get("DeletionProtection"))


@check("AwsRdsDbSnapshot", name="is_encrypted")
def snapshot_is_encrypted(r: ResourceView) -> str | No:
    """The KMS key the snapshot is encrypted with; false when it is not."""
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
    """Whether the event subscription sends notifications."""
    return bool(r.get("Enabled"))


@check(DB, needs=(GROUP_RULES,), name="is_unrestricted")
def db_is_unrestricted(r: ResourceView) -> list[str] | No:
    """Security group rules open to the whole internet on the database port."""
    return r.check("its_associated_with_security_group_rules_ingress_unrestricted") or No(
        "no security group rule open to the whole internet on its port"
    )


@check("AwsRdsDbCluster", needs=("instances.*",), name="is_public")
def cluster_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Members of the cluster reachable from the internet."""
    return any_member(
        r.related("instances"), "is_public", "no member instance is reachable from the internet"
    )
