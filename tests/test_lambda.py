"""The custom-action Lambda run locally on EventBridge event shapes: context from the lab's moto
server, BatchUpdateFindings checked with botocore's Stubber; the deployment template linted with
cfn-lint; every Security Hub operation held against the shipped policies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

import metahub
from metahub.actions import apply, plan_update
from metahub.aws import Aws
from metahub.aws_lambda import VARIABLES, Settings, handler, process
from metahub.filters import Filters
from metahub.securityhub import SecurityHubSource, clients

from .conftest import ACCOUNT, HUB_REGION, emulator_environment, make_finding
from .least_privilege import not_allowed, shipped_actions, shipped_policy

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "metahub-custom-action.yaml"


def _event(kind: str, findings: list[dict[str, Any]], region: str = "eu-west-1") -> dict[str, Any]:
    """The envelope EventBridge gives Security Hub findings events."""
    detail: dict[str, Any] = {"findings": findings}
    resources = [f"arn:aws:securityhub:{region}::product/prowler/prowler"]
    if kind.endswith("Custom Action"):
        detail = {"actionName": "metahub", "actionDescription": "Enrich with metahub", **detail}
        resources = [f"arn:aws:securityhub:{region}:{ACCOUNT}:action/custom/metahub"]
    return {
        "version": "0",
        "id": "5f2c1d7e-0a1b-4c3d-9e8f-112233445566",
        "detail-type": kind,
        "source": "aws.securityhub",
        "account": ACCOUNT,
        "time": "2026-11-22T10:00:00Z",
        "region": region,
        "resources": resources,
        "detail": detail,
    }


@pytest.fixture(scope="module")
def picked(asff_findings: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every finding on one internet-facing lab instance, and on one bucket."""
    exposed = next(
        f["Resources"][0]["Id"]
        for f in asff_findings
        if "ec2_instance_internet_facing" in f["GeneratorId"] and f["Compliance"]["Status"] == "FAILED"
    )
    bucket = next(
        f["Resources"][0]["Id"] for f in asff_findings if f["Resources"][0]["Type"] == "AwsS3Bucket"
    )
    on = {arn: [f for f in asff_findings if f["Resources"][0]["Id"] == arn] for arn in (exposed, bucket)}
    return {"instance": on[exposed], "bucket": on[bucket]}


def _writer() -> tuple[Any, Stubber, list[dict[str, Any]]]:
    """A Security Hub client that answers from a Stubber, and the requests it was sent."""
    client = boto3.client(
        "securityhub", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.securityhub.BatchUpdateFindings", lambda params, **_: sent.append(params)
    )
    return client, Stubber(client), sent


def _processed(request: dict[str, Any]) -> dict[str, Any]:
    return {"ProcessedFindings": request["FindingIdentifiers"], "UnprocessedFindings": []}


def test_custom_action_enriches_the_chosen_findings(
    lab_endpoint: str, picked: dict[str, list[dict[str, Any]]]
) -> None:
    findings = picked["instance"] + picked["bucket"]
    client, stub, sent = _writer()
    for _ in range(2):  # one request per resource: their contexts differ
        stub.add_response("batch_update_findings", {"ProcessedFindings": [], "UnprocessedFindings": []})
    with emulator_environment(lab_endpoint), stub:
        aws = Aws()
        summary = process(
            _event("Security Hub Findings - Custom Action", findings),
            Settings(contexts=["config", "tags", "account"]),
            aws=aws,
            securityhub=lambda region: client,
        )
        stub.assert_no_pending_responses()
    assert not_allowed(aws.calls) == set()  # the function's role carries this policy
    json.dumps(summary)  # the Lambda's answer is JSON
    assert summary["event"] == "Security Hub Findings - Custom Action" and summary["action"] == "metahub"
    assert summary["findings"] == len(findings) and summary["resources"] == 2
    assert summary["problems"] == []
    [outcome] = summary["actions"]
    assert outcome["action"] == "enrich-findings" and outcome["planned"] == len(findings)
    assert outcome["calls"] == 2 and outcome["unprocessed"] == []
    by_id = {
        ident["Id"]: request["UserDefinedFields"]
        for request in sent
        for ident in request["FindingIdentifiers"]
    }
    assert set(by_id) == {f["Id"] for f in findings}
    instance_fields = by_id[picked["instance"][0]["Id"]]
    assert json.loads(instance_fields["metahub.is_public"])["reachable"]
    assert by_id[picked["bucket"][0]["Id"]]["metahub.is_attached"].startswith("n/a: does not apply")


