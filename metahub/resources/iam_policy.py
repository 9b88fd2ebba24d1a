from __future__ import annotations

from typing import Any

from metahub.aws import error_code
from metahub.resources.iam_account import (
    ACCOUNT_ROLES,
    IAM_REGION,
    authorization_details,
    default_document,
    iam_arn_id,
    select,
)
from metahub.resources.spec import FetchContext, Relation, Spec, register


def fetch_policies(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    """Managed policies from the account-wide listing; an AWS-managed policy that is attached to
    nothing is not in it and costs GetPolicy + GetPolicyVersion."""
    found = select(authorization_details(ctx)["Policies"], ids)
    missing = sorted(set(ids or ()) - {p["Arn"] for p in found})
    iam = ctx.client("iam")
    for arn in missing:
        try:
            policy = iam.get_policy(PolicyArn=arn)["Policy"]
        except Exception as exc:
            if error_code(exc) == "NoSuchEntity":
                continue
            raise
        version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        found.append({**policy, "PolicyVersionList": [{**version, "IsDefaultVersion": True}]})
    return [{**policy, "Document": default_document(policy)} for policy in found]


SPEC = register(
    Spec(
        type="AwsIamPolicy",
        service="iam",
        arn_types=("policy",),
        id="Arn",
        id_from_arn=iam_arn_id,
        global_region=IAM_REGION,
        batch=1000,
        fetch=fetch_policies,
        relations={
            "roles": Relation("AwsIamRole", "Arn", reverse="AttachedManagedPolicies[].PolicyArn"),
            "users": Relation("AwsIamUser", "Arn", reverse="AttachedManagedPolicies[].PolicyArn"),
            "groups": Relation("AwsIamGroup", "Arn", reverse="AttachedManagedPolicies[].PolicyArn"),
            "account_roles": ACCOUNT_ROLES,
        },
    )
)
