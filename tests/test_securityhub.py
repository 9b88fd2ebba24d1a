"""Reading from Security Hub: typed --sh-filters, templates, the GetFindings requests we send
(checked with botocore's Stubber against the real model: moto ignores filters), and the whole
command line against the lab's moto server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

import metahub
from metahub.aws import Aws
from metahub.cli import build_parser
from metahub.cli.hub import Hub
from metahub.securityhub import (
    DEFAULT_FILTERS,
    SecurityHubError,
    SecurityHubSource,
    load_template,
    parse_filters,
)

from .conftest import ACCOUNT, HUB_REGION, make_finding, metahub_cli

EQ = "EQUALS"


@pytest.mark.parametrize(
    ("pair", "name", "expected"),
    [
        ("SeverityLabel=HIGH", "SeverityLabel", {"Value": "HIGH", "Comparison": EQ}),
        ("SeverityNormalized=70", "SeverityNormalized", {"Eq": 70.0}),
        ("Criticality=40..100", "Criticality", {"Gte": 40.0, "Lte": 100.0}),
        ("Confidence=..50", "Confidence", {"Lte": 50.0}),
        ("UpdatedAt=7d", "UpdatedAt", {"DateRange": {"Value": 7, "Unit": "DAYS"}}),
        (
            "CreatedAt=2026-01-01..2026-02-01",
            "CreatedAt",
            {"Start": "2026-01-01T00:00:00Z", "End": "2026-02-01T23:59:59Z"},
        ),
        ("FirstObservedAt=2026-03-04T05:06:07Z..", "FirstObservedAt", {"Start": "2026-03-04T05:06:07Z"}),
        (
            "ResourceTags=aws:cloudformation:stack-name=web",
            "ResourceTags",
            {"Key": "aws:cloudformation:stack-name", "Value": "web", "Comparison": EQ},
        ),
        ("Sample=false", "Sample", {"Value": False}),
        ("NetworkSourceIpV4=10.0.0.0/8", "NetworkSourceIpV4", {"Cidr": "10.0.0.0/8"}),
        ("NetworkSourceIpV4=10.1.2.3", "NetworkSourceIpV4", {"Cidr": "10.1.2.3/32"}),
        ("NetworkSourceIpV6=2001:db8::/32", "NetworkSourceIpV6", {"Cidr": "2001:db8::/32"}),
    ],
)
def test_filters_are_typed_by_their_kind(pair: str, name: str, expected: dict[str, Any]) -> None:
    assert parse_filters([pair]) == {name: [expected]}


def test_a_repeated_key_means_any_of_its_values() -> None:
    filters = parse_filters(["SeverityLabel=HIGH", "RecordState=ACTIVE", "SeverityLabel=CRITICAL"])
    assert filters["SeverityLabel"] == [
        {"Value": "HIGH", "Comparison": EQ},
        {"Value": "CRITICAL", "Comparison": EQ},
    ]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("Severitylabel=HIGH", "no filter 'Severitylabel'; did you mean SeverityLabel"),
        ("SeverityNormalized=high", "'high' is not a number"),
        ("ResourceTags=Environment", "KEY=MAPKEY=VALUE"),
        ("Sample=maybe", "expected true or false"),
        ("UpdatedAt=last week", "Nd (the last N days) or START..END"),
        ("RecordState", "expected KEY=VALUE"),
        ("ResourceAwsEc2InstanceIpV4Addresses=999.1.1.1", "'999.1.1.1' is not an IP address or CIDR block"),
        ("NetworkDestinationIpV4=10.0.0.0/33", "is not an IP address or CIDR block"),
    ],
)
def test_bad_filters_say_what_is_wrong(pair: str, message: str) -> None:
    with pytest.raises(SecurityHubError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_filters([pair])


def test_yaml_template_with_any_comparison(tmp_path: Path) -> None:
    template = tmp_path / "critical.yml"
    template.write_text(
        "Filters:\n"
        "  ProductName:\n"
        "    - {Value: Prowler, Comparison: EQUALS}\n"
        "  Title:\n"
        "    - {Value: 'S3', Comparison: PREFIX}\n"
        "  ResourceTags:\n"
        "    - {Key: Environment, Value: dev, Comparison: NOT_EQUALS}\n"
        "  SeverityNormalized:\n"
        "    - {Gte: 70}\n"
        "  UpdatedAt:\n"
        "    - DateRange: {Value: 30, Unit: DAYS}\n"
    )
    filters = load_template(template)
    assert filters["Title"] == [{"Value": "S3", "Comparison": "PREFIX"}]
    assert filters["SeverityNormalized"] == [{"Gte": 70}]
    (tmp_path / "same.json").write_text(json.dumps(filters))
    assert load_template(tmp_path / "same.json") == filters


def test_metahub_templates_hold_their_filters_under_one_named_key(tmp_path: Path) -> None:
    """MetaHub v2's templates/default.yml: ``Default:`` and the filters under it."""
    template = tmp_path / "default.yml"
    template.write_text("Default:\n  WorkflowStatus:\n    - Value: NEW\n      Comparison: EQUALS\n")
    assert load_template(template) == {"WorkflowStatus": [{"Value": "NEW", "Comparison": "EQUALS"}]}
    single = tmp_path / "single.yml"  # one top-level filter is a filter, not a template name
    single.write_text("RecordState:\n  - Value: ACTIVE\n    Comparison: EQUALS\n")
    assert load_template(single) == {"RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "RecordState:\n  - {Value: ACTIVE, Comparison: EQUAL}\n",
            "Comparison: 'EQUAL' is not one of EQUALS",
        ),
        ("RecordState:\n  - {Value: ACTIVE, Comparision: EQUALS}\n", 'Unknown parameter.*"Comparision"'),
        ("Recordstate:\n  - {Value: ACTIVE}\n", "no filter 'Recordstate'; did you mean RecordState"),
        ("RecordState: [\n", "not valid YAML.*line"),
        ("- RecordState\n", "expected a mapping of filter names"),
    ],
)
def test_bad_templates_name_the_file_and_the_place(tmp_path: Path, text: str, message: str) -> None:
    template = tmp_path / "bad.yml"
    template.write_text(text)
    with pytest.raises(SecurityHubError, match=f"{template}: .*{message}"):
        load_template(template)


