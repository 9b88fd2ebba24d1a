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

    @property
    def label(self) -> str:
        return "metahub-" + hashlib.sha256(self.key.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "summary": self.summary, "priority": self.priority,
                "description": "\n\n".join(self.description), "resources": self.resources, "findings": self.findings}  # fmt: skip


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
    return Ticket(key, summary[:SUMMARY_MAX], PRIORITY[worst], paragraphs, [r.arn for r in members], sorted(failed), hub)


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


def write_files(tickets: list[Ticket], json_path: Path) -> list[Path]:
    """The tickets as JSON, and beside it as CSV that Jira's CSV importer takes (Summary, Issue Type,
    Priority, Description, one Labels column per label); text cells neutralised against formulas."""
    write_json(json_path, [t.to_dict() for t in tickets])
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


class Tracker(ABC):
    """A tracker over HTTP with Basic authentication (:func:`metahub.webapi.call`: 429s waited out
    as their Retry-After says); and the sending of tickets, idempotent by
    each ticket's label (:meth:`existing`, :meth:`create`, :meth:`update` say how, per tracker)."""

    name = "tracker"

    def __init__(self, url: str, user: str, secret: str, sleep: Callable[[float], None] = time.sleep,
                 timeout: float = 30.0) -> None:  # fmt: skip
        self.url, self.sleep, self.timeout = url.rstrip("/"), sleep, timeout
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

    @abstractmethod
    def existing(self, labels: list[str]) -> dict[str, str]:
        """``{label: the tracker's reference}`` of the tickets metahub made before."""

    @abstractmethod
    def create(self, ticket: Ticket) -> str:
        """A new ticket; its reference (Jira's key, ServiceNow's number)."""

    @abstractmethod
    def update(self, reference: str, ticket: Ticket) -> None:
        """The ticket metahub made before, brought up to date."""

    def send(self, tickets: list[Ticket]) -> Outcome:
        """Update the tickets metahub made before, create the others; a ticket that fails is kept
        in ``unsent`` with why, and the others go on."""
        outcome = Outcome()
        try:
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


class Jira(Tracker):
    """Jira Cloud's REST API v3: search by label (JQL), create, edit; descriptions in Atlassian
    Document Format."""

    name = "Jira"

    def __init__(self, settings: JiraSettings, sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0):
        super().__init__(settings.url, settings.email, settings.token, sleep, timeout)
        self.settings = settings

    def existing(self, labels: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(labels), 50):  # JQL's IN list, a page of labels at a time
            quoted = ", ".join(f'"{label}"' for label in labels[start : start + 50])
            body: dict[str, Any] = {"jql": f"project = \"{self.settings.project}\" AND labels IN ({quoted})",
                                    "fields": ["labels"], "maxResults": 100}  # fmt: skip
            while True:
                page = self.call("POST", "/rest/api/3/search/jql", body)
                for issue in page.get("issues", []):
                    for label in issue.get("fields", {}).get("labels", []):
                        found.setdefault(label, issue["key"])
                if not page.get("nextPageToken"):
                    break
                body["nextPageToken"] = page["nextPageToken"]
        return found

    def fields(self, ticket: Ticket) -> dict[str, Any]:
        return {
            "summary": ticket.summary,
            "description": _document(ticket.description),
            "labels": ["metahub", ticket.label],
            "priority": {"name": ticket.priority},
        }

    def create(self, ticket: Ticket) -> str:
        fields = {"project": {"key": self.settings.project}, "issuetype": {"name": self.settings.issue_type},
                  **self.fields(ticket)}  # fmt: skip
        return str(self.call("POST", "/rest/api/3/issue", {"fields": fields})["key"])

    def update(self, reference: str, ticket: Ticket) -> None:
        self.call("PUT", f"/rest/api/3/issue/{reference}", {"fields": self.fields(ticket)})

    def close_fixed(self, fixed_labels: Mapping[str, str], outcome: Outcome) -> None:
        """Comment on each open ticket of a resource now fixed, label it ``metahub-fixed`` (so it
        is said once), and move it by ``JIRA_DONE_TRANSITION`` when one is set."""
        labels = list(fixed_labels)
        for start in range(0, len(labels), 50):
            quoted = ", ".join(f'"{label}"' for label in labels[start : start + 50])
            jql = (f"project = \"{self.settings.project}\" AND labels IN ({quoted}) "
                   'AND labels NOT IN ("metahub-fixed")')  # fmt: skip
            try:
                page = self.call("POST", "/rest/api/3/search/jql", {"jql": jql, "fields": ["labels"], "maxResults": 100})
            except TicketError as exc:
                outcome.unsent.append({"key": "(fixed resources)", "reason": f"not looked for: {exc}"})
                return
            for issue in page.get("issues", []):
                key = issue["key"]
                try:
                    text = "metahub: no failed finding on this resource any more; it is fixed as far as the scanners say."
                    self.call("POST", f"/rest/api/3/issue/{key}/comment", {"body": _document([text])})
                    self.call("PUT", f"/rest/api/3/issue/{key}", {"update": {"labels": [{"add": "metahub-fixed"}]}})
                    if self.settings.done_transition:
                        self.call("POST", f"/rest/api/3/issue/{key}/transitions",
                                  {"transition": {"id": self.settings.done_transition}})  # fmt: skip
                    outcome.fixed.append(key)
                except TicketError as exc:
                    outcome.unsent.append({"key": key, "reason": f"fixed, but not said: {exc}"})


