"""EBS snapshots. Prowler reports them typed AwsEc2Volume; their ARN (``snapshot/snap-...``) says
what they are, and this spec serves them whatever type the finding gives."""

from __future__ import annotations

from typing import Any

from metahub.resources.fetch import FetchContext
from metahub.resources.spec import Spec, register


def fetch_snapshots(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    """One batch of snapshots, each marked ``Public`` from ONE listing per (account, region) of
    the account's snapshots that anyone may restore: no DescribeSnapshotAttribute per snapshot."""
    if ids is None:
        snapshots = ctx.items("describe_snapshots", "Snapshots", OwnerIds=["self"])
    else:
        snapshots = ctx.items(
            "describe_snapshots", "Snapshots", Filters=[{"Name": "snapshot-id", "Values": ids}]
        )
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
    return [{**s, "Public": s["SnapshotId"] in public} for s in snapshots]


SPEC = register(
    Spec(
        type="AwsEc2Snapshot",
        service="ec2",
        arn_types=("snapshot",),
        id="SnapshotId",
        batch=200,
        fetch=fetch_snapshots,
    )
)
