"""MetaTrails against CloudTrail LookupEvents, stubbed with botocore's Stubber (which checks each
request against the real service model): moto has no LookupEvents."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

import metahub
from metahub.aws import Aws, RateLimiter

from .conftest import make_finding

ACCOUNT = "123456789012"
INSTANCES = [f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-{n:017x}" for n in range(40)]
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app/deployer"


def _run() -> metahub.Run:
    resources = [("AwsEc2Instance", arn, "us-east-1") for arn in INSTANCES] + [
        ("AwsIamRole", ROLE, "us-east-1")
    ]
    return metahub.Run.from_findings(
        [
            make_finding(f"f-{n}", Resources=[{"Type": type_, "Id": arn, "Region": region}])
            for n, (type_, arn, region) in enumerate(resources)
        ]
    )


def _event(name: str, user: str, resource: str, when: int) -> dict[str, Any]:
    return {
        "EventId": f"{name}-{resource}-{when}",
        "EventName": name,
        "Username": user,
        "EventTime": datetime(2026, 11, when, tzinfo=timezone.utc),
        "Resources": [{"ResourceType": "AWS::EC2::Instance", "ResourceName": resource}],
    }


def _expect(
    stubber: Stubber,
    name: str,
    events: list[dict[str, Any]],
    token: str | None = None,
    after: str | None = None,
) -> None:
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
        "StartTime": ANY,
        "MaxResults": 50,
    }
    if after:
        params["NextToken"] = after
    stubber.add_response(
        "lookup_events", {"Events": events, **({"NextToken": token} if token else {})}, params
    )


@pytest.fixture()
def aws(offline_aws: Aws) -> Aws:
    return offline_aws


def test_one_pass_per_event_name_matched_locally(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("metahub.enrich.LOOKUP_RATE", 1000.0)  # the limiter has its own test
    ec2_trail = Stubber(aws.client("cloudtrail", ACCOUNT, "us-east-1"))
    instance_ids = [arn.rsplit("/", 1)[-1] for arn in INSTANCES]
    # Stubbed calls must come in order: event names are looked up sorted, one thread here.
    _expect(ec2_trail, "CreateRole", [{**_event("CreateRole", "admin", "deployer", 3)}])
    _expect(
        ec2_trail,
        "RunInstances",
        [_event("RunInstances", "alice", i, 20) for i in instance_ids[:20]],
        token="page-2",
    )
    _expect(
        ec2_trail,
        "RunInstances",
        [_event("RunInstances", "bob", i, 10) for i in instance_ids[20:]],
        after="page-2",
    )
    run = _run()
    with ec2_trail:
        report = run.enrich(
            aws,
            contexts=["cloudtrail"],
            trail_events={"AwsEc2Instance": ["RunInstances"], "AwsIamRole": ["CreateRole"]},
            max_workers=1,
        )
        ec2_trail.assert_no_pending_responses()
    # 41 resources, exactly the 3 stubbed calls (one more would have found no stub and failed)
    assert not report.unknown and not any(r.unknown for r in run.resources.values())
    first, last = run.resources[INSTANCES[0]], run.resources[INSTANCES[-1]]
    assert first.metatrails["RunInstances"]["Username"] == "alice"
    assert last.metatrails["RunInstances"] == {
        "Username": "bob",
        "EventTime": "2026-11-10T00:00:00+00:00",
        "EventId": f"RunInstances-{instance_ids[-1]}-10",
    }
    assert run.resources[ROLE].metatrails["CreateRole"]["Username"] == "admin"  # matched by role name
    assert run.resources[ROLE].detected["owner"] == {
        "value": "admin", "source": "CloudTrail: CreateRole by admin on 2026-11-03T00:00:00+00:00"}  # fmt: skip


def test_throttling_is_waited_out_then_reported(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("metahub.enrich.LOOKUP_RATE", 1000.0)
    monkeypatch.setattr("metahub.aws.time.sleep", lambda _: None)
    trail = Stubber(aws.client("cloudtrail", ACCOUNT, "us-east-1"))
    for _ in range(2):
        trail.add_client_error(
            "lookup_events", service_error_code="ThrottlingException", http_status_code=400
        )
    _expect(trail, "RunInstances", [_event("RunInstances", "alice", INSTANCES[0].rsplit("/", 1)[-1], 20)])
    run = _run()
    with trail:
        run.enrich(
            aws, contexts=["cloudtrail"], trail_events={"AwsEc2Instance": ["RunInstances"]}, max_workers=1
        )
    assert run.resources[INSTANCES[0]].metatrails["RunInstances"]["Username"] == "alice"
    assert run.resources[INSTANCES[1]].metatrails == {}  # looked up, no event in the window

    trail = Stubber(aws.client("cloudtrail", ACCOUNT, "us-east-1"))
    for _ in range(6):
        trail.add_client_error(
            "lookup_events", service_error_code="ThrottlingException", http_status_code=400
        )
    again = _run()
    with trail:
        again.enrich(
            aws, contexts=["cloudtrail"], trail_events={"AwsEc2Instance": ["RunInstances"]}, max_workers=1
        )
    reason = again.resources[INSTANCES[0]].unknown["metatrails.RunInstances"]
    assert "cloudtrail:LookupEvents" in reason and "Throttling" in reason


def test_access_denied_is_unknown_with_reason(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("metahub.enrich.LOOKUP_RATE", 1000.0)
    trail = Stubber(aws.client("cloudtrail", ACCOUNT, "us-east-1"))
    trail.add_client_error("lookup_events", service_error_code="AccessDeniedException", http_status_code=403)
    run = _run()
    with trail:
        run.enrich(
            aws, contexts=["cloudtrail"], trail_events={"AwsEc2Instance": ["RunInstances"]}, max_workers=1
        )
    assert (
        run.resources[INSTANCES[0]].unknown["metatrails.RunInstances"].startswith("cloudtrail:LookupEvents: ")
    )
    assert sum(len(r.findings) for r in run.resources.values()) == 41


def test_rate_limiter_spaces_calls_at_two_per_second() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert slept == [0.5, 0.5, 0.5, 0.5]  # the first goes at once, then one every half second