@dataclass
class ServiceNowSettings:
    url: str
    user: str
    password: str
    table: str = "incident"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceNowSettings:
        """``SERVICENOW_URL``, ``SERVICENOW_USER``, ``SERVICENOW_PASSWORD`` (``SERVICENOW_TABLE``: incident)."""
        url, user, password = _required(env, ("SERVICENOW_URL", "SERVICENOW_USER", "SERVICENOW_PASSWORD"), "servicenow")
        return cls(url, user, password, env.get("SERVICENOW_TABLE") or "incident")


URGENCY = {"Highest": "1", "High": "1", "Medium": "2", "Low": "3", "Lowest": "3"}
"""ServiceNow's urgency (1 High, 2 Medium, 3 Low) by the ticket's priority."""


class ServiceNow(Tracker):
    """ServiceNow's Table API: records of a table (``incident`` by default) found again by their
    ``correlation_id`` (the field ServiceNow keeps for the id an integration gives its records),
    created with POST, updated with PATCH."""

    name = "ServiceNow"

    def __init__(self, settings: ServiceNowSettings, sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0):
        super().__init__(settings.url, settings.user, settings.password, sleep, timeout)
        self.table = settings.table

    def existing(self, labels: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(labels), 50):
            query = urllib.parse.quote(f"correlation_idIN{','.join(labels[start : start + 50])}")
            page = self.call("GET", f"/api/now/table/{self.table}?sysparm_query={query}"
                                    "&sysparm_fields=sys_id,number,correlation_id&sysparm_limit=100")  # fmt: skip
            for record in page.get("result", []):
                found.setdefault(record["correlation_id"], record["sys_id"])
        return found

    def fields(self, ticket: Ticket) -> dict[str, Any]:
        return {"short_description": ticket.summary[:160], "description": "\n\n".join(ticket.description),
                "correlation_id": ticket.label, "correlation_display": "metahub", "urgency": URGENCY[ticket.priority]}  # fmt: skip

    def create(self, ticket: Ticket) -> str:
        return str(self.call("POST", f"/api/now/table/{self.table}", self.fields(ticket))["result"]["number"])

    def update(self, reference: str, ticket: Ticket) -> None:
        self.call("PATCH", f"/api/now/table/{self.table}/{reference}", self.fields(ticket))


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
