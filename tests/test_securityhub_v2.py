"""The new Security Hub, piece by piece: its OCSF findings on metahub's model, GetFindingsV2 filters
and scopes, paging, exports, writes through BatchUpdateFindingsV2 (botocore's Stubber: every request
is checked against the real API model), and AWS's exposure verdict held against metahub's."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

import metahub
from metahub import exposure
from metahub.actions import MAX_NOTE, apply, plan_enrichment, plan_update, summary_comment
from metahub.aws import Aws
from metahub.aws_lambda import Settings, process
from metahub.models import AffectedResource, Finding
from metahub.ocsf import to_asff
from metahub.securityhub import (
    ExportSource,
    SecurityHubError,
    SecurityHubSource,
    load_template,
    parse_filters_v2,
    parse_scopes,
    split_filters,
)

from .conftest import ACCOUNT
from .securityhub_v2_endpoint import samples

EXPOSURE_PUBLIC, EXPOSURE_PRIVATE, EXPOSURE_LAMBDA, CONTROL, INSPECTOR = range(5)


def _finding(index: int, **changes: Any) -> Finding:
    data = {**samples()[index], **changes}
    return Finding.model_validate(to_asff(data))


# --- OCSF onto the model ---------------------------------------------------------------------------


def test_a_control_finding_maps_onto_asff_with_nothing_lost() -> None:
    finding = _finding(CONTROL)
    assert finding.Id.endswith("security-control/S3.8/finding/0f1e2d3c-0002")
    assert finding.ProductArn == "arn:aws:securityhub:us-east-1::productv2/aws/securityhub"
    assert finding.in_security_hub_v2 and finding.AwsAccountId == ACCOUNT and finding.Region == "us-east-1"
    assert (finding.severity_label, finding.workflow_status, finding.outcome) == ("HIGH", "NEW", "FAILED")
    assert finding.Compliance is not None and finding.Compliance.Status == "FAILED"  # compliance.status "Fail"
    assert finding.Compliance.SecurityControlId == "S3.8"
    assert finding.Compliance.standards == ["standards/aws-foundational-security-best-practices/v/1.0.0"]
    [resource] = finding.Resources
    assert (resource.Type, resource.Id, resource.Tags) == (
        "AwsS3Bucket", "arn:aws:s3:::private-data-us-east-1-0", {"Environment": "production"})  # fmt: skip
    assert finding.CreatedAt is not None and finding.CreatedAt.isoformat() == "2026-11-28T10:00:00+00:00"
    assert finding.UpdatedAt is not None and finding.UpdatedAt.isoformat() == "2026-11-30T10:00:00+00:00"
    assert finding.Remediation == {"Recommendation": {
        "Text": "Turn on S3 Block Public Access for the bucket.",
        "Url": "https://docs.aws.amazon.com/securityhub/latest/userguide/s3-controls.html#s3-8"}}  # fmt: skip
    # what has no ASFF place is kept: Security Hub's writes name the finding by these
    assert finding.ocsf["metadata.uid"] == "meta-control-s3-8"
    assert finding.ocsf["metadata.product.uid"] == finding.ProductArn
    assert finding.ocsf["cloud.account.name"] == "lab"
    assert json.loads(finding.to_asff_json())["Ocsf"]["metadata.uid"] == "meta-control-s3-8"


def test_a_vulnerability_finding_keeps_its_cve_epss_and_exploit() -> None:
    finding = _finding(INSPECTOR)
    assert finding.outcome == "FAILED"  # no compliance status: a vulnerability states a problem
    assert (finding.model_extra or {})["Vulnerabilities"] == [{
        "Id": "CVE-2023-33246", "EpssScore": 0.97, "Cvss": [{"BaseScore": 9.8, "Version": "3.1"}],
        "FixAvailable": "YES", "ExploitAvailable": "YES",
        "VulnerablePackages": [{"Name": "org.apache.rocketmq:rocketmq-controller", "Version": "5.1.0"}]}]  # fmt: skip


@pytest.mark.parametrize(
    ("index", "form"),
    [(EXPOSURE_PUBLIC, "traits[].category (OCSF 1.5)"), (EXPOSURE_PRIVATE, "tags[].name, as AWS's sample")],
)
def test_exposure_traits_are_read_in_either_form(index: int, form: str) -> None:
    finding = _finding(index)
    assert finding.exposure is not None, form
    assert finding.exposure_categories is not None and "Reachability" in finding.exposure_categories
    [reach] = [t for t in finding.exposure["traits"] if t["category"] == "Reachability"]
    assert reach["values"] == ["Public access allowed"] and reach["finding"].startswith("arn:aws:securityhub:")
    assert reach["resources"] == [finding.Resources[0].Id]  # the observable: the resource the signal is on


def test_status_ids_and_date_times_alone_are_enough() -> None:
    data = samples()[CONTROL]
    data.pop("status")
    data["status_id"] = 4  # Resolved
    data["finding_info"] = {**data["finding_info"], "created_time_dt": "2026-11-28T10:00:00.123456789Z"}
    finding = Finding.model_validate(to_asff(data))
    assert (finding.workflow_status, finding.outcome) == ("RESOLVED", "OTHER")
    assert finding.CreatedAt is not None and finding.CreatedAt.microsecond == 123456  # nanoseconds cut, not refused


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"resources": 5}, "resources: expected an array, got a number"),
        ({"finding_info": {"uid": "x", "related_events": "no"}, "metadata": {"product": {"feature": {"uid": "security-hub/Exposure"}}}},
         "finding_info.related_events: expected an array, got a string"),
        ({"vulnerabilities": [{"cve": "CVE-1"}]}, "vulnerabilities[0].cve: expected an object, got a string"),
        ({"time_dt": "yesterday", "time": None}, "time_dt: 'yesterday' is not a date-time"),
    ],
)
def test_a_malformed_ocsf_finding_is_rejected_with_its_path(offline_aws: Aws, change: dict[str, Any], message: str) -> None:
    findings = samples()
    findings[1] = {**findings[1], **change}
    client = offline_aws.client("securityhub", ACCOUNT, "us-east-1")
    with Stubber(client) as stub:
        stub.add_response("get_findings_v2", {"Findings": findings})
        run = metahub.load(SecurityHubSource(offline_aws, "us-east-1", {}, v2=True))
    assert len(run.findings) == 4  # the others are all there
    [rejected] = run.report.rejected
    assert rejected.where.startswith("page 1, finding 2") and message in rejected.reason


# --- filters and scopes --------------------------------------------------------------------------


def test_v2_filters_are_typed_from_the_model() -> None:
    filters = parse_filters_v2([
        "severity=High", "severity=Critical", "severity_id=4..6", "finding_info.modified_time_dt=7d",
        "resources.tags=Environment=prod", "vulnerabilities.is_exploit_available=true",
        "evidences.src_endpoint.ip=10.0.0.0/8",
    ])  # fmt: skip
    assert filters["CompositeOperator"] == "AND"
    by_field = {c[next(k for k in c if k.endswith("Filters"))][0]["FieldName"]: c for c in filters["CompositeFilters"]}
    assert [e["Filter"]["Value"] for e in by_field["severity"]["StringFilters"]] == ["High", "Critical"]
    assert by_field["severity"]["Operator"] == "OR"  # a field given twice means any of its values
    assert by_field["severity_id"]["NumberFilters"][0]["Filter"] == {"Gte": 4.0, "Lte": 6.0}
    assert by_field["finding_info.modified_time_dt"]["DateFilters"][0]["Filter"] == {"DateRange": {"Value": 7, "Unit": "DAYS"}}
    assert by_field["resources.tags"]["MapFilters"][0]["Filter"] == {"Key": "Environment", "Value": "prod", "Comparison": "EQUALS"}
    assert by_field["vulnerabilities.is_exploit_available"]["BooleanFilters"][0]["Filter"] == {"Value": True}
    assert by_field["evidences.src_endpoint.ip"]["IpFilters"][0]["Filter"] == {"Cidr": "10.0.0.0/8"}


def test_asff_names_with_an_ocsf_twin_serve_both_apis() -> None:
    first, second = split_filters(["RecordState=ACTIVE", "WorkflowStatus=NEW", "SeverityLabel=HIGH"], True, True)
    assert first == ["RecordState=ACTIVE", "WorkflowStatus=NEW", "SeverityLabel=HIGH"]
    assert second == ["WorkflowStatus=NEW", "SeverityLabel=HIGH"]  # no record state in OCSF: every v2 finding read meets it
    values = [c["StringFilters"][0]["Filter"]["Value"] for c in parse_filters_v2(second)["CompositeFilters"]]
    assert values == ["New", "High"]


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["severty=High"], "GetFindingsV2 has no filter field 'severty'; did you mean severity"),
        (["severity_id=high"], "'high' is not a number"),
        (["finding_info.created_time_dt=last week"], "a date filter takes Nd"),
        (["resources.tags=prod"], "a map filter takes KEY=MAPKEY=VALUE"),
        (["severity"], "expected FIELD=VALUE"),
    ],
)
def test_v2_filter_mistakes_are_named(pairs: list[str], message: str) -> None:
    with pytest.raises(SecurityHubError, match=message.replace("(", r"\(")):
        parse_filters_v2(pairs)


def test_scopes_name_organisations_and_ous_and_accounts_become_filters() -> None:
    assert parse_scopes(["organization", "ou=ou-ab12-cd345678"], lambda: "o-abcd1234567890") == (
        {"AwsOrganizations": [{"OrganizationId": "o-abcd1234567890"}, {"OrganizationalUnitId": "ou-ab12-cd345678"}]},
        [],
    )
    assert parse_scopes(["account=111122223333"], lambda: "unused") == ({}, ["cloud.account.uid=111122223333"])
    with pytest.raises(SecurityHubError, match="cannot be mixed"):
        parse_scopes(["ou=ou-1", "account=111122223333"], lambda: "o-1")
    with pytest.raises(SecurityHubError, match="expected organization"):
        parse_scopes(["account=42"], lambda: "o-1")


def test_a_v2_template_is_checked_against_get_findings_v2(tmp_path: Any) -> None:
    path = tmp_path / "v2.yaml"
    path.write_text("Filters:\n  CompositeFilters:\n    - StringFilters:\n        - FieldName: severity\n"
                    "          Filter: {Value: Crit, Comparison: PREFIX}\n  CompositeOperator: AND\n")  # fmt: skip
    assert load_template(path)["CompositeFilters"][0]["StringFilters"][0]["Filter"]["Comparison"] == "PREFIX"
    path.write_text("CompositeFilters:\n  - StringFilters:\n      - {FieldName: severity, Filter: {Value: x, Comparison: LIKE}}\n")
    with pytest.raises(SecurityHubError, match="'LIKE' is not one of EQUALS"):
        load_template(path)


# --- reading -------------------------------------------------------------------------------------


def test_get_findings_v2_pages_with_filters_and_scopes(offline_aws: Aws) -> None:
    filters = parse_filters_v2(["severity=Critical"])
    scopes = {"AwsOrganizations": [{"OrganizationalUnitId": "ou-ab12-cd345678"}]}
    found = samples()
    client = offline_aws.client("securityhub", ACCOUNT, "us-east-1")
    with Stubber(client) as stub:  # the Stubber checks each request against GetFindingsV2's model
        stub.add_response("get_findings_v2", {"Findings": found[:3], "NextToken": "n2"},
                          {"Filters": filters, "Scopes": scopes, "MaxResults": 100})  # fmt: skip
        stub.add_client_error("get_findings_v2", "ThrottlingException", "Rate exceeded", 429)
        stub.add_response("get_findings_v2", {"Findings": found[3:]},
                          {"Filters": filters, "Scopes": scopes, "MaxResults": 100, "NextToken": "n2"})  # fmt: skip
        run = metahub.load(SecurityHubSource(offline_aws, "us-east-1", filters, v2=True, scopes=scopes))
        stub.assert_no_pending_responses()
    assert len(run.findings) == 5 and len(run.resources) == 3
    assert run.report.sources == ["securityhub-v2:caller:us-east-1"]


def _body(lines: list[bytes], compress: bool = True) -> StreamingBody:
    data = b"\n".join(lines) + b"\n"
    data = gzip.compress(data) if compress else data
    return StreamingBody(io.BytesIO(data), len(data))


def test_an_export_job_that_outlasts_its_time_names_the_job_and_where_it_writes(offline_aws: Aws) -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    client = offline_aws.client("securityhub", ACCOUNT, "us-east-1")
    source = ExportSource(offline_aws, "us-east-1", {}, "s3://exports/sh", "arn:aws:kms:us-east-1:123456789012:key/k",
                          sleep=sleep, clock=lambda: now[0], timeout=100, progress=False)  # fmt: skip
    running = {"ExportJobId": "j1", "Status": "RUNNING", "DataType": "FINDINGS", "StartedAt": "2026-12-06T10:00:00Z",
               "Destination": {"S3": {"BucketArn": "arn:aws:s3:::exports", "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}}}  # fmt: skip
    with Stubber(client) as stub:
        stub.add_response("start_export_job_v2", {"ExportJobId": "j1"}, source.request())
        for _ in range(9):
            stub.add_response("get_export_job_v2", running, {"ExportJobId": "j1"})
        run = metahub.load(source)
        stub.assert_no_pending_responses()
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]  # doubling, at most EXPORT_POLL apart
    [problem] = run.report.unreadable
    assert "export job j1" in str(problem) and "still running after 100 s" in str(problem)
    assert f"s3://exports/{source.prefix}" in str(problem)


def test_exported_objects_are_streamed_gzip_or_not(offline_aws: Aws) -> None:
    found = [json.dumps(f).encode() for f in samples()]
    source = ExportSource(offline_aws, "us-east-1", {}, "s3://exports", "k", progress=False)
    hub = offline_aws.client("securityhub", ACCOUNT, "us-east-1")
    s3 = offline_aws.client("s3", ACCOUNT, "us-east-1")
    done = {"ExportJobId": "j1", "Status": "SUCCEEDED", "DataType": "FINDINGS", "StartedAt": "2026-12-06T10:00:00Z",
            "Destination": {"S3": {"BucketArn": "arn:aws:s3:::exports", "KmsKeyArn": "k"}}}  # fmt: skip
    with Stubber(hub) as hub_stub, Stubber(s3) as s3_stub:
        hub_stub.add_response("start_export_job_v2", {"ExportJobId": "j1"}, source.request())
        hub_stub.add_response("get_export_job_v2", done, {"ExportJobId": "j1"})
        s3_stub.add_response("list_objects_v2", {"Contents": [{"Key": f"{source.prefix}a.jsonl.gz"}, {"Key": f"{source.prefix}b.json"}]},
                             {"Bucket": "exports", "Prefix": source.prefix})  # fmt: skip
        s3_stub.add_response("get_object", {"Body": _body(found[:3])}, {"Bucket": "exports", "Key": f"{source.prefix}a.jsonl.gz"})
        s3_stub.add_response("get_object", {"Body": _body(found[3:], compress=False)}, {"Bucket": "exports", "Key": f"{source.prefix}b.json"})
        run = metahub.load(source)
    assert len(run.findings) == 5 and not run.report.problems


# --- AWS's verdict beside metahub's ---------------------------------------------------------------


def _resource(index: int, is_public: Any = "absent", why: str = "", **exposure_changes: Any) -> AffectedResource:
    finding = _finding(index, **exposure_changes)
    [resource] = metahub.Run.from_findings([finding.to_asff()]).resources.values()
    if is_public != "absent":
        resource.metachecks = {"is_public": is_public}
        if is_public is False:
            resource.evidence["is_public"] = why
        if is_public is None:
            resource.unknown["is_public"] = why
    return resource


@pytest.mark.parametrize(
    ("index", "is_public", "status", "agreement"),
    [
        # AWS's Reachability trait "indicates open network paths to a resource" (Supported trait types)
        (EXPOSURE_PUBLIC, "bucket policy allows s3:GetObject to *", "New", "agree"),
        (EXPOSURE_PUBLIC, False, "New", "aws-only"),
        (EXPOSURE_PUBLIC, None, "New", "unknown"),  # metahub could not read: no guess either way
        (EXPOSURE_PUBLIC, "absent", "New", "unknown"),  # not enriched at all
        # a resolved exposure finding claims nothing any more: metahub's proven exposure is its own
        (EXPOSURE_PUBLIC, "bucket policy allows s3:GetObject to *", "Resolved", "metahub-only"),
        (EXPOSURE_PUBLIC, False, "Resolved", "agree"),
    ],
)
def test_verdict_agreement_follows_the_table(index: int, is_public: Any, status: str, agreement: str) -> None:
    resource = _resource(index, is_public, why="Block Public Access is on", status=status)
    verdict = exposure.verdict(resource)
    assert verdict is not None and verdict["verdict_agreement"] == agreement
    assert verdict["aws"]["finding"] == resource.findings[0].Id and verdict["why"].startswith("AWS: ")


def test_an_exposure_without_reachability_agrees_with_a_resource_metahub_finds_private() -> None:
    data = samples()[EXPOSURE_PRIVATE]
    data["finding_info"] = {**data["finding_info"], "related_events": data["finding_info"]["related_events"][1:]}
    resource = _resource(EXPOSURE_PRIVATE, False, why="no bucket policy", finding_info=data["finding_info"])
    verdict = exposure.verdict(resource)
    assert verdict is not None and verdict["aws"]["verdict"] == "not reachable"
    assert verdict["verdict_agreement"] == "agree" and "Misconfiguration" in verdict["aws"]["why"]


def test_resources_without_an_exposure_finding_have_no_verdict() -> None:
    assert exposure.verdict(_resource(CONTROL, True)) is None


# --- writing -------------------------------------------------------------------------------------


def _mixed_run() -> metahub.Run:
    """The v2 samples and one Security Hub CSPM finding of the same bucket."""
    v1 = {**_finding(CONTROL).to_asff(), "Id": "v1-finding", "Ocsf": None,
          "ProductArn": f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default"}  # fmt: skip
    v1.pop("Ocsf")
    return metahub.Run.from_findings([*(Finding.model_validate(to_asff(f)).to_asff() for f in samples()), v1])


def test_v1_and_v2_findings_each_go_to_their_own_api(offline_aws: Aws) -> None:
    run = _mixed_run()
    plan = plan_update(run.resources, {"Workflow": {"Status": "SUPPRESSED"}, "Severity": {"Label": "LOW"}})
    apis = sorted((b.api, len(b.findings)) for b in plan.batches)
    assert apis == [("BatchUpdateFindings", 1), ("BatchUpdateFindingsV2", 5)]
    [v2] = [b for b in plan.batches if b.api == "BatchUpdateFindingsV2"]
    request = v2.request()
    assert (request["StatusId"], request["SeverityId"]) == (3, 2)  # OCSF: 3 Suppressed, 2 Low
    client = offline_aws.client("securityhub", ACCOUNT, "us-east-1")
    refused = request["FindingIdentifiers"][0]
    with Stubber(client) as stub:
        for batch in sorted(plan.batches, key=lambda b: b.api):
            body = batch.request()
            if batch.api == "BatchUpdateFindings":
                stub.add_response("batch_update_findings", {"ProcessedFindings": body["FindingIdentifiers"], "UnprocessedFindings": []}, body)
            else:
                stub.add_response("batch_update_findings_v2", {
                    "ProcessedFindings": [{"FindingIdentifier": i} for i in body["FindingIdentifiers"][1:]],
                    "UnprocessedFindings": [{"FindingIdentifier": refused, "ErrorCode": "ConflictException",
                                             "ErrorMessage": "updated meanwhile"}]}, body)  # fmt: skip
        result = apply(plan, lambda region: client, max_workers=1)
    assert result.processed == 5 and result.calls == 2
    assert result.unprocessed == [{"Id": refused["FindingInfoUid"], "ProductArn": refused["MetadataProductUid"],
                                   "ErrorCode": "ConflictException", "ErrorMessage": "updated meanwhile"}]  # fmt: skip


def test_fields_v2_does_not_take_make_its_findings_unwritable_with_the_reason() -> None:
    plan = plan_update(_mixed_run().resources, {"VerificationState": "FALSE_POSITIVE"})
    assert [b.api for b in plan.batches] == ["BatchUpdateFindings"]
    assert len(plan.skipped) == 5 and "BatchUpdateFindingsV2 has no VerificationState" in plan.skipped[0]["reason"]


def test_the_enrichment_comment_fits_512_characters_and_says_what_was_left_out() -> None:
    resource = _resource(EXPOSURE_PUBLIC, "x" * 2000)
    resource.metatags = {f"tag{i}": "v" * 30 for i in range(30)}
    comment = summary_comment(resource)
    assert len(comment) == MAX_NOTE and comment.startswith("metahub: ")
    assert comment.endswith("more in metahub's outputs)")
    short = summary_comment(_resource(EXPOSURE_PUBLIC, False, why="Block Public Access is on"))
    assert "is_public=False: Block Public Access is on" in short and "more in" not in short
    plan = plan_enrichment({"r": resource})
    [batch] = plan.batches
    assert batch.api == "BatchUpdateFindingsV2" and batch.request()["Comment"] == comment


def test_the_lambda_takes_findings_imported_v2_events(offline_aws: Aws) -> None:
    event = {"version": "0", "id": "e1", "detail-type": "Findings Imported V2", "source": "aws.securityhub",
             "account": ACCOUNT, "region": "us-east-1", "resources": ["e5160"],
             "detail": {"findings": [samples()[CONTROL]]}}  # the envelope of Security Hub's EventBridge event formats
    settings = Settings(contexts=[], actions=["update-findings"], update={"Workflow": {"Status": "NOTIFIED"}}, dry_run=True)
    summary = process(event, settings, aws=offline_aws)
    assert summary["findings"] == 1 and summary["problems"] == []
    [action] = summary["actions"]
    assert action["planned"] == 1


def test_the_command_line_joins_a_v2_template_its_filters_and_account_scopes(tmp_path: Any, offline_aws: Aws) -> None:
    from metahub.cli import build_parser
    from metahub.cli.hub import Hub

    parser = build_parser()
    v2 = tmp_path / "v2.yml"
    v2.write_text("CompositeFilters:\n  - StringFilters:\n      - {FieldName: severity, Filter: {Value: Crit, Comparison: PREFIX}}\n"
                  "CompositeOperator: AND\n")  # fmt: skip
    hub = Hub(parser.parse_args(["--inputs", "securityhub-v2", "--sh-template", str(v2), "--sh-filters", "status=New",
                                 "--sh-scope", "account=111122223333"]))  # fmt: skip
    fields = [c["StringFilters"][0]["FieldName"] for c in hub.filters_v2["CompositeFilters"]]
    assert fields == ["severity", "status", "cloud.account.uid"] and hub.filters_v2["CompositeOperator"] == "AND"
    assert (hub.filters, hub.scopes) == ({}, {})  # no v1 reading; Scopes name no account
    v1 = tmp_path / "v1.yml"
    v1.write_text("SeverityLabel:\n  - {Value: CRITICAL, Comparison: EQUALS}\n")
    for inputs, template, message in (
        (["securityhub-v2"], v1, "takes GetFindingsV2 (CompositeFilters) filters"),
        (["securityhub"], v2, "takes GetFindings filters"),
        (["securityhub", "securityhub-v2"], v1, "a template holds one API's filters and both Security Hubs are read"),
    ):
        with pytest.raises(SecurityHubError, match=message.replace("(", r"\(").replace(")", r"\)")):
            Hub(parser.parse_args(["--inputs", *inputs, "--sh-template", str(template)]))


def test_a_v2_checkpoint_goes_on_where_the_reading_stopped_and_names_its_scopes(offline_aws: Aws, tmp_path: Any) -> None:
    from metahub.aws import RateLimiter

    checkpoint = tmp_path / "v2.jsonl"
    filters, scopes = parse_filters_v2(["status=New"]), {"AwsOrganizations": [{"OrganizationalUnitId": "ou-1"}]}
    found = samples()
    client = offline_aws.client("securityhub", ACCOUNT, "us-east-1")

    def source() -> SecurityHubSource:
        return SecurityHubSource(offline_aws, "us-east-1", filters, v2=True, scopes=scopes, checkpoint=checkpoint,
                                 limiter=RateLimiter(1e9))  # fmt: skip

    with Stubber(client) as stub:
        stub.add_response("get_findings_v2", {"Findings": found[:3], "NextToken": "n2"})
        stub.add_client_error("get_findings_v2", "InternalServerException", "try later", 500)
        first = metahub.load(source())
    assert len(first.findings) == 3 and json.loads(checkpoint.read_text().splitlines()[0])["scopes"] == scopes
    with Stubber(client) as stub:
        stub.add_response("get_findings_v2", {"Findings": found[3:]},
                          {"Filters": filters, "Scopes": scopes, "MaxResults": 100, "NextToken": "n2"})  # fmt: skip
        second = metahub.load(source())
        stub.assert_no_pending_responses()
    assert len(second.findings) == 5 and not checkpoint.exists()
