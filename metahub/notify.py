"""Notifications: each owner gets one message summarising their resources, most urgent first, on
Slack (a direct message to the user their email names, else the routing file's channel), as an
alert event to PagerDuty, or as JSON posted to any webhook.

Slack's Web API is spoken in plain HTTP (:mod:`metahub.webapi`), as Jira's is: two documented
methods, ``users.lookupByEmail`` and ``chat.postMessage`` (Block Kit), do not earn ``slack_sdk``.
``chat.postMessage`` allows about one message a second per channel: messages are paced so, and a 429
(``ratelimited``) is waited out as its ``Retry-After`` says. ``{"ok": false, "error": ...}`` is an
error, named.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from metahub import webapi
from metahub.detection import alert_matches, owner_of
from metahub.html_report import label as resource_label
from metahub.models import SEVERITY_ORDER, AffectedResource

SHOWN = 5
"""Resources named in a message; the rest are counted."""
PER_CHANNEL = 1.0
"""Seconds between two messages to one channel (chat.postMessage: about one a second per channel)."""
WEBHOOK_SCHEMA = "metahub.notification/1"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class NotifyError(ValueError):
    """A notification that cannot be sent: the message says why."""


@dataclass
class Message:
    owner: str | None
    resources: list[AffectedResource]
    alert: str | None = None
    """The routing file's alert this message is for (its channel in ``channel``); None: the owner's."""
    channel: str | None = None
    link: str | None = None
    """Where the report is: the routing file's ``tickets.link``, or the name of this run's report."""

    def summary(self) -> dict[str, Any]:
        """The message as data: what the webhook posts (schema :data:`WEBHOOK_SCHEMA`)."""
        return {
            "schema": WEBHOOK_SCHEMA,
            "owner": self.owner,
            **({"alert": self.alert, "channel": self.channel} if self.alert else {}),
            "link": self.link,
            "resources": [
                {"arn": r.arn, "type": r.type, "account": r.account, "region": r.region,
                 "worst_failed_severity": r.worst_failed_severity, "impact_score": (r.impact or {}).get("score"),
                 "is_public": r.verdict("is_public") if r.metachecks is not None else None,
                 "owner_source": owner_of(r)[1], "first_to_do": _first_fix(r)}
                for r in self.resources
            ],
        }  # fmt: skip

    def text(self) -> str:
        worst = next((s for s in SEVERITY_ORDER if any(r.worst_failed_severity == s for r in self.resources)), "")
        whose = f"alert '{self.alert}'" if self.alert else "of yours"
        return f"metahub: {len(self.resources)} resource(s) {whose} need attention" + (f", the worst {worst}" if worst else "")

    def blocks(self) -> list[dict[str, Any]]:
        """Block Kit: a header, the most urgent resources with what to do first, the count of the rest."""
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": self.text()[:150]}}]
        for resource in self.resources[:SHOWN]:
            line = f"*{resource.worst_failed_severity or 'UNRATED'}* {_escape(resource_label(resource))} ({resource.type}, {resource.account})"
            if resource.metachecks is not None and resource.verdict("is_public") == "true":
                line += " — *public*"
            fix = _first_fix(resource)
            if fix:
                line += f"\nFirst: {_escape(fix)[:300]}"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line}})
        notes = [f"and {len(self.resources) - SHOWN} more in metahub's report"] if len(self.resources) > SHOWN else []
        if self.link:
            web = self.link.startswith(("https://", "http://")) and not re.search(r"[\s<>|]", self.link)
            notes.append(f"<{self.link}|The report>" if web else f"The report: {_escape(self.link)}")
        if notes:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text} for text in notes]})
        return blocks


def _escape(text: str) -> str:
    """Slack's mrkdwn: &, < and > escaped, so a finding cannot mention @channel or make links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _first_fix(resource: AffectedResource) -> str | None:
    """What the worst failed finding says to do."""
    failed = sorted((f for f in resource.findings if f.outcome == "FAILED"),
                    key=lambda f: SEVERITY_ORDER.index(f.severity_label) if f.severity_label in SEVERITY_ORDER else 9)  # fmt: skip
    for finding in failed:
        text = ((finding.Remediation or {}).get("Recommendation") or {}).get("Text")
        if text:
            return str(text)
    return failed[0].Title if failed else None


