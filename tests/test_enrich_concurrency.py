"""Enrichment's critical path: what needs nothing of another does not wait for it, and the result
does not depend on which answer came first."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

import metahub
from metahub.aws import Aws, DeadlineReached

from .conftest import make_finding

ACCOUNT = "123456789012"
INSTANCE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0057b2408bc3af688"
BUCKET = "arn:aws:s3:::public-assets-us-east-1-0"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
QUEUE = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:orders-0"
WAIT = 20.0  # seconds a call waits for the other one before giving up (never, when they overlap)


def _run() -> metahub.Run:
    resources = [(INSTANCE, "AwsEc2Instance"), (BUCKET, "AwsS3Bucket"), (USER, "AwsIamUser"), (QUEUE, "AwsSqsQueue")]
    return metahub.Run.from_findings(
        [
            make_finding(f"f-{i}", Resources=[{"Type": type_, "Id": arn, "Region": arn.split(":")[3] or "us-east-1"}])
            for i, (arn, type_) in enumerate(resources)
        ]
    )


def _on(aws: Aws, service: str, region: str, event: str, do: Any) -> None:
    aws.client(service, ACCOUNT, region).meta.events.register(f"before-call.{event}", lambda **_: do())


def _meet(aws: Aws, waiting: tuple[str, str, str], arriving: tuple[str, str, str]) -> dict[str, bool]:
    """``waiting``'s call blocks until ``arriving``'s has started; says whether it had to give up."""
    arrived, seen = threading.Event(), {"met": False}

    def wait() -> None:
        seen["met"] = arrived.wait(WAIT)

    _on(aws, *waiting, wait)
    _on(aws, *arriving, arrived.set)
    return seen


@pytest.mark.parametrize(
    ("waiting", "arriving", "contexts"),
    [
        pytest.param(  # tags need nothing of the MetaChecks: they are read during the fetch, not after it
            ("ec2", "us-east-1", "ec2.DescribeInstances"),
            ("resourcegroupstaggingapi", "us-east-1", "resource-groups-tagging-api.GetResources"),
            ["config", "tags"],
            id="tags-beside-metachecks",
        ),
        pytest.param(  # queues lead to no other group: the next level (security groups) does not wait
            ("sqs", "eu-west-1", "sqs.ListQueues"),
            ("ec2", "us-east-1", "ec2.DescribeSecurityGroups"),
            ["config"],
            id="next-level-beside-queues",
        ),
    ],
)
def test_what_needs_nothing_of_another_overlaps_it(
    waiting: tuple[str, str, str], arriving: tuple[str, str, str], contexts: list[str], lab_endpoint: str
) -> None:
    aws = Aws()
    seen = _meet(aws, waiting, arriving)
    run = _run()
    run.enrich(aws, contexts=contexts, progress=False)
    assert seen["met"], f"{waiting[2]} gave up waiting for {arriving[2]}: one waited for the other"
    assert run.resources[INSTANCE].metachecks["is_public"] is not None
    assert run.resources[QUEUE].metachecks["is_public"] is not None


@pytest.mark.parametrize("slow", ["ec2.DescribeInstances", "resource-groups-tagging-api.GetResources"])
def test_the_result_does_not_depend_on_which_answer_came_first(slow: str, lab_endpoint: str) -> None:
    def enriched(delay: str | None) -> str:
        aws = Aws()
        if delay is not None:
            service = "ec2" if delay.startswith("ec2") else "resourcegroupstaggingapi"
            _on(aws, service, "us-east-1", delay, lambda: time.sleep(0.5))
        run = _run()
        run.enrich(aws, contexts=["config", "tags", "account"], progress=False)
        return json.dumps(run.full(), default=str)

    assert enriched(slow) == enriched(None)


def test_a_stopped_client_factory_makes_no_more_calls(lab_endpoint: str) -> None:
    """An interrupted run stops the readers still under way: their next call raises at once."""
    aws = Aws()
    client = aws.client("ec2", ACCOUNT, "us-east-1")
    client.describe_vpcs()
    aws.stop()
    with pytest.raises(DeadlineReached):
        client.describe_vpcs()
