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


def _record(identity: dict[str, Any]) -> dict[str, Any]:
    import json

    return {"Username": "lookup-username", "CloudTrailEvent": json.dumps({"eventVersion": "1.08", "userIdentity": identity})}


# Each row is the CloudTrail user guide's "userIdentity element": its examples, and its fields
# ("type ... AssumedRole: temporary security credentials obtained with a role"; "principalId ...
# includes the session name"; "arn ... The last section of the arn contains the user or role that
# made the call"; "invokedBy: the name of the AWS service that made the request").
@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ({"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/Alice", "userName": "Alice"},
         {"name": "Alice", "type": "IAMUser"}),
        ({"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/RoleToBeAssumed/MySessionName",
          "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "RoleToBeAssumed"}}},
         {"name": "MySessionName", "type": "AssumedRole", "role": "RoleToBeAssumed"}),
        ({"type": "AssumedRole",  # a permission set's role: the session is the signed-in user
          "arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/carol@example.com",
          "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "AWSReservedSSO_Admin_0123456789abcdef"}}},
         {"name": "carol@example.com", "type": "IAM Identity Center user", "role": "AWSReservedSSO_Admin_0123456789abcdef"}),
        ({"type": "FederatedUser", "arn": "arn:aws:sts::123456789012:federated-user/Bob"}, {"name": "Bob", "type": "FederatedUser"}),
        ({"type": "IdentityCenterUser", "onBehalfOf": {"userId": "94482488-3041-7026-18f3-be45837cd0e4"}},
         {"name": "94482488-3041-7026-18f3-be45837cd0e4", "type": "IdentityCenterUser"}),
        ({"type": "WebIdentityUser", "userName": "user-id", "identityProvider": "accounts.google.com"},
         {"name": "user-id", "type": "WebIdentityUser"}),
        ({"type": "Root", "arn": "arn:aws:iam::123456789012:root"}, {"name": "root", "type": "Root"}),
        ({"type": "AWSService", "invokedBy": "autoscaling.amazonaws.com"}, {"name": "autoscaling.amazonaws.com", "type": "AWSService"}),
        ({}, None),
    ],
)  # fmt: skip
def test_the_creator_is_who_cloudtrail_says_made_the_call(identity: dict[str, Any], expected: Any) -> None:
    from metahub.resources.cloudtrail import creator

    assert creator(_record(identity)) == expected
    assert creator({"Username": "x", "CloudTrailEvent": "not json"}) is None


def test_the_creating_event_decides_the_owner_and_a_service_owns_nothing(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("metahub.enrich.LOOKUP_RATE", 1000.0)
    trail = Stubber(aws.client("cloudtrail", ACCOUNT, "us-east-1"))
    ids = [arn.rsplit("/", 1)[-1] for arn in INSTANCES[:2]]
    sso = {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Dev_ab12/dana@example.com",
           "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "AWSReservedSSO_Dev_ab12"}}}  # fmt: skip
    service = {"type": "AWSService", "invokedBy": "autoscaling.amazonaws.com"}
    # names are looked up sorted: the change (by someone else) comes back before the creation
    _expect(trail, "ModifyInstanceAttribute", [{**_event("ModifyInstanceAttribute", "ops", i, 21), **_record({"type": "IAMUser", "userName": "ops"})} for i in ids])
    _expect(trail, "RunInstances", [{**_event("RunInstances", "dana@example.com", ids[0], 20), **_record(sso)},
                                    {**_event("RunInstances", "autoscaling", ids[1], 20), **_record(service)}])  # fmt: skip
    run = metahub.Run.from_findings([make_finding(f"f-{n}", Resources=[{"Type": "AwsEc2Instance", "Id": arn, "Region": "us-east-1"}])
                                     for n, arn in enumerate(INSTANCES[:2])])  # fmt: skip
    with trail:
        run.enrich(aws, contexts=["cloudtrail"], trail_events={"AwsEc2Instance": ["RunInstances", "ModifyInstanceAttribute"]}, max_workers=1)
    first, second = (run.resources[arn] for arn in INSTANCES[:2])
    assert list(first.metatrails) == ["RunInstances", "ModifyInstanceAttribute"]  # the creating event first
    assert first.detected["owner"] == {"value": "dana@example.com", "source": "CloudTrail: RunInstances by dana@example.com "
                                       "(IAM Identity Center user of role AWSReservedSSO_Dev_ab12) on 2026-11-20T00:00:00+00:00"}  # fmt: skip
    assert second.detected["owner"]["value"] == "ops"  # launched by a service: the next person CloudTrail names
