"""Filters on the enriched lab, and the tabular outputs (CSV, XLSX, SQLite, DataFrames)."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import metahub
from metahub.cli import main
from metahub.filters import FilterError, Filters
from metahub.models import PALETTE, AffectedResource

from .conftest import make_finding, metahub_cli, write

EVIL = '=HYPERLINK("http://x","y")'


def _types(run: metahub.Run) -> set[str]:
    return {r.type for r in run.resources.values()}


def test_checks_filter_on_the_lab(enriched_lab: metahub.Run) -> None:
    public = enriched_lab.filter("is_public=True")
    expected = {
        arn for arn, r in enriched_lab.resources.items() if r.metachecks and r.metachecks.get("is_public")
    }
    assert set(public.resources) == expected
    assert {"AwsEc2Instance", "AwsS3Bucket", "AwsSqsQueue"} <= _types(public)
    assert all("public-assets-" in arn for arn, r in public.resources.items() if r.type == "AwsS3Bucket")
    # MetaHub semantics: False means false or empty, and an unknown (null) matches neither side.
    private = enriched_lab.filter("is_public=False")
    assert not set(private.resources) & set(public.resources)
    unknown = {
        arn
        for arn, r in enriched_lab.resources.items()
        if r.metachecks and r.metachecks.get("is_public") is None
    }
    assert not unknown & (set(private.resources) | set(public.resources))
    both = enriched_lab.filter("is_public=True", "is_encrypted=False")
    # the lab's four public instances, and its four public-assets buckets (no default encryption)
    assert _types(both) == {"AwsEc2Instance", "AwsS3Bucket"} and len(both.resources) == 8
    assert all("public-assets-" in arn for arn, r in both.resources.items() if r.type == "AwsS3Bucket")
    # findings in the kept resources are all kept, and only those
    assert sum(len(r.findings) for r in both.resources.values()) == len(both.findings)


def test_finding_field_filters(enriched_lab: metahub.Run) -> None:
    high = enriched_lab.filter(findings=["severity=high,critical", "compliance=FAILED"])
    assert {f.severity_label for f in high.findings} <= {"HIGH", "CRITICAL"}
    assert {f.compliance_status for f in high.findings} == {"FAILED"}
    expected = sum(
        1
        for f in enriched_lab.findings
        if f.severity_label in ("HIGH", "CRITICAL") and f.compliance_status == "FAILED"
    )
    assert len(high.findings) == expected
    buckets = enriched_lab.filter(findings=["resource_type=AwsS3Bucket", "title=encrypt"])
    assert _types(buckets) == {"AwsS3Bucket"}
    assert all(
        any("encrypt" in (f.Title or "").lower() for f in r.findings) for r in buckets.resources.values()
    )
    in_eu = enriched_lab.filter(findings=["region=eu-west-1"])
    assert {r.region for r in in_eu.resources.values()} == {"eu-west-1"}
    assert len(in_eu.resources) == 1340


def test_query_filter(enriched_lab: metahub.Run) -> None:
    kept = enriched_lab.filter(query="ResourceType == 'AwsEc2SecurityGroup' && metachecks.is_unrestricted")
    expected = {
        arn
        for arn, r in enriched_lab.resources.items()
        if r.type == "AwsEc2SecurityGroup" and r.metachecks and r.metachecks.get("is_unrestricted")
    }
    assert kept.resources and set(kept.resources) == expected


@pytest.mark.parametrize(
    "query",
    ["!(metachecks.is_pubic)", "metachecks.is_pubic", "findings[?severty == 'HIGH']", "ResourceTpye != 'x'"],
)
def test_query_naming_a_field_no_resource_has_is_refused(enriched_lab: metahub.Run, query: str) -> None:
    """A negated typo would keep every resource, and an update would then write to all of them."""
    with pytest.raises(FilterError, match="which no resource has; did you mean"):
        enriched_lab.filter(query=query)


def test_query_typo_writes_nothing_to_security_hub(tmp_path: Path) -> None:
    source = write(tmp_path / "f.json", [make_finding()])
    args = ["--input-asff", str(source), "--query", "!(metachecks.is_pubic)", "--update-findings",
            "Workflow=NOTIFIED", "--no-actions-confirmation", "--output-dir", str(tmp_path / "out")]  # fmt: skip
    result = metahub_cli(*args, "--context", "tags", endpoint="http://127.0.0.1:9")
    assert result.returncode == 2, result.stderr
    assert "'is_pubic', which no resource has; did you mean is_public" in result.stderr
    assert result.stderr.rstrip().endswith("; nothing was written")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def _tagged(arn: str, tags: dict[str, str]) -> dict[str, Any]:
    return make_finding(f"f-{arn}", arn=arn, Resources=[{"Type": "AwsS3Bucket", "Id": arn, "Tags": tags}])


def test_tags_filter_any_or_all(tmp_path: Path) -> None:
    run = metahub.Run.from_findings(
        [
            _tagged("arn:aws:s3:::prod-payments", {"Environment": "prod", "Owner": "payments"}),
            _tagged("arn:aws:s3:::prod-search", {"Environment": "prod", "Owner": "search"}),
            _tagged("arn:aws:s3:::dev-payments", {"Environment": "dev", "Owner": "payments"}),
            _tagged("arn:aws:s3:::untagged", {}),
        ]
    )
    any_ = run.filter(tags={"Environment": "prod", "Owner": "payments"})
    assert set(any_.resources) == {
        "arn:aws:s3:::prod-payments",
        "arn:aws:s3:::prod-search",
        "arn:aws:s3:::dev-payments",
    }
    all_ = run.filter(tags=["Environment=prod", "Owner=payments"], tags_all=True)
    assert set(all_.resources) == {"arn:aws:s3:::prod-payments"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"checks": ["is_pubic=True"]}, "no MetaCheck named 'is_pubic'; did you mean is_public"),
        ({"checks": ["is_public=yes"]}, "must be True or False"),
        ({"checks": ["is_public"]}, "is not KEY=VALUE"),
        ({"findings": ["severty=HIGH"]}, "no finding field 'severty'; did you mean severity"),
        ({"findings": ["severity=HIHG"]}, "severity has no value 'HIHG'; did you mean HIGH"),
        ({"query": "metachecks.[[["}, "is not valid JMESPath"),
    ],
)
def test_bad_filters_say_what_was_meant(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("[", r"\[").replace("(", r"\(")):
        Filters.parse(**kwargs)


def test_bad_filter_on_the_command_line_is_a_usage_error(tmp_path: Path, capsys: Any) -> None:
    source = write(tmp_path / "f.json", [make_finding()])
    assert main(["--input-asff", str(source), "--mh-filters-checks", "is_pubic=True", "--output-modes"]) == 2
    assert "did you mean is_public" in capsys.readouterr().err


def test_finding_filters_apply_before_any_fetch(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing survives the finding filter, so nothing is fetched: credentials that would work,
    and an endpoint where nothing listens."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    source = write(tmp_path / "f.json", [make_finding(Severity={"Label": "LOW"})])
    code = main(
        [
            "--input-asff", str(source),
            "--mh-filters-findings", "severity=CRITICAL",
            "--mh-filters-checks", "is_public=True",
            "--output-modes", "--no-banners",
        ]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "0 findings on 0 resources" in err and "AWS calls: 0" in err


def _evil_run() -> metahub.Run:
    finding = make_finding(
        Title="=cmd|' /C calc'!A0",
        Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b", "Tags": {"Owner": EVIL, "Team": "+1"}}],
    )
    return metahub.Run.from_findings([finding])


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    (path,) = _evil_run().write(["csv"], tmp_path, "t", tag_columns=["Owner", "Team", "Missing"])
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["Tag:Owner"] == "'" + EVIL
    assert rows[0]["Tag:Team"] == "'+1"
    assert rows[0]["Title"].startswith("'=")
    assert rows[0]["Tag:Missing"] == ""


def test_xlsx_neutralises_formulas_and_is_usable(tmp_path: Path) -> None:
    (path,) = _evil_run().write(["xlsx"], tmp_path, "t", tag_columns=["Owner"])
    sheet = load_workbook(path).active
    header = [c.value for c in sheet[1]]
    owner = sheet.cell(row=2, column=header.index("Tag:Owner") + 1)
    assert owner.data_type == "s" and owner.value == "'" + EVIL
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    severity = sheet.cell(row=2, column=header.index("Severity") + 1)
    assert severity.value == "HIGH" and severity.fill.fgColor.rgb.endswith(PALETTE["HIGH"][1:])  # as in the HTML


def test_every_format_on_the_enriched_lab(enriched_lab: metahub.Run, tmp_path: Path) -> None:
    run = enriched_lab.filter(findings=["compliance=FAILED"])
    pairs = sum(len(r.findings) for r in run.resources.values())
    paths = run.write(
        ["csv", "xlsx", "sqlite"],
        tmp_path,
        "lab",
        tag_columns=["Environment"],
        check_columns=["is_public", "it_has_public_ip"],
    )
    csv_path, xlsx_path, db_path = paths
    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == pairs
    assert {"Tag:Environment", "is_public", "it_has_public_ip"} <= set(rows[0])
    public_ips = {row["it_has_public_ip"] for row in rows if row["ResourceType"] == "AwsEc2Instance"}
    assert len(public_ips - {"", "False"}) == 4
    assert load_workbook(xlsx_path, read_only=True).active.max_row == pairs + 1
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM resources").fetchone()[0] == len(run.resources)
        assert db.execute("SELECT count(*) FROM findings").fetchone()[0] == pairs
        (accounts,) = db.execute("SELECT count(*) FROM accounts").fetchone()
        assert accounts == len({r.account for r in run.resources.values()})
        public = db.execute(
            "SELECT arn FROM resources WHERE type = 'AwsS3Bucket' AND json_extract(is_public, '$') IS NOT 0"
            " AND is_public IS NOT NULL AND is_public != 'false'"
        ).fetchall()
        assert public and all("public-assets-" in arn for (arn,) in public)
        row = db.execute("SELECT metachecks FROM resources WHERE type = 'AwsEc2Instance' LIMIT 1").fetchone()
        assert "is_public" in json.loads(row[0])


def test_dataframes_flatten_checks_and_tags(enriched_lab: metahub.Run) -> None:
    frame = enriched_lab.resources_dataframe()
    assert "metachecks.is_public" in frame.columns
    assert list(frame["HighestSeverity"].cat.categories) == [
        "INFORMATIONAL",
        "LOW",
        "MEDIUM",
        "HIGH",
        "CRITICAL",
    ]
    findings = enriched_lab.to_dataframe()
    assert len(findings) == sum(len(r.findings) for r in enriched_lab.resources.values())
    assert "metachecks.is_public" in findings.columns
    assert findings["Severity"].cat.ordered


def test_tags_become_columns() -> None:
    run = metahub.Run.from_findings([_tagged("arn:aws:s3:::b", {"Environment": "prod"})])
    assert run.resources_dataframe().loc[0, "tags.Environment"] == "prod"
    assert run.to_dataframe().loc[0, "tags.Environment"] == "prod"
    assert isinstance(next(iter(run.resources.values())), AffectedResource)


def test_passed_findings_are_drawn_as_passed_in_the_sheet(tmp_path: Path) -> None:
    passed = make_finding("f-pass", Severity={"Label": "CRITICAL"}, Compliance={"Status": "PASSED"})
    failed = make_finding("f-fail", Severity={"Label": "LOW"}, Compliance={"Status": "FAILED"})
    (path,) = metahub.Run.from_findings([passed, failed]).write(["xlsx"], tmp_path, "t")
    sheet = load_workbook(path).active
    header = [c.value for c in sheet[1]]
    cells = {
        sheet.cell(row=row, column=header.index("FindingId") + 1).value: row
        for row in range(2, sheet.max_row + 1)
    }
    severity = sheet.cell(row=cells["f-pass"], column=header.index("Severity") + 1)
    assert severity.value == "CRITICAL" and severity.fill.fgColor.rgb.endswith(PALETTE["PASSED"][1:])
    worst = sheet.cell(row=cells["f-pass"], column=header.index("ResourceWorstFailedSeverity") + 1)
    assert worst.value == "LOW" and worst.fill.fgColor.rgb.endswith(PALETTE["LOW"][1:])


def test_worst_failed_severity_in_sqlite_and_dataframes(tmp_path: Path) -> None:
    passed = make_finding("f-pass", Severity={"Label": "CRITICAL"}, Compliance={"Status": "PASSED"})
    only_passed = make_finding("f-pass-b", arn="arn:aws:s3:::bucket-b", Compliance={"Status": "PASSED"})
    failed = make_finding("f-fail", Severity={"Label": "LOW"}, Compliance={"Status": "FAILED"})
    run = metahub.Run.from_findings([passed, only_passed, failed])
    (path,) = run.write(["sqlite"], tmp_path, "t")
    with sqlite3.connect(path) as db:
        worst = dict(db.execute("SELECT arn, worst_failed_severity FROM resources"))
        outcomes = dict(db.execute("SELECT id, outcome FROM findings"))
    assert worst == {"arn:aws:s3:::bucket-a": "LOW", "arn:aws:s3:::bucket-b": "PASSED"}
    assert outcomes == {"f-pass": "PASSED", "f-pass-b": "PASSED", "f-fail": "FAILED"}
    frame = run.resources_dataframe()
    assert list(frame.sort_values("WorstFailedSeverity")["ResourceArn"]) == [
        "arn:aws:s3:::bucket-b",
        "arn:aws:s3:::bucket-a",
    ]
    assert frame.set_index("ResourceArn").loc["arn:aws:s3:::bucket-a", "FailedLow"] == 1
    assert set(run.to_dataframe()["Outcome"]) == {"PASSED", "FAILED"}


def test_checks_filter_on_a_run_not_enriched_is_an_error_not_an_empty_result() -> None:
    run = metahub.Run.from_findings([_tagged("arn:aws:s3:::prod-payments", {"Environment": "prod"})])
    with pytest.raises(FilterError, match=r"is_public=True: MetaChecks filters need an enriched run"):
        run.filter("is_public=True")
    # what the findings alone decide still works, and the explicit pre-enrichment pass is kept
    assert set(run.filter(tags={"Environment": "prod"}).resources) == {"arn:aws:s3:::prod-payments"}
    before = run.apply(Filters.parse(["is_public=True"]), before_enrichment=True)
    assert set(before.resources) == {"arn:aws:s3:::prod-payments"}


@pytest.mark.parametrize(
    ("v2_key", "check"),
    [
        ("public", "is_public"),
        ("encrypted", "is_encrypted"),
        ("network_interfaces", "its_associated_with_network_interfaces"),
    ],
)
def test_metahub_v2_config_keys_name_the_same_checks(
    enriched_lab: metahub.Run, v2_key: str, check: str
) -> None:
    for wanted in ("True", "False"):
        by_v2 = enriched_lab.filter(f"{v2_key}={wanted}")
        assert set(by_v2.resources) == set(enriched_lab.filter(f"{check}={wanted}").resources)
    assert enriched_lab.filter(f"{v2_key}=True").resources


def test_account_columns_in_the_sheet(tmp_path: Path) -> None:
    run = metahub.Run.from_findings([make_finding()])
    resource = next(iter(run.resources.values()))
    resource.metaaccount = {"AccountId": "123456789012", "Alias": "=cmd|' /C calc'!A0"}
    (path,) = run.write(["csv"], tmp_path, account_columns=["Alias", "AccountId"])
    with path.open(encoding="utf-8-sig") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["Account:Alias"] == "'=cmd|' /C calc'!A0" and row["Account:AccountId"] == "123456789012"
