"""Real Prowler 5.46 output of the lab account, in ASFF and in OCSF."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import metahub


def test_asff_fixture_counts(asff_fixture: Path) -> None:
    run = metahub.load(asff_fixture)
    assert run.report.problems == []
    assert len(run.findings) == 6073
    assert len(run.resources) == 2704
    assert sum(len(r.findings) for r in run.resources.values()) == 6073


def test_asff_fixture_failed_only(asff_fixture: Path) -> None:
    run = metahub.load(asff_fixture, only_failed=True)
    assert len(run.findings) == 2929
    assert len(run.resources) == 2683
    assert run.report.filtered_out == 6073 - 2929


def test_fixture_types_and_pseudo_arns(asff_fixture: Path) -> None:
    run = metahub.load(asff_fixture)
    assert len({t for r in run.resources.values() for t in r.reported_types}) == 21
    # Prowler reports VPCs both as AwsEc2Vpc and AwsEc2VpcEndpointService; the commoner type names them.
    vpc = run.resources["arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-f2f7052bc0368fca8"]
    assert vpc.type == "AwsEc2Vpc" and "AwsEc2VpcEndpointService" in vpc.reported_types
    pseudo = {arn for arn, r in run.resources.items() if not r.concrete}
    assert pseudo == {
        "arn:aws:ec2:eu-west-1:123456789012:volume",
        "arn:aws:ec2:us-east-1:123456789012:volume",
        "arn:aws:ec2:us-east-1:123456789012:vpc",
        "arn:aws:iam:us-east-1:123456789012:password-policy",
        "arn:aws:rds:eu-west-1:123456789012:account",
        "arn:aws:rds:us-east-1:123456789012:account",
        "arn:aws:iam::123456789012:root",
    }
    # Snapshots that Prowler types as volumes stay themselves, typed as reported.
    snapshot = run.resources["arn:aws:ec2:eu-west-1:123456789012:snapshot/snap-002b065807154796c"]
    assert snapshot.type == "AwsEc2Volume" and snapshot.concrete


def test_ocsf_groups_into_the_same_resources(asff_fixture: Path, ocsf_fixture: Path) -> None:
    asff = metahub.load(asff_fixture)
    ocsf = metahub.load(ocsf_fixture)
    assert ocsf.report.problems == []
    # Prowler's ASFF output leaves out MANUAL checks; its OCSF output keeps them. The lab scan has
    # two, both on the pseudo-ARN below, so OCSF has 6,075 findings and one resource more.
    manual = [f for f in ocsf.findings if f.compliance_status == "WARNING"]
    assert len(manual) == 2
    assert {f.Resources[0].Id for f in manual} == {
        "arn:aws:kms:us-east-1:123456789012:enclave-debug-attestation"
    }
    assert len(ocsf.findings) == 6075
    assert set(ocsf.resources) - set(asff.resources) == {
        "arn:aws:kms:us-east-1:123456789012:enclave-debug-attestation"
    }
    assert set(asff.resources) <= set(ocsf.resources)
    for arn, resource in asff.resources.items():
        other = ocsf.resources[arn]
        assert (other.type, other.account, other.region, other.concrete) == (
            resource.type,
            resource.account,
            resource.region,
            resource.concrete,
        ), arn
        assert Counter(f.severity_label for f in other.findings) == Counter(
            f.severity_label for f in resource.findings
        )
        assert Counter(f.compliance_status for f in other.findings) == Counter(
            f.compliance_status for f in resource.findings
        )
        assert other.tags == resource.tags, arn


def test_ocsf_failed_only_matches_asff(ocsf_fixture: Path) -> None:
    run = metahub.load(ocsf_fixture, only_failed=True)
    assert (len(run.findings), len(run.resources)) == (2929, 2683)


def test_ocsf_fields_mapped(ocsf_fixture: Path) -> None:
    run = metahub.load(ocsf_fixture)
    finding = next(
        f
        for f in run.findings
        if f.GeneratorId == "awslambda_function_env_vars_not_encrypted_with_cmk"
        and f.Resources[0].Id.endswith("function:api-handler-1")
        and f.Region == "eu-west-1"
    )
    assert finding.AwsAccountId == "123456789012"
    assert (
        finding.Title == "Lambda function environment variables are encrypted with a customer-managed KMS key"
    )
    assert finding.severity_label == "MEDIUM"
    assert finding.compliance_status == "PASSED"
    assert finding.workflow_status == "NEW"
    assert finding.Resources[0].Tags == {"Environment": "stg", "Service": "api"}
    assert finding.CreatedAt is not None and finding.CreatedAt.tzinfo is not None
    assert finding.product_name == "Prowler"