def test_default_filters_and_template_merge_on_the_command_line(tmp_path: Path, offline_aws: Aws) -> None:
    parser = build_parser()
    defaults = Hub(parser.parse_args(["--inputs", "securityhub", "--sh-region", "eu-west-1"]))
    assert defaults.filters == parse_filters(DEFAULT_FILTERS)
    assert defaults.filters["WorkflowStatus"] == [{"Value": "NEW", "Comparison": EQ}]
    template = tmp_path / "t.yml"
    template.write_text("SeverityLabel:\n  - {Value: CRITICAL, Comparison: EQUALS}\n")
    args = ["--inputs", "securityhub", "--sh-template", str(template), "--sh-filters", "SeverityLabel=HIGH"]
    merged = Hub(parser.parse_args(args))
    assert merged.filters == {
        "SeverityLabel": [{"Value": "CRITICAL", "Comparison": EQ}, {"Value": "HIGH", "Comparison": EQ}]
    }
    assert merged.region == "us-east-1"  # the profile's region when --sh-region is not given


def _asff(n: int) -> list[dict[str, Any]]:
    return [
        make_finding(
            f"f-{i}",
            arn=f"arn:aws:s3:::bucket-{i % 7}",
            ProductArn=f"arn:aws:securityhub:eu-west-1:{ACCOUNT}:product/{ACCOUNT}/default",
        )
        for i in range(n)
    ]


