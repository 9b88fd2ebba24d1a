"""MetaTrails: who created or changed a resource, from CloudTrail LookupEvents.

LookupEvents answers 2 requests per second per account and region, and filters by one attribute.
So metahub makes one pass per (account, region, event name) over the lookback window, under a
client-side rate limiter, and matches the events to resources locally; a resource never costs a
call of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from metahub.aws import Aws, error_code

LOOKUP_RATE = 2.0  # requests per second, per account and region (the CloudTrail quota)
_THROTTLED = ("ThrottlingException", "Throttling", "TooManyRequestsException")


class RateLimiter:
    """At most ``rate`` acquisitions per second, spaced evenly, shared by threads."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            self._sleep(wait)


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
    throttled = 0
    while True:
        limiter.acquire()
        try:
            page = client.lookup_events(**params)
        except Exception as exc:
            if error_code(exc) in _THROTTLED and throttled < max_throttled:
                throttled += 1
                (sleep or time.sleep)(min(2.0**throttled * 0.25, 8.0))
                continue
            raise
        events.extend(page.get("Events", []))
        token = page.get("NextToken")
        if not token:
            return events
        params["NextToken"] = token
