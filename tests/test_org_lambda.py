"""The organisation-wide run's Lambda entry points (``metahub.org_lambda``), each run locally against
a moto server holding an organization of 21 member accounts: accounts from Organizations, each
account's findings read and enriched through its own role, the parts merged into what one process
over every account's findings writes, byte for byte."""

from __future__ import annotations

import gzip
import json
import re
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
from metahub.shards import Merged

from .conftest import make_finding, own_moto_server
from .least_privilege import not_allowed, shipped_policy

MEMBERS = 21
ROLE = "metahub-read"
BUCKET = "metahub-org-runs"
FINDINGS = "org-findings"
MODES = ["json-short", "json-full", "json-inventory", "json-statistics", "json-combinations"]
"""Compared byte for byte with one process's; the merge also writes the report and SQLite."""
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
    monkeypatch.setenv("METAHUB_OUTPUT_MODES", ",".join([*MODES, "html", "sqlite"]))
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
    assert merged["report"] == "runs/org-1/outputs/metahub-org-1.html"
    assert merged["link_seconds"] == 600 and "X-Amz-Expires=600" in merged["link"]
    with urllib.request.urlopen(merged["link"]) as answer:
        page = answer.read().decode()
    assert page.startswith("<!DOCTYPE html>") and f"Security findings: {MEMBERS} accounts" in page
    assert "metahub-org-1.sqlite" in merged["outputs"]
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
    organization: dict[str, Any], settings: OrgSettings, tmp_path: Path
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
    part = tmp_path / "metahub-shard-part.jsonl"
    part.write_bytes(boto3.client("s3").get_object(Bucket=BUCKET, Key=summary["part"])["Body"].read())
    entries = [entry for _, entry in Merged([part]).entries()]
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


# --- the deployment: templates, least privilege, and the state machine's data flow --------------

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "metahub-org.yaml"
MEMBER_ROLE = ROOT / "deploy" / "metahub-org-member-role.yaml"


def test_the_templates_pass_cfn_lint_which_checks_the_state_machine_against_the_states_language() -> None:
    from cfnlint.api import lint, lint_file

    for template in (TEMPLATE, MEMBER_ROLE):
        assert [str(m) for m in lint_file(template)] == [], template.name
    broken = TEMPLATE.read_text().replace("MaxConcurrencyPath: $.concurrency", "MaxConcurrencyPath: $.concurrency\n            Concurrency: 1")
    assert any("E3601" in str(m) for m in lint(broken))  # the definition is validated, not only the resources


def _template() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(TEMPLATE.read_text())


