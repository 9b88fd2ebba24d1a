"""IAM Access Analyzer beside metahub's own verdicts, against botocore's Stubber (moto has no
Access Analyzer; the Stubber checks every request against the real service model)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

import metahub
from metahub.aws import Aws

from .conftest import make_finding
from .least_privilege import not_allowed

ACCOUNT, REGION = "123456789012", "us-east-1"
ANALYZER = f"arn:aws:access-analyzer:{REGION}:{ACCOUNT}:analyzer/account"
BUCKETS = {
    name: f"arn:aws:s3:::{name}"
    for name in ("agree-public", "agree-private", "only-us", "only-them", "unknown")
}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/vendor"


def _run(local: dict[str, Any]) -> metahub.Run:
    findings = [
        make_finding(f"f-{name}", arn=arn, Resources=[{"Type": "AwsS3Bucket", "Id": arn, "Region": REGION}])
        for name, arn in BUCKETS.items()
    ]
    findings.append(make_finding("f-role", Resources=[{"Type": "AwsIamRole", "Id": ROLE, "Region": REGION}]))
    run = metahub.Run.from_findings(findings)
    for arn, value in local.items():  # what the config context decided, as it would leave it
        run.resources[arn].metachecks = {"is_public": value}
        if value is False:
            run.resources[arn].evidence["is_public"] = (
                "the bucket policy grants nothing to anyone outside the account"
            )
    return run


LOCAL = {
    BUCKETS["agree-public"]: {"policy_statements": [{"statement": "bucket policy statement 1"}]},
    BUCKETS["agree-private"]: False,
    BUCKETS["only-us"]: {"policy_statements": [{"statement": "bucket policy statement 1"}]},
    BUCKETS["only-them"]: False,
    BUCKETS["unknown"]: None,
    ROLE: False,
}


def _finding(resource: str, public: bool, finding_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": finding_id,
        "resource": resource,
        "resourceType": "AWS::S3::Bucket" if ":s3:::" in resource else "AWS::IAM::Role",
        "isPublic": public,
        "principal": {"AWS": "*"} if public else {"AWS": "999988887777"},
        "action": ["s3:GetObject"] if ":s3:::" in resource else ["sts:AssumeRole"],
        "condition": {},
        "createdAt": "2026-11-01T00:00:00Z",
        "analyzedAt": "2026-11-01T00:00:00Z",
        "updatedAt": "2026-11-01T00:00:00Z",
        "status": "ACTIVE",
        "resourceOwnerAccount": ACCOUNT,
        **extra,
    }


def _analyzers(stubber: Stubber, analyzers: list[dict[str, Any]]) -> None:
    stubber.add_response("list_analyzers", {"analyzers": analyzers}, {})


ACTIVE = {
    "arn": ANALYZER,
    "name": "account",
    "type": "ACCOUNT",
    "createdAt": "2026-01-01T00:00:00Z",
    "status": "ACTIVE",
}
FILTER = {"analyzerArn": ANALYZER, "filter": {"status": {"eq": ["ACTIVE"]}}}


def test_findings_attached_and_disagreements_named(offline_aws: Aws) -> None:
    stubber = Stubber(offline_aws.client("accessanalyzer", ACCOUNT, REGION))
    unused = {**ACTIVE, "arn": ANALYZER + "-unused", "type": "ACCOUNT_UNUSED_ACCESS"}
    _analyzers(stubber, [unused, ACTIVE])
    stubber.add_response(
        "list_findings",
        {
            "findings": [_finding(BUCKETS["agree-public"], True, "f-1"), _finding(ROLE, False, "f-2")],
            "nextToken": "t",
        },
        FILTER,
    )
    stubber.add_response(
        "list_findings",
        {"findings": [_finding(BUCKETS["only-them"], True, "f-3")]},
        {**FILTER, "nextToken": "t"},
    )
    run = _run(LOCAL)
    with stubber:
        run.enrich(offline_aws, contexts=["access-analyzer"])
    stubber.assert_no_pending_responses()
    checks = {arn: r.metachecks for arn, r in run.resources.items()}
    # Same verdict: no disagreement, AWS's findings kept as evidence.
    assert checks[BUCKETS["agree-public"]]["its_access_analyzer_findings"][0]["isPublic"] is True
    assert checks[BUCKETS["agree-public"]]["it_has_access_analyzer_disagreement"] is False
    assert checks[ROLE]["its_access_analyzer_findings"][0]["principal"] == {"AWS": "999988887777"}
    assert checks[ROLE]["it_has_access_analyzer_disagreement"] is False  # shared, not public: both agree
    assert checks[BUCKETS["agree-private"]]["its_access_analyzer_findings"] is False
    # Disagreements, both ways, with both sides.
    assert checks[BUCKETS["only-us"]]["it_has_access_analyzer_disagreement"] == (
        "metahub: public; IAM Access Analyzer: no active public finding"
    )
    assert checks[BUCKETS["only-them"]]["it_has_access_analyzer_disagreement"] == (
        "metahub: not public (the bucket policy grants nothing to anyone outside the account); "
        "IAM Access Analyzer: public: f-3"
    )
    # Unknown is not a disagreement.
    assert checks[BUCKETS["unknown"]]["it_has_access_analyzer_disagreement"] is False
    assert "unknown" in run.resources[BUCKETS["unknown"]].evidence["it_has_access_analyzer_disagreement"]
    # One read per (account, region) for six resources: exactly the three stubbed calls (a fourth
    # would have found no stub and failed), all within the shipped read-only policy.
    assert not_allowed({"accessanalyzer:ListAnalyzers", "accessanalyzer:ListFindings"}) == set()


def test_no_analyzer_is_a_no_with_its_reason(offline_aws: Aws) -> None:
    stubber = Stubber(offline_aws.client("accessanalyzer", ACCOUNT, REGION))
    _analyzers(stubber, [{**ACTIVE, "status": "DISABLED"}])
    run = _run(LOCAL)
    with stubber:
        run.enrich(offline_aws, contexts=["access-analyzer"])
    bucket = run.resources[BUCKETS["only-us"]]
    assert bucket.metachecks["its_access_analyzer_findings"] is False
    assert (
        bucket.evidence["its_access_analyzer_findings"]
        == f"no active IAM Access Analyzer for external access in {REGION}"
    )


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException"])
def test_failures_are_unknown_with_the_reason(offline_aws: Aws, code: str) -> None:
    stubber = Stubber(offline_aws.client("accessanalyzer", ACCOUNT, REGION))
    for _ in range(10):  # throttling is retried by botocore before it gives up
        stubber.add_client_error(
            "list_analyzers",
            service_error_code=code,
            http_status_code=400 if code != "ThrottlingException" else 429,
        )
    run = _run(LOCAL)
    with stubber:
        report = run.enrich(offline_aws, contexts=["access-analyzer"])
    bucket = run.resources[BUCKETS["only-us"]]
    assert bucket.metachecks["its_access_analyzer_findings"] is None
    assert code in bucket.unknown["its_access_analyzer_findings"]
    assert bucket.metachecks["is_public"]  # metahub's own verdict is untouched
    assert sum(report.unknown.values()) == 2 * len(run.resources)


def test_disagreements_can_be_filtered(offline_aws: Aws) -> None:
    stubber = Stubber(offline_aws.client("accessanalyzer", ACCOUNT, REGION))
    _analyzers(stubber, [ACTIVE])
    stubber.add_response("list_findings", {"findings": [_finding(BUCKETS["only-them"], True, "f-3")]}, FILTER)
    run = _run(LOCAL)
    with stubber:
        run.enrich(offline_aws, contexts=["access-analyzer"])
    found = run.filter("it_has_access_analyzer_disagreement=True")
    # agree-public has no AWS finding in this answer: it disagrees here too.
    assert set(found.resources) == {BUCKETS["agree-public"], BUCKETS["only-us"], BUCKETS["only-them"]}
