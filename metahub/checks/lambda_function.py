from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.policy import public_statements

FUNCTION = "AwsLambdaFunction"


@check(FUNCTION, needs=("Policy",))
def it_has_resource_policy_public(r: ResourceView) -> list[dict[str, Any]]:
    return public_statements(r.detail("Policy"))


@check(FUNCTION, needs=("UrlConfig",))
def it_has_function_url_public(r: ResourceView) -> str | bool:
    """A function URL that needs no authentication."""
    config = r.detail("UrlConfig") or {}
    return config.get("FunctionUrl", "function URL") if config.get("AuthType") == "NONE" else False


@check(FUNCTION)
def its_associated_with_vpc(r: ResourceView) -> str | bool:
    return r.get("VpcConfig.VpcId") or False


@check(FUNCTION, needs=("role",))
def its_associated_with_iam_role(r: ResourceView) -> str | bool:
    return r.get("Role") or False


@check(FUNCTION, needs=("Policy", "UrlConfig"))
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Anyone may invoke it: an unauthenticated function URL, or a resource policy open to all."""
    evidence: dict[str, Any] = {}
    if url := r.check("it_has_function_url_public"):
        evidence["function_url"] = url
    if statements := r.check("it_has_resource_policy_public"):
        evidence["policy_statements"] = statements
    return evidence or No("no public function URL and no public resource policy")


@check(FUNCTION, needs=("role.attached_policies",))
def is_unrestricted(r: ResourceView) -> dict[str, Any] | No:
    """Runs as a role that may do anything."""
    role = r.one("role")
    if role is None:
        return No("its role was not found")
    return {"role": role.id} if role.check("is_unrestricted") else No(f"role {role.id} is restricted")


@check(FUNCTION)
def is_encrypted(r: ResourceView) -> str:
    """Environment variables at rest: a customer key when set, else Lambda's AWS-managed key."""
    return r.get("KMSKeyArn") or "AWS managed key"
