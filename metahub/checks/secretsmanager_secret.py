"""MetaChecks of Secrets Manager secrets (from their metadata: metahub never reads a value)."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.resource_policy import register_policy_checks

SECRET = "AwsSecretsManagerSecret"


register_policy_checks(
    SECRET,
    document=lambda r: r.detail("Policy"),
    needs=("Policy",),
    what="resource policy",
    public="it_has_resource_policy_public",
)


@check(SECRET)
def it_has_rotation_enabled(r: ResourceView) -> str | No:
    """The rotation function when rotation is on; false when it is off."""
    if not r.get("RotationEnabled"):
        return No("rotation is off")
    return r.get("RotationLambdaARN") or "enabled"


@check(SECRET, needs=("Policy",), name="is_public")
def secret_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Resource policy statements that let anyone read the secret."""
    statements = r.check("it_has_resource_policy_public")
    return {"policy_statements": statements} if statements else statements


@check(SECRET, name="is_encrypted")
def secret_is_encrypted(r: ResourceView) -> str:
    """Secrets Manager always encrypts: with the given KMS key, else the aws/secretsmanager key."""
    return r.get("KmsKeyId") or "aws/secretsmanager (AWS managed key)"


@check(SECRET, needs=("Policy",), name="is_unrestricted")
def secret_is_unrestricted(r: ResourceView) -> list[dict[str, Any]] | No:
    """Resource policy statements that let anyone use the secret."""
    return r.check("it_has_resource_policy_public")  # type: ignore[no-any-return]