def messages(resources: Mapping[str, AffectedResource], link: str | None = None) -> list[Message]:
    """One message per owner (None: the resources nobody owns), their resources in ``resources``'
    order (most urgent first when ranked), only those with failed findings."""
    grouped: dict[str | None, list[AffectedResource]] = {}
    for resource in resources.values():
        if any(f.outcome == "FAILED" for f in resource.findings):
            grouped.setdefault(owner_of(resource)[0], []).append(resource)
    return [Message(owner, members, link=link) for owner, members in grouped.items()]


def alerts(resources: Mapping[str, AffectedResource], rules: list[dict[str, Any]], link: str | None = None,
           before: Mapping[str, AffectedResource] | None = None) -> list[Message]:  # fmt: skip
    """One message per alert of the routing file that some resource with failed findings meets, to
    the alert's channel (:func:`metahub.detection.alert_matches`). An alert with ``becomes: true``
    takes only the resources that did not meet it in ``before`` (an earlier run's resources, by
    ARN): new ones, and those whose verdict, environment or owner changed into it."""
    found = []
    for rule in rules:
        if rule.get("becomes") and before is None:
            raise NotifyError(f"alert '{rule.get('name') or rule['channel']}' says becomes: it needs an earlier run "
                              "to compare with (--baseline)")  # fmt: skip
        hit = [r for r in resources.values() if any(f.outcome == "FAILED" for f in r.findings)
               and alert_matches(r, rule["when"])
               and not (rule.get("becomes") and before is not None and r.arn in before
                        and alert_matches(before[r.arn], rule["when"]))]  # fmt: skip
        if hit:
            found.append(Message(None, hit, str(rule.get("name") or rule["channel"]), str(rule["channel"]), link))
    return found


@dataclass
class Sent:
    sent: list[dict[str, Any]] = field(default_factory=list)
    unsent: list[dict[str, Any]] = field(default_factory=list)


