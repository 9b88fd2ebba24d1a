from __future__ import annotations

from typing import Any

from metahub.resources.iam_account import ACCOUNT_ROLES, IAM_REGION, authorization_details, iam_arn_id, select
from metahub.resources.spec import FetchContext, Relation, Spec, register


def fetch_roles(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    return select(authorization_details(ctx)["RoleDetailList"], ids)


SPEC = register(
    Spec(
        type="AwsIamRole",
        service="iam",
        arn_types=("role",),
        id="Arn",
        id_from_arn=iam_arn_id,
        global_region=IAM_REGION,
        batch=1000,
        fetch=fetch_roles,
        relations={
            "attached_policies": Relation("AwsIamPolicy", "AttachedManagedPolicies[].PolicyArn"),
            "boundary": Relation("AwsIamPolicy", "PermissionsBoundary.PermissionsBoundaryArn"),
            "account_roles": ACCOUNT_ROLES,
        },
    )
)
