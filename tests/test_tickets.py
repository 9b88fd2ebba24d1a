"""Tickets with context, one per problem: built from the lab, written to files, and sent to a local
server that implements the documented request and response shapes of Jira Cloud's REST API v3
(POST /rest/api/3/search/jql, POST /rest/api/3/issue, PUT /rest/api/3/issue/{key}, 429 with
Retry-After, Basic auth with an email and an API token)."""

from __future__ import annotations

import base64
import csv
import json
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.tickets import Jira, JiraSettings, ServiceNow, ServiceNowSettings, TicketError, build

from . import local_http
from .conftest import metahub_cli

EMAIL, TOKEN = "sec@example.com", "api-token-not-logged"
FIELDS = [  # GET /rest/api/3/field: system fields and custom ones, each with id, key, name, custom
    *({"id": name, "key": name, "name": name.title(), "custom": False} for name in
      ("summary", "description", "labels", "priority", "project", "issuetype", "components")),
    {"id": "customfield_10050", "key": "customfield_10050", "name": "Team", "custom": True},
    {"id": "customfield_10060", "key": "customfield_10060", "name": "Cloud account", "custom": True},
    {"id": "customfield_10061", "key": "customfield_10061", "name": "Cloud account", "custom": True},
]  # fmt: skip


class JiraServer:
    def __init__(self, throttle: int = 0, fail_creates_after: int | None = None) -> None:
        self.issues: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.throttle, self.fail_creates_after = throttle, fail_creates_after

    def answer(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, dict[str, str], Any]:
        self.requests.append((method, path, body))
        if auth != "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode():
            return 401, {}, {"errorMessages": ["Client must be authenticated to access this resource."]}
        if self.throttle:
            self.throttle -= 1
            return 429, {"Retry-After": "1"}, {"errorMessages": ["Rate limit exceeded."]}
        if (method, path) == ("GET", "/rest/api/3/field"):
            return 200, {}, FIELDS
        if (method, path) == ("POST", "/rest/api/3/search/jql"):
            wanted = re.search(r"labels IN \(([^)]*)\)", body["jql"])[1].replace('"', "").split(", ")  # type: ignore[index]
            unwanted = re.search(r"labels NOT IN \(([^)]*)\)", body["jql"])
            excluded = set(unwanted[1].replace('"', "").split(", ")) if unwanted else set()
            issues = [{"id": i["id"], "key": key, "fields": {"labels": i["fields"]["labels"]}}
                      for key, i in self.issues.items()
                      if set(i["fields"]["labels"]) & set(wanted) and not set(i["fields"]["labels"]) & excluded]  # fmt: skip
            return 200, {}, {"issues": issues}
        if method == "POST" and path.endswith("/comment"):
            self.issues[path.split("/")[-2]].setdefault("comments", []).append(body["body"])
            return 201, {}, {"id": "1"}
        if method == "POST" and path.endswith("/transitions"):
            self.issues[path.split("/")[-2]]["transitioned"] = body["transition"]["id"]
            return 204, {}, None
        if method == "PUT" and "update" in (body or {}):
            labels = self.issues[path.rsplit("/", 1)[1]]["fields"]["labels"]
            labels.extend(change["add"] for change in body["update"]["labels"])
            return 204, {}, None
        if (method, path) == ("POST", "/rest/api/3/issue"):
            if self.fail_creates_after is not None and len(self.issues) >= self.fail_creates_after:
                return 400, {}, {"errors": {"priority": "Priority name 'Highest' is not valid."}}
            key = f"SEC-{len(self.issues) + 1}"
            self.issues[key] = {"id": str(10000 + len(self.issues)), "fields": body["fields"]}
            return 201, {}, {"id": self.issues[key]["id"], "key": key, "self": f"/rest/api/3/issue/{key}"}
        if method == "PUT" and path.startswith("/rest/api/3/issue/"):
            key = path.rsplit("/", 1)[1]
            self.issues[key]["fields"].update(body["fields"])
            return 204, {}, None
        return 404, {}, {"errorMessages": [f"{method} {path}"]}


