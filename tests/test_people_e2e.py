"""Findings to people, end to end on the lab account: owners by tag and by creator, one Jira ticket
per resource and an idempotent rerun, a muted finding kept and marked, an expired mute reported, the
nmap list with proven entries only.

moto has no LookupEvents, so CloudTrail is a local endpoint speaking its real protocol (JSON 1.1:
``X-Amz-Target: CloudTrail_20131101.LookupEvents``; ``EventTime`` in epoch seconds; the record as
JSON text in ``CloudTrailEvent``), reached through ``AWS_ENDPOINT_URL_CLOUDTRAIL`` as botocore
documents; the rest of the account is the lab's moto."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import local_http
from .conftest import metahub_cli
from .test_tickets import JiraServer, _env
from .test_tickets import serving as jira_serving

ACCOUNT = "123456789012"
CREATED_AT = (datetime.now(timezone.utc) - timedelta(days=5)).replace(microsecond=0)  # within the lookback
CREATED = {  # bucket -> (region, userIdentity of its CreateBucket)
    "private-data-us-east-1-0": ("us-east-1", {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "userName": "alice"}),
    "private-data-eu-west-1-0": ("eu-west-1", {
        "type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Dev_ab12/carol@example.com",
        "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "AWSReservedSSO_Dev_ab12"}}}),
    "public-assets-us-east-1-0": ("us-east-1", {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory", "userName": "mallory"}),
}  # fmt: skip


class CloudTrail:
    """LookupEvents by EventName, per region (the region of the request's SigV4 credential scope)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def http(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> local_http.Answer:
        target = headers.get("X-Amz-Target", "")
        if not target.endswith(".LookupEvents"):
            return 400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
                {"__type": "UnknownOperationException", "message": target}).encode()  # fmt: skip
        region = re.search(r"Credential=[^/]+/\d+/([^/]+)/cloudtrail/", headers.get("Authorization", ""))[1]  # type: ignore[index]
        asked = json.loads(raw)
        [attribute] = asked["LookupAttributes"]
        self.asked.append((region, attribute["AttributeValue"]))
        events = [
            {"EventId": f"ev-{bucket}", "EventName": "CreateBucket", "EventTime": CREATED_AT.timestamp(),
             "EventSource": "s3.amazonaws.com", "Username": identity.get("userName") or "session",
             "Resources": [{"ResourceType": "AWS::S3::Bucket", "ResourceName": bucket}],
             "CloudTrailEvent": json.dumps({"eventVersion": "1.09", "userIdentity": identity, "eventName": "CreateBucket"})}
            for bucket, (where, identity) in CREATED.items()
            if where == region and attribute == {"AttributeKey": "EventName", "AttributeValue": "CreateBucket"}
            and asked["StartTime"] <= CREATED_AT.timestamp()
        ]  # fmt: skip
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({"Events": events}).encode()


ROUTING = "owners:\n  tag_keys: [Owner]\n  creator: true\n  fallback: security@example.com\n"
MUTELIST = """\
Mutelist:
  Accounts:
    "123456789012":
      Checks:
        "s3_bucket_default_encryption|s3_bucket_kms_encryption":
          Regions: ["*"]
          Resources: ["private-data-us-east-1-1"]
          reason: "encrypted by the application"
          expires: 2099-01-01
        "ec2_.*":
          Regions: ["*"]
          Resources: ["*"]
          reason: "old exception"
          expires: 2020-01-01
"""


