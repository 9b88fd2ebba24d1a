"""Notifications to owners, against a local server with the documented request and response shapes of
Slack's Web API (``users.lookupByEmail``: ``{"ok": true, "user": {"id"}}`` or ``users_not_found``;
``chat.postMessage``: ``{"ok": true, "channel", "ts"}``, ``channel_not_found``, HTTP 429 with
``Retry-After`` and ``ratelimited``; a bearer token) and a generic webhook."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.demo import demo_findings
from metahub.detection import RoutingError, alert_matches
from metahub.notify import Slack, deliver, messages

from . import local_http
from .conftest import metahub_cli

TOKEN = "xoxb-not-logged"
USERS = {"alice@example.com": "U0ALICE"}


class SlackServer:
    def __init__(self, throttle: int = 0, missing_channel: str | None = None) -> None:
        self.posts: list[dict[str, Any]] = []
        self.lookups: list[str] = []
        self.throttle, self.missing_channel = throttle, missing_channel

    def http(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> local_http.Answer:
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._json(200, {"ok": False, "error": "invalid_auth"})
        if path.endswith("/users.lookupByEmail"):
            email = urllib.parse.parse_qs(raw.decode())["email"][0]
            self.lookups.append(email)
            if email in USERS:
                return self._json(200, {"ok": True, "user": {"id": USERS[email], "profile": {"email": email}}})
            return self._json(200, {"ok": False, "error": "users_not_found"})
        if path.endswith("/chat.postMessage"):
            if self.throttle:
                self.throttle -= 1
                return 429, {"Retry-After": "3", "Content-Type": "application/json"}, b'{"ok": false, "error": "ratelimited"}'
            body = json.loads(raw)
            if body["channel"] == self.missing_channel:
                return self._json(200, {"ok": False, "error": "channel_not_found"})
            self.posts.append(body)
            return self._json(200, {"ok": True, "channel": body["channel"], "ts": f"1700000000.{len(self.posts):06d}"})
        return self._json(404, {"ok": False, "error": "unknown_method"})

    @staticmethod
    def _json(status: int, body: dict[str, Any]) -> local_http.Answer:
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _owned(enriched_lab: metahub.Run) -> dict[str, Any]:
    """Lab resources with failed findings, owned by alice (a Slack user), bob (none) or nobody."""
    failing = [r for r in enriched_lab.by_impact().values() if any(f.outcome == "FAILED" for f in r.findings)][:9]
    chosen = {}
    for index, resource in enumerate(failing):
        copy = resource.model_copy()
        copy.detected = {"owner": None if index % 3 == 2 else {"value": ("alice@example.com", "bob@example.com")[index % 3],
                                                                "source": "tag Owner"}}  # fmt: skip
        chosen[copy.arn] = copy
    return chosen


def test_each_owner_gets_one_message_in_their_slack_or_the_channel(enriched_lab: metahub.Run) -> None:
    found = messages(_owned(enriched_lab))
    assert sorted(str(m.owner) for m in found) == ["None", "alice@example.com", "bob@example.com"]
    server, waits, now = SlackServer(throttle=1), [], [0.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    with local_http.serving(server.http) as url:
        outcome = deliver(found, Slack(TOKEN, "#security-alerts", url, sleep=sleep, clock=lambda: now[0]).send)
    assert not outcome.unsent and len(server.posts) == 3
    channels = [p["channel"] for p in server.posts]
    assert channels.count("U0ALICE") == 1 and channels.count("#security-alerts") == 2  # bob has no Slack user
    assert waits[0] == 3.0 and 1.0 in waits  # Retry-After, then one message a second to one channel
    post = server.posts[0]
    assert post["blocks"][0]["type"] == "header" and post["text"].startswith("metahub: 3 resource(s) of yours")
    assert all(b["type"] in ("header", "section", "context") for b in post["blocks"])


def test_a_message_slack_refuses_is_kept_with_why(enriched_lab: metahub.Run) -> None:
    found = messages(_owned(enriched_lab))
    server = SlackServer(missing_channel="#security-alerts")
    with local_http.serving(server.http) as url:
        outcome = deliver(found, Slack(TOKEN, "#security-alerts", url).send)
    assert len(outcome.sent) == 1 and len(outcome.unsent) == 2
    assert outcome.unsent[0]["reason"] == "Slack chat.postMessage: channel_not_found"


def test_finding_text_cannot_mention_everyone(enriched_lab: metahub.Run) -> None:
    resource = next(iter(_owned(enriched_lab).values())).model_copy()
    failed = next(f for f in resource.findings if f.outcome == "FAILED")
    finding = failed.model_copy(update={"Title": "<!channel> click <http://evil|here>", "Remediation": None})
    resource.findings = [finding]
    [message] = messages({resource.arn: resource})
    text = json.dumps(message.blocks())
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_a_message_links_back_to_the_report(enriched_lab: metahub.Run) -> None:
    owned = _owned(enriched_lab)
    web = messages(owned, "https://wiki.example.com/metahub/report.html")[0]
    assert web.summary()["link"] == "https://wiki.example.com/metahub/report.html"
    assert {"type": "mrkdwn", "text": "<https://wiki.example.com/metahub/report.html|The report>"} in web.blocks()[-1]["elements"]
    local = messages(owned, "metahub-report-<!here>.html (this run's HTML report)")[0]  # a name, not a URL: no link made
    text = json.dumps(local.blocks()[-1])
    assert "The report: metahub-report-&lt;!here&gt;.html" in text and "<!here>" not in text


def test_the_command_line_plans_then_notifies(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text('owners:\n  tag_keys: [Owner]\n  fallback: alice@example.com\nnotify:\n  channel: "#security-alerts"\n')
    common = ["--demo", "--context", "tags", "--routing", str(routing), "--notify", "slack", "--output-modes",
              "--output-dir", str(tmp_path)]  # fmt: skip
    dry = metahub_cli(*common, env={"SLACK_BOT_TOKEN": TOKEN})
    assert dry.returncode == 0 and "dry run, nothing sent" in dry.stderr, dry.stderr
    [plan] = tmp_path.glob("metahub-notifications-plan-*.json")
    owners = {m["owner"] for m in json.loads(plan.read_text())}
    assert {"web-team", "alice@example.com"} <= owners and None not in owners  # Owner tags, then the fallback
    server = SlackServer()
    with local_http.serving(server.http) as url:
        sent = metahub_cli(*common, "--notify-apply", env={"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": url})
    assert sent.returncode == 0, sent.stderr
    assert f"slack: {len(owners)} message(s) sent, 0 not" in sent.stderr and TOKEN not in sent.stderr
    channels = [p["channel"] for p in server.posts]
    assert channels.count("U0ALICE") == 1 and channels.count("#security-alerts") == len(owners) - 1
    webhook: list[Any] = []

    def hook(method: str, path: str, headers: Mapping[str, str], raw: bytes) -> local_http.Answer:
        webhook.append(json.loads(raw))
        return 200, {}, b"ok"

    with local_http.serving(hook) as url:
        posted = metahub_cli(*common[:-5], "--notify", "webhook", "--notify-url", url, "--notify-apply",
                             "--output-modes", "--output-dir", str(tmp_path))  # fmt: skip
    assert posted.returncode == 0, posted.stderr
    assert {m["schema"] for m in webhook} == {"metahub.notification/1"} and len(webhook) == len(owners)
    missing = metahub_cli(*common, "--notify-apply")
    assert missing.returncode == 2 and "needs SLACK_BOT_TOKEN" in missing.stderr


def test_an_alert_of_the_routing_file_goes_to_its_channel(enriched_lab: metahub.Run, tmp_path: Path) -> None:
    from metahub.detection import RoutingError, load_routing
    from metahub.notify import alerts

    routing = tmp_path / "routing.yaml"
    routing.write_text("owners: {tag_keys: [Owner]}\nalerts:\n  - name: public production\n"
                       "    when: {environment: production, is_public: true}\n    channel: '#prod-sec'\n")  # fmt: skip
    rules = load_routing(routing)["alerts"]
    ranked = enriched_lab.by_impact()
    expected = [r.arn for r in ranked.values() if any(f.outcome == "FAILED" for f in r.findings)
                and r.verdict("is_public") == "true" and ((r.detected or {}).get("environment") or {}).get("value") == "production"]  # fmt: skip
    assert expected, "the lab has public production resources"
    [message] = alerts(ranked, rules)
    assert (message.alert, message.channel, [r.arn for r in message.resources]) == ("public production", "#prod-sec", expected)
    server = SlackServer()
    with local_http.serving(server.http) as url:
        outcome = deliver([message], Slack(TOKEN, None, url).send)
    assert not outcome.unsent and server.posts[0]["channel"] == "#prod-sec"
    assert server.posts[0]["text"].startswith(f"metahub: {len(expected)} resource(s) alert 'public production'")
    routing.write_text("owners: {tag_keys: [Owner]}\nalerts:\n  - when: {enviroment: production}\n    channel: '#x'\n")
    try:
        load_routing(routing)
    except RoutingError as exc:
        assert f"{routing}:3: alerts.0.when.enviroment: unknown condition" in str(exc)
    else:
        raise AssertionError("an unknown condition was accepted")


def test_a_becomes_alert_tells_only_what_changed_since_the_baseline(enriched_lab: metahub.Run, tmp_path: Path) -> None:
    """``becomes: true``: a resource meets the alert now and did not in the earlier run (absent
    then, or its verdict changed); one that already met it is not told again."""
    from metahub.detection import load_routing
    from metahub.notify import NotifyError, alerts

    routing = tmp_path / "routing.yaml"
    routing.write_text("owners: {tag_keys: [Owner]}\nalerts:\n  - name: newly public\n    becomes: true\n"
                       "    when: {environment: production, is_public: true}\n    channel: '#prod-sec'\n")  # fmt: skip
    rules = load_routing(routing)["alerts"]
    ranked = enriched_lab.by_impact()
    public = [arn for arn, r in ranked.items() if any(f.outcome == "FAILED" for f in r.findings)
              and alert_matches(r, rules[0]["when"])]  # fmt: skip
    assert len(public) >= 3
    assert alerts(ranked, rules, before=dict(ranked)) == []  # nothing changed: nothing to say
    before = dict(ranked)
    del before[public[0]]  # new since
    was_private = before[public[1]].model_copy(update={"metachecks": {**(before[public[1]].metachecks or {}), "is_public": False}})
    before[public[1]] = was_private  # its verdict changed
    [message] = alerts(ranked, rules, before=before)
    assert [r.arn for r in message.resources] == public[:2]
    with pytest.raises(NotifyError, match="needs an earlier run"):
        alerts(ranked, rules)
    routing.write_text("owners: {}\nalerts:\n  - becomes: yes please\n    when: {is_public: true}\n    channel: '#x'\n")
    with pytest.raises(RoutingError, match=r":3: alerts\.0\.becomes: expected true"):
        load_routing(routing)


def test_the_command_line_compares_becomes_alerts_with_the_baseline(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text("owners: {tag_keys: [Owner]}\nalerts:\n  - name: newly public\n    becomes: true\n"
                       "    when: {is_public: true}\n    channel: '#sec'\n")  # fmt: skip
    flags = ["--routing", str(routing), "--notify", "webhook", "--notify-url", "http://127.0.0.1:9/", "--output-modes"]
    missing = metahub_cli("--demo", "--context", "config", *flags, "--output-dir", str(tmp_path / "never"))
    assert missing.returncode == 2 and "alert 'newly public' says becomes: give --baseline" in missing.stderr
    earlier = metahub_cli("--input-asff", str(demo_findings()), "--output-modes", "json-full", "--output-dir", str(tmp_path / "earlier"))
    assert earlier.returncode == 0, earlier.stderr
    [baseline] = (tmp_path / "earlier").glob("metahub-full-*.json")  # unenriched: nothing was known public then
    now = metahub_cli("--demo", "--context", "config", *flags, "--baseline", str(baseline), "--output-dir", str(tmp_path))
    assert now.returncode == 0, now.stderr
    [plan] = tmp_path.glob("metahub-notifications-plan-*.json")
    [alert] = [m for m in json.loads(plan.read_text()) if m.get("alert")]
    assert alert["alert"] == "newly public" and alert["resources"] and all(r["is_public"] == "true" for r in alert["resources"])


class PagerDutyServer:
    """Events API v2 as PagerDuty documents it: POST /v2/enqueue; 202 {"status": "success",
    "message": "Event processed", "dedup_key"}; 400 {"status": "invalid event", "errors": [...]}
    for a missing required field; 429 when the integration key's rate is exceeded."""

    REQUIRED = ("routing_key", "event_action", "payload.summary", "payload.source", "payload.severity")

    def __init__(self, throttle: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.throttle = throttle

    def http(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> local_http.Answer:
        if (method, path) != ("POST", "/v2/enqueue"):
            return 404, {}, b"{}"
        if self.throttle:
            self.throttle -= 1
            return 429, {}, b'{"status": "throttle event", "message": "Request Limit Exceeded"}'
        event = json.loads(raw)
        missing = [name for name in self.REQUIRED if not _dig(event, name)]
        if missing or len(event["payload"]["summary"]) > 1024 or event["payload"]["severity"] not in ("critical", "error", "warning", "info"):
            body = {"status": "invalid event", "message": "Event object is invalid", "errors": [f"'{m}' is missing or blank" for m in missing]}
            return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()
        self.events.append(event)
        body = {"status": "success", "message": "Event processed", "dedup_key": event.get("dedup_key") or "generated"}
        return 202, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _dig(event: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        event = event.get(part) if isinstance(event, dict) else None  # type: ignore[assignment]
    return event


def test_pagerduty_gets_one_alert_event_per_owner_and_a_rerun_lands_on_the_same_alerts(enriched_lab: metahub.Run) -> None:
    from metahub.notify import PagerDuty

    found = messages(_owned(enriched_lab), "https://wiki.example.com/report.html")
    server, waits = PagerDutyServer(throttle=1), []
    with local_http.serving(server.http) as url:
        first = deliver(found, PagerDuty("R0UT1NGKEY0000000000000000000000", f"{url}/v2/enqueue", sleep=waits.append).send)
        again = deliver(found, PagerDuty("R0UT1NGKEY0000000000000000000000", f"{url}/v2/enqueue", sleep=waits.append).send)
    assert not first.unsent and not again.unsent and len(server.events) == 2 * len(found)
    assert waits[0] == 30.0 and waits.count(0.5) == 2 * (len(found) - 1)  # the 429, then about 120 a minute
    keys = [e["dedup_key"] for e in server.events]
    assert keys[: len(found)] == keys[len(found) :] and len(set(keys)) == len(found)  # one alert per owner, reused
    event = server.events[0]
    worst = found[0].resources[0]
    assert event["payload"]["source"] == worst.arn and event["payload"]["severity"] == {"CRITICAL": "critical", "HIGH": "error"}[worst.worst_failed_severity]
    assert event["links"] == [{"href": "https://wiki.example.com/report.html", "text": "metahub report"}]
    with local_http.serving(server.http) as url:
        broken = PagerDuty("", f"{url}/v2/enqueue")
        refused = deliver(found[:1], broken.send)
    assert "HTTP 400" in refused.unsent[0]["reason"] and "routing_key" in refused.unsent[0]["reason"]


def test_the_command_line_plans_pagerduty_events_without_the_key(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text("owners:\n  tag_keys: [Owner]\n  fallback: security@example.com\n")
    common = ["--input-asff", str(demo_findings()), "--routing", str(routing), "--notify", "pagerduty", "--output-modes"]
    missing = metahub_cli(*common, "--notify-apply", "--output-dir", str(tmp_path / "never"))
    assert missing.returncode == 2 and "needs PAGERDUTY_ROUTING_KEY" in missing.stderr
    dry = metahub_cli(*common, "--output-dir", str(tmp_path), env={"PAGERDUTY_ROUTING_KEY": "SECRETKEY"})
    assert dry.returncode == 0, dry.stderr
    [plan] = tmp_path.glob("metahub-notifications-plan-*.json")
    assert "SECRETKEY" not in plan.read_text() and json.loads(plan.read_text())[0]["event"]["routing_key"] == "(PAGERDUTY_ROUTING_KEY)"
    server = PagerDutyServer()
    with local_http.serving(server.http) as url:
        sent = metahub_cli(*common, "--notify-apply", "--output-dir", str(tmp_path),
                           env={"PAGERDUTY_ROUTING_KEY": "SECRETKEY", "PAGERDUTY_EVENTS_URL": f"{url}/v2/enqueue"})  # fmt: skip
    assert sent.returncode == 0 and "SECRETKEY" not in sent.stderr, sent.stderr
    assert f"pagerduty: {len(server.events)} message(s) sent, 0 not" in sent.stderr and server.events
