from __future__ import annotations

import csv
import io
import time
from typing import Any

from metahub.resources.iam_account import ACCOUNT_ROLES, IAM_REGION, authorization_details, iam_arn_id, select
from metahub.resources.spec import FetchContext, Relation, Spec, register

_REPORT_WAIT_SECONDS = 30


def credential_report(ctx: FetchContext) -> dict[str, dict[str, str]]:
    """The account's IAM credential report by user ARN: passwords, MFA and access keys of every
    user in two or three calls, instead of three calls per user."""

    def load() -> dict[str, dict[str, str]]:
        iam = ctx.client("iam")
        deadline, pause = time.monotonic() + _REPORT_WAIT_SECONDS, 0.2
        # AWS returns COMPLETE at once when a report is under four hours old; a new one takes seconds.
        while iam.generate_credential_report()["State"] != "COMPLETE" and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
        content = iam.get_credential_report()["Content"]
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        return {row["arn"]: row for row in csv.DictReader(io.StringIO(text))}

    report: dict[str, dict[str, str]] = ctx.memo(("iam-credential-report", ctx.account), load)
    return report


def fetch_users(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    prefix = f"arn:{ctx.partition}:iam::{ctx.account}:group/"
    users = select(authorization_details(ctx)["UserDetailList"], ids)
    report = credential_report(ctx) if users else {}
    return [
        {
            **user,
            "GroupArns": [prefix + name for name in user.get("GroupList", [])],
            "CredentialReport": report.get(user["Arn"]),
        }
        for user in users
    ]


SPEC = register(
    Spec(
        type="AwsIamUser",
        service="iam",
        arn_types=("user",),
        id="Arn",
        id_from_arn=iam_arn_id,
        global_region=IAM_REGION,
        batch=1000,
        fetch=fetch_users,
        relations={
            "attached_policies": Relation("AwsIamPolicy", "AttachedManagedPolicies[].PolicyArn"),
            "boundary": Relation("AwsIamPolicy", "PermissionsBoundary.PermissionsBoundaryArn"),
            "groups": Relation("AwsIamGroup", "GroupArns"),
            "account_roles": ACCOUNT_ROLES,
        },
    )
)
