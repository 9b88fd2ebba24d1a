"""The organisation-wide run's Lambda entry points (``metahub.org_lambda``), each run locally against
a moto server holding an organization of 21 member accounts: accounts from Organizations, each
account's findings read and enriched through its own role, the parts merged into what one process
over every account's findings writes, byte for byte."""

from __future__ import annotations

import gzip
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import metahub
from metahub.aws import Aws, RoleSettings
from metahub.org_lambda import (
    VARIABLES,
    OrgSettings,
    accounts_handler,
    merge_handler,
    process_account,
)

from .conftest import make_finding, own_moto_server

MEMBERS = 21
ROLE = "metahub-read"
BUCKET = "metahub-org-runs"
FINDINGS = "org-findings"
MODES = ["json-short", "json-full", "json-inventory", "json-statistics", "json-combinations"]
OPEN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                 "Resource": "arn:aws:s3:::{bucket}/*"}]}  # fmt: skip


def _member(account: str) -> boto3.session.Session:
    """A session in a member account, through its role (moto keeps accounts apart by it)."""
    creds = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed")
    c = creds["Credentials"]
    return boto3.session.Session(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], "us-east-1")


def _seed(account: str, index: int) -> list[dict[str, Any]]:
    """Two buckets per member account (every third one public by its policy) and a security group
    (every other one open to the world on SSH); the findings Prowler would give them."""
    session = _member(account)
    s3, ec2 = session.client("s3"), session.client("ec2")
    findings = []
    for n in range(2):
        name = f"data-{account}-{n}"
        s3.create_bucket(Bucket=name)
        if (index + n) % 3 == 0:
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps(OPEN).replace("{bucket}", name))
        findings.append(make_finding(f"{account}-s3-{n}", arn=f"arn:aws:s3:::{name}", AwsAccountId=account))
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="ssh", Description="ssh", VpcId=vpc)["GroupId"]
    if index % 2 == 0:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ])  # fmt: skip
    arn = f"arn:aws:ec2:us-east-1:{account}:security-group/{group}"
    findings.append(make_finding(
        f"{account}-sg", arn=arn, AwsAccountId=account, GeneratorId="prowler-ec2_securitygroup_allow_ingress",
        Title="Security group allows SSH from the internet", Severity={"Label": "CRITICAL"},
        Resources=[{"Type": "AwsEc2SecurityGroup", "Id": arn, "Partition": "aws", "Region": "us-east-1"}],
    ))  # fmt: skip
    return findings


@pytest.fixture(scope="module")
def organization(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A moto organization of MEMBERS accounts plus one closed, each member's findings in its own
    folder of a findings bucket (some gzipped), and the run's bucket."""
    with own_moto_server() as endpoint:
        org = boto3.client("organizations")
        org.create_organization(FeatureSet="ALL")
        accounts = []
        for i in range(MEMBERS + 1):
            status = org.create_account(AccountName=f"member-{i}", Email=f"m{i}@example.com")["CreateAccountStatus"]
            accounts.append(status["AccountId"])
        closed = accounts.pop()
        org.close_account(AccountId=closed)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket=FINDINGS)
        inputs = tmp_path_factory.mktemp("inputs")
        files = []
        for index, account in enumerate(sorted(accounts)):
            body = json.dumps(_seed(account, index)).encode()
            key = f"prowler/{account}/findings.json" + (".gz" if index % 2 else "")
            s3.put_object(Bucket=FINDINGS, Key=key, Body=gzip.compress(body) if index % 2 else body)
            files.append(inputs / f"{account}.json")
            files[-1].write_bytes(body)
        yield {"endpoint": endpoint, "accounts": sorted(accounts), "closed": closed, "files": files}


