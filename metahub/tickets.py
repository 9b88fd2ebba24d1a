"""Tickets with context, one per problem (a resource, an owner's resources, or a check across
resources) instead of one per finding: built from a run (pure), written to files (JSON, and CSV that
Jira's importer takes) or sent to Jira Cloud through its REST API (v3), idempotently.

Each ticket carries a label ``metahub-<12 hex>`` made from what it is about, so a later run finds
the ticket it made before (Jira: JQL ``labels IN (...)``; ServiceNow: the record's
``correlation_id``) and updates it instead of opening another. Both are spoken to in plain HTTP
(:mod:`metahub.webapi`): three documented calls each (search, create, edit) do not earn the ``jira``
or ``pysnow`` packages and their dependencies; 429 answers are waited out as their ``Retry-After`` says.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metahub import webapi
from metahub.actions import finding_region
from metahub.aws import describe_error
from metahub.detection import owner_of
from metahub.files import atomic
from metahub.html_report import label as resource_label
from metahub.json_outputs import write_json
from metahub.models import ROLLUPS, SEVERITY_ORDER, AffectedResource
from metahub.tabular import neutralise

GROUPS = ("resource", "owner", "check")
PRIORITY = {"CRITICAL": "Highest", "HIGH": "High", "MEDIUM": "Medium", "LOW": "Low", "INFORMATIONAL": "Lowest"}
"""Jira's default priorities, by the worst failed severity."""
SUMMARY_MAX = 255  # Jira's summary field
FINDINGS_SHOWN = 50


class TicketError(ValueError):
    """Tickets that cannot be made or sent as asked: the message says which setting is missing."""


@dataclass
class Ticket:
    key: str
    """What the ticket is about: a resource's ARN, an owner, a check."""
    summary: str
    priority: str
    description: list[str]
    """Paragraphs of plain text (Jira's document format, or CSV, is made from them)."""
    resources: list[str]
    findings: list[str]
    hub_finding: tuple[str, str] | None = None
    """(region, ``metadata.uid``) of its worst failed finding of the new Security Hub, what
    CreateTicketV2 names; None when it has none."""
    values: dict[str, str] = field(default_factory=dict)
    """What the routing file's ticket fields may take (:data:`metahub.detection.TICKET_VALUES`)."""

    @property
    def label(self) -> str:
        return "metahub-" + hashlib.sha256(self.key.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "summary": self.summary, "priority": self.priority,
                "description": "\n\n".join(self.description), "resources": self.resources, "findings": self.findings}  # fmt: skip

    def fields(self, template: Mapping[str, Any]) -> dict[str, Any]:
        """The routing file's fields of a tracker, their ``{name}``s filled from :attr:`values`."""
        return {name: _filled(value, self.values) for name, value in template.items()}


def _filled(value: Any, values: Mapping[str, str]) -> Any:
    """Text formatted with ``values`` (placeholders were checked when the routing file was read),
    through lists and mappings; anything else as it is."""
    if isinstance(value, str):
        return value.format_map(values)
    if isinstance(value, list):
        return [_filled(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v, values) for k, v in value.items()}
    return value


def build(resources: Mapping[str, AffectedResource], group: str = "resource", link: str | None = None) -> list[Ticket]:
    """One ticket per resource with failed findings (or per owner, or per check across resources),
    most urgent first as ``resources`` are ordered."""
    if group not in GROUPS:
        raise TicketError(f"tickets are grouped by {', '.join(GROUPS)}, not {group!r}")
    groups: dict[str, list[AffectedResource]] = {}
    for resource in resources.values():
        failed = [f for f in resource.findings if f.outcome == "FAILED"]
        if not failed:
            continue
        if group == "resource":
            keys = [resource.arn]
        elif group == "owner":
            keys = [owner_of(resource)[0] or "(no owner)"]
        else:
            keys = list(dict.fromkeys(f.GeneratorId or f.Title or "(no check)" for f in failed))
        for key in keys:
            groups.setdefault(key, []).append(resource)
    return [_ticket(key, members, group, link) for key, members in groups.items()]


def fixed(resources: Mapping[str, AffectedResource]) -> dict[str, str]:
    """``{label: ARN}`` of the resources this run saw with findings, none of them failed any more:
    the tickets a per-resource run made for them before can say so."""
    return {
        Ticket(arn, "", "", [], [], []).label: arn
        for arn, resource in resources.items()
        if resource.findings and not any(f.outcome == "FAILED" for f in resource.findings)
    }


