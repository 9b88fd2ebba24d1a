"""MetaChecks of Kinesis data streams."""

from __future__ import annotations

from metahub.checks.base import No, ResourceView, check

STREAM = "AwsKinesisStream"


@check(STREAM, needs=("Summary",), name="is_encrypted")
def stream_is_encrypted(r: ResourceView) -> str | No:
    """The KMS key of server-side encryption; false without it."""
    summary = r.detail("Summary") or {}
    if summary.get("EncryptionType") != "KMS":
        return No("no server-side encryption")
    return summary.get("KeyId") or "KMS"


@check(STREAM, needs=("Summary",))
def it_has_retention_hours(r: ResourceView) -> int:
    """How many hours records are kept."""
    return int((r.detail("Summary") or {}).get("RetentionPeriodHours") or 0)


@check(STREAM, name="is_public")
def stream_is_public(r: ResourceView) -> No:
    """Always false: a stream takes no resource policy granting anonymous access."""
    return No("Kinesis streams take no resource policy granting anonymous access")