@pytest.fixture()
def settings(organization: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> OrgSettings:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("METAHUB_BUCKET", BUCKET)
    monkeypatch.setenv("METAHUB_FINDINGS", f"s3://{FINDINGS}/prowler")
    monkeypatch.setenv("METAHUB_ASSUME_ROLE", ROLE)
    monkeypatch.setenv("METAHUB_OUTPUT_MODES", ",".join(MODES))
    monkeypatch.setenv("METAHUB_LINK_SECONDS", "600")
    return OrgSettings.from_env()


def _s3_json(key: str) -> Any:
    return json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_the_organization_run_merges_into_one_process_over_every_account(
    organization: dict[str, Any], settings: OrgSettings, tmp_path: Path
) -> None:
    listed = accounts_handler({"run": "org-1", "input": {}})
    assert listed["accounts"] == MEMBERS + 1  # the members and the management account
    assert organization["closed"] in listed["skipped"] and "SUSPENDED" in listed["skipped"][organization["closed"]]
    items = _s3_json(listed["key"])
    assert [item["account"] for item in items] == sorted(organization["accounts"] + ["123456789012"])

    summaries = []
    for item in items:  # as the Distributed Map gives them, one Lambda each
        aws = Aws(role=RoleSettings(ROLE))
        summaries.append(process_account({"run": "org-1", **item}, settings, aws=aws))
        assert aws.calls["sts:AssumeRole"] == (1 if summaries[-1]["resources"] else 0)  # one per account and lifetime
    by_account = {s["account"]: s for s in summaries}
    assert by_account["123456789012"]["findings"] == 0  # the management account has no folder of findings
    assert all(by_account[a]["findings"] == 3 and by_account[a]["resources"] == 3 for a in organization["accounts"])
    assert all(not s.get("unreachable") for s in summaries)

    merged = merge_handler({"run": "org-1"})
    assert merged["missing"] == [] and merged["failures"] == {}
    assert merged["parts"] == MEMBERS + 1

    # One process over every account's findings, the accounts in the order of their ids, entering
    # each through the same role, writes the same bytes.
    whole = metahub.load(*organization["files"])
    whole.enrich(Aws(role=RoleSettings(ROLE)), contexts=settings.contexts, progress=False)
    whole.write(MODES, tmp_path / "one", "org-1")
    s3 = boto3.client("s3")
    for path in sorted((tmp_path / "one").iterdir()):
        key = merged["outputs"][path.name]
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == path.read_bytes(), path.name

    # The context came from each member account: public buckets and open groups where seeded.
    short = _s3_json(merged["outputs"]["metahub-short-org-1.json"])
    for index, account in enumerate(organization["accounts"]):
        for n in range(2):
            checks = short[f"arn:aws:s3:::data-{account}-{n}"]["metachecks"]
            assert bool(checks["is_public"]) is ((index + n) % 3 == 0), (account, n, checks)
    groups = {arn: e for arn, e in short.items() if ":security-group/" in arn}
    assert len(groups) == MEMBERS
    assert sum(bool(e["metachecks"]["is_unrestricted"]) for e in groups.values()) == (MEMBERS + 1) // 2

    # The report's link works for whoever holds it, and only for the time configured.
    assert merged["link_seconds"] == 600 and "X-Amz-Expires=600" in merged["link"]
    with urllib.request.urlopen(merged["link"]) as answer:
        assert json.loads(answer.read()) == short
    link = s3.get_object(Bucket=BUCKET, Key="runs/org-1/report-link.txt")["Body"].read().decode().strip()
    assert link == merged["link"]


def test_an_account_list_from_s3_and_a_missing_part(organization: dict[str, Any], settings: OrgSettings) -> None:
    chosen = organization["accounts"][:3]
    boto3.client("s3").put_object(Bucket=BUCKET, Key="lists/three.json", Body=json.dumps(
        [chosen[0], {"account": chosen[1]}, {"Id": chosen[2]}, chosen[0], "12345", {"name": "x"}]
    ))  # fmt: skip
    listed = accounts_handler({"run": "org-2", "input": {"accounts": f"s3://{BUCKET}/lists/three.json",
                                                         "exclude": [chosen[2]]}})  # fmt: skip
    assert listed["accounts"] == 2
    assert set(listed["skipped"]) == {chosen[2], "[4]", "[5]"}
    items = _s3_json(listed["key"])
    assert [i["account"] for i in items] == sorted(chosen[:2])
    process_account({"run": "org-2", **items[0]}, settings)  # the other account's Lambda failed for good
    merged = merge_handler({"run": "org-2"})
    assert merged["missing"] == [items[1]["account"]] and merged["parts"] == 1


def test_an_account_whose_role_cannot_be_assumed_still_has_its_part(
    organization: dict[str, Any], settings: OrgSettings
) -> None:
    """moto lets any role be assumed: a client that refuses AssumeRole stands for a member account
    without the role. The findings are kept, the context is unknown with the reason."""
    account = organization["accounts"][0]
    aws = Aws(role=RoleSettings(ROLE))

    def refuse(**_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole")

    aws._base.events.register("before-call.sts.AssumeRole", refuse)
    summary = process_account({"run": "org-3", "account": account}, settings, aws=aws)
    assert summary["findings"] == 3 and "access denied" in summary["unreachable"][account]
    part = boto3.client("s3").get_object(Bucket=BUCKET, Key=summary["part"])["Body"].read().decode().splitlines()
    entries = [json.loads(line)["entry"] for line in part[1:]]
    assert len(entries) == 3 and all("access denied" in str(e["unknown"]) for e in entries)


def test_findings_from_the_administrators_security_hub_are_asked_for_one_account(
    organization: dict[str, Any], settings: OrgSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GetFindings is filtered by the account (request checked against botocore's model as sent)."""
    account = organization["accounts"][1]
    monkeypatch.setenv("METAHUB_FINDINGS", "securityhub")
    monkeypatch.setenv("METAHUB_HUB_REGION", "eu-west-2")
    hub = boto3.client("securityhub", region_name="eu-west-2")
    ours = [make_finding(f"hub-{account}", arn=f"arn:aws:s3:::data-{account}-0", AwsAccountId=account)]
    assert hub.batch_import_findings(Findings=ours)["FailedCount"] == 0
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(boto3.session.Session, "client", _recording(boto3.session.Session.client, sent))
    summary = process_account({"run": "org-4", "account": account}, OrgSettings.from_env())
    assert summary["findings"] == 1
    (request,) = [params for params in sent if "Filters" in params]
    assert request["Filters"]["AwsAccountId"] == [{"Value": account, "Comparison": "EQUALS"}]
    assert request["Filters"]["RecordState"] == [{"Value": "ACTIVE", "Comparison": "EQUALS"}]


def _recording(original: Any, sent: list[dict[str, Any]]) -> Any:
    def client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        made = original(self, service, *args, **kwargs)
        if service == "securityhub":
            made.meta.events.register("provide-client-params.securityhub.GetFindings",
                                      lambda params, **_: sent.append(dict(params)))  # fmt: skip
        return made

    return client


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "METAHUB_BUCKET"),
        ({"METAHUB_BUCKET": "b", "METAHUB_FINDINGS": "ftp://x"}, "METAHUB_FINDINGS"),
        ({"METAHUB_BUCKET": "b", "METAHUB_CONTEXT": "config,tag"}, "METAHUB_CONTEXT: tag"),
        ({"METAHUB_BUCKET": "b", "METAHUB_OUTPUT_MODES": "pdf"}, "METAHUB_OUTPUT_MODES: pdf"),
        ({"METAHUB_BUCKET": "b", "METAHUB_SH_FILTERS": "AwsAccountId=1"}, "set per account"),
        ({"METAHUB_BUCKET": "b", "METAHUB_SH_FILTERS": "RecordStat=ACTIVE"}, "METAHUB_SH_FILTERS"),
        ({"METAHUB_BUCKET": "b", "METAHUB_LINK_SECONDS": "604801"}, "METAHUB_LINK_SECONDS"),
    ],
)
def test_bad_configuration_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OrgSettings.from_env(env)


@pytest.mark.parametrize(
    ("event", "message"),
    [({"run": "../x", "account": "123456789012"}, "no execution name"), ({"run": "r", "account": "12"}, "12-digit")],
)
def test_bad_items_are_named(event: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        process_account(event, OrgSettings(bucket="b"))
