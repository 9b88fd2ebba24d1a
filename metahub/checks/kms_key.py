from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.resource_policy import register_policy_checks

KEY = "AwsKmsKey"


register_policy_checks(
    KEY,
    document=lambda r: r.detail("Policy"),
    needs=("Policy",),
    what="key policy",
    public="it_has_key_policy_public",
)


@check(KEY, needs=("Policy",))
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Anyone may use or manage the key."""
    statements = r.check("it_has_key_policy_public")
    return {"policy_statements": statements} if statements else statements


@check(KEY, needs=("Metadata",))
def is_enabled(r: ResourceView) -> bool:
    """Whether the key state is ``Enabled``."""
    return (r.detail("Metadata") or {}).get("KeyState") == "Enabled"


@check(KEY, needs=("Metadata",))
def is_customer_managed(r: ResourceView) -> bool:
    """Whether the customer, not AWS, manages the key."""
    return (r.detail("Metadata") or {}).get("KeyManager") == "CUSTOMER"


@check(KEY, needs=("Rotation",))
def it_has_rotation_enabled(r: ResourceView) -> bool:
    """Whether automatic yearly rotation of the key material is on."""
    return bool(r.detail("Rotation"))


@check(KEY, needs=("Policy",))
def is_unrestricted(r: ResourceView) -> list[dict[str, Any]] | No:
    """Anyone may use the key: the key policy statements that allow that."""
    return r.check("it_has_key_policy_public")  # type: ignore[no-any-return]
