from __future__ import annotations

from metahub.checks.base import ResourceView, check

TABLE = "AwsDynamoDbTable"


@check(TABLE, needs=("Table",))
def is_encrypted(r: ResourceView) -> str:
    """DynamoDB always encrypts at rest: with a KMS key when configured, else an AWS-owned key."""
    sse = (r.detail("Table") or {}).get("SSEDescription") or {}
    if sse.get("Status") in ("ENABLED", "UPDATING"):
        return f"{sse.get('SSEType', 'KMS')} {sse.get('KMSMasterKeyArn', '')}".strip()
    return "AWS owned key"


@check(TABLE, needs=("ContinuousBackups",))
def it_has_point_in_time_recovery(r: ResourceView) -> bool:
    """Whether continuous backups allow restoring to any point in the last 35 days."""
    backups = r.detail("ContinuousBackups") or {}
    return bool(
        backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED"
    )


@check(TABLE, needs=("Table",))
def it_has_deletion_protection(r: ResourceView) -> bool:
    """Whether the table refuses DeleteTable until protection is turned off."""
    return bool((r.detail("Table") or {}).get("DeletionProtectionEnabled"))
