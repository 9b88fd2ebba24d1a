"""MetaChecks of SQS queues and SNS topics: resource policies open to anyone, and encryption."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, Unknown, check
from metahub.checks.policy import PolicyError, load
from metahub.checks.resource_policy import register_policy_checks


def _policy(r: ResourceView) -> Any:
    text = (r.detail("Attributes") or {}).get("Policy")
    if not text:
        return None
    try:
        return load(text, "the resource policy")
    except PolicyError as exc:
        raise Unknown(str(exc)) from exc


register_policy_checks(
    "AwsSqsQueue",
    "AwsSnsTopic",
    document=_policy,
    needs=("Attributes",),
    what="resource policy",
    public="it_has_resource_policy_public",
)


@check("AwsSqsQueue", "AwsSnsTopic", needs=("Attributes",))
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Anyone may use it: the resource policy's public grants."""
    statements = r.check("it_has_resource_policy_public")
    return {"policy_statements": statements} if statements else statements


@check("AwsSqsQueue", needs=("Attributes",), name="is_encrypted")
def queue_is_encrypted(r: ResourceView) -> str | No:
    """Server-side encryption with a KMS key, or SQS-managed keys."""
    attributes = r.detail("Attributes") or {}
    if attributes.get("KmsMasterKeyId"):
        return f"KMS {attributes['KmsMasterKeyId']}"
    if str(attributes.get("SqsManagedSseEnabled", "")).lower() == "true":
        return "SQS managed SSE"
    return No("no server-side encryption")


@check("AwsSnsTopic", needs=("Attributes",), name="is_encrypted")
def topic_is_encrypted(r: ResourceView) -> str | No:
    """The KMS key of server-side encryption; false without it."""
    key = (r.detail("Attributes") or {}).get("KmsMasterKeyId")
    return f"KMS {key}" if key else No("no server-side encryption")


@check("AwsSnsTopic", needs=("Attributes",))
def it_has_subscriptions_confirmed(r: ResourceView) -> int:
    """How many subscriptions are confirmed."""
    return int((r.detail("Attributes") or {}).get("SubscriptionsConfirmed") or 0)


@check("AwsSqsQueue", "AwsSnsTopic", needs=("Attributes",))
def is_unrestricted(r: ResourceView) -> list[dict[str, Any]] | No:
    """Anyone may use it: the policy statements that allow that."""
    return r.check("it_has_resource_policy_public")  # type: ignore[no-any-return]