def _ticket(key: str, members: list[AffectedResource], group: str, link: str | None) -> Ticket:
    failed = {f.Id: (f, r) for r in members for f in r.findings if f.outcome == "FAILED"
              and (group != "check" or (f.GeneratorId or f.Title or "(no check)") == key)}  # fmt: skip
    worst = next((s for s in SEVERITY_ORDER if any(f.severity_label == s for f, _ in failed.values())), "INFORMATIONAL")
    about = resource_label(members[0]) if group == "resource" else key
    summary = f"[metahub] {worst.title()}: {about}: {len(failed)} failed finding(s)" + (
        f" on {len(members)} resources" if len(members) > 1 else "")  # fmt: skip
    paragraphs = [f"{len(members)} resource(s), {len(failed)} failed finding(s), worst {worst}."]
    for resource in members[:20]:
        paragraphs.append(_resource_text(resource))
    if len(members) > 20:
        paragraphs.append(f"... and {len(members) - 20} more resources (in metahub's outputs)")
    seen: dict[str, list[str]] = {}
    for finding, _ in failed.values():
        line = f"{finding.severity_label or 'UNRATED'} {finding.Title or finding.GeneratorId} ({finding.product_name or 'unknown scanner'})"
        seen.setdefault(line, []).append(finding.Id)
    findings = [f"- {line}" + (f" x{len(ids)}" if len(ids) > 1 else "") for line, ids in list(seen.items())[:FINDINGS_SHOWN]]
    paragraphs.append("Findings (all scanners, each kind once):\n" + "\n".join(findings))
    fixes = list(dict.fromkeys(_remedy(f) for f, _ in failed.values() if _remedy(f)))
    if fixes:
        paragraphs.append("What to do:\n" + "\n".join(f"- {fix}" for fix in fixes[:20]))
    if link:
        paragraphs.append(f"Report: {link}")
    in_hub = sorted((f for f, _ in failed.values() if f.in_security_hub_v2 and f.ocsf.get("metadata.uid")),
                    key=lambda f: SEVERITY_ORDER.index(f.severity_label) if f.severity_label in SEVERITY_ORDER else 9)  # fmt: skip
    hub = (finding_region(in_hub[0]) or "", str(in_hub[0].ocsf["metadata.uid"])) if in_hub else None
    first = members[0]
    owner, owner_source = owner_of(first)
    detected = first.detected or {}
    values = {"owner": owner or "", "owner_source": owner_source or "", "account": first.account or "",
              "region": first.region or "", "severity": worst, "priority": PRIORITY[worst],
              "impact_score": str((first.impact or {}).get("score", "")), "resource": first.arn,
              "resource_type": first.type or "", "environment": (detected.get("environment") or {}).get("value") or "",
              "application": (detected.get("application") or {}).get("value") or "", "resources": str(len(members)),
              "findings": str(len(failed)), "link": link or ""}  # fmt: skip
    made = Ticket(key, summary[:SUMMARY_MAX], PRIORITY[worst], paragraphs, [r.arn for r in members], sorted(failed), hub, values)
    values["label"] = made.label
    return made


def _resource_text(resource: AffectedResource) -> str:
    lines = [f"{resource.type} {resource.arn} (account {resource.account}, {resource.region or 'global'})"]
    checks = resource.metachecks or {}
    for name in ROLLUPS:
        if name in checks:
            why = resource.unknown.get(name) or resource.evidence.get(name) or ""
            value = checks[name]
            shown = why if value is None or value is False else json.dumps(value, default=str)[:500]
            lines.append(f"{name}: {resource.verdict(name)}" + (f" ({shown})" if shown else ""))
    if resource.impact is not None:
        decided = ", ".join(f"{k}={p['value']}" for k, p in resource.impact["properties"].items() if p["value"])
        lines.append(f"impact score {resource.impact['score']}" + (f": {decided}" if decided else ""))
    owner, source = owner_of(resource)
    if owner:
        lines.append(f"owner: {owner} ({source})")
    tags = resource.effective_tags
    if tags:
        lines.append("tags: " + ", ".join(f"{k}={v}" for k, v in list(tags.items())[:20]))
    return "\n".join(lines)


def _remedy(finding: Any) -> str | None:
    recommendation = (finding.Remediation or {}).get("Recommendation") or {}
    text, url = recommendation.get("Text"), recommendation.get("Url")
    return " ".join(str(p) for p in (text, url) if p) or None


