"""MetaTrails: who created or changed a resource, from CloudTrail LookupEvents.

LookupEvents answers 2 requests per second per account and region, and filters by one attribute.
So metahub makes one pass per (account, region, event name) over the lookback window, under a
client-side rate limiter, and matches the events to resources locally; a resource never costs a
call of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from metahub.aws import Aws, RateLimiter, paced_call

LOOKUP_RATE = 2.0  # requests per second, per account and region (the CloudTrail quota)


def lookup_events(
    aws: Aws,
    account: str,
    region: str,
    partition: str,
    event_name: str,
    start: datetime,
    limiter: RateLimiter,
    *,
    max_throttled: int = 5,
    sleep: Callable[[float], None] | None = None,
) -> list[dict[str, Any]]:
    """Every event of one name since ``start``, newest first; throttling is waited out."""
    client = aws.client("cloudtrail", account, region, partition)
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": event_name}],
        "StartTime": start,
        "MaxResults": 50,
    }
    events: list[dict[str, Any]] = []
    while True:
        page = paced_call(
            lambda: client.lookup_events(**params), limiter, max_throttled=max_throttled, sleep=sleep
        )
        events.extend(page.get("Events", []))
        token = page.get("NextToken")
        if not token:
            return events
        params["NextToken"] = token