class Slack:
    """Slack's Web API with a bot token: ``users.lookupByEmail``, ``chat.postMessage``."""

    def __init__(self, token: str, channel: str | None, base: str = "https://slack.com/api",
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.token, self.channel, self.base = token, channel, base.rstrip("/")
        self.sleep, self.clock = sleep, clock
        self.last: dict[str, float] = {}

    def call(self, method: str, body: dict[str, Any], form: bool = False) -> dict[str, Any]:
        if form:
            data, kind = urllib.parse.urlencode(body).encode(), "application/x-www-form-urlencoded"
        else:
            data, kind = json.dumps(body).encode(), "application/json; charset=utf-8"
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": kind}
        try:
            found: dict[str, Any] = webapi.call(f"{self.base}/{method}", "POST", data, headers, sleep=self.sleep).json()
        except webapi.Refused as error:
            raise NotifyError(f"Slack {method}: {error}") from None
        except webapi.Unreachable as error:
            raise NotifyError(f"Slack unreachable at {self.base}: {error}") from None
        if not found.get("ok"):
            raise NotifyError(f"Slack {method}: {found.get('error', 'not ok')}")
        return found

    def recipient(self, owner: str | None) -> str:
        """The owner's Slack user when their email names one, else the routing file's channel."""
        if owner and _EMAIL.match(owner):
            try:
                return str(self.call("users.lookupByEmail", {"email": owner}, form=True)["user"]["id"])
            except NotifyError as exc:
                if "users_not_found" not in str(exc) or not self.channel:
                    raise
        if not self.channel:
            raise NotifyError(f"no Slack user for {owner or 'resources without an owner'}, and no channel "
                              "in the routing file's notify section")  # fmt: skip
        return self.channel

    def send(self, message: Message) -> dict[str, Any]:
        channel = message.channel or self.recipient(message.owner)
        waited = self.last.get(channel, -PER_CHANNEL) + PER_CHANNEL - self.clock()
        if waited > 0:
            self.sleep(waited)
        answer = self.call("chat.postMessage", {"channel": channel, "text": message.text(), "blocks": message.blocks()})
        self.last[channel] = self.clock()
        return {"owner": message.owner, "channel": answer.get("channel", channel), "ts": answer.get("ts")}


PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SEVERITY = {"CRITICAL": "critical", "HIGH": "error", "MEDIUM": "warning", "LOW": "info", "INFORMATIONAL": "info"}
"""Events API v2's ``payload.severity`` (critical, error, warning, info) by the worst failed severity."""
PAGERDUTY_PACE = 0.5
"""Seconds between two events: the Events API takes about 120 a minute per integration key."""


class PagerDuty:
    """PagerDuty's Events API v2 (``POST /v2/enqueue``): one ``trigger`` alert event per message.
    Its ``dedup_key`` is made from the owner (or the alert), so a later run's event lands on the
    alert still open rather than opening another ("Submitting subsequent events for the same
    dedup_key will result in those events being applied to an open alert"). A 429 is retried 3
    times, at least 30 s apart, as PagerDuty's rate-limit page suggests; a 400 names its errors."""

    def __init__(self, routing_key: str, url: str = PAGERDUTY_URL, sleep: Callable[[float], None] = time.sleep) -> None:
        self.routing_key, self.url, self.sleep = routing_key, url, sleep
        self.sent = 0

    def event(self, message: Message) -> dict[str, Any]:
        """The trigger event of ``message``; summary at most 1024 characters, as the API allows."""
        worst = message.summary()["resources"][0] if message.resources else {}
        who = f"alert:{message.alert}" if message.alert else f"owner:{message.owner or ''}"
        web = bool(message.link) and str(message.link).startswith(("https://", "http://"))
        return {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": "metahub-" + hashlib.sha256(who.encode()).hexdigest()[:24],
            "payload": {"summary": message.text()[:1024], "source": worst.get("arn") or "metahub",
                        "severity": PAGERDUTY_SEVERITY.get(worst.get("worst_failed_severity") or "", "info"),
                        "component": worst.get("type"), "group": message.owner or message.alert,
                        "class": "security finding", "custom_details": message.summary()},
            **({"links": [{"href": message.link, "text": "metahub report"}]} if web else {}),
            "client": "metahub",
        }  # fmt: skip

    def send(self, message: Message) -> dict[str, Any]:
        if self.sent:
            self.sleep(PAGERDUTY_PACE)
        try:
            answer = webapi.post_json(self.url, self.event(message), sleep=self.sleep, wait=30.0, retries=3).json() or {}
        except webapi.Refused as error:
            raise NotifyError(f"PagerDuty answered HTTP {error.status}: {error.detail}") from None
        except webapi.Unreachable as error:
            raise NotifyError(f"PagerDuty unreachable: {error}") from None
        self.sent += 1
        return {"owner": message.owner, "dedup_key": answer.get("dedup_key"), "status": answer.get("status")}


def post_webhook(url: str, message: Message) -> dict[str, Any]:
    """The message's :meth:`Message.summary` posted as JSON; a 2xx is success."""
    try:
        return {"owner": message.owner, "status": webapi.post_json(url, message.summary()).status}
    except webapi.Refused as error:
        raise NotifyError(f"webhook answered HTTP {error.status}") from None
    except webapi.Unreachable as error:
        raise NotifyError(f"webhook unreachable: {error}") from None


def deliver(found: list[Message], send: Callable[[Message], dict[str, Any]]) -> Sent:
    """Each message sent; one that fails is kept with why, and the others go on."""
    outcome = Sent()
    for message in found:
        try:
            outcome.sent.append(send(message))
        except NotifyError as exc:
            outcome.unsent.append({**message.summary(), "reason": str(exc)})
    return outcome