def test_imported_findings_already_updated_cause_no_call(
    lab_endpoint: str, picked: dict[str, list[dict[str, Any]]]
) -> None:
    """The "Imported" event an update raises must not start a loop."""
    notified = [{**f, "Workflow": {"Status": "NOTIFIED"}} for f in picked["bucket"]]
    client, stub, sent = _writer()
    settings = Settings(contexts=[], actions=["update-findings"], update={"Workflow": {"Status": "NOTIFIED"}})
    with emulator_environment(lab_endpoint), stub:
        summary = process(
            _event("Security Hub Findings - Imported", notified),
            settings,
            aws=Aws(),
            securityhub=lambda region: client,
        )
    [outcome] = summary["actions"]
    assert outcome["planned"] == 0 and outcome["up_to_date"] == len(notified)
    assert outcome["calls"] == 0 and sent == []


def test_filters_choose_which_resources_are_acted_on(
    lab_endpoint: str, picked: dict[str, list[dict[str, Any]]]
) -> None:
    client, stub, sent = _writer()
    stub.add_response("batch_update_findings", {"ProcessedFindings": [], "UnprocessedFindings": []})
    settings = Settings(
        contexts=["config"],
        actions=["update-findings"],
        update={"Workflow": {"Status": "NOTIFIED"}},
        filters=Filters.parse(["it_has_public_ip=True"]),  # buckets have no such check
    )
    with emulator_environment(lab_endpoint), stub:
        summary = process(
            _event("Security Hub Findings - Imported", picked["instance"] + picked["bucket"]),
            settings,
            aws=Aws(),
            securityhub=lambda region: client,
        )
    assert summary["resources_matching_filters"] == 1
    assert {i["Id"] for i in sent[0]["FindingIdentifiers"]} == {f["Id"] for f in picked["instance"]}
    assert sent[0]["Workflow"] == {"Status": "NOTIFIED"}


