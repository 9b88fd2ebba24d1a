"""IAM is listed once per account with GetAccountAuthorizationDetails: every user, group, role,
instance profile and managed policy with its documents, in a few paginated calls. The IAM specs
all read from that one listing."""

from __future__ import annotations

from typing import Any

from metahub.resources.spec import ACCOUNT, FetchContext, Relation

IAM_REGION = "us-east-1"

ACCOUNT_ROLES = Relation("AwsIamRole", ACCOUNT, reverse=ACCOUNT)
"""Every role of the principal's account, whose trust policies say who may assume them (role
chains). They come from the same one authorization-details listing: no further call."""


def authorization_details(ctx: FetchContext) -> dict[str, list[dict[str, Any]]]:
    def load() -> dict[str, list[dict[str, Any]]]:
        merged: dict[str, list[dict[str, Any]]] = {
            "UserDetailList": [],
            "GroupDetailList": [],
            "RoleDetailList": [],
            "Policies": [],
        }
        for page in ctx.pages("get_account_authorization_details", service="iam"):
            for key, values in merged.items():
                values.extend(page.get(key, []))
        return merged

    details: dict[str, list[dict[str, Any]]] = ctx.memo(("iam-authorization-details", ctx.account), load)
    return details


def select(items: list[dict[str, Any]], ids: list[str] | None, key: str = "Arn") -> list[dict[str, Any]]:
    if ids is None:
        return items
    wanted = set(ids)
    return [item for item in items if item.get(key) in wanted]


def default_document(policy: dict[str, Any]) -> Any:
    for version in policy.get("PolicyVersionList", []):
        if version.get("IsDefaultVersion"):
            return version.get("Document")
    return None


def iam_arn_id(arn: Any) -> str:
    """IAM items are keyed by their ARN: names repeat across paths, and AWS-managed policies
    (``arn:aws:iam::aws:policy/...``) live in no account."""
    return str(arn)
