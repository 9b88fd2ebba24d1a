"""The new Security Hub from the command line, end to end: the lab account in moto for the context
and S3, and a local endpoint speaking Security Hub's rest-json v2 API (tests/securityhub_v2_endpoint.py)
serving findings built from AWS's published OCSF samples (tests/fixtures/securityhub_v2/SOURCES.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import HUB_REGION, emulator_environment, metahub_cli
from .least_privilege import not_allowed
from .securityhub_v2_endpoint import SecurityHubV2, samples, serving

PUBLIC, PRIVATE = "arn:aws:s3:::public-assets-us-east-1-0", "arn:aws:s3:::private-data-us-east-1-0"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:application-function"


def _cli(url: str, lab_endpoint: str, *args: str) -> Any:
    return metahub_cli(*args, endpoint=lab_endpoint, env={"AWS_ENDPOINT_URL_SECURITYHUB": url})


def _full(folder: Path) -> dict[str, Any]:
    [path] = folder.glob("metahub-full-*.json")
    return dict(json.loads(path.read_text()))


def test_v2_findings_are_paged_through_throttling_and_held_against_metahubs_verdicts(
    lab_endpoint: str, tmp_path: Path
) -> None:
    hub = SecurityHubV2(samples(), page_size=2, throttle=1)
    with serving(hub) as url:
        result = _cli(url, lab_endpoint, "--inputs", "securityhub-v2", "--sh-region", "us-east-1",
                      "--context", "config", "--output-modes", "json-full", "csv", "--output-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    pages = [body for operation, body in hub.requests if operation == "GetFindingsV2"]
    assert len(pages) == 1 + 3  # one throttled, then 5 findings 2 a page
    assert pages[-1]["NextToken"] == "4" and pages[-1]["MaxResults"] == 100
    # the default filter, the v2 twin of WorkflowStatus=NEW, as the API takes it
    assert pages[0]["Filters"] == {"CompositeFilters": [{"StringFilters": [
        {"FieldName": "status", "Filter": {"Value": "New", "Comparison": "EQUALS"}}], "Operator": "OR"}],
        "CompositeOperator": "AND"}  # fmt: skip
    assert "5 findings read" in result.stderr
    assert "AWS exposure verdicts against metahub's: 1 agree, 1 aws-only, 0 metahub-only, 1 unknown" in result.stderr

    full = _full(tmp_path)
    # Reachability claimed by AWS, public read proved by metahub from the bucket policy: they agree
    public = full[PUBLIC]["aws_exposure"]
    assert (public["verdict_agreement"], public["aws"]["verdict"], public["metahub"]["verdict"]) == (
        "agree", "reachable", "true")  # fmt: skip
    # AWS says reachable; metahub read the bucket and its policy and found no way in: AWS's alone
    private = full[PRIVATE]["aws_exposure"]
    assert (private["verdict_agreement"], private["metahub"]["verdict"]) == ("aws-only", "false")
    assert private["metahub"]["why"] and "Public access allowed" in private["aws"]["why"]
    # a function the account does not hold: metahub cannot say, and says why rather than guess
    function = full[LAMBDA]["aws_exposure"]
    assert function["verdict_agreement"] == "unknown" and function["metahub"]["why"]
    # the exposure finding's traits are the resource's traits: the impact and combinations read them
    assert full[PUBLIC]["traits"]["reachability"]["status"] == "confirmed"
    assert full[PUBLIC]["traits"]["sensitive-data"]["status"] == "claimed"
    assert full[PRIVATE]["traits"]["reachability"]["status"] == "refuted"
    assert full[LAMBDA]["traits"]["vulnerability"]["exploit_available"] is True

    [table] = tmp_path.glob("metahub-*.csv")
    rows = list(csv.DictReader(table.open(encoding="utf-8-sig")))
    agreement = {row["ResourceArn"]: row["VerdictAgreement"] for row in rows}
    assert agreement == {PUBLIC: "agree", PRIVATE: "aws-only", LAMBDA: "unknown"}
    assert not_allowed(hub.calls(), "securityhub-read") == set()


def test_exposure_findings_alone_by_their_documented_filter(lab_endpoint: str, tmp_path: Path) -> None:
    """"You can filter all exposure findings with the metadata.product.feature.uid field with the
    security-hub/Exposure value" (Security Hub user guide): a field botocore's model does not list
    yet, accepted because the guide documents it."""
    hub = SecurityHubV2(samples())
    with serving(hub) as url:
        result = _cli(url, lab_endpoint, "--inputs", "securityhub-v2", "--sh-region", "us-east-1",
                      "--sh-filters", "metadata.product.feature.uid=security-hub/Exposure",
                      "--output-modes", "json-inventory", "--output-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    [inventory] = tmp_path.glob("metahub-inventory-*.json")
    assert json.loads(inventory.read_text()) == [PUBLIC]  # the one exposure finding with that feature uid


def test_both_security_hubs_in_one_run_each_with_its_own_filters(
    lab_endpoint: str, in_hub: list[dict[str, Any]], tmp_path: Path
) -> None:
    hub = SecurityHubV2(samples(), page_size=100, upstream=lab_endpoint)
    with serving(hub) as url:
        result = _cli(url, lab_endpoint, "--inputs", "securityhub", "securityhub-v2", "--sh-region", HUB_REGION,
                      "--sh-filters", "SeverityLabel=HIGH", "SeverityLabel=CRITICAL",
                      "--output-modes", "json-inventory", "--output-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    [(_, body)] = hub.requests
    [composite] = body["Filters"]["CompositeFilters"]
    assert [f["Filter"]["Value"] for f in composite["StringFilters"]] == ["High", "Critical"]
    # moto's GetFindings ignores filters: every finding of its hub, and the v2 endpoint's five
    assert f"2 source(s), {len(in_hub) + 5} findings read" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sh-filters", "RecordState=ARCHIVED"], "GetFindingsV2 has no such filter and both Security Hubs are read"),
        (["--sh-filters", "severity=High"], "GetFindings (Security Hub CSPM) has no such filter"),
        (["--sh-filters", "resources.typ=AwsS3Bucket"], "did you mean resources.type"),
        (["--sh-scope", "ou="], "expected organization, organization=o-ID, ou=ou-ID or account=ACCOUNT_ID"),
        (["--sh-export", "s3://bucket/p"], "--sh-export needs --sh-export-kms-key"),
    ],
)
def test_v2_mistakes_are_named_before_any_call(
    lab_endpoint: str, tmp_path: Path, args: list[str], message: str
) -> None:
    hub = SecurityHubV2(samples())
    inputs = ["securityhub", "securityhub-v2"] if "--sh-filters" in args and "resources.typ" not in args[1] else ["securityhub-v2"]
    with serving(hub) as url:
        result = _cli(url, lab_endpoint, "--inputs", *inputs, "--sh-region", "us-east-1", *args,
                      "--output-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert hub.requests == []


def test_v2_flags_without_the_v2_input_are_refused(tmp_path: Path) -> None:
    result = metahub_cli("--demo", "--sh-scope", "organization", "--output-dir", str(tmp_path))
    assert result.returncode == 2 and "add securityhub-v2 to --inputs" in result.stderr


def test_an_export_job_is_started_waited_for_and_read_from_s3(lab_endpoint: str, tmp_path: Path) -> None:
    with emulator_environment(lab_endpoint):
        import boto3

        boto3.client("s3").create_bucket(Bucket="metahub-exports")
    findings = samples()
    lines = [json.dumps(f).encode() for f in findings]
    lines.insert(2, b'{"finding_info": {"uid": "cut-')  # an object line cut short
    broken = {**findings[3], "resources": 5}
    lines.append(json.dumps(broken).encode())  # a finding of the wrong shape
    hub = SecurityHubV2(findings, s3_endpoint=lab_endpoint, export_polls=2, export_lines=lines)
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with serving(hub) as url:
        result = _cli(url, lab_endpoint, "--inputs", "securityhub-v2", "--sh-region", "us-east-1",
                      "--sh-export", "s3://metahub-exports/security-hub", "--sh-export-kms-key", key,
                      "--output-modes", "json-inventory", "--output-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 2, result.stderr  # a line could not be read: said, and nothing else lost
    [(_, start)] = [(op, body) for op, body in hub.requests if op == "StartExportJobV2"]
    destination = start["Destination"]["S3"]
    assert destination["BucketArn"] == "arn:aws:s3:::metahub-exports" and destination["KmsKeyArn"] == key
    assert destination["ObjectPrefix"].startswith("security-hub/metahub-")
    assert start["OutputConfiguration"]["Findings"]["Format"] == "OCSF_JSON"
    assert [op for op, _ in hub.requests].count("GetExportJobV2") == 3  # RUNNING twice, then SUCCEEDED
    assert "6 findings read, 1 rejected" in result.stderr
    assert "findings-0001.jsonl.gz, line 3: not JSON" in result.stderr
    assert "resources: expected an array, got a number" in result.stderr
    [inventory] = tmp_path.glob("metahub-inventory-*.json")
    assert len(json.loads(inventory.read_text())) == 3
    calls = hub.calls() | {"s3:ListObjectsV2", "s3:GetObject"}
    assert not_allowed(calls, "securityhub-export") == set()


def test_an_export_job_that_fails_says_why_and_keeps_the_other_inputs(lab_endpoint: str, tmp_path: Path) -> None:
    hub = SecurityHubV2(samples(), s3_endpoint=lab_endpoint, export_fails="ACCESS_DENIED")
    with serving(hub) as url:
        result = _cli(url, lab_endpoint, "--inputs", "securityhub-v2", "file-asff", "--demo",
                      "--sh-region", "us-east-1", "--sh-export", "s3://metahub-exports",
                      "--sh-export-kms-key", "arn:aws:kms:us-east-1:123456789012:key/k",
                      "--output-modes", "json-inventory", "--output-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 2  # an input could not be read
    assert "export job job0001: failed: ACCESS_DENIED: Security Hub could not write to the bucket" in result.stderr
    [inventory] = tmp_path.glob("metahub-inventory-*.json")
    assert json.loads(inventory.read_text())  # the demo's findings are all there


def test_updates_of_v2_findings_go_through_batch_update_findings_v2(lab_endpoint: str, tmp_path: Path) -> None:
    findings = samples()
    refused = findings[3]["finding_info"]["uid"]
    hub = SecurityHubV2(findings, page_size=100, refuse=(refused,))
    with serving(hub) as url:
        result = _cli(url, lab_endpoint, "--inputs", "securityhub-v2", "--sh-region", "us-east-1",
                      "--update-findings", "Workflow=NOTIFIED", "Note=triaged by metahub",
                      "--no-actions-confirmation", "--output-modes", "json-short", "--output-dir", str(tmp_path))  # fmt: skip
        assert result.returncode == 3, result.stderr  # one finding was not updated: said, and the exit says so
        [update] = [body for op, body in hub.requests if op == "BatchUpdateFindingsV2"]
        assert (update["StatusId"], update["Comment"]) == (2, "triaged by metahub")
        assert {i["FindingInfoUid"] for i in update["FindingIdentifiers"]} == {f["finding_info"]["uid"] for f in findings}
        assert all(i["MetadataProductUid"].startswith("arn:aws:securityhub:us-east-1::productv2/") for i in update["FindingIdentifiers"])
        assert "4 finding(s) updated, 1 not" in result.stderr
        assert "ConflictException: The finding was updated by another request" in result.stderr
        assert not_allowed(hub.calls() - {"securityhub:GetFindingsV2"}, "securityhub-write") == set()

        # a second run finds the four updated findings as they should be and writes only the fifth
        again = _cli(url, lab_endpoint, "--inputs", "securityhub-v2", "--sh-region", "us-east-1",
                     "--sh-filters", "status=In Progress", "status=New",
                     "--update-findings", "Workflow=NOTIFIED", "Note=triaged by metahub",
                     "--no-actions-confirmation", "--output-modes", "json-short", "--output-dir", str(tmp_path))  # fmt: skip
    assert "1 finding(s) to change in 1 BatchUpdateFindingsV2 call(s)" in again.stderr
    assert "4 already up to date" in again.stderr


def test_v2_enrichment_writes_the_context_into_the_comment_within_512_characters(
    lab_endpoint: str, tmp_path: Path
) -> None:
    hub = SecurityHubV2(samples(), page_size=100)
    with serving(hub) as url:
        result = _cli(url, lab_endpoint, "--inputs", "securityhub-v2", "--sh-region", "us-east-1",
                      "--enrich-findings", "--no-actions-confirmation", "--output-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    comments = [body["Comment"] for op, body in hub.requests if op == "BatchUpdateFindingsV2"]
    assert len(comments) == 3  # one a resource: its findings share the comment
    assert all(c.startswith("metahub: ") and len(c) <= 512 for c in comments)
    assert any("is_public=" in c for c in comments)
