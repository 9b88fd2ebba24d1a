"""Traits (issue 14, part 2): what failed findings say of a resource, confirmed or refuted by context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.impact import impact, load_config
from metahub.traits import TraitRulesError, load_rules, traits

from .conftest import make_finding, write

RULES = load_rules()


def resource(status: str = "FAILED", checks: dict[str, Any] | None = None, **finding: Any) -> Any:
    found = next(
        iter(
            metahub.Run.from_findings(
                [make_finding(Compliance={"Status": status}, **finding)]
            ).resources.values()
        )
    )
    found.metachecks = checks
    found.evidence = {"is_public": "no public IPv4 address and no global IPv6 address"} if checks else {}
    return found


REACH = {"GeneratorId": "prowler-ec2_instance_port_ssh_exposed_to_internet"}


@pytest.mark.parametrize(
    ("finding", "status", "checks", "expected"),
    [
        (REACH, "FAILED", None, {"reachability": "claimed"}),
        (REACH, "PASSED", None, {}),  # a passed check says nothing is wrong
        (REACH, "FAILED", {"is_public": {"reachable": ["tcp/22"]}}, {"reachability": "confirmed"}),
        (REACH, "FAILED", {"is_public": False}, {"reachability": "refuted"}),
        (
            REACH,
            "FAILED",
            {"is_public": None},
            {"reachability": "claimed"},
        ),  # unknown neither confirms nor refutes
        (
            {"ProductName": "Macie", "Types": ["Sensitive Data Identifications/PII"]},
            "FAILED",
            None,
            {"sensitive-data": "claimed"},
        ),
        ({"ProductName": "GuardDuty", "Types": ["TTPs/Discovery"]}, "FAILED", None, {"threat": "claimed"}),
        # ASFF's type "Network Reachability" is a category: Prowler files checks that say nothing of
        # reachability there; Inspector's type says the port is reachable.
        (
            {"GeneratorId": "prowler-rds_instance_inside_vpc",
             "Types": ["Software and Configuration Checks/AWS Security Best Practices/Network Reachability"]},
            "FAILED", None, {},
        ),
        (
            {"GeneratorId": "prowler-ec2_instance_uses_single_eni",
             "Types": ["Software and Configuration Checks/AWS Security Best Practices/Network Reachability"]},
            "FAILED", None, {},
        ),
        (
            {"ProductName": "Inspector", "Types": [
                "Software and Configuration Checks/AWS Security Best Practices/Network Reachability - "
                "Recognized port reachable from internet"]},
            "FAILED", None, {"reachability": "claimed"},
        ),
        (
            {"Types": ["Effects/Data Exposure", "TTPs/Initial Access"]},
            "FAILED",
            None,
            {},
        ),  # how Prowler files misconfigurations
        (
            {"ProductName": "Inspector", "Title": "CVE-2024-6387 - openssh"},
            "FAILED",
            None,
            {"vulnerability": "claimed"},
        ),
    ],
)
def test_traits(
    finding: dict[str, Any], status: str, checks: dict[str, Any] | None, expected: dict[str, str]
) -> None:
    found = traits(resource(status, checks, **finding), RULES)
    assert {name: t["status"] for name, t in found.items()} == expected
    if expected.get("reachability") == "refuted":
        assert (
            found["reachability"]["why"]
            == "claimed by the findings, refuted: no public IPv4 address and no global IPv6 address"
        )


def test_claimed_reachability_scores_exposure_without_aws() -> None:
    r = resource(checks=None, **REACH)
    r.traits = traits(r, RULES)
    result = impact(r, load_config())
    assert result["properties"]["exposure"]["value"] == "effectively-public"
    assert "not confirmed" in result["properties"]["exposure"]["evidence"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"generator": ["x"]}], "needs 'trait'"),
        ([{"trait": "t"}], "matches nothing"),
        ([{"trait": "t", "title": "CVE-*"}], "'title' is a list of patterns"),
        ("[", "not JSON"),
    ],
)
def test_rule_files_are_checked(tmp_path: Path, rules: Any, message: str) -> None:
    path = tmp_path / "traits.json"
    path.write_text(rules) if isinstance(rules, str) else write(path, rules)
    with pytest.raises(TraitRulesError, match=message):
        load_rules([path])
