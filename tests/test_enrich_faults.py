"""AWS trouble never stops a run: the affected checks are null, and each says why."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

import metahub
from metahub.aws import Aws, RoleSettings

from .conftest import free_port, make_finding

ACCOUNT = "123456789012"
PUBLIC_INSTANCE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0057b2408bc3af688"
PUBLIC_BUCKET = "arn:aws:s3:::public-assets-us-east-1-0"


def _run(*arns_and_types: tuple[str, str], account: str = ACCOUNT) -> metahub.Run:
    return metahub.Run.from_findings(
        [
            make_finding(
                f"f-{i}", AwsAccountId=account, Resources=[{"Type": type_, "Id": arn, "Region": "us-east-1"}]
            )
            for i, (arn, type_) in enumerate(arns_and_types)
        ]
    )


def _deny(aws: Aws, service: str, event: str, code: str = "AccessDenied") -> None:
    """Every call to ``event`` (e.g. ``ec2.DescribeSecurityGroups``) fails with ``code``."""

    def respond(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        parsed = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
        return AWSResponse("https://injected", 403, {}, None), parsed

    aws.client(service, ACCOUNT, "us-east-1").meta.events.register(f"before-call.{event}", respond)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> list[bytes]:
        return [self.data]


def test_access_denied_on_one_call(lab_endpoint: str) -> None:
    aws = Aws()
    _deny(aws, "ec2", "ec2.DescribeSecurityGroups", "UnauthorizedOperation")
    run = _run((PUBLIC_INSTANCE, "AwsEc2Instance"), (PUBLIC_BUCKET, "AwsS3Bucket"))
    report = run.enrich(aws)
    instance = run.resources[PUBLIC_INSTANCE]
    assert instance.metachecks["it_has_public_ip"]  # what needs no security group is decided
    assert instance.metachecks["is_public"] is None
    assert (
        instance.unknown["is_public"] == "ec2:describe_security_groups: access denied (UnauthorizedOperation)"
    )
    assert run.resources[PUBLIC_BUCKET].metachecks["is_public"]  # other services carry on
    assert report.unknown["ec2:describe_security_groups: access denied (UnauthorizedOperation)"] >= 1
    assert sum(len(r.findings) for r in run.resources.values()) == 2


def test_access_denied_on_a_detail_call(lab_endpoint: str) -> None:
    aws = Aws()
    _deny(aws, "s3", "s3.GetBucketPolicy")
    run = _run((PUBLIC_BUCKET, "AwsS3Bucket"))
    run.enrich(aws)
    checks, unknown = run.resources[PUBLIC_BUCKET].metachecks, run.resources[PUBLIC_BUCKET].unknown
    assert (
        checks["is_public"] is None
        and unknown["is_public"] == "s3:get_bucket_policy: access denied (AccessDenied)"
    )
    assert checks["it_has_public_access_block_enabled"] == []  # the detail calls that worked still count


def test_throttling_is_retried(lab_endpoint: str) -> None:
    aws = Aws()
    throttled = {"left": 2}
    body = (
        b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow down</Message></Error>"
        b"</Errors><RequestID>r</RequestID></Response>"
    )

    def throttle(**_: Any) -> AWSResponse | None:
        if throttled["left"]:
            throttled["left"] -= 1
            return AWSResponse("https://injected", 503, {}, _Body(body))
        return None

    aws.client("ec2", ACCOUNT, "us-east-1").meta.events.register(
        "before-send.ec2.DescribeInstances", throttle
    )
    run = _run((PUBLIC_INSTANCE, "AwsEc2Instance"))
    report = run.enrich(aws)
    assert run.resources[PUBLIC_INSTANCE].metachecks["is_public"]["reachable"]
    assert report.calls["ec2:DescribeInstances"] == 3  # two throttled attempts, then the answer


def test_throttling_that_never_ends(lab_endpoint: str) -> None:
    aws = Aws(max_attempts=1)
    _deny(aws, "ec2", "ec2.DescribeInstances", "RequestLimitExceeded")
    run = _run((PUBLIC_INSTANCE, "AwsEc2Instance"))
    run.enrich(aws)
    reason = run.resources[PUBLIC_INSTANCE].unknown["is_public"]
    assert reason == "ec2:describe_instances: throttled by AWS, retries exhausted (RequestLimitExceeded)"


def test_unreachable_endpoint(lab_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    """A run that reached nothing raises, naming why, and keeps every reason on its resources."""
    run = _run((PUBLIC_INSTANCE, "AwsEc2Instance"), (PUBLIC_BUCKET, "AwsS3Bucket"))
    with pytest.raises(metahub.ContextUnreachable, match="sts:GetCallerIdentity: endpoint unreachable"):
        run.enrich(Aws(max_attempts=1))
    for resource in run.resources.values():
        assert set(resource.metachecks.values()) == {None}
        assert resource.context_seen is False
        assert all("endpoint unreachable" in reason for reason in resource.unknown.values())
    assert run.enrichment is not None and run.enrichment.enriched == 0
    assert run.enrichment.reached_nothing


def test_an_account_not_entered_is_a_warning(lab_endpoint: str) -> None:
    """The caller's own account is seen; another one, without a role, is named in a warning."""
    other = "arn:aws:ec2:us-east-1:111111111111:instance/i-0123456789abcdef0"
    run = metahub.Run.from_findings(
        [
            make_finding("mine", PUBLIC_INSTANCE, Resources=[{"Type": "AwsEc2Instance", "Id": PUBLIC_INSTANCE}]),
            make_finding(
                "theirs", other, AwsAccountId="111111111111", Resources=[{"Type": "AwsEc2Instance", "Id": other}]
            ),
        ]
    )
    with pytest.warns(metahub.ContextWarning, match="1 account"):
        report = run.enrich(Aws())
    assert not report.reached_nothing and set(report.unreachable) == {"111111111111"}
    assert run.resources[PUBLIC_INSTANCE].context_seen and run.resources[other].context_seen is False


