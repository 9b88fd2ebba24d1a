"""IAM Access Analyzer's custom policy checks beside metahub's verdicts (issue 21, part 4).

The documents come from an emulated account (moto, its own server); moto has no Access Analyzer, so
its two operations are answered by a handler that first validates each request against botocore's
real service model (as the Stubber does) and then answers by the document's content, so that the
answers do not depend on the order in which threads make the calls.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.validate import validate_parameters

import metahub
from metahub.aws import Aws

from .conftest import make_finding, metahub_cli, own_moto_server, write
from .least_privilege import not_allowed

ACCOUNT, REGION = "123456789012", "us-east-1"


def _bucket_policy(name: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*",
    }  # fmt: skip
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def account() -> Iterator[dict[str, str]]:
    """Buckets public, pinned to a VPC endpoint and private; a user whose inline policy may write
    permissions; a role trusted by another account."""
    with own_moto_server():
        s3 = boto3.client("s3", region_name=REGION)
        for name in ("open-site", "vpce-only", "no-policy"):
            s3.create_bucket(Bucket=name)
        s3.put_bucket_policy(Bucket="open-site", Policy=_bucket_policy("open-site"))
        s3.put_bucket_policy(
            Bucket="vpce-only",
            Policy=_bucket_policy("vpce-only", {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}),
        )
        iam = boto3.client("iam", region_name=REGION)
        iam.create_user(UserName="dev")
        iam.put_user_policy(
            UserName="dev",
            PolicyName="self-service",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PutUserPolicy", "Resource": "*"}]}
            ),
        )  # fmt: skip
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
        iam.create_role(RoleName="vendor", AssumeRolePolicyDocument=json.dumps(trust))
        yield {
            "open-site": "arn:aws:s3:::open-site",
            "vpce-only": "arn:aws:s3:::vpce-only",
            "no-policy": "arn:aws:s3:::no-policy",
            "dev": f"arn:aws:iam::{ACCOUNT}:user/dev",
            "vendor": f"arn:aws:iam::{ACCOUNT}:role/vendor",
        }


def _run(arns: dict[str, str]) -> metahub.Run:
    types = {"dev": "AwsIamUser", "vendor": "AwsIamRole"}
    findings = [
        make_finding(f"f-{name}", arn=arn, Resources=[{"Type": types.get(name, "AwsS3Bucket"), "Id": arn, "Region": REGION}])
        for name, arn in arns.items()
    ]  # fmt: skip
    return metahub.Run.from_findings(findings)


class AccessAnalyzer:
    """Answers CheckNoPublicAccess and CheckAccessNotGranted by content, as botocore's Stubber does:
    the request's parameters are validated against the operation's input shape in botocore's model
    (before-parameter-build), then the answer replaces the HTTP call (before-call), per thread."""

    def __init__(self, aws: Aws) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._answer = threading.local()
        client = aws.client("accessanalyzer", ACCOUNT, REGION)
        self.model = client.meta.service_model
        for operation, answer in (("CheckNoPublicAccess", self._public), ("CheckAccessNotGranted", self._not_granted)):
            client.meta.events.register(
                f"before-parameter-build.accessanalyzer.{operation}", self._validated(operation, answer)
            )
            client.meta.events.register(f"before-call.accessanalyzer.{operation}", self._reply)

    def _validated(self, operation: str, answer: Any) -> Any:
        def handler(params: dict[str, Any], **_: Any) -> None:
            validate_parameters(params, self.model.operation_model(operation).input_shape)
            self.calls.append((operation, params))
            self._answer.body = answer(json.loads(params["policyDocument"]), params)

        return handler

    def _reply(self, **_: Any) -> tuple[Any, dict[str, Any]]:
        class Response:
            status_code = 200

        return Response(), {**self._answer.body, "ResponseMetadata": {"HTTPStatusCode": 200}}

    @staticmethod
    def _public(document: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        # AWS's verdict here: any Allow to "*" can grant public access (it does not credit conditions
        # the way metahub does, so the VPC-endpoint bucket is where the two disagree).
        public = any(s.get("Effect") == "Allow" and s.get("Principal") in ("*", {"AWS": "*"}) for s in document["Statement"])
        return {"result": "FAIL" if public else "PASS", "message": "checked",
                "reasons": [{"description": "the policy allows access to everyone", "statementIndex": 0}] if public else []}  # fmt: skip

    @staticmethod
    def _not_granted(document: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        wanted = {a.lower() for a in params["access"][0]["actions"]}
        granted = any(
            str(s.get("Action")).lower() in wanted for s in document["Statement"] if s["Effect"] == "Allow"
        )
        return {"result": "FAIL" if granted else "PASS", "message": "checked", "reasons": []}


def test_each_distinct_policy_is_checked_once_and_disagreements_named(account: dict[str, str]) -> None:
    aws = Aws()
    analyzer = AccessAnalyzer(aws)
    asked: list[int] = []
    run = _run(account)
    report = run.enrich(aws, contexts=["access-analyzer-checks"], confirm_billed=lambda n: asked.append(n) or True)
    # config was implied; four documents: two bucket policies, the user's inline policy, the trust policy
    assert "config" in report.contexts
    assert asked == [4] and len(analyzer.calls) == 4
    checks = {name: run.resources[arn].metachecks for name, arn in account.items()}
    assert checks["open-site"]["its_access_analyzer_policy_checks"][0]["result"] == "FAIL"
    assert checks["open-site"]["it_has_access_analyzer_policy_disagreement"] is False  # both: public
    (disagreement,) = checks["vpce-only"]["it_has_access_analyzer_policy_disagreement"]
    assert disagreement.startswith("bucket policy: metahub: not public (")
    assert "aws:SourceVpce" in disagreement and "IAM Access Analyzer: can grant public access" in disagreement
    assert checks["no-policy"]["its_access_analyzer_policy_checks"] is False
    user = checks["dev"]["its_access_analyzer_policy_checks"]
    assert user == [{"check": "CheckAccessNotGranted", "policy": "inline policy self-service", "result": "FAIL", "message": "checked"}]
    role = {c["check"]: c["result"] for c in checks["vendor"]["its_access_analyzer_policy_checks"]}
    assert role == {"CheckNoPublicAccess": "PASS"}  # shared with one account, not public: both agree
    assert checks["vendor"]["it_has_access_analyzer_policy_disagreement"] is False
    assert not_allowed(report.calls) == set()


def test_nothing_billed_without_confirmation(account: dict[str, str]) -> None:
    aws = Aws()
    analyzer = AccessAnalyzer(aws)
    for confirm in (None, lambda n: False):
        run = _run(account)
        run.enrich(aws, contexts=["config", "access-analyzer-checks"], confirm_billed=confirm)
        bucket = run.resources[account["open-site"]]
        assert bucket.metachecks["its_access_analyzer_policy_checks"] is None
        assert "4 IAM Access Analyzer policy checks are billed per call and were not confirmed" in (
            bucket.unknown["its_access_analyzer_policy_checks"]
        )
        assert bucket.metachecks["is_public"]  # metahub's own verdict is untouched
    assert analyzer.calls == []


def test_the_command_line_counts_and_refuses_without_a_terminal(account: dict[str, str], tmp_path: Any) -> None:
    findings = write(tmp_path / "f.json", [make_finding("f", arn=account["open-site"])])
    import os

    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    result = metahub_cli("--input-asff", str(findings), "--context", "access-analyzer-checks",
                         "--output-modes", "json-short", "--output-dir", str(tmp_path), env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "IAM Access Analyzer policy checks: 1 call(s), billed per call" in result.stderr
    assert "need confirmation and stdin is not a terminal; they are skipped" in result.stderr
