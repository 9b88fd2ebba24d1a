"""MetaTags, account context, and environment / owner / application detection."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import metahub
from metahub.aws import Aws
from metahub.detection import detect, load_rules
from metahub.resources.tagging import TAGGING_BATCH, tags_by_api

from .conftest import make_finding
from .least_privilege import not_allowed
from .test_enrich_faults import ACCOUNT, _deny


def _without_tags(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stripped = copy.deepcopy(findings)
    for finding in stripped:
        for resource in finding["Resources"]:
            resource.pop("Tags", None)
    return stripped


def test_tags_from_findings_and_from_the_api_agree(
    lab_endpoint: str, asff_findings: list[dict[str, Any]]
) -> None:
    failed = [f for f in asff_findings if f["Compliance"]["Status"] == "FAILED"]
    from_findings = metahub.Run.from_findings(failed)
    from_findings.enrich(Aws(), contexts=["tags"])
    aws = Aws()
    from_api = metahub.Run.from_findings(_without_tags(failed))
    report = from_api.enrich(aws, contexts=["tags"])
    compared = 0
    for arn, resource in from_findings.resources.items():
        if resource.tags:
            assert from_api.resources[arn].metatags == resource.tags, arn
            compared += 1
    assert compared >= 40
    # every resource of the FAILED findings, in batches: no call per resource
    assert len(from_api.resources) == 2683
    assert report.total_calls <= 30, report.calls
    assert not_allowed(report.calls) == set()
    batches = report.calls["resource-groups-tagging-api:GetResources"]
    assert 0 < batches <= 2 * (1 + 1400 // TAGGING_BATCH)


def test_tags_api_denied_is_unknown_with_reason(lab_endpoint: str) -> None:
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-us-east-1-0"
    run = metahub.Run.from_findings(
        [make_finding(Resources=[{"Type": "AwsSqsQueue", "Id": arn, "Region": "us-east-1"}])]
    )
    aws = Aws()
    _deny(aws, "resourcegroupstaggingapi", "resource-groups-tagging-api.GetResources")
    run.enrich(aws, contexts=["tags"])
    resource = run.resources[arn]
    assert resource.metatags is None
    assert resource.unknown["metatags"] == "tagging:GetResources: access denied (AccessDenied)"


def test_batches_of_one_hundred(lab_endpoint: str) -> None:
    aws = Aws()
    arns = [f"arn:aws:ec2:us-east-1:{ACCOUNT}:snapshot/snap-{n:017x}" for n in range(250)]
    tags = tags_by_api(aws, ACCOUNT, "us-east-1", "aws", arns)
    assert len(tags) == 250 and all(value == {} for value in tags.values())  # none exist: none tagged
    assert aws.calls["resource-groups-tagging-api:GetResources"] == 3


def test_account_context_and_denied_parts(lab_endpoint: str) -> None:
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-us-east-1-0"
    run = metahub.Run.from_findings(
        [make_finding(Resources=[{"Type": "AwsSqsQueue", "Id": arn, "Region": "us-east-1"}])]
    )
    aws = Aws()
    _deny(aws, "organizations", "organizations.DescribeOrganization")
    run.enrich(aws, contexts=["account"])
    context = run.resources[arn].metaaccount
    assert context["AccountId"] == ACCOUNT
    assert context["Organization"] is None
    assert run.resources[arn].unknown["metaaccount.Organization"].endswith("access denied (AccessDenied)")
    assert context["AlternateContacts"]["SECURITY"] is False  # none set: known, not unknown


def _resource(tags: dict[str, str], **extra: Any) -> metahub.AffectedResource:
    run = metahub.Run.from_findings(
        [make_finding(Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b", "Tags": tags}])]
    )
    resource = next(iter(run.resources.values()))
    for key, value in extra.items():
        setattr(resource, key, value)
    return resource


@pytest.mark.parametrize(
    ("tags", "extra", "environment"),
    [
        ({"Environment": "PRD"}, {}, ("production", "tag Environment=PRD")),
        ({"env": "uat"}, {}, ("staging", "tag env=uat")),
        ({"Stage": "blue"}, {}, ("blue", "tag Stage=blue (matches no rule)")),
        (
            {},
            {"metaaccount": {"Alias": "acme-prod-payments"}},
            ("production", "account alias acme-prod-payments"),
        ),
        ({}, {}, None),
    ],
)
def test_environment_detection(tags: dict[str, str], extra: dict[str, Any], environment: Any) -> None:
    found = detect(_resource(tags, **extra), load_rules())["environment"]
    assert (found and (found["value"], found["source"])) == environment


def test_owner_and_application_detection_and_custom_rules(tmp_path: Any) -> None:
    resource = _resource({"Team": "payments", "awsApplication": "arn:aws:resource-groups:app/x"})
    found = detect(resource, load_rules())
    assert found["owner"] == {"value": "payments", "source": "tag Team"}
    assert found["application"]["source"] == "tag awsApplication"
    trail_owner = detect(_resource({}, metatrails={"CreateBucket": {"Username": "alice"}}), load_rules())
    assert trail_owner["owner"]["value"] == "alice" and trail_owner["owner"]["source"].startswith("CloudTrail: ")
    rules = load_rules()
    rules["environment"]["accounts"] = {"123456789012": "production"}
    assert detect(_resource({}), rules)["environment"] == {"value": "production", "source": "account id"}
    broken = tmp_path / "rules.json"
    broken.write_text('{"environment": {}}')
    with pytest.raises(ValueError, match="no 'owner' section"):
        load_rules(broken)
