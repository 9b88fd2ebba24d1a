from __future__ import annotations

from metahub.checks.base import No, ResourceView, Unknown, check, encrypted_at_rest

SNAPSHOT = "AwsEc2Snapshot"


@check(SNAPSHOT)
def is_encrypted(r: ResourceView) -> str | No:
    """The KMS key the snapshot is encrypted with; false when it is not encrypted."""
    return encrypted_at_rest(r)


@check(SNAPSHOT)
def is_public(r: ResourceView) -> str | No:
    """Anyone may create a volume from it."""
    owner = r.get("OwnerId")
    if owner != r.account:
        raise Unknown(
            f"owned by account {owner}, not {r.account}: whom it is shared with is not visible from here"
        )
    return "restorable by all AWS accounts" if r.get("Public") else No("not shared publicly")


@check(SNAPSHOT)
def it_has_volume(r: ResourceView) -> str | bool:
    """The volume it was taken of; false when unknown."""
    return r.get("VolumeId") or False