def test_handler_reads_its_configuration_from_the_environment(
    lab_endpoint: str, picked: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAHUB_CONTEXT", "config")
    monkeypatch.setenv("METAHUB_ACTIONS", "update-findings,enrich-findings")
    monkeypatch.setenv("METAHUB_UPDATE_FINDINGS", 'Workflow=NOTIFIED Note="Reviewed by metahub"')
    monkeypatch.setenv("METAHUB_DRY_RUN", "true")
    with emulator_environment(lab_endpoint):
        summary = handler(_event("Security Hub Findings - Custom Action", picked["bucket"]), None)
    assert summary["dry_run"] is True
    assert [(a["action"], a["planned"]) for a in summary["actions"]] == [
        ("update-findings", len(picked["bucket"])),
        ("enrich-findings", len(picked["bucket"])),
    ]
    assert "calls" not in summary["actions"][0]  # nothing was sent


def test_other_events_are_skipped() -> None:
    summary = process({"detail-type": "EC2 Instance State-change Notification"}, Settings(contexts=[]))
    assert summary["skipped"].startswith("not a Security Hub findings event")


@pytest.mark.parametrize(
    ("event", "skipped"),
    [
        ([], "the event is not a JSON object but list"),
        ("text", "the event is not a JSON object but str"),
        ({"detail-type": "Security Hub Findings - Imported"}, "the event has no detail.findings array"),
        (
            {"detail-type": "Security Hub Findings - Imported", "detail": {"findings": 5}},
            "no detail.findings",
        ),
    ],
)
def test_malformed_events_are_skipped_with_the_reason(event: Any, skipped: str) -> None:
    summary = process(event, Settings(contexts=[]))
    assert summary["skipped"] == skipped or skipped in summary["skipped"]
    json.dumps(summary)


def test_one_bad_finding_costs_only_itself() -> None:
    """EventBridge hands the function parsed JSON; each finding is validated alone."""
    good = make_finding("good", arn="arn:aws:s3:::kept")
    bad = [
        {**make_finding("no-account"), "AwsAccountId": "x"},
        make_finding("nan", Extra=float("nan")),
        7,
    ]
    summary = process(
        _event("Security Hub Findings - Imported", [bad[0], good, *bad[1:]]),
        Settings(contexts=[], dry_run=True),
    )
    assert summary["findings"] == 1 and summary["resources"] == 1
    assert [p.split(": ")[1] for p in summary["problems"]] == [
        "detail.findings[0] (Id 'no-account')",
        "detail.findings[2]",
        "detail.findings[3]",
    ]
    assert "NaN or Infinity" in summary["problems"][1]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"METAHUB_CONTEXT": "config,secrets"}, "METAHUB_CONTEXT: secrets not among config, tags"),
        ({"METAHUB_ACTIONS": "delete-findings"}, "METAHUB_ACTIONS: delete-findings not among"),
        ({"METAHUB_ACTIONS": "update-findings"}, "METAHUB_UPDATE_FINDINGS is empty"),
        ({"METAHUB_FILTERS_CHECKS": 'is_public="True'}, "METAHUB_FILTERS_CHECKS: No closing quotation"),
        (
            {"METAHUB_ACTIONS": "update-findings", "METAHUB_UPDATE_FINDINGS": "Workflow=GONE"},
            "'GONE' is not one of",
        ),
    ],
)
def test_bad_configuration_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_configuration_defaults_and_role() -> None:
    settings = Settings.from_env(
        {"METAHUB_ASSUME_ROLE": "metahub-read", "METAHUB_FILTERS_TAGS": "Environment=prod"}
    )
    assert settings.contexts == ["config", "tags"] and settings.actions == ["enrich-findings"]
    assert settings.role is not None and settings.role.role_name == "metahub-read"
    assert settings.filters.tags and not settings.dry_run