def test_get_findings_pages_with_our_filters(offline_aws: Aws) -> None:
    filters = parse_filters(["SeverityLabel=HIGH", "SeverityLabel=CRITICAL", "UpdatedAt=7d"])
    client = offline_aws.client("securityhub", ACCOUNT, "eu-west-1")
    with Stubber(client) as stub:
        found = _asff(130)
        stub.add_response(
            "get_findings",
            {"Findings": found[:100], "NextToken": "page-2"},
            {"Filters": filters, "MaxResults": 100},
        )
        stub.add_response(
            "get_findings",
            {"Findings": found[100:]},
            {"Filters": filters, "MaxResults": 100, "NextToken": "page-2"},
        )
        source = SecurityHubSource(offline_aws, "eu-west-1", filters)
        run = metahub.load(source)
        stub.assert_no_pending_responses()
    assert len(run.findings) == 130 and len(run.resources) == 7
    assert source.pages == 2
    assert run.report.sources == ["securityhub:caller:eu-west-1"]


def test_an_error_mid_way_keeps_what_was_read_and_says_where(offline_aws: Aws) -> None:
    client = offline_aws.client("securityhub", ACCOUNT, "eu-west-1")
    with Stubber(client) as stub:
        found = _asff(100)
        found[3] = {**found[3], "AwsAccountId": "not-an-account"}
        stub.add_response("get_findings", {"Findings": found, "NextToken": "t"})
        stub.add_client_error("get_findings", "AccessDeniedException", "not allowed", 403)
        run = metahub.load(SecurityHubSource(offline_aws, "eu-west-1", {}))
    assert len(run.findings) == 99
    [rejected] = run.report.rejected
    assert rejected.where == "page 1, finding 4 (Id 'f-3')" and "AwsAccountId" in rejected.reason
    [unreadable] = run.report.unreadable
    assert str(unreadable) == (
        "securityhub:caller:eu-west-1: page 2: securityhub:GetFindings: access denied (AccessDeniedException)"
    )


def _paging(
    stub: Stubber, found: list[dict[str, Any]], filters: dict[str, Any], start: int = 0, stop: int | None = None
) -> None:
    """GetFindings answering ``found`` 100 at a time, pages ``start`` to ``stop`` (excluded)."""
    pages = [found[i : i + 100] for i in range(0, len(found), 100)]
    for number in range(start, len(pages) if stop is None else stop):
        expected: dict[str, Any] = {"Filters": filters, "MaxResults": 100}
        if number:
            expected["NextToken"] = f"page-{number + 1}"
        answer: dict[str, Any] = {"Findings": pages[number]}
        if number + 1 < len(pages):
            answer["NextToken"] = f"page-{number + 2}"
        stub.add_response("get_findings", answer, expected)


def test_pages_are_read_at_security_hubs_documented_rate(offline_aws: Aws) -> None:
    """"GetFindings - RateLimit of 3 requests per second" (Security Hub API reference): the pages
    are spaced a third of a second apart, not sent as fast as the answers come."""
    from metahub.aws import RateLimiter

    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 3))
        now[0] += seconds

    limiter = RateLimiter(3.0, clock=lambda: now[0], sleep=sleep)
    client = offline_aws.client("securityhub", ACCOUNT, "eu-west-1")
    with Stubber(client) as stub:
        _paging(stub, _asff(450), {})
        run = metahub.load(SecurityHubSource(offline_aws, "eu-west-1", {}, limiter=limiter))
        stub.assert_no_pending_responses()
    assert len(run.findings) == 450
    assert (limiter.acquired, waits) == (5, [0.333] * 4)


def test_a_checkpoint_goes_on_where_a_failed_read_stopped(offline_aws: Aws, tmp_path: Path) -> None:
    """Page 3 fails: pages 1-2 stay in the checkpoint. The next run reads them from the file and
    asks Security Hub from page 3 on (its first request carries page 2's NextToken); once the last
    page is read the file is removed."""
    checkpoint = tmp_path / "pages.jsonl"
    filters = parse_filters(["SeverityLabel=HIGH"])
    found = _asff(450)
    client = offline_aws.client("securityhub", ACCOUNT, "eu-west-1")
    with Stubber(client) as stub:
        _paging(stub, found, filters, stop=2)
        stub.add_client_error("get_findings", "InternalServerException", "try later", 500)
        first = metahub.load(SecurityHubSource(offline_aws, "eu-west-1", filters, checkpoint=checkpoint, limiter=_free()))
    assert len(first.findings) == 200
    [problem] = first.report.unreadable
    assert f"the pages read are in {checkpoint}: run again to go on from there" in str(problem)
    assert len(checkpoint.read_text().splitlines()) == 3  # the header and two pages
    with Stubber(client) as stub:
        _paging(stub, found, filters, start=2)
        source = SecurityHubSource(offline_aws, "eu-west-1", filters, checkpoint=checkpoint, limiter=_free())
        second = metahub.load(source)
        stub.assert_no_pending_responses()
    assert {f.Id for f in second.findings} == {f["Id"] for f in found} and not second.report.problems
    assert source.pages == 5 and not checkpoint.exists()


