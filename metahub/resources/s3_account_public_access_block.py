"""The account-wide S3 Block Public Access setting: one item per account, which every bucket's
``is_public`` needs."""

from __future__ import annotations

from typing import Any

from metahub.aws import error_code
from metahub.resources.spec import FetchContext, Spec, register


def fetch_account_block(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    try:
        response = ctx.client("s3control").get_public_access_block(AccountId=ctx.account)
        configuration = response["PublicAccessBlockConfiguration"]
    except Exception as exc:
        if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            raise
        configuration = None
    return [{"AccountId": ctx.account, "Configuration": configuration}]


SPEC = register(
    Spec(
        type="AwsS3AccountPublicAccessBlock",
        service="s3control",
        id="AccountId",
        global_region="us-east-1",
        fetch=fetch_account_block,
    )
)