def _policies(role: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for policy in role["Properties"]["Policies"]:
        policy = policy["Fn::If"][1] if "Fn::If" in policy else policy
        found[policy["PolicyName"]] = policy["PolicyDocument"]
    return found


def test_the_roles_carry_the_shipped_policies_and_the_calls_made_need_no_more(
    organization: dict[str, Any], settings: OrgSettings
) -> None:
    import yaml

    member = yaml.safe_load(MEMBER_ROLE.read_text())["Resources"]["ReadRole"]
    assert _policies(member)["metahub-context-read-only"] == shipped_policy("context-read-only"), (
        "the member role's copy of metahub/config/policy-context-read-only.json is out of date"
    )
    account_role = _template()["Resources"]["AccountFunctionRole"]
    assert _policies(account_role)["metahub-securityhub-read"] == shipped_policy("securityhub-read")
    aws = Aws(role=RoleSettings(ROLE))
    process_account({"run": "org-5", "account": organization["accounts"][0]}, settings, aws=aws)
    assert aws.calls and not_allowed(set(aws.calls) - {"sts:AssumeRole"}) == set()  # what the member role allows


def test_each_function_runs_a_handler_that_reads_only_variables_it_declares() -> None:
    import importlib

    resources = _template()["Resources"]
    functions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 3
    set_somewhere: set[str] = set()
    for function in functions:
        module, _, name = function["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), function["Handler"]
        variables = set(function["Environment"]["Variables"])
        assert variables <= set(VARIABLES), variables - set(VARIABLES)
        set_somewhere |= variables
    assert set_somewhere == set(VARIABLES)  # every setting can be given through the template
    source = (ROOT / "metahub" / "org_lambda.py").read_text()
    assert set(re.findall(r'"(METAHUB_[A-Z_]+)"', source)) == set(VARIABLES)


class _Execution:
    """The state machine's data flow as Step Functions runs it: Pass and Task states with
    Parameters, ResultSelector, ResultPath and OutputPath; the Distributed Map with its ItemReader
    (a JSON array in S3), ItemSelector, MaxConcurrencyPath and ResultWriter; the intrinsic functions
    the definition uses. Lambda tasks call the handler the template names, with the environment the
    template gives that function (parameters at their defaults unless given). Retries are AWS's."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str], name: str) -> None:
        self.template, self.name = template, name
        self.parameters = {k: str(p.get("Default", "")) for k, p in template["Parameters"].items()} | parameters
        properties = template["Resources"]["StateMachine"]["Properties"]
        substitutions = {k: self._value(v) for k, v in properties["DefinitionSubstitutions"].items()}
        text = json.dumps(properties["Definition"])
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", value)
        assert "${" not in text, "a placeholder without a substitution"
        self.definition = json.loads(text)
        self.concurrency: list[int] = []

    def _value(self, value: Any) -> str:
        if "Ref" in value:
            return BUCKET if value["Ref"] == "RunBucket" else self.parameters[value["Ref"]]
        logical, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn"
        return f"arn:aws:lambda:us-east-1:123456789012:function:{logical}"

    def run(self, given: Any) -> Any:
        return self._states(self.definition, given, {"Execution": {"Name": self.name}})

    def _states(self, machine: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        name = machine["StartAt"]
        while True:
            state = machine["States"][name]
            data = self._state(state, data, context)
            if state.get("End"):
                return data
            name = state["Next"]

    def _state(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        effective = _resolve(state["Parameters"], data, context) if "Parameters" in state else data
        if state["Type"] == "Pass":
            result = effective
        elif state["Type"] == "Task":
            assert state["Resource"] == "arn:aws:states:::lambda:invoke"
            result = {"Payload": self._invoke(effective["FunctionName"], effective["Payload"])}
        else:
            result = self._map(state, data, context)
        if "ResultSelector" in state:
            result = _resolve(state["ResultSelector"], result, context)
        path = state.get("ResultPath", "$")
        data = result if path == "$" else {**data, path.removeprefix("$."): result}
        return _path(state.get("OutputPath", "$"), data, context)

    def _map(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        assert state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
        reader = state["ItemReader"]
        assert reader["Resource"] == "arn:aws:states:::s3:getObject" and reader["ReaderConfig"]["InputType"] == "JSON"
        where = _resolve(reader["Parameters"], data, context)
        items = json.loads(boto3.client("s3").get_object(Bucket=where["Bucket"], Key=where["Key"])["Body"].read())
        concurrency = _path(state["MaxConcurrencyPath"], data, context)
        assert isinstance(concurrency, int) and isinstance(_path(state["ToleratedFailurePercentagePath"], data, context), int)
        self.concurrency.append(concurrency)
        results = []
        for index, item in enumerate(items):
            child = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
            results.append(self._states(state["ItemProcessor"], _resolve(state["ItemSelector"], data, child), child))
        writer = state["ResultWriter"]
        assert writer["Resource"] == "arn:aws:states:::s3:putObject"
        target = _resolve(writer["Parameters"], data, context)
        key = f"{target['Prefix']}/run-1/SUCCEEDED_0.json"
        boto3.client("s3").put_object(Bucket=target["Bucket"], Key=key, Body=json.dumps(results).encode())
        return {"MapRunArn": "arn:aws:states:::mapRun/run-1", "ResultWriterDetails": {"Bucket": target["Bucket"], "Key": key}}

    def _invoke(self, arn: str, payload: Any) -> Any:
        import importlib

        function = self.template["Resources"][arn.rsplit(":", 1)[1]]["Properties"]
        module, _, name = function["Handler"].rpartition(".")
        handler = getattr(importlib.import_module(module), name)
        env = {k: self._value(v) for k, v in function["Environment"]["Variables"].items()}
        with pytest.MonkeyPatch.context() as patch:
            for variable in VARIABLES:
                patch.delenv(variable, raising=False)
            for variable, value in env.items():
                patch.setenv(variable, value)
            return json.loads(json.dumps(handler(json.loads(json.dumps(payload)), None)))  # JSON both ways


def _path(path: str, data: Any, context: dict[str, Any]) -> Any:
    value, parts = (context, path[3:]) if path.startswith("$$.") else (data, path[2:])
    for part in filter(None, parts.split(".")):
        value = value[part]
    return value


def _resolve(template: Any, data: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        resolved = {}
        for key, value in template.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = _intrinsic(value, data, context)
            else:
                resolved[key] = _resolve(value, data, context)
        return resolved
    return template


def _intrinsic(expression: str, data: Any, context: dict[str, Any]) -> Any:
    if match := re.fullmatch(r"States\.StringToJson\('(.*)'\)", expression):
        return json.loads(match.group(1))
    if match := re.fullmatch(r"States\.Format\('(.*)', (\$[\w.$]*)\)", expression):
        return match.group(1).replace("{}", str(_path(match.group(2), data, context)), 1)
    assert expression.startswith("$"), expression
    return _path(expression, data, context)


def test_the_state_machine_runs_the_organization_through_the_three_functions(
    organization: dict[str, Any], settings: OrgSettings
) -> None:
    """The definition's paths, the handlers' keys and the template's environment fit together:
    an execution over the organization ends with the merge's summary and a working link."""
    execution = _Execution(_template(), {
        "Findings": f"s3://{FINDINGS}/prowler", "FindingsBucket": FINDINGS, "MemberRoleName": ROLE,
    }, "org-sfn")  # fmt: skip
    output = execution.run({})
    assert execution.concurrency == [int(_template()["Parameters"]["MaxConcurrency"]["Default"])]
    assert output["run"] == "org-sfn" and output["parts"] == MEMBERS + 1 and output["missing"] == []
    assert set(output["outputs"]) == {"metahub-org-sfn.html", "metahub-org-sfn.sqlite"} | {
        f"metahub-{m.split('-')[1]}-org-sfn.json" for m in ("json-short", "json-full", "json-statistics", "json-combinations")
    }  # the template's default outputs
    with urllib.request.urlopen(output["link"]) as answer:
        assert answer.read().startswith(b"<!DOCTYPE html>")
    written = _s3_json("runs/org-sfn/map/run-1/SUCCEEDED_0.json")
    assert sorted(r["account"] for r in written) == sorted(organization["accounts"] + ["123456789012"])
