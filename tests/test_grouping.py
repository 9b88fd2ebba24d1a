from __future__ import annotations

import random
from typing import Any

import pytest

import metahub
from metahub.arn import parse_arn

from .conftest import make_finding


def test_finding_with_several_resources_belongs_to_each() -> None:
    finding = make_finding(
        Resources=[
            {"Type": "AwsEc2Instance", "Id": "arn:aws:ec2:us-east-1:123456789012:instance/i-1"},
            {"Type": "AwsEc2SecurityGroup", "Id": "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1"},
        ]
    )
    run = metahub.Run.from_findings([finding])
    assert set(run.resources) == {
        "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
        "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1",
    }
    assert all(len(r.findings) == 1 for r in run.resources.values())


def test_order_does_not_depend_on_input_order() -> None:
    findings = [
        make_finding(
            f"f-{i}",
            f"arn:aws:s3:::bucket-{i % 7}",
            Severity={"Label": ("LOW", "HIGH", "CRITICAL")[i % 3]},
            Title=f"title {i % 5}",
        )
        for i in range(60)
    ]
    shuffled = findings[:]
    random.Random(3).shuffle(shuffled)
    one, two = metahub.Run.from_findings(findings), metahub.Run.from_findings(shuffled)
    assert list(one.resources) == list(two.resources)
    for arn in one.resources:
        assert [f.Id for f in one.resources[arn].findings] == [f.Id for f in two.resources[arn].findings]
    first = next(iter(one.resources.values()))
    assert first.findings[0].severity_label == "CRITICAL"


def test_resource_fields_from_arn_and_finding() -> None:
    managed = make_finding(
        "m",
        "arn:aws:iam::aws:policy/SecurityAudit",
        Resources=[{"Type": "AwsIamPolicy", "Id": "arn:aws:iam::aws:policy/SecurityAudit"}],
    )
    tagged = make_finding(
        "t",
        Resources=[
            {
                "Type": "AwsS3Bucket",
                "Id": "arn:aws:s3:::b",
                "Region": "eu-west-1",
                "Tags": {"Environment": "prod"},
            }
        ],
    )
    account = make_finding("a", Resources=[{"Type": "AwsAccount", "Id": "AWS::::Account:123456789012"}])
    run = metahub.Run.from_findings([managed, tagged, account])
    policy = run.resources["arn:aws:iam::aws:policy/SecurityAudit"]
    assert (
        policy.account == "123456789012" and policy.concrete
    )  # AWS-managed: read from the finding's account
    bucket = run.resources["arn:aws:s3:::b"]
    assert bucket.region == "eu-west-1" and bucket.tags == {"Environment": "prod"}
    assert not run.resources["AWS::::Account:123456789012"].concrete


def test_arn_parts() -> None:
    arn = parse_arn("arn:aws:rds:eu-west-1:123456789012:snapshot:rds:db-0-2026")
    assert arn is not None and (arn.resource_type, arn.resource_id) == ("snapshot", "rds:db-0-2026")
    assert parse_arn("arn:aws:sqs:us-east-1:123456789012:orders-0").resource_id == "orders-0"  # type: ignore[union-attr]
    assert parse_arn("arn:aws:ec2:us-east-1:123456789012:volume").concrete is False  # type: ignore[union-attr]
    assert parse_arn("not-an-arn") is None


@pytest.mark.parametrize(
    ("findings", "worst"),
    [
        ([("CRITICAL", "PASSED"), ("LOW", "FAILED")], "LOW"),  # passed checks are not risk
        ([("CRITICAL", "PASSED"), ("HIGH", "PASSED")], "PASSED"),
        ([("HIGH", "FAILED", "SUPPRESSED"), ("LOW", "PASSED")], None),  # set aside: neither
        ([("MEDIUM", "WARNING")], None),
        ([("HIGH", None)], "HIGH"),  # no compliance status: a threat or vulnerability, a problem
        ([("HIGH", "FAILED", "RESOLVED"), ("MEDIUM", "FAILED")], "MEDIUM"),
    ],
)
def test_worst_failed_severity(findings: list[tuple[Any, ...]], worst: str | None) -> None:
    raw = []
    for index, (severity, status, *workflow) in enumerate(findings):
        finding = make_finding(f"f-{index}", Severity={"Label": severity})
        if status is None:
            del finding["Compliance"]
        else:
            finding["Compliance"] = {"Status": status}
        if workflow:
            finding["Workflow"] = {"Status": workflow[0]}
        raw.append(finding)
    resource = next(iter(metahub.Run.from_findings(raw).resources.values()))
    assert resource.worst_failed_severity == worst
    assert sum(resource.outcome_counts.values()) == len(findings)
