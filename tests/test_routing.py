"""Owners: who each resource goes to, by a routing file's rules in their order, and why, in every
output."""

from __future__ import annotations

import csv
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.detection import RoutingError, load_routing, owner

from .conftest import make_finding, metahub_cli

ROUTING = """\
owners:
  tag_keys: [Team, Owner]
  creator: true
  accounts: {"123456789012": platform-team}
  fallback: security@example.com
"""


def _resource(tags: dict[str, str] | None = None, trails: dict[str, Any] | None = None, account: str = "123456789012") -> Any:
    finding = make_finding("f-1", arn="arn:aws:s3:::bucket", AwsAccountId=account)
    finding["Resources"][0]["Tags"] = tags or {}
    [resource] = metahub.Run.from_findings([finding]).resources.values()
    resource.metatrails = trails
    return resource


@pytest.mark.parametrize(
    ("tags", "trails", "account", "expected"),
    [
        ({"Owner": "web-team", "Team": "payments"}, None, "123456789012", ("payments", "tag Team")),  # tag_keys in order
        ({}, {"CreateBucket": {"Username": "alice", "EventTime": "2026-11-02T10:00:00+00:00"}}, "123456789012",
         ("alice", "CloudTrail: CreateBucket by alice on 2026-11-02T10:00:00+00:00")),
        ({}, {"CreateBucket": {"Username": None}}, "123456789012", ("platform-team", "account 123456789012's default")),
        ({}, None, "111122223333", ("security@example.com", "the fallback")),
    ],
)
def test_the_first_rule_that_names_an_owner_wins_and_says_so(
    tmp_path: Path, tags: dict[str, str], trails: Any, account: str, expected: tuple[str, str]
) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING)
    rules = load_routing(path)
    found = owner(_resource(tags, trails, account), rules["owner"])
    assert found is not None and (found["value"], found["source"]) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("owners:\n  tag_keys: [Team]\n  fallbak: sec@example.com\n", ":3: owners.fallbak: unknown key"),
        ("owners:\n  tag_keys: Team\n", ":2: owners.tag_keys: expected a list of tag keys"),
        ("owners:\n  creator: maybe\n", ":2: owners.creator: expected bool"),
        ("owners:\n  tag_keys: [Team\n", ":3: not valid YAML"),
        ("notify: {}\n", ":1: the file: expected an 'owners:' mapping"),
        ("owners: {}\ntickets:\n  jira:\n    customfield_1: '{ownr}'\n", ":4: tickets.jira.customfield_1: {ownr} is not a ticket value"),
        ("owners: {}\ntickets:\n  jira:\n    x: '{owner.__class__}'\n", ":4: tickets.jira.x: {owner.__class__} is not a ticket value"),
        ("owners: {}\ntickets:\n  servicenow:\n    y: [a, '{owner']\n", ":4: tickets.servicenow.y: expected '}'"),
        ("owners: {}\ntickets:\n  github: {}\n", ":2: tickets: expected 'link' and the fields of jira and servicenow"),
    ],
)
def test_a_bad_routing_file_names_its_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    with pytest.raises(RoutingError) as caught:
        load_routing(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value), caught.value


def test_ticket_fields_are_kept_with_their_lines(tmp_path: Path) -> None:
    from metahub.detection import TICKET_VALUES
    from metahub.tickets import build

    path = tmp_path / "routing.yaml"
    path.write_text("owners: {fallback: sec@example.com}\ntickets:\n  link: https://wiki.example.com/r.html\n  jira:\n"
                    "    Team: '{owner}'\n    components: [{name: 'Cloud {account}'}]\n    labels: [cloud]\n")  # fmt: skip
    tickets = load_routing(path)["tickets"]
    assert tickets["link"] == "https://wiki.example.com/r.html"
    assert tickets["places"]["jira"]["components"] == f"{path}:6: tickets.jira.components"
    from metahub.detection import detect

    resource = _resource()
    resource.detected = detect(resource, load_routing(path))
    [ticket] = build({resource.arn: resource}, link=tickets["link"])
    assert set(ticket.values) == set(TICKET_VALUES)  # every value the routing file may name is filled
    assert ticket.fields(tickets["jira"]) == {"Team": "sec@example.com", "components": [{"name": "Cloud 123456789012"}],
                                              "labels": ["cloud"]}  # fmt: skip
    assert "Report: https://wiki.example.com/r.html" in ticket.description


def test_owners_land_in_every_output(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(textwrap.dedent(ROUTING))
    result = metahub_cli("--demo", "--context", "tags", "--routing", str(routing), "--output-modes", "csv", "sqlite",
                         "html", "json-full", "--output-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    [table] = tmp_path.glob("metahub-*.csv")
    rows = list(csv.DictReader(table.open(encoding="utf-8-sig")))
    owners = {(r["ResourceArn"], r["Owner"], r["OwnerSource"]) for r in rows}
    assert ("arn:aws:s3:::public-assets-eu-west-1-0", "web-team", "tag Owner") in owners
    assert ("arn:aws:s3:::private-data-eu-west-1-0", "platform-team", "account 123456789012's default") in owners
    [database] = tmp_path.glob("metahub-*.sqlite")
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT owner, owner_source FROM resources WHERE arn = ?",
                          ("arn:aws:s3:::public-assets-eu-west-1-0",)).fetchone() == ("web-team", "tag Owner")  # fmt: skip
    [report] = tmp_path.glob("metahub-*.html")
    assert '"owners":true' in report.read_text().replace(" ", "")
    bad = tmp_path / "bad.yaml"
    bad.write_text("owners:\n  tag_key: [Team]\n")
    refused = metahub_cli("--demo", "--routing", str(bad), "--output-dir", str(tmp_path / "never"))
    assert refused.returncode == 2 and f"{bad}:2: owners.tag_key: unknown key" in refused.stderr