def serving(jira: JiraServer) -> Any:
    def http(method: str, path: str, headers: Mapping[str, str], raw: bytes) -> local_http.Answer:
        status, sent, answer = jira.answer(method, path, json.loads(raw) if raw else None, headers.get("Authorization"))
        return status, {**sent, "Content-Type": "application/json"}, b"" if answer is None else json.dumps(answer).encode()

    return local_http.serving(http)


def _env(url: str) -> dict[str, str]:
    return {"JIRA_URL": url, "JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN, "JIRA_PROJECT": "SEC"}


def test_one_ticket_per_resource_with_its_context(enriched_lab: metahub.Run) -> None:
    made = build(enriched_lab.by_impact())
    failing = [r for r in enriched_lab.resources.values() if any(f.outcome == "FAILED" for f in r.findings)]
    assert len(made) == len(failing) and len({t.label for t in made}) == len(made)
    first = made[0]
    resource = enriched_lab.resources[first.key]
    text = "\n\n".join(first.description)
    assert resource.arn in text and "is_public:" in text and f"impact score {resource.impact['score']}" in text
    assert set(first.findings) == {f.Id for f in resource.findings if f.outcome == "FAILED"}
    assert first.summary.startswith("[metahub] ") and len(first.summary) <= 255
    by_check = build(enriched_lab.by_impact(), "check")
    assert {t.key for t in by_check} == {f.GeneratorId for r in failing for f in r.findings if f.outcome == "FAILED"}


def test_a_second_run_updates_the_tickets_it_made_and_creates_none(enriched_lab: metahub.Run) -> None:
    made = build(dict(list(enriched_lab.by_impact().items())[:12]))
    jira = JiraServer(throttle=1)
    waits: list[float] = []
    with serving(jira) as url:
        first = Jira(JiraSettings.from_env(_env(url)), sleep=waits.append).send(made)
        second = Jira(JiraSettings.from_env(_env(url)), sleep=waits.append).send(made)
    assert first.describe() == f"0 updated, {len(made)} created" and waits == [1.0]  # Retry-After honoured
    assert second.describe() == f"{len(made)} updated, 0 created"
    assert len(jira.issues) == len(made)
    issue = jira.issues["SEC-1"]["fields"]
    assert issue["project"] == {"key": "SEC"} and issue["issuetype"] == {"name": "Task"}
    assert issue["description"]["type"] == "doc" and made[0].label in issue["labels"]


def test_tickets_that_cannot_be_sent_are_kept_with_why(enriched_lab: metahub.Run) -> None:
    made = build(dict(list(enriched_lab.by_impact().items())[:3]))
    with serving(JiraServer(fail_creates_after=1)) as url:
        outcome = Jira(JiraSettings.from_env(_env(url))).send(made)
    assert len(outcome.created) == 1 and len(outcome.unsent) == 2
    assert "HTTP 400" in outcome.unsent[0]["reason"] and outcome.unsent[0]["label"] == made[1].label
    unreachable = Jira(JiraSettings.from_env(_env("http://127.0.0.1:9"))).send(made)
    assert len(unreachable.unsent) == 3 and "unreachable" in unreachable.unsent[0]["reason"]


def test_missing_jira_settings_are_named() -> None:
    with pytest.raises(TicketError, match="JIRA_API_TOKEN, JIRA_PROJECT"):
        JiraSettings.from_env({"JIRA_URL": "https://x.atlassian.net", "JIRA_EMAIL": EMAIL})


def test_the_command_line_plans_then_sends_and_never_logs_the_token(tmp_path: Path) -> None:
    planned = metahub_cli("--demo", "--tickets", "file", "--output-modes", "html", "--output-dir", str(tmp_path))
    assert planned.returncode == 0, planned.stderr
    [report] = tmp_path.glob("metahub-*.html")
    [made] = tmp_path.glob("metahub-tickets-*.json")
    assert all(f"Report: {report.name} (this run's HTML report)" in t["description"] for t in json.loads(made.read_text()))
    [listing] = tmp_path.glob("metahub-tickets-*.csv")
    rows = list(csv.DictReader(listing.open(encoding="utf-8")))
    assert rows and rows[0]["Summary"].startswith("[metahub] ") and rows[0]["Priority"] in ("Highest", "High")
    jira = JiraServer()
    with serving(jira) as url:
        dry = metahub_cli("--demo", "--tickets", "jira", "--output-modes", "--output-dir", str(tmp_path), env=_env(url))
        assert dry.returncode == 0 and "dry run, nothing sent to Jira" in dry.stderr and jira.requests == []
        sent = metahub_cli("--demo", "--tickets", "jira", "--tickets-apply", "--output-modes", "--output-dir",
                           str(tmp_path), env=_env(url))  # fmt: skip
        again = metahub_cli("--demo", "--tickets", "jira", "--tickets-apply", "--output-modes", "--output-dir",
                            str(tmp_path), env=_env(url))  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert f"Jira: 0 updated, {len(rows)} created" in sent.stderr
    assert f"Jira: {len(rows)} updated, 0 created" in again.stderr
    assert TOKEN not in sent.stderr + again.stderr + dry.stderr
    down = metahub_cli("--demo", "--tickets", "jira", "--tickets-apply", "--output-modes", "--output-dir",
                       str(tmp_path), env=_env("http://127.0.0.1:9"))  # fmt: skip
    assert down.returncode == 3 and "not sent" in down.stderr
    [unsent] = tmp_path.glob("metahub-tickets-unsent-*.json")
    assert len(json.loads(unsent.read_text())) == len(rows)
    missing = metahub_cli("--demo", "--tickets", "jira", "--tickets-apply", "--output-dir", str(tmp_path / "never"))
    assert missing.returncode == 2 and "needs JIRA_URL" in missing.stderr and not (tmp_path / "never").exists()


COLUMNS = {"sys_id", "number", "short_description", "description", "urgency", "correlation_id", "correlation_display",
           "assignment_group", "category", "state", "close_code", "close_notes", "work_notes"}  # fmt: skip
"""The incident table's columns here: the Table API ignores a field the table does not have."""


class ServiceNowServer:
    """The Table API's documented shapes: GET with sysparm_query (``fieldINa,b``, ``^`` for AND,
    ``!=``), sysparm_fields and sysparm_limit; POST (201), PATCH, {"result": ...}."""

    def __init__(self, throttle: int = 0) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.throttle = throttle

    @staticmethod
    def _matches(record: dict[str, Any], query: str) -> bool:
        for term in query.split("^"):
            if "IN" in term and "!=" not in term:
                field, values = term.split("IN", 1)
                if record.get(field) not in values.split(","):
                    return False
            elif "!=" in term:
                field, value = term.split("!=", 1)
                if record.get(field) == value:
                    return False
        return True

    def http(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> local_http.Answer:
        if headers.get("Authorization") != "Basic " + base64.b64encode(b"metahub:pw").decode():
            return 401, {}, b'{"error": {"message": "User Not Authenticated"}}'
        if self.throttle:
            self.throttle -= 1
            return 429, {"Retry-After": "2"}, b'{"error": {"message": "Rate limit exceeded"}}'
        base, _, query = path.partition("?")
        if method == "GET" and base == "/api/now/table/incident":
            params = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
            found = [r for r in self.records.values() if self._matches(r, params.get("sysparm_query", ""))]
            found = found[: int(params.get("sysparm_limit", 10000))]
            wanted = params.get("sysparm_fields")
            if wanted:
                found = [{k: r.get(k, "") for k in wanted.split(",") if k in COLUMNS} for r in found]
            return 200, {}, json.dumps({"result": found}).encode()
        if method == "POST" and base == "/api/now/table/incident":
            sys_id = f"{len(self.records) + 1:032x}"
            kept = {k: v for k, v in json.loads(raw).items() if k in COLUMNS}
            self.records[sys_id] = {**kept, "sys_id": sys_id, "number": f"INC{len(self.records) + 1:07d}"}
            return 201, {}, json.dumps({"result": self.records[sys_id]}).encode()
        if method == "PATCH" and base.startswith("/api/now/table/incident/"):
            record = self.records[base.rsplit("/", 1)[1]]
            record.update({k: v for k, v in json.loads(raw).items() if k in COLUMNS})
            return 200, {}, json.dumps({"result": record}).encode()
        return 400, {}, b'{"error": {"message": "Invalid table"}}'


def test_servicenow_incidents_are_found_again_by_correlation_id(enriched_lab: metahub.Run) -> None:
    made = build(dict(list(enriched_lab.by_impact().items())[:5]))
    server, waits = ServiceNowServer(throttle=1), []
    with local_http.serving(server.http) as url:
        settings = ServiceNowSettings.from_env({"SERVICENOW_URL": url, "SERVICENOW_USER": "metahub", "SERVICENOW_PASSWORD": "pw"})
        first = ServiceNow(settings, sleep=waits.append).send(made)
        second = ServiceNow(settings).send(made)
    assert (first.describe(), second.describe(), waits) == ("0 updated, 5 created", "5 updated, 0 created", [2.0])
    record = next(iter(server.records.values()))
    assert record["correlation_id"] == made[0].label and record["urgency"] in ("1", "2", "3")
    assert len(record["short_description"]) <= 160 and made[0].key in record["description"]


def test_security_hub_tickets_go_through_a_connector_one_finding_each(offline_aws: Any) -> None:
    """CreateTicketV2 takes one finding's metadata.uid and a ClientToken (botocore's model): the
    ticket's label, so a rerun gets the same ticket back."""
    from botocore.stub import Stubber

    from metahub.ocsf import to_asff
    from metahub.securityhub import clients
    from metahub.tickets import SecurityHubTickets

    from .conftest import make_finding
    from .securityhub_v2_endpoint import samples

    run = metahub.Run.from_findings([*(to_asff(f) for f in samples()), make_finding("asff-only", arn="arn:aws:s3:::other")])
    run.score_impact()
    made = build(run.by_impact())
    client = clients(offline_aws)("us-east-1")
    with Stubber(client) as stub:
        for ticket in made:
            if ticket.hub_finding is None:
                continue
            request = {"ConnectorId": "c0ffee00-0000-4000-8000-000000000001", "FindingMetadataUid": ticket.hub_finding[1],
                       "ClientToken": ticket.label}  # fmt: skip
            if ticket.key.endswith("private-data-us-east-1-0"):
                stub.add_client_error("create_ticket_v2", "ConflictException", "connector not active", 409, expected_params=request)
            else:
                stub.add_response("create_ticket_v2", {"TicketId": f"T-{ticket.label}", "TicketSrcUrl": f"https://itsm/{ticket.label}"}, request)
        outcome = SecurityHubTickets(lambda region: client, "c0ffee00-0000-4000-8000-000000000001").send(made)
        stub.assert_no_pending_responses()
    assert len(outcome.created) == 2 and all(url.startswith("https://itsm/metahub-") for url in outcome.created)
    reasons = sorted(u["reason"] for u in outcome.unsent)
    assert len(reasons) == 2 and reasons[0].startswith("no failed finding of the new Security Hub")
    assert "securityhub:CreateTicketV2" in reasons[1] and "ConflictException" in reasons[1]
    # the worst failed v2 finding names the ticket: the exposure finding (Critical) over the control finding (High)
    public = next(t for t in made if t.key.endswith("public-assets-us-east-1-0"))
    assert public.hub_finding == ("us-east-1", "meta-7b1f0c2d5e")


def test_security_hub_tickets_need_a_connector(tmp_path: Path) -> None:
    result = metahub_cli("--demo", "--tickets", "securityhub", "--tickets-apply", "--output-dir", str(tmp_path / "never"))
    assert result.returncode == 2 and "needs --tickets-connector" in result.stderr


def test_a_fixed_resource_s_ticket_is_told_once_and_moved_on(enriched_lab: metahub.Run) -> None:
    from metahub.models import ComplianceInfo
    from metahub.tickets import fixed

    chosen = dict(list(enriched_lab.by_impact().items())[:3])
    made = build(chosen)
    jira = JiraServer()
    with serving(jira) as url:
        settings = JiraSettings.from_env({**_env(url), "JIRA_DONE_TRANSITION": "31"})
        Jira(settings).send(made)
        healed = {arn: r.model_copy() for arn, r in list(chosen.items())[:1]}
        for resource in healed.values():  # the next scan: every finding of the first resource passed
            resource.findings = [f.model_copy(update={"Compliance": ComplianceInfo(Status="PASSED")}) for f in resource.findings]
            for finding in resource.findings:
                finding.__dict__.pop("outcome", None)
                finding.__dict__.pop("unmuted_outcome", None)
        outcome = Jira(settings).send([])
        Jira(settings).close_fixed(fixed(healed), outcome)
        again = Jira(settings).send([])
        Jira(settings).close_fixed(fixed(healed), again)
    assert outcome.fixed == ["SEC-1"] and again.fixed == []  # said once
    issue = jira.issues["SEC-1"]
    assert len(issue["comments"]) == 1 and "metahub-fixed" in issue["fields"]["labels"] and issue["transitioned"] == "31"


def _routing(tmp_path: Path, fields: str) -> dict[str, Any]:
    from metahub.detection import load_routing

    path = tmp_path / "routing.yaml"
    path.write_text(f"owners: {{fallback: sec@example.com}}\ntickets:\n{fields}")
    return load_routing(path)["tickets"]


def _places(section: dict[str, Any], tracker: str) -> dict[str, str]:
    return dict(section["places"][tracker])


def test_jira_custom_fields_by_id_or_name_are_set_and_an_unknown_one_is_named_with_its_line(
    enriched_lab: metahub.Run, tmp_path: Path
) -> None:
    made = build(dict(list(enriched_lab.by_impact().items())[:2]))
    section = _routing(tmp_path, "  jira:\n    Team: '{owner}'\n    components: [{name: Cloud}]\n    labels: [cloud]\n")
    jira = JiraServer()
    with serving(jira) as url:
        outcome = Jira(JiraSettings.from_env(_env(url)), custom=section["jira"], places=_places(section, "jira")).send(made)
    assert outcome.describe() == "0 updated, 2 created"
    fields = jira.issues["SEC-1"]["fields"]
    assert fields["customfield_10050"] == made[0].values["owner"] and fields["components"] == [{"name": "Cloud"}]
    assert fields["labels"] == ["metahub", made[0].label, "cloud"]  # the label that finds it again stays first
    for text, line, why in (("  jira:\n    Team: x\n    customfield_99999: x\n", 5, "Jira has no such field"),
                            ("  jira:\n    Cloud account: '{account}'\n", 4, "several Jira fields have that name")):  # fmt: skip
        section = _routing(tmp_path, text)
        jira = JiraServer()
        with serving(jira) as url:
            refused = Jira(JiraSettings.from_env(_env(url)), custom=section["jira"], places=_places(section, "jira")).send(made)
        assert not jira.issues and len(refused.unsent) == 2  # nothing half-sent, every ticket kept
        assert refused.unsent[0]["reason"].startswith(f"{tmp_path / 'routing.yaml'}:{line}: tickets.jira.") and why in refused.unsent[0]["reason"]


def _servicenow(url: str, **env: str) -> ServiceNowSettings:
    return ServiceNowSettings.from_env({"SERVICENOW_URL": url, "SERVICENOW_USER": "metahub", "SERVICENOW_PASSWORD": "pw", **env})


def test_servicenow_custom_columns_are_set_and_one_the_table_lacks_is_named(enriched_lab: metahub.Run, tmp_path: Path) -> None:
    made = build(dict(list(enriched_lab.by_impact().items())[:3]))
    good = _routing(tmp_path, "  servicenow:\n    assignment_group: '{owner}'\n    category: security\n")
    server = ServiceNowServer()
    with local_http.serving(server.http) as url:
        sent = ServiceNow(_servicenow(url), custom=good["servicenow"], places=_places(good, "servicenow")).send(made)
        assert sent.describe() == "0 updated, 3 created"
        record = next(iter(server.records.values()))
        assert (record["assignment_group"], record["category"]) == (made[0].values["owner"], "security")
        bad = _routing(tmp_path, "  servicenow:\n    category: security\n    u_cloud_account: '{account}'\n")
        refused = ServiceNow(_servicenow(url), custom=bad["servicenow"], places=_places(bad, "servicenow")).send(made)
    # checked against a record of the table before anything is sent
    assert len(refused.unsent) == 3 and not refused.updated and len(server.records) == 3
    assert refused.unsent[0]["reason"] == f"{tmp_path / 'routing.yaml'}:5: tickets.servicenow.u_cloud_account: ServiceNow's incident table has no such column"
    empty = ServiceNowServer()  # no record to look at: the first one created says which columns there are
    with local_http.serving(empty.http) as url:
        first = ServiceNow(_servicenow(url), custom=bad["servicenow"], places=_places(bad, "servicenow")).send(made)
    assert len(empty.records) == 1 and len(first.unsent) == 3
    assert first.unsent[0]["reason"].startswith("created as INC0000001, without that field: ") and "u_cloud_account" in first.unsent[1]["reason"]


def test_a_fixed_resource_s_servicenow_record_is_told_once_and_resolved(enriched_lab: metahub.Run) -> None:
    from metahub.models import ComplianceInfo
    from metahub.tickets import fixed

    chosen = dict(list(enriched_lab.by_impact().items())[:2])
    server = ServiceNowServer()
    with local_http.serving(server.http) as url:
        settings = _servicenow(url, SERVICENOW_DONE_STATE="6")
        ServiceNow(settings).send(build(chosen))
        healed = {arn: r.model_copy() for arn, r in list(chosen.items())[:1]}
        for resource in healed.values():
            resource.findings = [f.model_copy(update={"Compliance": ComplianceInfo(Status="PASSED")}) for f in resource.findings]
            for finding in resource.findings:  # outcome is cached on the finding
                finding.__dict__.pop("outcome", None)
                finding.__dict__.pop("unmuted_outcome", None)
        told, again = ServiceNow(settings).send([]), ServiceNow(settings).send([])
        ServiceNow(settings).close_fixed(fixed(healed), told)
        ServiceNow(settings).close_fixed(fixed(healed), again)
        assert told.fixed == ["INC0000001"] and again.fixed == []  # said once, by the number people know
        record = server.records["00000000000000000000000000000001"]
        assert (record["state"], record["close_code"], record["correlation_display"]) == ("6", "Solution provided", "metahub-fixed")
        assert record["work_notes"].startswith("metahub: no failed finding")
        ServiceNow(settings).send(build(chosen))  # it fails again: the update takes the mark off
        assert record["correlation_display"] == "metahub"


def test_the_routing_file_s_fields_reach_the_tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from metahub.cli.default import tracker

    section = _routing(tmp_path, "  jira: {Team: '{owner}'}\n  servicenow: {category: security}\n")
    for name, value in {**_env("https://jira.example.com"), "SERVICENOW_URL": "https://sn.example.com",
                        "SERVICENOW_USER": "u", "SERVICENOW_PASSWORD": "p"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    jira = tracker(argparse.Namespace(tickets="jira"), None, {"tickets": section})
    servicenow = tracker(argparse.Namespace(tickets="servicenow"), None, {"tickets": section})
    assert isinstance(jira, Jira) and jira.custom == {"Team": "{owner}"} and jira.places["Team"].endswith(":3: tickets.jira.Team")
    assert isinstance(servicenow, ServiceNow) and servicenow.custom == {"category": "security"} and set(servicenow.places) == {"category"}
