from __future__ import annotations

from typing import Any

from metahub.resources.iam_account import ACCOUNT_ROLES, IAM_REGION, authorization_details, iam_arn_id, select
from metahub.resources.spec import FetchContext, Relation, Spec, register


def fetch_groups(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    return select(authorization_details(ctx)["GroupDetailList"], ids)


SPEC = register(
    Spec(
        type="AwsIamGroup",
        service="iam",
        arn_types=("group",),
        id="Arn",
        id_from_arn=iam_arn_id,
        global_region=IAM_REGION,
        batch=1000,
        fetch=fetch_groups,
        relations={
            "attached_policies": Relation("AwsIamPolicy", "AttachedManagedPolicies[].PolicyArn"),
            "users": Relation("AwsIamUser", "Arn", reverse="GroupArns"),
            "account_roles": ACCOUNT_ROLES,
        },
    )
)
