from __future__ import annotations

from metahub.checks.base import No, ResourceView, check, encrypted_at_rest

VOLUME = "AwsEc2Volume"


@check(VOLUME)
def is_encrypted(r: ResourceView) -> str | No:
    """Encrypted at rest (the value is the KMS key, or ``encrypted`` when AWS does not say which)."""
    return encrypted_at_rest(r)


@check(VOLUME)
def its_associated_with_ec2_instances(r: ResourceView) -> list[str]:
    """The instances the volume is attached to."""
    return [a["InstanceId"] for a in r.get("Attachments", []) if a.get("InstanceId")]


@check(VOLUME)
def is_attached(r: ResourceView) -> list[str] | No:
    """Attached to an instance (the value lists them)."""
    return r.check("its_associated_with_ec2_instances") or No("attached to no instance")


@check(VOLUME, needs=("instances.*",))
def its_associated_with_ec2_instances_public(r: ResourceView) -> list[str]:
    """Attached to an instance that is reachable from the internet."""
    return [i.id for i in r.related("instances") if i.check("is_public")]
