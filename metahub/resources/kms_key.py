from __future__ import annotations

from typing import Any

from metahub.resources.fetch import FetchContext
from metahub.resources.spec import Detail, Spec, register


def fetch_keys(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    keys = ctx.memo(
        ("kms-keys", ctx.account, ctx.region),
        lambda: {key["KeyId"]: key for key in ctx.items("list_keys", "Keys")},
    )
    wanted = list(keys) if ids is None else [key for key in ids if key in keys]
    return [keys[key] for key in wanted]


SPEC = register(
    Spec(
        type="AwsKmsKey",
        service="kms",
        arn_types=("key",),
        id="KeyId",
        batch=1000,
        fetch=fetch_keys,
        details={
            "Metadata": Detail("describe_key", {"KeyId": "KeyId"}, result="KeyMetadata"),
            "Policy": Detail(
                "get_key_policy", {"KeyId": "KeyId", "PolicyName": "'default'"}, result="Policy", json=True
            ),
            "Rotation": Detail(
                "get_key_rotation_status",
                {"KeyId": "KeyId"},
                result="KeyRotationEnabled",
                absent=("UnsupportedOperationException",),
            ),
        },
    )
)