# --- files -----------------------------------------------------------------------------------------


def write_files(tickets: list[Ticket], json_path: Path, custom: Mapping[str, Any] | None = None) -> list[Path]:
    """The tickets as JSON (with the routing file's ``custom`` fields of the tracker filled in, what
    a dry run would send), and beside it as CSV that Jira's CSV importer takes (Summary, Issue Type,
    Priority, Description, one Labels column per label); text cells neutralised against formulas."""
    write_json(json_path, [{**t.to_dict(), **({"fields": t.fields(custom)} if custom else {})} for t in tickets])
    csv_path = json_path.with_suffix(".csv")
    with atomic(csv_path) as part, part.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Summary", "Issue Type", "Priority", "Description", "Labels", "Labels"])
        for ticket in tickets:
            writer.writerow([neutralise(ticket.summary), "Task", ticket.priority,
                             neutralise("\n\n".join(ticket.description)), "metahub", ticket.label])  # fmt: skip
    return [json_path, csv_path]


# --- Jira Cloud ----------------------------------------------------------------------------------


def _required(env: Mapping[str, str], names: tuple[str, ...], tracker: str) -> list[str]:
    """The values of ``names``; TicketError naming every one that is missing."""
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise TicketError(f"--tickets {tracker} needs {', '.join(missing)} in the environment")
    return [env[name] for name in names]


