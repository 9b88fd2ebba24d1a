"""Toxic combinations (issue 14, part 3): rules as data, the path with its evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.combinations import CombinationRulesError, find, load_rules

from .conftest import make_finding, metahub_cli, write

ACCOUNT = "123456789012"
INSTANCE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/admin"
RULES = load_rules()


def run_with(checks: dict[str, dict[str, Any]], types: dict[str, str]) -> metahub.Run:
    findings = [
        make_finding(f"f-{n}", Resources=[{"Type": types[arn], "Id": arn}]) for n, arn in enumerate(checks)
    ]
    run = metahub.Run.from_findings(findings)
    for arn, values in checks.items():
        run.resources[arn].metachecks = values
    return run


@pytest.mark.parametrize(
    ("instance", "role", "rules"),
    [
        (
            {"is_public": {"reachable": ["tcp/22"]}, "its_associated_with_iam_roles_unrestricted": [ROLE]},
            None,
            ["public-compute-admin-role"],
        ),
        ({"is_public": False, "its_associated_with_iam_roles_unrestricted": [ROLE]}, None, []),  # private: no
        (
            {"is_public": None, "its_associated_with_iam_roles_unrestricted": [ROLE]},
            None,
            [],
        ),  # unknown: no claim
        (
            {
                "is_public": {"reachable": ["x"]},
                "its_associated_with_iam_roles_unrestricted": [],
                "its_associated_with_iam_roles": [ROLE],
            },
            {"is_unrestricted": False, "it_has_privilege_escalation_actions": ["iam:PassRole (p)"]},
            ["public-compute-escalation"],
        ),
        (
            {
                "is_public": {"reachable": ["x"]},
                "its_associated_with_iam_roles_unrestricted": [],
                "its_associated_with_iam_roles": [ROLE],
            },
            None,
            [],
        ),  # escalation needs the role's own checks: without them, no claim
    ],
)
def test_instance_rules(instance: dict[str, Any], role: dict[str, Any] | None, rules: list[str]) -> None:
    checks = {INSTANCE: instance, **({ROLE: role} if role else {})}
    run = run_with(checks, {INSTANCE: "AwsEc2Instance", ROLE: "AwsIamRole"})
    found = find(run.resources, RULES)
    assert [c["rule"] for c in found] == rules
    for combination in found:
        assert [hop["arn"] for hop in combination["path"]] == [INSTANCE, ROLE]
        assert combination["path"][0]["evidence"]["is_public"]  # the evidence at each hop
        assert combination["findings"]  # the failed findings that contributed


def test_role_rules_and_record_shape() -> None:
    role = {
        "is_public": True,
        "is_unrestricted": {"granted_by": ["p"]},
        "its_shared_with_external_principals": ["anyone (public)"],
    }
    run = run_with({ROLE: role}, {ROLE: "AwsIamRole"})
    (combination,) = find(run.resources, RULES)
    assert combination["rule"] == "admin-role-assumable-by-anyone" and combination["severity"] == "CRITICAL"
    assert combination["why"] and combination["path"] == [
        {
            "arn": ROLE,
            "type": "AwsIamRole",
            "evidence": {"is_public": True, "is_unrestricted": {"granted_by": ["p"]}},
        }
    ]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"id": "x"}], "needs 'title'"),
        ([{"id": "x", "title": "t", "severity": "SEVERE", "types": [], "when": {}}], "severity 'SEVERE'"),
        (
            [{"id": "x", "title": "t", "severity": "HIGH", "types": [], "when": {"is_public": "yes"}}],
            "maps check names to true or false",
        ),
        (
            [{"id": "x", "title": "t", "severity": "HIGH", "types": [], "when": {}, "then": {"a": True}}],
            "'then' needs 'via'",
        ),
        ({"rules": "no"}, "expected a list of rules"),
    ],
)
def test_rule_files_are_checked(tmp_path: Path, rules: Any, message: str) -> None:
    path = write(tmp_path / "rules.json", rules)
    with pytest.raises(CombinationRulesError, match=message) as error:
        load_rules([path])
    assert str(path) in str(error.value)


def test_users_add_rules(tmp_path: Path) -> None:
    mine = [
        {
            "id": "public-unencrypted",
            "title": "Public and unencrypted",
            "severity": "MEDIUM",
            "types": ["AwsS3Bucket"],
            "when": {"is_public": True, "is_encrypted": False},
        }
    ]
    bucket = "arn:aws:s3:::b"
    run = run_with(
        {bucket: {"is_public": {"policy_statements": []}, "is_encrypted": False}}, {bucket: "AwsS3Bucket"}
    )
    run.resources[bucket].metachecks["is_public"] = {"policy_statements": [{"statement": "1"}]}
    assert [c["rule"] for c in run.find_combinations([write(tmp_path / "mine.json", mine)])] == [
        "public-unencrypted"
    ]
    assert run.resources[bucket].combinations and "combinations" in run.short()[bucket]


def test_lab_public_instances_with_the_admin_profile(enriched_lab: metahub.Run, tmp_path: Path) -> None:
    public = {
        arn
        for arn, r in enriched_lab.resources.items()
        if r.type == "AwsEc2Instance" and r.metachecks["is_public"]
    }
    private = {arn for arn, r in enriched_lab.resources.items() if r.type == "AwsEc2Instance"} - public
    toxic = {
        c["path"][0]["arn"] for c in enriched_lab.combinations if c["rule"] == "public-compute-admin-role"
    }
    assert toxic == public and len(public) == 4 and not toxic & private
    for combination in enriched_lab.combinations:
        if combination["rule"] == "public-compute-admin-role":
            assert combination["path"][1]["arn"] == f"arn:aws:iam::{ACCOUNT}:role/app-admin-role"
    # A service in a trust policy acts for the account: the instances' role is not "shared outside".
    assert "admin-role-shared-outside" not in {
        c["rule"] for c in enriched_lab.combinations if c["path"][0]["arn"].endswith("role/app-admin-role")
    }
    (path,) = enriched_lab.write(["json-combinations"], tmp_path, "lab")
    assert json.loads(path.read_text()) == enriched_lab.combinations


def test_combination_rules_flag_checks_the_file(tmp_path: Path) -> None:
    source = write(tmp_path / "in.json", [make_finding()])
    bad = write(tmp_path / "rules.json", [{"id": "x"}])
    result = metahub_cli(
        "--input-asff", str(source), "--combination-rules", str(bad), "--output-dir", str(tmp_path)
    )
    assert result.returncode == 2 and f"{bad}: rule 1: needs 'title'" in result.stderr


def _inspector(finding_id: str, arn: str, exploit: str) -> dict[str, Any]:
    """An Inspector package-vulnerability finding, in the shape Security Hub publishes for it."""
    return make_finding(
        finding_id,
        ProductArn="arn:aws:securityhub:us-east-1::product/aws/inspector",
        ProductName="Inspector",
        GeneratorId="AWSInspector",
        Types=["Software and Configuration Checks/Vulnerabilities/CVE"],
        Title="CVE-2024-6387 - openssh-server",
        Severity={"Label": "HIGH", "Normalized": 70},
        Compliance=None,
        Vulnerabilities=[
            {
                "Id": "CVE-2024-6387",
                "ExploitAvailable": exploit,
                "FixAvailable": "YES",
                "Vendor": {"Name": "NVD"},
            }
        ],
        Resources=[{"Type": "AwsEc2Instance", "Id": arn, "Region": arn.split(":")[3]}],
    )


def _macie(finding_id: str, bucket: str) -> dict[str, Any]:
    """A Macie sensitive-data finding, in the shape Security Hub publishes for it."""
    return make_finding(
        finding_id,
        ProductArn="arn:aws:securityhub:us-east-1::product/aws/macie",
        ProductName="Macie",
        GeneratorId="aws/macie",
        Types=["Sensitive Data Identifications/PII/SensitiveData:S3Object-Personal"],
        Title="The S3 object contains personal information.",
        Severity={"Label": "HIGH"},
        Compliance=None,
        Resources=[{"Type": "AwsS3Bucket", "Id": bucket, "Region": "us-east-1"}],
    )


def test_scanner_traits_on_the_lab(enriched_lab: metahub.Run, lab_endpoint: str) -> None:
    from metahub.aws import Aws

    instances = {
        arn: bool(r.metachecks["is_public"])
        for arn, r in enriched_lab.resources.items()
        if r.type == "AwsEc2Instance"
    }
    public = sorted(a for a, p in instances.items() if p)[:2]
    private = sorted(a for a, p in instances.items() if not p)[:1]
    buckets = sorted(
        a for a, r in enriched_lab.resources.items() if r.type == "AwsS3Bucket" and r.metachecks["is_public"]
    )
    findings = [
        _inspector("i-exploit", public[0], "YES"),
        _inspector("i-no-exploit", public[1], "NO"),
        _inspector("i-private", private[0], "YES"),
        _macie("m-public", buckets[0]),
    ]
    run = metahub.Run.from_findings(findings)
    # Without AWS: the findings alone give traits, and the score.
    run.score_impact()
    assert run.resources[public[0]].traits["vulnerability"]["exploit_available"] is True
    assert run.resources[buckets[0]].traits["sensitive-data"]["status"] == "claimed"
    # With the lab account: context decides what is reachable.
    run.enrich(Aws())
    rules = {(c["rule"], c["path"][0]["arn"]) for c in run.combinations}
    assert ("reachable-exploitable-vulnerability", public[0]) in rules  # reachable, exploit known
    assert ("reachable-exploitable-vulnerability", public[1]) not in rules  # no exploit
    assert ("reachable-exploitable-vulnerability", private[0]) not in rules  # exploit, but not reachable
    assert ("public-sensitive-data", buckets[0]) in rules
    assert ("public-compute-admin-role", public[0]) in rules  # the admin profile, as in the scan
    assert run.resources[public[0]].impact["score"] > run.resources[private[0]].impact["score"]


TYPE_ARNS = {
    "AwsEc2Instance": f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-9",
    "AwsLambdaFunction": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f",
    "AwsIamRole": f"arn:aws:iam::{ACCOUNT}:role/r",
    "AwsS3Bucket": "arn:aws:s3:::bkt",
    "AwsKmsKey": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k",
    "AwsSecretsManagerSecret": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:s",
    "AwsEcsService": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/c/s",
    "AwsEksCluster": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/c",
}
TARGET = f"arn:aws:iam::{ACCOUNT}:role/target"


def _satisfying(conditions: dict[str, bool]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Checks and traits that meet ``conditions`` (true: data; false: false)."""
    checks = {
        k: ({"evidence": k} if v else False) for k, v in conditions.items() if not k.startswith("trait:")
    }
    traits: dict[str, Any] = {}
    for key, wanted in conditions.items():
        if key.startswith("trait:") and wanted:
            name = key.removeprefix("trait:")
            base = "vulnerability" if name == "exploitable-vulnerability" else name
            traits[base] = {
                "status": "claimed",
                "why": "a finding says so",
                "findings": ["f-0"],
                "exploit_available": True,
            }
    return checks, traits


