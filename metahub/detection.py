"""Environment, owner and application of a resource, from its tags and account, by rules that
users edit without touching code (``metahub/config/detection.json`` is the default).

The owner is decided in this order, the first that gives one wins, and ``source`` says which:
a tag (``owner.tag_keys``, in order), the creator CloudTrail recorded (``owner.creator``: the
``userIdentity`` of the type's creating event, see :func:`metahub.resources.cloudtrail.creator`),
the account's default (``owner.accounts``),
the fallback (``owner.fallback``). A routing file (YAML, :func:`load_routing`) sets the ``owner``
rules with line-numbered errors.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from metahub.files import Places, parse_yaml, texts
from metahub.models import AffectedResource


def load_rules(path: str | Path | None = None) -> dict[str, Any]:
    if path is None:
        text = resources.files("metahub").joinpath("config/detection.json").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    rules: dict[str, Any] = json.loads(text)
    for section in ("environment", "owner", "application"):
        if section not in rules:
            raise ValueError(f"detection rules {path or 'default'}: no {section!r} section")
    return rules


def _tag(tags: dict[str, str], keys: list[str]) -> tuple[str, str] | None:
    lowered = {k.lower(): (k, v) for k, v in tags.items()}
    for key in keys:
        if key.lower() in lowered and lowered[key.lower()][1]:
            return lowered[key.lower()]
    return None


def detect(resource: AffectedResource, rules: dict[str, Any]) -> dict[str, Any]:
    """``{"environment": {"value", "source"}, "owner": ..., "application": ...}``; a part nothing
    decides is null."""
    tags = resource.effective_tags
    found: dict[str, Any] = {"environment": None, "owner": None, "application": None}
    environment = rules["environment"]
    hit = _tag(tags, environment["tag_keys"])
    if hit:
        key, value = hit
        for name, values in environment["values"].items():
            if value.lower() in [v.lower() for v in values]:
                found["environment"] = {"value": name, "source": f"tag {key}={value}"}
                break
        else:
            found["environment"] = {"value": value, "source": f"tag {key}={value} (matches no rule)"}
    if found["environment"] is None and resource.account in environment.get("accounts", {}):
        found["environment"] = {"value": environment["accounts"][resource.account], "source": "account id"}
    alias = (resource.metaaccount or {}).get("Alias") or ""
    if found["environment"] is None and alias:
        for name, parts in environment.get("account_alias_contains", {}).items():
            if any(part.lower() in alias.lower() for part in parts):
                found["environment"] = {"value": name, "source": f"account alias {alias}"}
                break
    hit = _tag(tags, rules["application"]["tag_keys"])
    if hit:
        found["application"] = {"value": hit[1], "source": f"tag {hit[0]}"}
    found["owner"] = owner(resource, rules["owner"])
    return found


def owner(resource: AffectedResource, rules: dict[str, Any]) -> dict[str, str] | None:
    """``{"value", "source"}`` by the owner rules, in their order; None when none gives one."""
    hit = _tag(resource.effective_tags, rules["tag_keys"])
    if hit:
        return {"value": hit[1], "source": f"tag {hit[0]}"}
    if rules.get("creator", True):
        found = _creator(resource)
        if found:
            return found
    if resource.account in rules.get("accounts", {}):
        return {"value": rules["accounts"][resource.account], "source": f"account {resource.account}'s default"}
    if rules.get("fallback"):
        return {"value": rules["fallback"], "source": "the fallback"}
    return None


def _creator(resource: AffectedResource) -> dict[str, str] | None:
    """The person MetaTrails names, from the events in the order enrichment keeps (the type's
    creating event first): the identity CloudTrail recorded (``Creator``: an IAM user, a role
    session's name, an IAM Identity Center user), else LookupEvents' ``Username``. A call an AWS
    service made owns nothing: the next event is asked."""
    for event, entry in (resource.metatrails or {}).items():
        if not isinstance(entry, dict):
            continue
        who = entry.get("Creator") or ({"name": entry["Username"]} if entry.get("Username") else None)
        if not who or who.get("type") == "AWSService":
            continue
        kind = who.get("type")
        how = f" ({kind}{' of role ' + who['role'] if who.get('role') else ''})" if kind and kind != "IAMUser" else ""
        when = f" on {entry['EventTime']}" if entry.get("EventTime") else ""
        return {"value": who["name"], "source": f"CloudTrail: {event} by {who['name']}{how}{when}"}
    return None


def owner_of(resource: AffectedResource) -> tuple[str | None, str | None]:
    """The owner detected for ``resource`` and why (None, None when none was)."""
    found = (resource.detected or {}).get("owner") or {}
    return found.get("value"), found.get("source")


class RoutingError(ValueError):
    """A routing file that cannot be used: the message names the file, line and key."""


_OWNER_KEYS: dict[str, type] = {"tag_keys": list, "creator": bool, "accounts": dict, "fallback": str}


def load_routing(path: str | Path, rules: dict[str, Any] | None = None) -> dict[str, Any]:
    """Detection ``rules`` (default: the built-in ones) with the owner rules of a routing file::

        owners:
          tag_keys: [Owner, Team, Contact]   # in order; case-insensitive
          creator: true                      # the creator CloudTrail recorded (needs --context cloudtrail)
          accounts: {"111122223333": payments-team@example.com}
          fallback: security@example.com
        notify:
          channel: "#security-alerts"        # Slack: for owners without a Slack user (--notify slack)
        alerts:                              # besides the owners' messages: a channel's own
          - name: public production
            when: {environment: production, is_public: true}
            becomes: true                    # only those that did not meet 'when' in --baseline
            channel: "#prod-sec"
        tickets:                             # --tickets: a link back, and fields of your trackers
          link: https://wiki.example.com/security/metahub-report.html
          jira: {components: [{name: Cloud Security}], customfield_10050: "{owner}"}
          servicenow: {assignment_group: "{owner}", category: security}

    A ticket field's value is text (or lists and mappings of text) in which ``{name}`` takes one of
    :data:`TICKET_VALUES`; where each field is in the file is kept (``tickets.places[tracker][field]``)
    so that a field the tracker does not have is named with its line.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RoutingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    document, places = parse_yaml(text, str(path), RoutingError)
    if not isinstance(document, dict) or not isinstance(document.get("owners"), dict):
        raise RoutingError(f"{places.place(())}: expected an 'owners:' mapping")
    unknown = set(document) - {"owners", "notify", "alerts", "tickets"}
    if unknown:
        raise RoutingError(f"{places.place((sorted(unknown)[0],))}: unknown section; a routing file has 'owners', "
                           "'notify', 'alerts' and 'tickets'")  # fmt: skip
    alerts = document.get("alerts") or []
    if not isinstance(alerts, list):
        raise RoutingError(f"{places.place(('alerts',))}: expected a list of alerts (name, when, channel)")
    for index, alert in enumerate(alerts):
        _check_alert(alert, lambda *keys, i=index: places.place(("alerts", i, *keys)))
    notify = document.get("notify") or {}
    if not isinstance(notify, dict) or set(notify) - {"channel"} or not isinstance(notify.get("channel", ""), str):
        raise RoutingError(f"{places.place(('notify',))}: expected 'channel: \"#a-slack-channel\"'")
    owners = document["owners"]
    for key, value in owners.items():
        kind = _OWNER_KEYS.get(key)
        if kind is None:
            raise RoutingError(f"{places.place(('owners', key))}: unknown key; owners take {', '.join(_OWNER_KEYS)}")
        if not isinstance(value, kind) or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            raise RoutingError(f"{places.place(('owners', key))}: expected {'a list of tag keys' if kind is list else kind.__name__}")
    accounts = {str(k): str(v) for k, v in owners.get("accounts", {}).items()}
    merged = dict(rules or load_rules())
    merged["owner"] = {**merged["owner"], **owners, "accounts": accounts}
    merged["notify"] = dict(notify)
    merged["alerts"] = alerts
    merged["tickets"] = _tickets(document.get("tickets") or {}, places)
    return merged


TICKET_VALUES = ("owner", "owner_source", "account", "region", "severity", "priority", "impact_score", "resource",
                 "resource_type", "environment", "application", "label", "resources", "findings", "link")  # fmt: skip
"""What ``{name}`` may take in a ticket field of the routing file: of the ticket's most urgent
resource (owner, account, region, resource, its type, environment, application, impact score), the
ticket's own (worst failed severity, priority, label, count of resources and findings), the link."""

TRACKER_FIELDS = ("jira", "servicenow")


def _tickets(section: Any, places: Places) -> dict[str, Any]:
    """The ``tickets`` section checked: ``link``, and per tracker its fields with their places."""
    if not isinstance(section, dict) or set(section) - {"link", *TRACKER_FIELDS}:
        raise RoutingError(f"{places.place(('tickets',))}: expected 'link' and the fields of "
                           f"{' and '.join(TRACKER_FIELDS)}")  # fmt: skip
    if not isinstance(section.get("link", ""), str):
        raise RoutingError(f"{places.place(('tickets', 'link'))}: expected a URL")
    found: dict[str, Any] = {"link": section.get("link"), "places": {tracker: {} for tracker in TRACKER_FIELDS}}
    for tracker in TRACKER_FIELDS:
        fields = section.get(tracker) or {}
        if not isinstance(fields, dict):
            raise RoutingError(f"{places.place(('tickets', tracker))}: expected a mapping of field: value")
        for name, value in fields.items():
            where = places.place(("tickets", tracker, name))
            for text in texts(value):
                try:
                    parts = list(string.Formatter().parse(text))
                except ValueError as exc:  # a lone brace
                    raise RoutingError(f"{where}: {exc} in {text!r} (a brace of its own is written twice)") from None
                for _, placeholder, spec, conversion in parts:
                    if placeholder is not None and (placeholder not in TICKET_VALUES or spec or conversion):
                        raise RoutingError(f"{where}: {{{placeholder}}} is not a ticket value; a field may take "
                                           f"{', '.join('{' + v + '}' for v in TICKET_VALUES)}")  # fmt: skip
            found["places"][tracker][str(name)] = where
        found[tracker] = {str(name): value for name, value in fields.items()}
    return found


ALERT_FIELDS = ("environment", "is_public", "is_encrypted", "is_unrestricted", "is_attached", "severity", "type",
                "account", "region", "owner")  # fmt: skip
"""What an alert's ``when`` may name: the detected environment and owner, a rollup's verdict
(true, false, unknown), the worst failed severity, the resource's type, account, region."""


def _check_alert(alert: Any, place: Callable[..., str]) -> None:
    if not isinstance(alert, dict) or set(alert) - {"name", "when", "channel", "becomes"} or not alert.get("channel"):
        raise RoutingError(f"{place()}: an alert is a mapping of name, when, channel (and becomes: true)")
    if not isinstance(alert.get("becomes", False), bool):
        raise RoutingError(f"{place('becomes')}: expected true (only resources that did not meet 'when' in --baseline) or false")
    when = alert.get("when")
    if not isinstance(when, dict) or not when:
        raise RoutingError(f"{place('when')}: expected the conditions, e.g. {{environment: production, is_public: true}}")
    for key in when:
        if key not in ALERT_FIELDS:
            raise RoutingError(f"{place('when', key)}: unknown condition; alerts test {', '.join(ALERT_FIELDS)}")


def becomes_alerts(rules: dict[str, Any] | None) -> list[str]:
    """The names of the routing file's alerts that compare with an earlier run (``becomes: true``)."""
    return [str(a.get("name") or a["channel"]) for a in (rules or {}).get("alerts", []) if a.get("becomes")]


def alert_matches(resource: AffectedResource, when: dict[str, Any]) -> bool:
    """Whether ``resource`` meets every condition of an alert (values compared case-insensitively)."""
    detected = resource.detected or {}
    for key, wanted in when.items():
        if key in ("environment", "owner"):
            value = (detected.get(key) or {}).get("value")
        elif key.startswith("is_"):
            value = resource.verdict(key) if resource.metachecks is not None else None
        elif key == "severity":
            value = resource.worst_failed_severity
        else:
            value = getattr(resource, key)
        if value is None or str(value).lower() != str(wanted).lower():
            return False
    return True
