"""MetaChecks of EFS file systems."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check, encrypted_at_rest
from metahub.checks.resource_policy import register_policy_checks

FS = "AwsEfsFileSystem"


register_policy_checks(
    FS,
    document=lambda r: r.detail("Policy"),
    needs=("Policy",),
    what="file system policy",
    public="it_has_file_system_policy_public",
)


@check(FS, name="is_encrypted")
def fs_is_encrypted(r: ResourceView) -> str | No:
    """The KMS key the file system is encrypted with at rest; false when it is not."""
    return encrypted_at_rest(r)


@check(FS, name="is_attached")
def fs_is_attached(r: ResourceView) -> int | No:
    """Mount targets it has (where clients can reach it)."""
    return r.get("NumberOfMountTargets", 0) or No("no mount target")


@check(FS, name="is_public")
def fs_is_public(r: ResourceView) -> No:
    """Always false: EFS has no internet endpoint; only networks with a mount target reach it."""
    return No("EFS has no internet endpoint: only networks with a mount target reach it")


@check(FS, needs=("Policy",), name="is_unrestricted")
def fs_is_unrestricted(r: ResourceView) -> Any:
    """No file system policy (any client that reaches a mount target may mount) or a public one."""
    policy = r.detail("Policy")
    if policy is None:
        return "no file system policy: any client with network access may mount it"
    return r.check("it_has_file_system_policy_public")