@pytest.mark.parametrize("rule", RULES, ids=[r["id"] for r in RULES])
def test_every_built_in_rule(rule: dict[str, Any]) -> None:
    type_ = rule["types"][0]
    start = TYPE_ARNS[type_]
    checks, traits = _satisfying(rule["when"])
    resources = {start: type_}
    if "via" in rule:
        checks[rule["via"]] = [TARGET]
    target_checks = _satisfying(rule.get("then", {}))[0]
    if rule.get("then"):
        resources[TARGET] = "AwsIamRole"
    run = run_with({start: checks, **({TARGET: target_checks} if TARGET in resources else {})}, resources)
    run.resources[start].traits = traits or None
    found = [c for c in find(run.resources, [rule])]
    assert len(found) == 1 and found[0]["path"][0]["arn"] == start
    assert [hop["arn"] for hop in found[0]["path"]] == [start, *([TARGET] if "via" in rule else [])]
    # Flip any one condition where it starts: the rule no longer holds.
    for key in rule["when"]:
        flipped = {**rule["when"], key: not rule["when"][key]}
        checks, traits = _satisfying(flipped)
        if "via" in rule:
            checks[rule["via"]] = [TARGET]
        run.resources[start].metachecks = checks
        run.resources[start].traits = traits or None
        assert find(run.resources, [rule]) == [], key


def test_filtering_keeps_the_combinations_of_what_it_keeps(enriched_lab: metahub.Run) -> None:
    public = enriched_lab.filter("is_public=True", impact=["exposure=effectively-public"])
    assert public.combinations and all(c["path"][0]["arn"] in public.resources for c in public.combinations)
    assert enriched_lab.filter(findings=["severity=LOW"]).combinations is not None
