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


def test_tags_are_read_while_the_metachecks_are_fetched(lab_endpoint: str) -> None:
    """Tags need nothing of the MetaChecks: their calls overlap the fetch (before, they began after it)."""
    aws = Aws()
    seen = _meet(
        aws,
        ("ec2", "us-east-1", "ec2.DescribeInstances"),
        ("resourcegroupstaggingapi", "us-east-1", "resource-groups-tagging-api.GetResources"),
    )
    run = _run()
    run.enrich(aws, contexts=["config", "tags"], progress=False)
    assert seen["met"], "the tag lookup did not start while the instances were being described"
    assert run.resources[INSTANCE].metachecks["it_has_public_ip"]


def test_a_group_that_leads_nowhere_does_not_hold_up_the_next_level(lab_endpoint: str) -> None:
    """Queues lead to no other group: the instances' security groups (the next level) are
    described while the queues are still being listed."""
    aws = Aws()
    seen = _meet(
        aws,
        ("sqs", "eu-west-1", "sqs.ListQueues"),
        ("ec2", "us-east-1", "ec2.DescribeSecurityGroups"),
    )
    run = _run()
    run.enrich(aws, contexts=["config"], progress=False)
    assert seen["met"], "the next level waited for the queues"
    assert run.resources[QUEUE].metachecks["is_public"] is not None
    assert run.resources[INSTANCE].metachecks["is_public"] is not None


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
