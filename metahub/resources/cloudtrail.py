"""MetaTrails: who created or changed a resource, from CloudTrail LookupEvents.

LookupEvents answers 2 requests per second per account and region, and filters by one attribute.
So metahub makes one pass per (account, region, event name) over the lookback window, under a
client-side rate limiter, and matches the events to resources locally; a resource never costs a
call of its own.
"""

from __future__ import annotations

import json
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


SSO_ROLE_PREFIX = "AWSReservedSSO_"
"""The roles IAM Identity Center makes for its permission sets; a session of one is named after
the signed-in user (their user name, often their email)."""


def creator(event: dict[str, Any]) -> dict[str, str] | None:
    """Who made the call, from the event's ``userIdentity`` (``CloudTrailEvent``, the record as JSON),
    by the CloudTrail user guide's userIdentity element: ``{"name", "type"}`` and, for a role's
    session, ``"role"``. ``IAMUser``: its ``userName``. ``AssumedRole``: the session name, the last
    part of ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``, with the role from
    ``sessionContext.sessionIssuer.userName`` (an ``AWSReservedSSO_`` role: an IAM Identity Center
    user). ``FederatedUser``: the name in ``federated-user/NAME``. ``IdentityCenterUser``:
    ``onBehalfOf.userId``. ``SAMLUser``, ``WebIdentityUser``, ``Root``: ``userName`` (``Root``: the
    account's alias, else ``root``). ``AWSService``: ``invokedBy`` (a service, which owns nothing).
    None without a record or a name in it (LookupEvents' own ``Username`` is still there)."""
    try:
        identity = json.loads(event.get("CloudTrailEvent") or "{}").get("userIdentity") or {}
    except (ValueError, AttributeError):
        identity = {}
    kind, arn = str(identity.get("type") or ""), str(identity.get("arn") or "")
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("userName")
    if kind == "AssumedRole" and "/" in arn:
        session = arn.rsplit("/", 1)[-1]
        sso = bool(issuer) and str(issuer).startswith(SSO_ROLE_PREFIX)
        return {"name": session, "type": "IAM Identity Center user" if sso else "AssumedRole", "role": str(issuer or "")}
    name = {
        "IAMUser": identity.get("userName"),
        "FederatedUser": arn.rsplit("/", 1)[-1] if "/" in arn else None,
        "IdentityCenterUser": (identity.get("onBehalfOf") or {}).get("userId"),
        "SAMLUser": identity.get("userName"),
        "WebIdentityUser": identity.get("userName"),
        "Root": identity.get("userName") or "root",
        "AWSService": identity.get("invokedBy"),
    }.get(kind)
    if name:
        return {"name": str(name), "type": kind}
    return None
