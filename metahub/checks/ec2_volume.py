from __future__ import annotations

from metahub.checks.base import No, ResourceView, check

VOLUME = "AwsEc2Volume"


@check(VOLUME)
def is_encrypted(r: ResourceView) -> str | No:
    """Encrypted at rest (the value is the KMS key, or ``true`` when AWS does not say which)."""
    if not r.get("Encrypted"):
        return No("the volume is not encrypted")
    return r.get("KmsKeyId") or "encrypted"


@check(VOLUME)
def is_attached(r: ResourceView) -> list[str] | No:
    """Attached to an instance (the value lists them)."""
    instances = [a["InstanceId"] for a in r.get("Attachments", []) if a.get("InstanceId")]
    return instances or No("attached to no instance")


@check(VOLUME)
def its_associated_with_ec2_instances(r: ResourceView) -> list[str]:
    return [a["InstanceId"] for a in r.get("Attachments", []) if a.get("InstanceId")]


@check(
    VOLUME,
    needs=(
        "instances.security_groups",
        "instances.subnet.route_tables",
        "instances.subnet.vpc_route_tables",
        "instances.subnet.network_acls",
    ),
)
def its_associated_with_ec2_instances_public(r: ResourceView) -> list[str]:
    """Attached to an instance that is reachable from the internet."""
    return [i.id for i in r.related("instances") if i.check("is_public")]