def test_the_function_imports_nothing_heavy() -> None:
    """The Lambda package holds metahub, pydantic, jmespath, PyYAML (the impact weights, read by
    every enriched run) and tqdm (progress) only; boto3 is in the runtime (Makefile lambda-package)."""
    code = (
        "import sys, metahub.aws_lambda as m\n"
        "s = m.process({'detail-type': 'Security Hub Findings - Imported', 'detail': {'findings': []}},"
        " m.Settings(contexts=[], actions=[]))\n"
        "print(sorted(n for n in ('pandas', 'numpy', 'jinja2', 'openpyxl') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- deployment and least privilege -------------------------------------------------------------


def test_template_passes_cfn_lint() -> None:
    from cfnlint.api import lint, lint_file

    assert [str(m) for m in lint_file(TEMPLATE)] == []
    broken = TEMPLATE.read_text().replace("Runtime: python3.12", "Runtime: python2.7")
    assert any("E2533" in str(m) for m in lint(broken))  # the linter does look


def test_template_creates_the_action_rule_function_and_a_role_with_the_shipped_policies() -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    resources = template["Resources"]
    types = {name: r["Type"] for name, r in resources.items()}
    assert types["CustomAction"] == "AWS::SecurityHub::ActionTarget"
    assert types["CustomActionRule"] == "AWS::Events::Rule"
    assert resources["CustomActionRule"]["Properties"]["EventPattern"]["detail-type"] == [
        "Security Hub Findings - Custom Action"
    ]
    assert resources["Function"]["Properties"]["Handler"] == "metahub.aws_lambda.handler"
    documents = {
        p["PolicyName"]: p["PolicyDocument"]
        for p in resources["FunctionRole"]["Properties"]["Policies"]
        if "PolicyName" in p
    }
    assert documents["metahub-context-read-only"] == shipped_policy("context-read-only"), (
        "the template's copy of metahub/config/policy-context-read-only.json is out of date"
    )
    assert documents["metahub-securityhub-write"] == shipped_policy("securityhub-write")


def test_security_hub_calls_are_allowed_by_the_shipped_policies(
    lab_endpoint: str, in_hub: list[dict[str, Any]], offline_aws: Aws
) -> None:
    with emulator_environment(lab_endpoint):
        aws = Aws()
        run = metahub.load(SecurityHubSource(aws, HUB_REGION, {}))
    assert len(run.findings) == len(in_hub)
    assert set(aws.calls) == {"sts:GetCallerIdentity", "securityhub:GetFindings"}
    assert not_allowed(aws.calls, "securityhub-read") == set()

    client = clients(offline_aws)("eu-west-1")
    operations: list[str] = []
    client.meta.events.register(  # fires for every operation, before the Stubber answers
        "provide-client-params.securityhub",
        lambda event_name, **_: operations.append(event_name.rsplit(".", 1)[1]),
    )
    plan = plan_update(run.resources, {"Workflow": {"Status": "SUPPRESSED"}}, region="eu-west-1")
    with Stubber(client) as stub:
        for batch in plan.batches:
            stub.add_response("batch_update_findings", _processed(batch.request()), batch.request())
        apply(plan, lambda region: client, max_workers=1)
    assert set(operations) == {"BatchUpdateFindings"}
    calls = {f"securityhub:{op}" for op in operations}
    assert not_allowed(calls, "securityhub-write") == set()
    assert "securityhub:BatchUpdateFindings" not in shipped_actions("securityhub-read")  # read stays read


def test_writes_use_the_functions_own_credentials_not_the_context_role(
    picked: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[Aws] = []
    monkeypatch.setattr("metahub.aws_lambda.clients", lambda aws: used.append(aws) or (lambda region: None))
    settings = Settings.from_env(
        {"METAHUB_CONTEXT": "", "METAHUB_ASSUME_ROLE": "metahub-read", "METAHUB_DRY_RUN": "1"}
    )
    process(_event("Security Hub Findings - Imported", picked["bucket"]), settings)
    [writer] = used
    assert settings.role is not None and writer.role is None


@pytest.mark.parametrize(
    ("value", "dry_run"),
    [("on", True), ("TRUE", True), ("1", True), ("off", False), ("", False), ("no", False)],
)
def test_dry_run_is_read_strictly(value: str, dry_run: bool) -> None:
    assert Settings.from_env({"METAHUB_DRY_RUN": value}).dry_run is dry_run


@pytest.mark.parametrize("value", ["ture", "y", "enabled", "2"])
def test_a_dry_run_value_that_is_neither_refuses_to_run(value: str) -> None:
    # Read loosely, "ture" meant false, and the function wrote to Security Hub.
    with pytest.raises(ValueError, match=f"METAHUB_DRY_RUN: '{value}' is neither true"):
        Settings.from_env({"METAHUB_DRY_RUN": value})


def test_the_function_reads_exactly_the_variables_it_declares() -> None:
    """``VARIABLES`` is what the CLI honours or refuses, so it must be every name the Lambda reads."""

    read: set[str] = set()

    class Recording(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            read.add(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> str:
            read.add(key)
            return super().__getitem__(key)

    env = Recording({"METAHUB_ACTIONS": "update-findings", "METAHUB_UPDATE_FINDINGS": "Workflow=NOTIFIED"})
    env["METAHUB_ASSUME_ROLE"] = "metahub-read"
    Settings.from_env(env)
    assert read == set(VARIABLES)
