"""Writing back to Security Hub: --update-findings and --enrich-findings. BatchUpdateFindings is
checked with botocore's Stubber (moto has no BatchUpdateFindings), request by request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

import metahub
from metahub.actions import (
    MAX_FIELDS,
    MAX_KEY,
    MAX_VALUE,
    TRUNCATED_KEY,
    apply,
    context_fields,
    fit_fields,
    parse_update,
    plan_enrichment,
    plan_update,
)
from metahub.aws import Aws
from metahub.securityhub import SecurityHubError, clients

from .conftest import ACCOUNT, HUB_REGION, make_finding, metahub_cli

PRODUCT = f"arn:aws:securityhub:eu-west-1:{ACCOUNT}:product/{ACCOUNT}/default"


def _run(n: int, resources: int = 3, **overrides: Any) -> metahub.Run:
    return metahub.Run.from_findings(
        make_finding(f"f-{i:03}", arn=f"arn:aws:s3:::bucket-{i % resources}", ProductArn=PRODUCT, **overrides)
        for i in range(n)
    )


def _ids(findings: list[Any]) -> list[dict[str, str]]:
    return [{"Id": f.Id, "ProductArn": f.ProductArn} for f in findings]


# --- what to write -------------------------------------------------------------------------------


def test_update_fields_are_typed_and_checked() -> None:
    assert parse_update(["workflow=notified", "Note=seen by the SOC", "Confidence=80"]) == {
        "Workflow": {"Status": "NOTIFIED"},
        "Note": {"Text": "seen by the SOC", "UpdatedBy": "metahub"},
        "Confidence": 80,
    }
    assert parse_update(["VerificationState=false_positive", "Severity=low"]) == {
        "VerificationState": "FALSE_POSITIVE",
        "Severity": {"Label": "LOW"},
    }


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["Workflow=DONE"], "Workflow.Status: 'DONE' is not one of NEW, NOTIFIED, RESOLVED, SUPPRESSED"),
        (["Note=" + "x" * 513], "Note is 513 characters; at most 512"),
        (["Confidence=101"], "whole number 0-100"),
        (["Title=new"], "expected one of Workflow, Note, Severity"),
        (["Workflow=NEW", "Workflow=NOTIFIED"], "Workflow given twice"),
        (["Severity=URGENT"], "Severity.Label: 'URGENT' is not one of"),
    ],
)
def test_bad_updates_are_refused_before_any_call(pairs: list[str], message: str) -> None:
    with pytest.raises(SecurityHubError, match=message):
        parse_update(pairs)


def test_fields_fit_security_hub_limits_and_say_what_was_cut() -> None:
    fields = [(f"metahub.check_{n:02}", f"value {n}") for n in range(80)]
    fields[0] = ("metahub.long", "y" * 5000)
    fields[1] = ("metahub." + "k" * 200 + "a", "1")
    fields[2] = ("metahub." + "k" * 200 + "b", "2")
    fitted = fit_fields(fields)
    assert len(fitted) == MAX_FIELDS
    assert all(len(k) <= MAX_KEY and 0 < len(v) <= MAX_VALUE for k, v in fitted.items())
    assert fitted["metahub.long"].endswith(
        f"…[+{5000 - len(fitted['metahub.long']) + len('…[+3991 chars]')} chars]"
    )
    assert len(fitted["metahub.long"]) == MAX_VALUE
    long_keys = [k for k in fitted if k.startswith("metahub.kkk")]
    assert len(long_keys) == 2 and all(len(k) == MAX_KEY for k in long_keys)  # still two fields
    note = fitted[TRUNCATED_KEY]
    assert note.startswith("dropped 31 of 80 fields: metahub.check_49, metahub.check_50")
    assert "shortened to 1024 characters: metahub.long" in note
    assert fit_fields(fields) == fitted  # the same context always gives the same fields
    small = [("metahub.is_public", "False")]
    assert fit_fields(small) == {"metahub.is_public": "False"}


def test_context_fields_put_rollups_first_with_evidence_and_reasons() -> None:
    run = _run(1, resources=1)
    [resource] = run.resources.values()
    resource.metachecks = {
        "is_public": None,
        "is_encrypted": False,
        "is_attached": None,
        "is_unrestricted": {"policy": "*"},
        "it_has_bucket_policy": True,
        "it_has_website": False,
        "it_has_acl": None,
    }
    resource.unknown = {
        "is_public": "GetBucketPolicy: access denied",
        "it_has_acl": "throttled",
        "metatrails.CreateBucket": "cloudtrail:LookupEvents: access denied (AccessDeniedException)",
    }
    resource.evidence = {
        "is_encrypted": "no default encryption",
        "is_attached": "does not apply to AwsS3Bucket",
    }
    resource.metatags = {"Environment": "prod"}
    resource.detected = {"environment": {"value": "production", "source": "tag Environment"}, "owner": None}
    assert context_fields(resource) == [
        ("metahub.is_public", "unknown: GetBucketPolicy: access denied"),
        ("metahub.is_encrypted", "False: no default encryption"),
        ("metahub.is_attached", "n/a: does not apply to AwsS3Bucket"),
        ("metahub.is_unrestricted", '{"policy":"*"}'),
        ("metahub.environment", "production"),
        ("metahub.tag.Environment", "prod"),
        (
            "metahub.unknown.metatrails.CreateBucket",
            "cloudtrail:LookupEvents: access denied (AccessDeniedException)",
        ),
        ("metahub.it_has_bucket_policy", "True"),
        ("metahub.it_has_acl", "unknown: throttled"),
        ("metahub.it_has_website", "False"),
    ]


# --- planning ------------------------------------------------------------------------------------


def test_updates_go_in_batches_of_100_per_region_and_skip_what_already_holds() -> None:
    run = _run(250)
    done = _run(5, Workflow={"Status": "NOTIFIED"})
    everything = {**run.resources}
    for arn, resource in done.resources.items():
        everything[arn] = resource.model_copy(
            update={"findings": resource.findings + run.resources[arn].findings}
        )
    plan = plan_update(everything, {"Workflow": {"Status": "NOTIFIED"}})
    assert [len(b.findings) for b in plan.batches] == [100, 100, 50]
    assert {b.region for b in plan.batches} == {"eu-west-1"}  # the ProductArn's region
    assert plan.up_to_date == 5
    assert "250 finding(s) to change in 3 BatchUpdateFindings call(s) (eu-west-1: 250)" in plan.describe()
    other = plan_update(run.resources, {"Workflow": {"Status": "NOTIFIED"}}, region="us-east-2")
    assert {b.region for b in other.batches} == {"us-east-2"}


def test_enrichment_keeps_other_fields_and_is_idempotent() -> None:
    foreign = {f"ticket_{n}": str(n) for n in range(45)}
    run = _run(4, resources=1, UserDefinedFields={**foreign, "metahub.stale": "old"})
    [resource] = run.resources.values()
    resource.metachecks = {
        name: False for name in ("is_public", "is_encrypted", "is_attached", "is_unrestricted")
    }
    resource.metachecks.update({f"it_has_{n}": True for n in range(10)})
    plan = plan_enrichment(run.resources)
    [batch] = plan.batches
    fields = batch.update["UserDefinedFields"]
    assert len(fields) == MAX_FIELDS and {k: fields[k] for k in foreign} == foreign
    assert "metahub.stale" not in fields and TRUNCATED_KEY in fields
    assert fields["metahub.is_public"] == "False"
    for finding in resource.findings:  # as Security Hub holds them after the update
        finding.UserDefinedFields = fields
    again = plan_enrichment(run.resources)
    assert again.batches == [] and again.up_to_date == 4
    crowded = _run(1, UserDefinedFields={f"k{n}": "v" for n in range(49)})
    [skipped] = plan_enrichment(crowded.resources).skipped
    assert skipped["reason"] == "it has 49 user-defined fields of its own"


def test_what_could_not_be_had_is_written_with_its_reason() -> None:
    run = metahub.Run.from_findings([make_finding("x", arn=f"arn:aws:ec2:eu-west-1:{ACCOUNT}:volume")])
    [resource] = run.resources.values()
    resource.unknown["metachecks"] = "account-level pseudo-ARN: a setting, not a resource to check"
    [batch] = plan_enrichment(run.resources).batches
    assert batch.update["UserDefinedFields"] == {
        "metahub.unknown.metachecks": "account-level pseudo-ARN: a setting, not a resource to check"
    }


def test_findings_without_a_product_arn_cannot_be_written() -> None:
    run = metahub.Run.from_findings([make_finding("x", ProductArn=None)])
    plan = plan_update(run.resources, {"Workflow": {"Status": "RESOLVED"}})
    assert plan.batches == [] and plan.skipped[0]["reason"] == "no ProductArn: not a Security Hub finding"


# --- carrying out --------------------------------------------------------------------------------


def test_batches_are_sent_throttling_retried_and_unprocessed_reported(offline_aws: Aws) -> None:
    run = _run(250)
    update = {"Workflow": {"Status": "NOTIFIED"}, "Note": {"Text": "triaged", "UpdatedBy": "metahub"}}
    plan = plan_update(run.resources, update)
    client = clients(offline_aws)("eu-west-1")
    slept: list[float] = []
    with Stubber(client) as stub:
        first, second, third = (b.findings for b in plan.batches)
        stub.add_client_error("batch_update_findings", "ThrottlingException", "Rate exceeded", 429)
        stub.add_response(
            "batch_update_findings",
            {"ProcessedFindings": _ids(first), "UnprocessedFindings": []},
            {"FindingIdentifiers": _ids(first), **update},
        )
        stub.add_response(
            "batch_update_findings",
            {
                "ProcessedFindings": _ids(second[1:]),
                "UnprocessedFindings": [
                    {
                        "FindingIdentifier": _ids(second)[0],
                        "ErrorCode": "FindingNotFound",
                        "ErrorMessage": "gone",
                    }
                ],
            },
            {"FindingIdentifiers": _ids(second), **update},
        )
        stub.add_client_error("batch_update_findings", "AccessDeniedException", "no", 403)
        result = apply(plan, clients(offline_aws), max_workers=1, sleep=slept.append)
        stub.assert_no_pending_responses()
    assert result.calls == 4 and result.processed == 199
    assert slept.count(0.5) == 1  # the one back-off, for the throttled call
    assert result.unprocessed[0] == {
        "Id": second[0].Id,
        "ProductArn": PRODUCT,
        "ErrorCode": "FindingNotFound",
        "ErrorMessage": "gone",
    }
    denied = result.unprocessed[1:]
    assert [u["Id"] for u in denied] == [f.Id for f in third]
    assert (
        denied[0]["ErrorMessage"] == "securityhub:BatchUpdateFindings: access denied (AccessDeniedException)"
    )


# --- the command line against the lab ------------------------------------------------------------


def test_enrich_findings_dry_run_plans_the_context_of_security_hub_findings(
    lab_endpoint: str, in_hub: list[dict[str, Any]], tmp_path: Path
) -> None:
    result = metahub_cli(
        "--inputs", "securityhub", "--sh-region", HUB_REGION, "--enrich-findings", "--dry-run",
        "--output-modes", "--output-dir", str(tmp_path),
        endpoint=lab_endpoint,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "nothing written to Security Hub" in result.stderr
    [plan_file] = tmp_path.glob("metahub-actions-plan-*.json")
    [plan] = json.loads(plan_file.read_text())["plans"]
    assert plan["action"] == "enrich-findings"
    written = {
        ident["Id"]: request["UserDefinedFields"]
        for request in plan["requests"]
        for ident in request["FindingIdentifiers"]
    }
    assert len(written) == len(in_hub)  # every finding, none already up to date
    by_resource = {f["Id"]: f["Resources"][0]["Id"] for f in in_hub}
    public = [
        fields for finding_id, fields in written.items()
        if by_resource[finding_id].startswith("arn:aws:ec2") and fields["metahub.is_public"].startswith("{")
    ]  # fmt: skip
    assert public, "the lab has instances with public addresses"
    assert all(
        " over IPv4 to " in json.loads(fields["metahub.is_public"])["reachable"][0] for fields in public
    )
    assert all(len(fields) <= MAX_FIELDS for fields in written.values())


def test_writing_asks_first_and_reports_what_security_hub_refused(
    lab_endpoint: str, in_hub: list[dict[str, Any]], tmp_path: Path
) -> None:
    args = ("--inputs", "securityhub", "--sh-region", HUB_REGION, "--update-findings", "Workflow=NOTIFIED",
            "--output-modes", "--output-dir", str(tmp_path))  # fmt: skip
    refused = metahub_cli(*args, endpoint=lab_endpoint)
    assert refused.returncode == 2
    assert "needs confirmation and stdin is not a terminal" in refused.stderr
    assert not list(tmp_path.glob("metahub-actions-*.json"))
    # moto has no BatchUpdateFindings: every call fails, and each finding is reported
    sent = metahub_cli(*args, "--no-actions-confirmation", endpoint=lab_endpoint)
    assert sent.returncode == 3, sent.stderr
    assert f"0 finding(s) updated, {len(in_hub)} not" in sent.stderr
    [record] = tmp_path.glob("metahub-actions-*.json")
    [result] = json.loads(record.read_text())["results"]
    assert len(result["unprocessed"]) == len(in_hub)
    assert {u["Id"] for u in result["unprocessed"]} == {f["Id"] for f in in_hub}


def test_the_demo_never_writes(tmp_path: Path) -> None:
    result = metahub_cli("--demo", "--update-findings", "Workflow=NOTIFIED", "--output-dir", str(tmp_path))
    assert result.returncode == 2 and "add --dry-run" in result.stderr


def test_enrich_back_leads_with_impact_and_the_top_combination(enriched_lab: metahub.Run) -> None:
    from metahub.actions import context_fields

    instance = next(
        r for r in enriched_lab.resources.values() if r.combinations and r.type == "AwsEc2Instance"
    )
    fields = dict(context_fields(instance))
    keys = list(fields)
    assert keys[:2] == ["metahub.impact", "metahub.combination"]
    assert json.loads(fields["metahub.impact"])["exposure"] == "effectively-public"
    assert fields["metahub.combination"].startswith(
        "CRITICAL Internet-reachable instance runs as an admin-equivalent role: "
    )
    assert fields["metahub.combination"].endswith(" -> arn:aws:iam::123456789012:role/app-admin-role")