def test_owners_tickets_mutes_and_targets_on_the_lab_account(lab_endpoint: str, asff_fixture: Path, tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text(ROUTING)
    (tmp_path / "mutelist.yaml").write_text(MUTELIST)
    trail, jira = CloudTrail(), JiraServer()
    flags = ["--input-asff", str(asff_fixture), "--context", "config", "tags", "cloudtrail", "--routing",
             str(tmp_path / "routing.yaml"), "--mutelist", str(tmp_path / "mutelist.yaml"), "--tickets", "jira",
             "--tickets-apply", "--output-modes", "csv", "json-full", "targets"]  # fmt: skip
    with local_http.serving(trail.http) as cloudtrail, jira_serving(jira) as url:
        env = {**_env(url), "AWS_ENDPOINT_URL_CLOUDTRAIL": cloudtrail}
        first = metahub_cli(*flags, "--output-dir", str(tmp_path / "1"), endpoint=lab_endpoint, env=env)
        again = metahub_cli(*flags, "--output-dir", str(tmp_path / "2"), endpoint=lab_endpoint, env=env)
    assert first.returncode == 0, first.stderr
    assert {("us-east-1", "CreateBucket"), ("eu-west-1", "CreateBucket")} <= set(trail.asked)
    # owners: a tag first, then the creator CloudTrail recorded, then the fallback
    [table] = (tmp_path / "1").glob("metahub-*.csv")
    rows = list(csv.DictReader(table.open(encoding="utf-8-sig")))
    owners = {r["ResourceArn"]: (r["Owner"], r["OwnerSource"]) for r in rows}
    assert owners["arn:aws:s3:::public-assets-us-east-1-0"] == ("web-team", "tag Owner")  # the tag wins over mallory
    assert owners["arn:aws:s3:::private-data-us-east-1-0"][0] == "alice"
    assert owners["arn:aws:s3:::private-data-us-east-1-0"][1].startswith("CloudTrail: CreateBucket by alice on ")
    assert owners["arn:aws:s3:::private-data-eu-west-1-0"] == (
        "carol@example.com", "CloudTrail: CreateBucket by carol@example.com (IAM Identity Center user of role "
        f"AWSReservedSSO_Dev_ab12) on {CREATED_AT.isoformat()}")  # fmt: skip
    assert owners["arn:aws:s3:::private-data-us-east-1-1"] == ("security@example.com", "the fallback")
    # one ticket per resource with failed findings, carrying its owner; a rerun updates them all
    failing = {r["ResourceArn"] for r in rows if r["Outcome"] == "FAILED"}
    created = int(re.search(r"Jira: 0 updated, (\d+) created", first.stderr)[1])  # type: ignore[index]
    assert created == len(failing) == len(jira.issues)
    assert again.returncode == 0 and f"Jira: {created} updated, 0 created" in again.stderr, again.stderr
    alice = next(i for i in jira.issues.values() if i["fields"]["summary"].endswith("private-data-us-east-1-0: "
                 f"{sum(1 for r in rows if r['ResourceArn'] == 'arn:aws:s3:::private-data-us-east-1-0' and r['Outcome'] == 'FAILED')} failed finding(s)"))  # fmt: skip
    assert "owner: alice (CloudTrail: CreateBucket by alice" in json.dumps(alice["fields"]["description"])
    # the muted finding is kept and marked; the expired entry is reported, not applied
    muted = [r for r in rows if r["Muted"]]
    assert muted and {r["ResourceArn"] for r in muted} == {"arn:aws:s3:::private-data-us-east-1-1"}
    assert {r["Outcome"] for r in muted} == {"OTHER"}
    assert "Accounts.123456789012.Checks.ec2_.* expired on 2020-01-01 (old exception): not applied" in first.stderr
    assert not any(r["Muted"] for r in rows if r["ResourceType"] == "AwsEc2Instance")
    # the nmap list: only what metahub proved public, each entry with its evidence
    [full] = (tmp_path / "1").glob("metahub-full-*.json")
    [listing] = (tmp_path / "1").glob("metahub-targets-*.txt")
    entries = json.loads(full.read_text())
    targets = json.loads(listing.with_suffix(".json").read_text())["targets"]
    assert targets and all(entries[t["resource"]]["metachecks"]["is_public"] and t["evidence"] for t in targets)
    assert listing.read_text().split() == sorted({t["address"] for t in targets if t["family"] == "IPv4"})
