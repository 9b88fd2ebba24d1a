"""EBS snapshots. Prowler reports them typed AwsEc2Volume; their ARN (``snapshot/snap-...``) says
what they are, and this spec serves them whatever type the finding gives."""

from __future__ import annotations

from typing import Any

from metahub.resources.spec import FetchContext, Spec, register


def fetch_snapshots(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    """Snapshots by id (or all the account's), each marked ``Public`` from ONE listing per
    (account, region) of the account's snapshots anyone may restore: no per-snapshot
    DescribeSnapshotAttribute call. That listing is skipped when the account owns none of them."""
    if ids is None:
        snapshots = ctx.items("describe_snapshots", "Snapshots", OwnerIds=["self"])
    else:
        snapshots = ctx.items(
            "describe_snapshots", "Snapshots", Filters=[{"Name": "snapshot-id", "Values": ids}]
        )
    if not any(s.get("OwnerId") == ctx.account for s in snapshots):
        return snapshots
    public = ctx.memo(
        ("public-snapshots", ctx.account, ctx.region),
        lambda: {
            # OwnerId is checked here too: emulators may ignore OwnerIds and RestorableByUserIds.
            s["SnapshotId"]
            for s in ctx.items(
                "describe_snapshots", "Snapshots", OwnerIds=["self"], RestorableByUserIds=["all"]
            )
            if s.get("OwnerId") == ctx.account
        },
    )
    return [
        {**s, "Public": s["SnapshotId"] in public} if s.get("OwnerId") == ctx.account else s
        for s in snapshots
    ]


SPEC = register(
    Spec(
        type="AwsEc2Snapshot",
        service="ec2",
        arn_types=("snapshot",),
        id="SnapshotId",
        batch=200,
        list_above=1000,
        fetch=fetch_snapshots,
    )
)