@dataclass
class JiraSettings:
    url: str
    email: str
    token: str
    project: str
    issue_type: str = "Task"
    done_transition: str | None = None
    """``JIRA_DONE_TRANSITION``: the transition id that closes an issue, used when its resource is fixed."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> JiraSettings:
        """``JIRA_URL``, ``JIRA_EMAIL``, ``JIRA_API_TOKEN``, ``JIRA_PROJECT`` (``JIRA_ISSUE_TYPE``: Task)."""
        url, email, token, project = _required(env, ("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PROJECT"), "jira")
        return cls(url, email, token, project, env.get("JIRA_ISSUE_TYPE") or "Task", env.get("JIRA_DONE_TRANSITION") or None)


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unsent: list[dict[str, Any]] = field(default_factory=list)
    """Tickets not sent, each with why: written to a file so that nothing is lost."""
    fixed: list[str] = field(default_factory=list)
    """Tickets of resources that have no failed finding any more: commented (and moved on)."""

    def describe(self) -> str:
        return f"{len(self.updated)} updated, {len(self.created)} created" + (
            f", {len(self.fixed)} fixed" if self.fixed else "") + (
            f", {len(self.unsent)} not sent" if self.unsent else "")  # fmt: skip


FIXED_NOTE = "metahub: no failed finding on this resource any more; it is fixed as far as the scanners say."
FIXED_MARK = "metahub-fixed"
"""What a ticket told its resource is fixed carries (Jira: a label; ServiceNow: its
``correlation_display``), so that it is told once; an update (the resource fails again) takes it off."""


class Tracker(ABC):
    """A tracker over HTTP with Basic authentication (:func:`metahub.webapi.call`: 429s waited out
    as their Retry-After says); the sending of tickets, idempotent by each ticket's label, and the
    telling of tickets whose resources are fixed. The abstract methods say how, per tracker.

    ``custom``: the routing file's fields for this tracker (``tickets.jira`` ...), set on every
    ticket created or updated; ``places``: where each is in that file, to name a field the tracker
    does not have."""

    name = "tracker"

    def __init__(self, url: str, user: str, secret: str, sleep: Callable[[float], None] = time.sleep,
                 timeout: float = 30.0, custom: Mapping[str, Any] | None = None,
                 places: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.url, self.sleep, self.timeout = url.rstrip("/"), sleep, timeout
        self.custom, self.places = dict(custom or {}), dict(places or {})
        credentials = base64.b64encode(f"{user}:{secret}".encode()).decode()
        self.headers = {"Authorization": f"Basic {credentials}", "Content-Type": "application/json",
                        "Accept": "application/json"}  # fmt: skip

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        try:
            return webapi.call(f"{self.url}{path}", method, data, self.headers, sleep=self.sleep, timeout=self.timeout,
                               wait=2.0).json()  # fmt: skip
        except webapi.Refused as error:
            raise TicketError(f"{self.name} answered {method} {path} with {error}") from None
        except webapi.Unreachable as error:
            raise TicketError(f"{self.name} at {self.url} unreachable: {error}") from None

    def unknown_field(self, name: str, why: str) -> TicketError:
        where = self.places.get(name) or f"ticket field {name}"
        return TicketError(f"{where}: {why}")

    @abstractmethod
    def check_fields(self) -> None:
        """TicketError naming the routing file's line of a custom field the tracker does not have;
        asked once, before any ticket is sent."""

    @abstractmethod
    def existing(self, labels: list[str], unfixed: bool = False) -> dict[str, str]:
        """``{label: the tracker's reference}`` of the tickets metahub made before; ``unfixed``: only
        those not yet told their resource is fixed."""

    @abstractmethod
    def create(self, ticket: Ticket) -> str:
        """A new ticket; its reference (Jira's key, ServiceNow's number)."""

    @abstractmethod
    def update(self, reference: str, ticket: Ticket) -> None:
        """The ticket metahub made before, brought up to date (and no longer marked fixed)."""

    @abstractmethod
    def tell_fixed(self, reference: str) -> None:
        """The ticket told its resource is fixed: a note, :data:`FIXED_MARK`, and moved on when the
        settings say how."""

    def send(self, tickets: list[Ticket]) -> Outcome:
        """Update the tickets metahub made before, create the others; a ticket that fails is kept
        in ``unsent`` with why, and the others go on."""
        outcome = Outcome()
        try:
            self.check_fields()
            known = self.existing([t.label for t in tickets])
        except TicketError as exc:
            outcome.unsent = [{**t.to_dict(), "reason": str(exc)} for t in tickets]
            return outcome
        for ticket in tickets:
            try:
                if ticket.label in known:
                    self.update(known[ticket.label], ticket)
                    outcome.updated.append(known[ticket.label])
                else:
                    outcome.created.append(self.create(ticket))
            except TicketError as exc:
                outcome.unsent.append({**ticket.to_dict(), "reason": str(exc)})
        return outcome

    def close_fixed(self, fixed_labels: Mapping[str, str], outcome: Outcome) -> None:
        """Tell each ticket of a resource now fixed (:func:`fixed`) so, once."""
        try:
            open_ones = self.existing(list(fixed_labels), unfixed=True)
        except TicketError as exc:
            outcome.unsent.append({"key": "(fixed resources)", "reason": f"not looked for: {exc}"})
            return
        for reference in dict.fromkeys(open_ones.values()):
            try:
                self.tell_fixed(reference)
                outcome.fixed.append(reference)
            except TicketError as exc:
                outcome.unsent.append({"key": reference, "reason": f"fixed, but not said: {exc}"})


class Jira(Tracker):
    """Jira Cloud's REST API v3: search by label (JQL), create, edit, comment, transition;
    descriptions in Atlassian Document Format. Custom fields are named by id (``customfield_10050``)
    or by the name Jira shows; both are checked against ``GET /rest/api/3/field`` first."""

    name = "Jira"

    def __init__(self, settings: JiraSettings, sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0,
                 custom: Mapping[str, Any] | None = None, places: Mapping[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(settings.url, settings.email, settings.token, sleep, timeout, custom, places)
        self.settings = settings
        self.ids: dict[str, str] = {name: name for name in self.custom}

    def check_fields(self) -> None:
        if not self.custom:
            return
        known = self.call("GET", "/rest/api/3/field") or []
        ids = {str(f.get("id")) for f in known} | {str(f.get("key")) for f in known if f.get("key")}
        for name in self.custom:
            if name in ids:
                continue
            named = sorted({str(f["id"]) for f in known if f.get("name") == name})
            if len(named) != 1:
                why = "Jira has no such field" if not named else f"several Jira fields have that name ({', '.join(named)}): name one by its id"
                raise self.unknown_field(name, f"{why} (GET /rest/api/3/field)")
            self.ids[name] = named[0]

    def existing(self, labels: list[str], unfixed: bool = False) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(labels), 50):  # JQL's IN list, a page of labels at a time
            quoted = ", ".join(f'"{label}"' for label in labels[start : start + 50])
            jql = f"project = \"{self.settings.project}\" AND labels IN ({quoted})"
            body: dict[str, Any] = {"jql": jql + (f' AND labels NOT IN ("{FIXED_MARK}")' if unfixed else ""),
                                    "fields": ["labels"], "maxResults": 100}  # fmt: skip
            while True:
                page = self.call("POST", "/rest/api/3/search/jql", body)
                for issue in page.get("issues", []):
                    for label in issue.get("fields", {}).get("labels", []):
                        found.setdefault(label, issue["key"])
                if not page.get("nextPageToken"):
                    break
                body["nextPageToken"] = page["nextPageToken"]
        return {label: key for label, key in found.items() if label in labels}

    def fields(self, ticket: Ticket) -> dict[str, Any]:
        custom = {self.ids[name]: value for name, value in ticket.fields(self.custom).items()}
        extra = custom.pop("labels", [])
        return {
            "summary": ticket.summary,
            "description": _document(ticket.description),
            "priority": {"name": ticket.priority},
            **custom,
            "labels": ["metahub", ticket.label, *(extra if isinstance(extra, list) else [extra])],
        }

    def create(self, ticket: Ticket) -> str:
        fields = {"project": {"key": self.settings.project}, "issuetype": {"name": self.settings.issue_type},
                  **self.fields(ticket)}  # fmt: skip
        return str(self.call("POST", "/rest/api/3/issue", {"fields": fields})["key"])

    def update(self, reference: str, ticket: Ticket) -> None:
        self.call("PUT", f"/rest/api/3/issue/{reference}", {"fields": self.fields(ticket)})

    def tell_fixed(self, reference: str) -> None:
        """A comment, the ``metahub-fixed`` label, and the ``JIRA_DONE_TRANSITION`` when one is set."""
        self.call("POST", f"/rest/api/3/issue/{reference}/comment", {"body": _document([FIXED_NOTE])})
        self.call("PUT", f"/rest/api/3/issue/{reference}", {"update": {"labels": [{"add": FIXED_MARK}]}})
        if self.settings.done_transition:
            self.call("POST", f"/rest/api/3/issue/{reference}/transitions", {"transition": {"id": self.settings.done_transition}})


@dataclass
class ServiceNowSettings:
    url: str
    user: str
    password: str
    table: str = "incident"
    done_state: str | None = None
    """``SERVICENOW_DONE_STATE``: the state a record of a fixed resource moves to (an incident's
    Resolved is 6), with ``close_notes`` and ``close_code`` (``SERVICENOW_CLOSE_CODE``), which
    resolving an incident asks for."""
    close_code: str = "Solution provided"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceNowSettings:
        """``SERVICENOW_URL``, ``SERVICENOW_USER``, ``SERVICENOW_PASSWORD`` (``SERVICENOW_TABLE``:
        incident; ``SERVICENOW_DONE_STATE``, ``SERVICENOW_CLOSE_CODE``: Solution provided)."""
        url, user, password = _required(env, ("SERVICENOW_URL", "SERVICENOW_USER", "SERVICENOW_PASSWORD"), "servicenow")
        return cls(url, user, password, env.get("SERVICENOW_TABLE") or "incident", env.get("SERVICENOW_DONE_STATE") or None,
                   env.get("SERVICENOW_CLOSE_CODE") or "Solution provided")  # fmt: skip


URGENCY = {"Highest": "1", "High": "1", "Medium": "2", "Low": "3", "Lowest": "3"}
"""ServiceNow's urgency (1 High, 2 Medium, 3 Low) by the ticket's priority."""


class ServiceNow(Tracker):
    """ServiceNow's Table API: records of a table (``incident`` by default) found again by their
    ``correlation_id`` (the field ServiceNow keeps for the id an integration gives its records),
    created with POST, updated with PATCH. The Table API ignores a field the table does not have,
    so custom fields are checked against a record of the table (``sysparm_fields`` answers only the
    columns it has), or against the first record created when the table is empty."""

    name = "ServiceNow"

    def __init__(self, settings: ServiceNowSettings, sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0,
                 custom: Mapping[str, Any] | None = None, places: Mapping[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(settings.url, settings.user, settings.password, sleep, timeout, custom, places)
        self.settings, self.table = settings, settings.table
        self.checked = not self.custom
        self.missing: TicketError | None = None
        """A custom field the table turned out not to have: every later ticket is refused with it."""
        self.sys_ids: dict[str, str] = {}
        """Each record's ``sys_id`` by its number, as :meth:`existing` found them."""

    def check_fields(self) -> None:
        if self.checked:
            return
        names = ",".join(["sys_id", *self.custom])
        sample = self.call("GET", f"/api/now/table/{self.table}?sysparm_limit=1&sysparm_fields={urllib.parse.quote(names)}")
        if sample and sample.get("result"):
            self._columns(sample["result"][0])

    def _columns(self, record: Mapping[str, Any]) -> None:
        self.checked = True
        for name in self.custom:
            if name not in record:
                self.missing = self.unknown_field(name, f"ServiceNow's {self.table} table has no such column")
                raise self.missing

    def existing(self, labels: list[str], unfixed: bool = False) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(labels), 50):
            query = f"correlation_idIN{','.join(labels[start : start + 50])}" + (f"^correlation_display!={FIXED_MARK}" if unfixed else "")
            page = self.call("GET", f"/api/now/table/{self.table}?sysparm_query={urllib.parse.quote(query)}"
                                    "&sysparm_fields=sys_id,number,correlation_id&sysparm_limit=100")  # fmt: skip
            for record in page.get("result", []):
                number = record.get("number") or record["sys_id"]
                self.sys_ids[number] = record["sys_id"]  # what PATCH names; people know the number
                found.setdefault(record["correlation_id"], number)
        return found

    def fields(self, ticket: Ticket) -> dict[str, Any]:
        return {"short_description": ticket.summary[:160], "description": "\n\n".join(ticket.description),
                "urgency": URGENCY[ticket.priority], **ticket.fields(self.custom),
                "correlation_id": ticket.label, "correlation_display": "metahub"}  # fmt: skip

    def create(self, ticket: Ticket) -> str:
        if self.missing:
            raise self.missing
        record = self.call("POST", f"/api/now/table/{self.table}", self.fields(ticket))["result"]
        if not self.checked:  # the table was empty: its first record says which columns it has
            try:
                self._columns(record)
            except TicketError as exc:
                raise TicketError(f"created as {record.get('number')}, without that field: {exc}") from None
        return str(record["number"])

    def update(self, reference: str, ticket: Ticket) -> None:
        if self.missing:
            raise self.missing
        self.call("PATCH", f"/api/now/table/{self.table}/{self.sys_ids[reference]}", self.fields(ticket))

    def tell_fixed(self, reference: str) -> None:
        """A work note and ``correlation_display: metahub-fixed``; with ``SERVICENOW_DONE_STATE``,
        the state, close notes and close code too."""
        body = {"work_notes": FIXED_NOTE, "correlation_display": FIXED_MARK}
        if self.settings.done_state:
            body |= {"state": self.settings.done_state, "close_notes": FIXED_NOTE, "close_code": self.settings.close_code}
        self.call("PATCH", f"/api/now/table/{self.table}/{self.sys_ids[reference]}", body)


