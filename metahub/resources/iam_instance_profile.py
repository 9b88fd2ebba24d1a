from __future__ import annotations

from typing import Any

from metahub.resources.iam_account import IAM_REGION, authorization_details, iam_arn_id, select
from metahub.resources.spec import FetchContext, Relation, Spec, register


def fetch_profiles(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    profiles: dict[str, dict[str, Any]] = {}
    for role in authorization_details(ctx)["RoleDetailList"]:
        for profile in role.get("InstanceProfileList", []):
            profiles.setdefault(profile["Arn"], profile)
    return select(list(profiles.values()), ids)


SPEC = register(
    Spec(
        type="AwsIamInstanceProfile",
        service="iam",
        arn_types=("instance-profile",),
        id="Arn",
        id_from_arn=iam_arn_id,
        global_region=IAM_REGION,
        batch=1000,
        fetch=fetch_profiles,
        relations={"roles": Relation("AwsIamRole", "Roles[].Arn")},
    )
)