def test_account_we_cannot_enter(lab_endpoint: str) -> None:
    other = "arn:aws:ec2:us-east-1:111111111111:instance/i-0123456789abcdef0"
    run = _run((other, "AwsEc2Instance"), account="111111111111")
    with pytest.raises(metahub.ContextUnreachable, match="not the caller's"):  # its only account
        run.enrich(Aws())
    reason = run.resources[other].unknown["is_public"]
    assert (
        "account 111111111111 is not the caller's (123456789012) and no --mh-assume-role was given" in reason
    )


def test_assumed_role_per_account(lab_endpoint: str) -> None:
    aws = Aws(role=RoleSettings("metahub-read", external_id="x-1"))
    run = _run((PUBLIC_INSTANCE, "AwsEc2Instance"))
    run.enrich(aws)
    assert run.resources[PUBLIC_INSTANCE].metachecks["is_public"]
    assert aws.calls["sts:AssumeRole"] == 1


def test_resource_deleted_since_the_scan(lab_endpoint: str) -> None:
    gone = "arn:aws:s3:::bucket-deleted-since-the-scan"
    run = _run((gone, "AwsS3Bucket"), (PUBLIC_BUCKET, "AwsS3Bucket"))
    run.enrich(Aws())
    assert set(run.resources[gone].metachecks.values()) == {None}
    assert "not found in account 123456789012" in run.resources[gone].unknown["is_public"]
    assert run.resources[PUBLIC_BUCKET].metachecks["is_public"]


def test_unknown_type_is_grouped_and_says_so(lab_endpoint: str) -> None:
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:notebook-instance/nb"
    run = _run((arn, "AwsSageMakerNotebookInstance"))
    run.enrich(Aws())
    assert run.resources[arn].metachecks is None
    assert (
        run.resources[arn].unknown["metachecks"]
        == "no MetaChecks for resource type AwsSageMakerNotebookInstance"
    )


def test_third_party_checks_folder(lab_endpoint: str, tmp_path: Path) -> None:
    folder = tmp_path / "checks"
    folder.mkdir()
    (folder / "team_rules.py").write_text(
        textwrap.dedent('''
        from metahub.checks.base import check

        @check("AwsS3Bucket", needs=("Policy",))
        def it_has_policy_statements(r):
            """How many statements the bucket policy has."""
            return len((r.detail("Policy") or {}).get("Statement", []))

        @check("AwsS3Bucket")
        def is_team_approved(r):
            raise RuntimeError("boom")
    ''')
    )
    findings = tmp_path / "f.json"
    findings.write_text(
        metahub.Run.from_findings([make_finding("1", PUBLIC_BUCKET)]).findings[0].model_dump_json()
    )
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "metahub",
            "--input-asff",
            str(findings),
            "--meta-checks",
            "--checks-dir",
            str(folder),
            "--output-modes",
            "json-short",
            "--output-dir",
            str(out),
            "--no-banners",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    import json

    entry = json.loads(next(out.glob("metahub-short-*.json")).read_text())[PUBLIC_BUCKET]
    assert entry["metachecks"]["it_has_policy_statements"] == 1
    assert entry["metachecks"]["is_team_approved"] is None
    assert entry["unknown"]["is_team_approved"] == "check failed: RuntimeError: boom"
    assert "AWS calls:" in result.stderr

    listing = subprocess.run(
        [sys.executable, "-m", "metahub", "--list-meta-checks", "--checks-dir", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "it_has_policy_statements" in listing and "AwsEc2Instance" in listing
    as_json = json.loads(
        subprocess.run(
            [sys.executable, "-m", "metahub", "--list-meta-checks", "--json", "--checks-dir", str(folder)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    third_party = as_json["AwsS3Bucket"]["it_has_policy_statements"]
    assert not third_party["module"].startswith("metahub.")  # the listing says where a check comes from
    assert as_json["AwsEc2Instance"]["is_public"]["module"].startswith("metahub.checks.")
