"""IAM Access Analyzer's own verdicts: the active external-access findings of an account's analyzer,
read once per (account, region) — ListAnalyzers, then ListFindings paginated — never per resource."""

from __future__ import annotations

from typing import Any

from metahub.aws import Aws, describe_error, paginate

ANALYZED_TYPES = frozenset(
    {
        "AwsS3Bucket", "AwsIamRole", "AwsKmsKey", "AwsLambdaFunction", "AwsSqsQueue", "AwsSnsTopic",
        "AwsSecretsManagerSecret", "AwsEfsFileSystem", "AwsEc2Snapshot", "AwsRdsDbSnapshot", "AwsDynamoDbTable",
    }
)  # fmt: skip
"""Resource types Access Analyzer reports external access for, among those metahub checks."""
_EXTERNAL = ("ACCOUNT", "ORGANIZATION")
"""Analyzer types for external access (the *_UNUSED_ACCESS ones find unused permissions)."""


def external_access(aws: Aws, account: str, region: str, partition: str = "aws") -> dict[str, Any]:
    """``{"analyzer": arn or None, "zone": ..., "findings": {resource ARN: [finding summary]}}``, or
    ``{"error": reason}``. An account analyzer is preferred: its zone of trust is the account, as
    metahub's "outside the account"; an organization analyzer trusts the whole organization."""
    try:
        client = aws.client("accessanalyzer", account, region, partition)
        analyzers = [
            a
            for page in paginate(client, "list_analyzers", {})
            for a in page.get("analyzers", [])
            if a.get("status") == "ACTIVE" and a.get("type") in _EXTERNAL
        ]
        if not analyzers:
            return {"analyzer": None, "zone": None, "findings": {}}
        analyzer = min(analyzers, key=lambda a: _EXTERNAL.index(a["type"]))
        pages = paginate(
            client,
            "list_findings",
            {"analyzerArn": analyzer["arn"], "filter": {"status": {"eq": ["ACTIVE"]}}},
        )
    except Exception as exc:
        return {"error": describe_error(exc, "accessanalyzer:ListAnalyzers/ListFindings")}
    findings: dict[str, list[dict[str, Any]]] = {}
    for page in pages:
        for finding in page.get("findings", []):
            summary = {
                key: finding[key]
                for key in ("id", "isPublic", "principal", "action", "condition", "resourceType")
                if finding.get(key) not in (None, {}, [])
            }
            findings.setdefault(str(finding.get("resource")), []).append(summary)
    return {"analyzer": analyzer["arn"], "zone": analyzer["type"].lower(), "findings": findings}


def policy_check(
    aws: Aws, account: str, region: str, partition: str, operation: str, params: dict[str, Any]
) -> dict[str, Any]:
    """One IAM Access Analyzer custom policy check (``check_no_public_access`` or
    ``check_access_not_granted``), billed per call: ``{"result": "PASS"|"FAIL", "message",
    "reasons"}``, or ``{"error": reason}``."""
    try:
        client = aws.client("accessanalyzer", account, region, partition)
        answer = getattr(client, operation)(**params)
    except Exception as exc:
        name = "".join(part.title() for part in operation.split("_"))
        return {"error": describe_error(exc, f"accessanalyzer:{name}")}
    return {
        "result": answer.get("result"),
        "message": answer.get("message", ""),
        "reasons": [r.get("description", "") for r in answer.get("reasons", [])],
    }