class SecurityHubTickets:
    """Security Hub's CreateTicketV2, through a connector to an ITSM already set up there: one call
    per ticket, for its worst failed finding of the new Security Hub (the API takes one finding's
    ``metadata.uid``); the ticket's label is the ClientToken, so a second run gets the same ticket
    back rather than another. ``mode="DRYRUN"``: Security Hub makes a test ticket from a template
    finding of its own, to check the connector."""

    name = "Security Hub"

    def __init__(self, client_for: Callable[[str], Any], connector: str, mode: str | None = None) -> None:
        self.client_for, self.connector, self.mode = client_for, connector, mode

    def send(self, tickets: list[Ticket]) -> Outcome:
        outcome = Outcome()
        for ticket in tickets:
            if ticket.hub_finding is None:
                outcome.unsent.append({**ticket.to_dict(), "reason": "no failed finding of the new Security Hub "
                                       "(CreateTicketV2 takes one by its metadata.uid)"})  # fmt: skip
                continue
            region, uid = ticket.hub_finding
            request = {"ConnectorId": self.connector, "FindingMetadataUid": uid, "ClientToken": ticket.label}
            if self.mode:
                request["Mode"] = self.mode
            try:
                answer = self.client_for(region).create_ticket_v2(**request)
            except Exception as exc:  # AWS's refusal, with its reason; the others go on
                outcome.unsent.append({**ticket.to_dict(), "reason": describe_error(exc, "securityhub:CreateTicketV2")})
                continue
            outcome.created.append(str(answer.get("TicketSrcUrl") or answer["TicketId"]))
        return outcome


def _document(paragraphs: list[str]) -> dict[str, Any]:
    """Plain paragraphs as Atlassian Document Format, which v3 takes for rich text."""
    content = []
    for paragraph in paragraphs:
        lines = paragraph.split("\n")
        nodes: list[dict[str, Any]] = []
        for index, line in enumerate(lines):
            if index:
                nodes.append({"type": "hardBreak"})
            if line:
                nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}
