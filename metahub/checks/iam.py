"""MetaChecks of IAM roles, users, groups and managed policies."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, Unknown, check
from metahub.checks.policy import external_principals, public_statements, statements, unrestricted_statements

PRINCIPALS = ("AwsIamRole", "AwsIamUser", "AwsIamGroup")
_INLINE = {"AwsIamRole": "RolePolicyList", "AwsIamUser": "UserPolicyList", "AwsIamGroup": "GroupPolicyList"}


@check(*PRINCIPALS, needs=("attached_policies",))
def its_associated_with_iam_policies(r: ResourceView) -> list[str]:
    """Managed policies attached to the principal."""
    return [policy.id for policy in r.related("attached_policies")]


@check(*PRINCIPALS)
def it_has_inline_policies(r: ResourceView) -> list[str]:
    return [p.get("PolicyName") for p in r.get(_INLINE[r.type], [])]


@check(*PRINCIPALS, needs=("attached_policies",), name="is_unrestricted")
def principal_is_unrestricted(r: ResourceView) -> dict[str, Any] | No:
    """May do anything: a managed or inline policy allows ``*`` on ``*`` (or, for a role, anyone
    may assume it)."""
    evidence: dict[str, Any] = {}
    managed = [p.id for p in r.related("attached_policies") if unrestricted_statements(p.get("Document"))]
    inline = [
        p.get("PolicyName")
        for p in r.get(_INLINE[r.type], [])
        if unrestricted_statements(p.get("PolicyDocument"))
    ]
    if managed:
        evidence["policies"] = managed
    if inline:
        evidence["inline_policies"] = inline
    if r.type == "AwsIamRole" and public_statements(r.get("AssumeRolePolicyDocument")):
        evidence["trust"] = "anyone may assume the role"
    return evidence or No("no policy allows every action on every resource")


@check("AwsIamRole")
def it_has_trust_policy_external_principals(r: ResourceView) -> list[str]:
    """Principals of other accounts that may assume the role."""
    return external_principals(r.get("AssumeRolePolicyDocument"), r.account)


@check("AwsIamRole")
def its_trusted_services(r: ResourceView) -> list[str]:
    services = []
    for statement in statements(r.get("AssumeRolePolicyDocument")):
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            value = principal.get("Service", [])
            services.extend(value if isinstance(value, list) else [value])
    return services


@check("AwsIamRole", name="is_public")
def role_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Anyone (any AWS account) may assume the role."""
    statements = public_statements(r.get("AssumeRolePolicyDocument"))
    return {"trust_statements": statements} if statements else No("the trust policy names its principals")


@check("AwsIamRole", name="is_attached")
def role_is_attached(r: ResourceView) -> list[str] | No:
    """In use: in an instance profile, or used within the last 400 days as IAM tracks it."""
    profiles = [p.get("Arn") for p in r.get("InstanceProfileList", [])]
    last_used = r.get("RoleLastUsed.LastUsedDate")
    found = profiles + ([f"last used {last_used}"] if last_used else [])
    return found or No("in no instance profile and no recorded use")


def _credentials(r: ResourceView) -> dict[str, str]:
    report = r.get("CredentialReport")
    if not report:
        raise Unknown(f"user {r.id} is not in the IAM credential report")
    return report


@check("AwsIamUser")
def it_has_access_keys_active(r: ResourceView) -> list[str]:
    """Active access keys, with when each was last used."""
    report = _credentials(r)
    return [
        f"{key} (last used {report.get(f'{key}_last_used_date') or 'never'})"
        for key in ("access_key_1", "access_key_2")
        if report.get(f"{key}_active") == "true"
    ]


@check("AwsIamUser")
def it_has_mfa(r: ResourceView) -> bool:
    return _credentials(r).get("mfa_active") == "true"


@check("AwsIamUser")
def it_has_console_password(r: ResourceView) -> bool:
    return _credentials(r).get("password_enabled") == "true"


@check("AwsIamUser", needs=("groups",))
def its_associated_with_iam_groups(r: ResourceView) -> list[str]:
    return [group.id for group in r.related("groups")]


@check("AwsIamUser", needs=("groups.attached_policies",))
def its_associated_with_iam_groups_unrestricted(r: ResourceView) -> list[str]:
    return [group.id for group in r.related("groups") if group.check("is_unrestricted")]


@check("AwsIamGroup", needs=("users",))
def its_associated_with_iam_users(r: ResourceView) -> list[str]:
    return [user.id for user in r.related("users")]


@check("AwsIamGroup", needs=("users",), name="is_attached")
def group_is_attached(r: ResourceView) -> list[str] | No:
    return r.check("its_associated_with_iam_users") or No("the group has no users")


@check("AwsIamPolicy")
def it_has_unrestricted_statements(r: ResourceView) -> list[dict[str, Any]]:
    return unrestricted_statements(r.get("Document"))


@check("AwsIamPolicy", name="is_unrestricted")
def policy_is_unrestricted(r: ResourceView) -> list[dict[str, Any]] | No:
    """Allows every action on every resource."""
    return r.check("it_has_unrestricted_statements") or No(
        "no statement allows every action on every resource"
    )


@check("AwsIamPolicy")
def is_aws_managed(r: ResourceView) -> bool:
    return ":aws:policy/" in r.id


@check("AwsIamPolicy", needs=("roles", "users", "groups"), name="is_attached")
def policy_is_attached(r: ResourceView) -> list[str] | No:
    """Attached to roles, users or groups (the value lists them)."""
    principals = [v.id for name in ("roles", "users", "groups") for v in r.related(name)]
    if principals:
        return principals
    count = r.get("AttachmentCount")
    return No("attached to nothing") if not count else [f"{count} attachment(s)"]
