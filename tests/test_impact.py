"""Impact (issue 14, part 1): MetaHub's properties from metahub's own checks, MetaHub's formula."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.filters import FilterError, Filters
from metahub.impact import ImpactConfigError, impact, load_config, properties
from metahub.models import AffectedResource
from metahub.ranking import priority

from .conftest import make_finding, metahub_cli, write

CONFIG = load_config()


def resource(
    type_: str = "AwsEc2Instance",
    *,
    severities: tuple[str, ...] = ("HIGH",),
    checks: Any = None,
    evidence: dict[str, str] | None = None,
    unknown: dict[str, str] | None = None,
    detected: dict[str, Any] | None = None,
    passed: tuple[str, ...] = (),
) -> AffectedResource:
    findings = [make_finding(f"f-{i}", Severity={"Label": s}) for i, s in enumerate(severities)]
    findings += [
        make_finding(f"p-{i}", Severity={"Label": s}, Compliance={"Status": "PASSED"})
        for i, s in enumerate(passed)
    ]
    for f in findings:
        f["Resources"][0]["Type"] = type_
    found = next(iter(metahub.Run.from_findings(findings).resources.values()))
    found.metachecks = checks
    found.evidence = evidence or {}
    found.unknown = unknown or {}
    found.detected = detected
    return found


DETECTED = {
    "environment": {"value": "production", "source": "tag Environment=prod"},
    "owner": None,
    "application": None,
}


@pytest.mark.parametrize(
    ("type_", "checks", "evidence", "expected"),
    [
        ("AwsEc2Instance", {"is_public": {"reachable": ["tcp/22 ..."]}}, {}, "effectively-public"),
        ("AwsEc2LaunchTemplate", {"is_public": {"open_ingress": ["tcp/22"]}}, {}, "launch-public"),
        (
            "AwsEc2Instance",
            {"is_public": False, "it_has_public_ip": "54.1.1.1"},
            {"is_public": "ACL blocks it"},
            "restricted-public",
        ),
        (
            "AwsEc2SecurityGroup",
            {"is_public": False, "its_associated_with_security_group_rules_ingress_unrestricted": ["tcp/22"]},
            {},
            "unrestricted-private",
        ),
        (
            "AwsS3Bucket",
            {"is_public": False, "it_has_bucket_policy_public": [{"statement": "1"}]},
            {},
            "unrestricted-private",
        ),
        ("AwsEc2Instance", {"is_public": False}, {"is_public": "no public address"}, "restricted"),
        ("AwsEc2Instance", {"is_public": None}, {}, None),
        ("AwsIamPolicy", {"is_public": None}, {"is_public": "does not apply to AwsIamPolicy"}, None),
    ],
)
def test_exposure(type_: str, checks: dict[str, Any], evidence: dict[str, str], expected: str | None) -> None:
    found = properties(resource(type_, checks=checks, evidence=evidence, detected=DETECTED))["exposure"]
    assert found.value == expected and found.evidence


@pytest.mark.parametrize(
    ("type_", "checks", "expected"),
    [
        ("AwsIamRole", {"is_unrestricted": {"granted_by": ["p"]}}, "unrestricted"),
        (
            "AwsS3Bucket",
            {"is_unrestricted": False, "its_shared_with_external_principals": ["anyone (public)"]},
            "unrestricted-principal",
        ),
        (
            "AwsIamUser",
            {"is_unrestricted": False, "it_has_privilege_escalation_actions": ["iam:PassRole (p)"]},
            "dangerous-actions",
        ),
        (
            "AwsKmsKey",
            {
                "is_unrestricted": False,
                "its_shared_with_external_principals": ["arn:aws:iam::999988887777:root"],
            },
            "cross-account-principal",
        ),
        ("AwsSqsQueue", {"is_unrestricted": False, "its_shared_with_external_principals": []}, "restricted"),
        (
            "AwsEc2NetworkAcl",
            {"is_unrestricted": [{"RuleNumber": 100}]},
            None,
        ),  # a network rule is exposure, not access
        ("AwsIamRole", {"is_unrestricted": None}, None),
    ],
)
def test_access(type_: str, checks: dict[str, Any], expected: str | None) -> None:
    assert properties(resource(type_, checks=checks, detected=DETECTED))["access"].value == expected


def test_encryption_status_environment_owner() -> None:
    found = properties(
        resource(checks={"is_encrypted": False, "is_running": False, "is_attached": True}, detected=DETECTED)
    )
    assert found["encryption"].value == "unencrypted"
    assert found["status"].value == "not-running"  # running decides before attached
    assert found["environment"].value == "production" and found["owner"].value == "unidentified"
    bare = properties(resource(checks=None))
    assert all(p.value is None for p in bare.values())  # no context: nothing decided, nothing guessed


@pytest.mark.parametrize(
    ("severities", "passed", "expected"),
    [
        (("CRITICAL",), (), 1.0),
        (("HIGH",), (), 0.75),
        (("HIGH", "HIGH"), (), 1.0),
        (("MEDIUM",), ("CRITICAL",), 0.25),
        (("LOW",), (), 0.125),
        (("INFORMATIONAL",), (), 0.0),
    ],
)
def test_findings_score_counts_failed_findings_only(
    severities: tuple[str, ...], passed: tuple[str, ...], expected: float
) -> None:
    assert (
        impact(resource(severities=severities, passed=passed, checks=None), CONFIG)["findings_score"]
        == expected
    )


def test_metahubs_formula() -> None:
    checks = {"is_public": {"reachable": ["x"]}, "is_encrypted": True, "is_running": True}
    found = impact(resource(severities=("HIGH",), checks=checks, detected=DETECTED), CONFIG)
    # exposure 25x1, encryption 10x0, status 20x1, environment 15x1 (access n/a; owner, application weight 0)
    assert found["context_score"] == round((25 + 0 + 20 + 15) / (25 + 10 + 20 + 15 + 0 + 0), 4)
    assert found["score"] == round(0.75 * 60 / 70 * 100, 2) == 64.29
    assert set(found["left_out"]) == {"access"}
    quiet = impact(
        resource(
            severities=("HIGH",),
            checks={"is_public": False, "is_encrypted": True},
            evidence={"is_public": "x"},
            detected=None,
        ),
        CONFIG,
    )
    assert (
        quiet["context_score"] == 0 and quiet["score"] == 7.5
    )  # MetaHub: a context score of 0 counts as 0.1
    alone = impact(resource(severities=("CRITICAL",), checks=None), CONFIG)
    assert alone["context_score"] is None and alone["score"] == 100  # no context: the findings alone


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exposur:\n  weight: 1\n  values: []\n", "unknown property 'exposur'; did you mean exposure?"),
        ("exposure:\n  weight: -1\n  values: []\n", "exposure.weight: -1 is not a number of 0 or more"),
        (
            "exposure:\n  weight: 1\n  values:\n    - public:\n        score: 1\n",
            "metahub never gives exposure the value 'public'",
        ),
        (
            "exposure:\n  weight: 1\n  values:\n    - restricted:\n        score: 2\n",
            "exposure.restricted.score: 2 is not a number from 0 to 1",
        ),
        ("exposure: [\n", "while parsing"),
        ("", "expected properties"),
    ],
)
def test_config_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "impact.yaml"
    path.write_text(text)
    with pytest.raises(ImpactConfigError, match=str(path)) as error:
        load_config(path)
    assert message in str(error.value)


def test_impact_filters() -> None:
    filters = Filters.parse(impact=["exposure=effectively-public,restricted-public", "score>=50"])
    assert (
        filters.impact == {"exposure": {"effectively-public", "restricted-public"}} and filters.needs_context
    )
    public = resource(checks={"is_public": {"reachable": ["x"]}}, detected=DETECTED)
    public.impact = impact(public, CONFIG)
    private = resource(checks={"is_public": False}, evidence={"is_public": "x"}, detected=DETECTED)
    private.impact = impact(private, CONFIG)
    assert filters.keeps_resource(public) and not filters.keeps_resource(private)
    assert not Filters.parse(impact=["score<10"]).keeps_resource(public)
    for bad, message in [
        ("exposure>=1", "takes =, not >="),
        ("exposure=public", "did you mean"),
        ("scor>=1", "did you mean score"),
        ("score>=high", "not a number"),
    ]:
        with pytest.raises(FilterError, match=message):
            Filters.parse(impact=[bad])


def test_command_line_filters_and_orders_by_impact(tmp_path: Path) -> None:
    findings = [
        make_finding("low", arn="arn:aws:s3:::low", Severity={"Label": "LOW"}),
        make_finding("high", arn="arn:aws:s3:::high", Severity={"Label": "HIGH"}),
        make_finding("medium", arn="arn:aws:s3:::medium", Severity={"Label": "MEDIUM"}),
    ]
    source = write(tmp_path / "in.json", findings)
    out = tmp_path / "out"
    result = metahub_cli(
        "--input-asff",
        str(source),
        "--output-modes",
        "json-short",
        "csv",
        "sqlite",
        "--output-dir",
        str(out),
        "--mh-filters-impact",
        "score>=20",
    )
    assert result.returncode == 0, result.stderr
    (short,) = out.glob("metahub-short-*.json")
    document = json.loads(short.read_text())
    assert list(document) == ["arn:aws:s3:::high", "arn:aws:s3:::medium"]  # by impact, low filtered out
    assert document["arn:aws:s3:::high"]["impact"]["score"] == {"75.0": {}}  # MetaHub's shape
    assert document["arn:aws:s3:::high"]["impact_score"] == 75.0
    (csv_path,) = out.glob("*.csv")
    header = csv_path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert "ResourceImpactScore" in header and "Impact:exposure" in header
    (db,) = out.glob("*.sqlite")
    with sqlite3.connect(db) as connection:
        assert dict(connection.execute("SELECT arn, impact_score FROM resources")) == {
            "arn:aws:s3:::high": 75.0,
            "arn:aws:s3:::medium": 25.0,
        }
    bad = tmp_path / "bad.yaml"
    bad.write_text("exposure:\n  weight: x\n  values: []\n")
    result = metahub_cli("--input-asff", str(source), "--impact-config", str(bad), "--output-dir", str(out))
    assert result.returncode == 2 and f"{bad}: exposure.weight: 'x' is not a number" in result.stderr


def test_lab_public_instances_are_effectively_public(enriched_lab: metahub.Run) -> None:
    instances = [r for r in enriched_lab.resources.values() if r.type == "AwsEc2Instance"]
    for instance in instances:
        assert instance.impact is not None
        exposure = instance.impact["properties"]["exposure"]["value"]
        assert exposure == ("effectively-public" if instance.metachecks["is_public"] else "restricted")
    # The ranking rule (metahub/ranking.py) puts impact last but one: among resources equal by
    # every criterion before it, the higher score comes first.
    ranked = list(enriched_lab.by_impact().values())
    for before, after in itertools.pairwise(ranked):
        if priority(before)[:-2] == priority(after)[:-2]:
            assert before.impact["score"] >= after.impact["score"]


def test_run_filter_by_impact_in_a_notebook() -> None:
    run = metahub.Run.from_findings(
        [
            make_finding("a", arn="arn:aws:s3:::a", Severity={"Label": "CRITICAL"}),
            make_finding("b", arn="arn:aws:s3:::b", Severity={"Label": "LOW"}),
        ]
    )
    assert list(run.filter(impact=["score>=50"]).resources) == ["arn:aws:s3:::a"]  # scored on demand
