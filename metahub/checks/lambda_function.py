from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.resource_policy import policy_exposure, register_policy_checks

FUNCTION = "AwsLambdaFunction"


register_policy_checks(
    FUNCTION,
    document=lambda r: r.detail("Policy"),
    needs=("Policy",),
    what="resource policy",
    public="it_has_resource_policy_public",
)


@check(FUNCTION, needs=("UrlConfig",))
def it_has_function_url_public(r: ResourceView) -> str | bool:
    """A function URL that needs no authentication."""
    config = r.detail("UrlConfig") or {}
    return config.get("FunctionUrl", "function URL") if config.get("AuthType") == "NONE" else False


@check(FUNCTION)
def its_associated_with_vpc(r: ResourceView) -> str | bool:
    """The VPC the function runs in; false when it runs outside any VPC."""
    return r.get("VpcConfig.VpcId") or False


@check(FUNCTION, needs=("role",))
def its_associated_with_iam_role(r: ResourceView) -> str | bool:
    """The execution role whose permissions the function's code gets."""
    return r.get("Role") or False


@check(FUNCTION, needs=("Policy", "UrlConfig"))
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Anyone may invoke it: a grant to anyone in its resource policy, through the API or through a
    function URL. A URL with ``AuthType NONE`` still needs that grant of ``lambda:InvokeFunctionUrl``
    (Lambda's function URL access control), so the policy decides both."""
    statements = r.check("it_has_resource_policy_public")
    if isinstance(statements, No):
        return statements
    evidence: dict[str, Any] = {"policy_statements": statements}
    url = r.check("it_has_function_url_public")
    exposed = policy_exposure(r, r.detail("Policy"), "resource policy")
    if url and any(s.actions.matches("lambda:InvokeFunctionUrl") for s in exposed.statements):
        evidence["function_url"] = url
    return evidence


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