def test_a_checkpoint_cut_mid_page_reads_that_page_again(offline_aws: Aws, tmp_path: Path) -> None:
    checkpoint = tmp_path / "pages.jsonl"
    found = _asff(250)
    client = offline_aws.client("securityhub", ACCOUNT, "eu-west-1")
    with Stubber(client) as stub:
        _paging(stub, found, {})
        source = SecurityHubSource(offline_aws, "eu-west-1", {}, checkpoint=checkpoint, limiter=_free())
        records = source.records()
        for _ in range(201):  # two pages read, then the run dies in the third
            next(records)
        records.close()
    lines = checkpoint.read_bytes().splitlines(keepends=True)
    assert len(lines) == 4  # the third page was saved before its findings were handed on
    checkpoint.write_bytes(b"".join(lines[:3]) + lines[3][: len(lines[3]) // 2])  # cut while written
    with Stubber(client) as stub:
        _paging(stub, found, {}, start=2)
        run = metahub.load(SecurityHubSource(offline_aws, "eu-west-1", {}, checkpoint=checkpoint, limiter=_free()))
        stub.assert_no_pending_responses()
    assert len(run.findings) == 250 and not checkpoint.exists()


def test_a_checkpoint_whose_header_was_cut_starts_again_whole(offline_aws: Aws, tmp_path: Path) -> None:
    """The run stopped while writing the header: the file is started again, not appended to."""
    checkpoint = tmp_path / "pages.jsonl"
    checkpoint.write_bytes(b'{"metahub_checkpoint": 1, "meta')
    client = offline_aws.client("securityhub", ACCOUNT, "eu-west-1")
    with Stubber(client) as stub:
        _paging(stub, _asff(150), {}, stop=1)
        stub.add_client_error("get_findings", "AccessDeniedException", "no", 403)
        run = metahub.load(SecurityHubSource(offline_aws, "eu-west-1", {}, checkpoint=checkpoint, limiter=_free()))
    assert len(run.findings) == 100
    header, page = (json.loads(line) for line in checkpoint.read_text().splitlines())
    assert header["metahub_checkpoint"] == 1 and len(page["Findings"]) == 100 and page["NextToken"] == "page-2"


def test_a_checkpoint_for_other_filters_is_not_used(offline_aws: Aws, tmp_path: Path) -> None:
    checkpoint = tmp_path / "pages.jsonl"
    client = offline_aws.client("securityhub", ACCOUNT, "eu-west-1")
    with Stubber(client) as stub:
        _paging(stub, _asff(150), {}, stop=1)
        stub.add_client_error("get_findings", "AccessDeniedException", "no", 403)
        metahub.load(SecurityHubSource(offline_aws, "eu-west-1", {}, checkpoint=checkpoint, limiter=_free()))
    high = parse_filters(["SeverityLabel=HIGH"])
    with Stubber(client) as stub:  # no call expected
        run = metahub.load(SecurityHubSource(offline_aws, "eu-west-1", high, checkpoint=checkpoint, limiter=_free()))
    [problem] = run.report.unreadable
    assert "was made for another Security Hub, other filters or another metahub version" in str(problem)
    assert not run.findings and checkpoint.exists()


def test_a_checkpoint_that_cannot_be_written_stops_before_any_call(offline_aws: Aws, tmp_path: Path) -> None:
    client = offline_aws.client("securityhub", ACCOUNT, "eu-west-1")
    checkpoint = tmp_path / "missing" / "pages.jsonl"
    with Stubber(client):  # no call expected
        run = metahub.load(SecurityHubSource(offline_aws, "eu-west-1", {}, checkpoint=checkpoint, limiter=_free()))
    [problem] = run.report.unreadable
    assert str(problem) == f"securityhub:caller:eu-west-1: checkpoint {checkpoint}: No such file or directory"


def _free() -> Any:
    from metahub.aws import RateLimiter

    return RateLimiter(1e9)


def test_command_line_reads_security_hub_with_files(
    lab_endpoint: str, in_hub: list[dict[str, Any]], asff_findings: list[dict[str, Any]], tmp_path: Path
) -> None:
    imported = in_hub
    extra = [f for f in asff_findings if f["Resources"][0]["Type"] == "AwsIamRole"][:20]
    file = tmp_path / "some.json"
    file.write_text(json.dumps(imported[:10] + extra))  # 10 of them also in Security Hub
    result = metahub_cli(
        "--inputs",
        "file-asff",
        "securityhub",
        "--input-asff",
        str(file),
        "--sh-region",
        HUB_REGION,
        "--output-modes",
        "json-inventory",
        "--output-dir",
        str(tmp_path),
        endpoint=lab_endpoint,
    )
    assert result.returncode == 0, result.stderr
    assert f"2 source(s), {len(imported) + 10 + len(extra)} findings read" in result.stderr
    assert "10 duplicate(s)" in result.stderr
    [inventory] = tmp_path.glob("metahub-inventory-*.json")
    arns = set(json.loads(inventory.read_text()))
    assert arns == {f["Resources"][0]["Id"] for f in imported + extra}


def test_another_accounts_hub_through_a_role(
    lab_endpoint: str, in_hub: list[dict[str, Any]], tmp_path: Path
) -> None:
    result = metahub_cli(
        "--inputs", "securityhub", "--sh-region", HUB_REGION, "--sh-account", ACCOUNT,
        "--sh-assume-role", "metahub-audit", "--sh-external-id", "abc", "--output-modes",
        endpoint=lab_endpoint,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{len(in_hub)} findings read" in result.stderr
    assert f"securityhub:{ACCOUNT}:{HUB_REGION}" not in result.stderr  # no problem named the source


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sh-assume-role", "audit"], "--sh-assume-role needs --sh-account"),
        (["--sh-profile", "no-such-profile"], "Security Hub: no AWS profile named 'no-such-profile'"),
        (["--sh-filters", "Severity=HIGH"], "no filter 'Severity'"),
    ],
)
def test_security_hub_usage_errors(lab_endpoint: str, args: list[str], message: str) -> None:
    result = metahub_cli("--inputs", "securityhub", *args, endpoint=lab_endpoint)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_security_hub_filters_alone_read_from_security_hub(
    lab_endpoint: str, in_hub: list[dict[str, Any]], tmp_path: Path
) -> None:
    """MetaHub's habit: `metahub --sh-filters ...` with no input flag reads Security Hub (which
    filters reach GetFindings: test_default_filters_and_template_merge_on_the_command_line)."""
    result = metahub_cli(
        "--sh-region", HUB_REGION, "--sh-filters", "RecordState=ACTIVE", "--output-modes",
        endpoint=lab_endpoint, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"1 source(s), {len(in_hub)} findings read" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--input-asff", "x.json", "--sh-filters", "SeverityLabel=HIGH"],
        ["--inputs", "file-asff", "--input-asff", "x.json", "--sh-template", "t.yml"],
        ["--demo", "--sh-filters", "SeverityLabel=HIGH"],
        ["--input-asff", "x.json", "--sh-checkpoint", "pages.jsonl"],
    ],
)
def test_security_hub_filters_next_to_files_only_are_refused(args: list[str], tmp_path: Path) -> None:
    result = metahub_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "are for reading Security Hub, but the input is files only" in result.stderr
    assert "Traceback" not in result.stderr and not list(tmp_path.iterdir())  # refused before any work
