from __future__ import annotations

from typing import Any

from metahub.resources.spec import ACCOUNT, Detail, FetchContext, Relation, Spec, register


def fetch_buckets(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    """ListBuckets once per account (it is global); the buckets asked for that exist."""
    buckets = ctx.memo(
        ("s3-buckets", ctx.account),
        lambda: {bucket["Name"]: bucket for bucket in ctx.items("list_buckets", "Buckets")},
    )
    names = list(buckets) if ids is None else [name for name in ids if name in buckets]
    return [buckets[name] for name in names]


SPEC = register(
    Spec(
        type="AwsS3Bucket",
        service="s3",
        id="Name",
        batch=1000,
        fetch=fetch_buckets,
        details={
            "Policy": Detail(
                "get_bucket_policy",
                {"Bucket": "Name"},
                result="Policy",
                json=True,
                absent=("NoSuchBucketPolicy",),
            ),
            "Acl": Detail("get_bucket_acl", {"Bucket": "Name"}, result="Grants"),
            "PublicAccessBlock": Detail(
                "get_public_access_block",
                {"Bucket": "Name"},
                result="PublicAccessBlockConfiguration",
                absent=("NoSuchPublicAccessBlockConfiguration",),
            ),
            "Encryption": Detail(
                "get_bucket_encryption",
                {"Bucket": "Name"},
                result="ServerSideEncryptionConfiguration.Rules",
                absent=("ServerSideEncryptionConfigurationNotFoundError",),
            ),
        },
        relations={"account_public_access_block": Relation("AwsS3AccountPublicAccessBlock", ACCOUNT)},
    )
)
