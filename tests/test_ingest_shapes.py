"""Every input shape metahub accepts, read into the same findings."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import metahub
from metahub.ingest import MAP_NOT_STRINGS, WRAPPER_LOWERCASE

from .conftest import make_finding, write


def _event(findings: list[dict], detail_type: str = "Security Hub Findings - Imported") -> dict:
    return {
        "version": "0",
        "id": "e-1",
        "detail-type": detail_type,
        "source": "aws.securityhub",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"findings": findings},
    }


def test_json_array(tmp_path: Path) -> None:
    run = metahub.load(write(tmp_path / "a.json", [make_finding("1"), make_finding("2")]))
    assert [f.Id for f in run.findings] == ["1", "2"]


def test_security_hub_api_shape(tmp_path: Path) -> None:
    run = metahub.load(write(tmp_path / "sh.json", {"Findings": [make_finding("1")], "NextToken": None}))
    assert [f.Id for f in run.findings] == ["1"]


def test_single_finding_object(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(make_finding("1"), indent=2))
    assert [f.Id for f in metahub.load(path).findings] == ["1"]


def test_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join(json.dumps(make_finding(str(i))) for i in range(5)) + "\n\n")
    run = metahub.load(path)
    assert [f.Id for f in run.findings] == ["0", "1", "2", "3", "4"]


def test_eventbridge_events(tmp_path: Path) -> None:
    imported = _event([make_finding("1"), make_finding("2")])
    custom = _event([make_finding("3")], "Security Hub Findings - Custom Action")
    one = metahub.load(write(tmp_path / "e.json", imported))
    assert [f.Id for f in one.findings] == ["1", "2"]
    many = metahub.load(write(tmp_path / "events.json", [imported, custom]))
    assert [f.Id for f in many.findings] == ["1", "2", "3"]
    lines = tmp_path / "events.jsonl"
    lines.write_text(json.dumps(imported) + "\n" + json.dumps(custom) + "\n")
    assert [f.Id for f in metahub.load(lines).findings] == ["1", "2", "3"]


def test_gzip_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "no-extension"
    path.write_bytes(gzip.compress(json.dumps([make_finding("1")]).encode()))
    assert [f.Id for f in metahub.load(path).findings] == ["1"]


def test_byte_order_marks(tmp_path: Path) -> None:
    text = json.dumps([make_finding("1", Title="caf\u00e9")])
    utf8 = tmp_path / "bom8.json"
    utf8.write_bytes(b"\xef\xbb\xbf" + text.encode())
    utf16 = tmp_path / "bom16.json"  # what PowerShell's > redirection writes
    utf16.write_bytes(text.encode("utf-16"))
    for path in (utf8, utf16):
        run = metahub.load(path)
        assert run.report.problems == [] and run.findings[0].Title == "caf\u00e9"


def test_binary_stream_and_stdin(tmp_path: Path) -> None:
    data = json.dumps([make_finding("1")]).encode()
    assert [f.Id for f in metahub.load(io.BytesIO(data)).findings] == ["1"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "metahub",
            "--input-asff",
            "-",
            "--list-findings",
            "inventory",
            "--output-modes",
            "--no-banners",
        ],
        input=data,
        capture_output=True,
        check=True,
    )
    assert json.loads(result.stdout) == ["arn:aws:s3:::bucket-a"]


def test_several_files_and_duplicates(tmp_path: Path) -> None:
    old = make_finding("dup", Title="old", UpdatedAt="2026-01-01T00:00:00Z")
    new = make_finding("dup", Title="new", UpdatedAt="2026-02-01T00:00:00+00:00")
    a = write(tmp_path / "a.json", [old, make_finding("a")])
    b = write(tmp_path / "b.json", [new, make_finding("b")])
    for order in ((a, b), (b, a)):
        run = metahub.load(*order)
        assert sorted(f.Id for f in run.findings) == ["a", "b", "dup"]
        assert next(f for f in run.findings if f.Id == "dup").Title == "new"
        assert run.report.duplicates == 1
        assert run.report.sources == [str(p) for p in order]


def test_unknown_fields_are_kept(tmp_path: Path) -> None:
    finding = make_finding(
        "1", Network={"Direction": "IN"}, FindingProviderFields={"Severity": {"Label": "HIGH"}}
    )
    finding["Resources"][0]["Details"] = {"AwsS3Bucket": {"OwnerId": "x"}}
    run = metahub.load(write(tmp_path / "a.json", [finding]))
    assert run.findings[0].to_asff() == finding


def test_only_active_and_only_failed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.json",
        [
            make_finding("1"),
            make_finding("2", RecordState="ARCHIVED"),
            make_finding("3", Compliance={"Status": "PASSED"}),
        ],
    )
    assert [f.Id for f in metahub.load(path, only_active=True).findings] == ["1", "3"]
    assert [f.Id for f in metahub.load(path, only_failed=True).findings] == ["1", "2"]
    assert [f.Id for f in metahub.load(path, only_failed=True, only_active=True).findings] == ["1"]


def test_severity_from_normalized_and_naive_dates(tmp_path: Path) -> None:
    finding = make_finding("1", Severity={"Normalized": 75}, CreatedAt="2026-01-01T10:00:00")
    run = metahub.load(write(tmp_path / "a.json", [finding]))
    assert run.findings[0].severity_label == "HIGH"
    assert (
        run.findings[0].CreatedAt is not None and run.findings[0].CreatedAt.utcoffset().total_seconds() == 0
    )


# --- real-world deviations: read with one warning per kind, never a rejection ----------------------
# ASFF (Security Hub API reference, AwsSecurityFinding): the wrapper of GetFindings is "Findings", and
# ProductFields / UserDefinedFields are "Map of String to String". Some scanners write a lowercase
# wrapper or numbers/objects as map values; other consumers accept both, so metahub does too.


def test_lowercase_findings_wrapper_is_read_with_a_warning(tmp_path: Path) -> None:
    run = metahub.load(write(tmp_path / "lower.json", {"findings": [make_finding("1"), make_finding("2")]}))
    assert [f.Id for f in run.findings] == ["1", "2"]
    assert run.report.rejected == []
    seen = run.report.deviations[WRAPPER_LOWERCASE]
    assert seen.count == 2
    assert seen.first.where == ".findings[0]"


def test_lowercase_wrapper_survives_damage_after_it(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    text = json.dumps({"findings": [make_finding("1"), make_finding("2")]})
    path.write_text(text[: text.rindex('"Id"')])  # the second finding is cut off mid-way
    run = metahub.load(path)
    assert [f.Id for f in run.findings] == ["1"]
    assert run.report.unreadable


def test_non_string_map_values_become_json_text(tmp_path: Path) -> None:
    finding = make_finding("1")
    finding["ProductFields"] = {"Score": 7, "Details": {"a": [1, "é"]}, "Name": "x", "On": True}
    finding["UserDefinedFields"] = {"n": None}
    plain = make_finding("2")
    run = metahub.load(write(tmp_path / "maps.json", [finding, plain]))
    assert run.report.rejected == []
    first = next(f for f in run.findings if f.Id == "1")
    assert first.ProductFields == {"Score": "7", "Details": '{"a":[1,"é"]}', "Name": "x", "On": "true"}
    assert first.UserDefinedFields == {"n": "null"}
    seen = run.report.deviations[MAP_NOT_STRINGS]
    assert seen.count == 1 and "'1'" in seen.first.where


def test_conforming_findings_report_no_deviation(tmp_path: Path) -> None:
    run = metahub.load(write(tmp_path / "ok.json", {"Findings": [make_finding("1")]}))
    events = metahub.load(write(tmp_path / "e.json", _event([make_finding("2")])))
    assert run.report.deviations == {} and events.report.deviations == {}


def test_an_object_that_only_has_a_findings_key_and_finding_keys_is_a_finding(tmp_path: Path) -> None:
    finding = make_finding("1")
    finding["findings"] = ["not a wrapper"]
    run = metahub.load(write(tmp_path / "odd.json", finding))
    assert [f.Id for f in run.findings] == ["1"]
    assert run.report.deviations == {}


def test_cli_prints_one_warning_per_kind(tmp_path: Path) -> None:
    findings = [make_finding(str(i)) for i in range(3)]
    for finding in findings:
        finding["ProductFields"] = {"Score": 1}
    path = write(tmp_path / "w.json", {"findings": findings})
    result = subprocess.run(
        [sys.executable, "-m", "metahub", "--input-asff", str(path), "--output-modes", "json-short",
         "--output-dir", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 2
    assert any("3 finding(s) with a lowercase" in line and ".findings[0]" in line for line in warnings)


def test_equal_parts_are_held_once_and_written_back_as_given(tmp_path: Path) -> None:
    """A check's findings share their compliance, remediation, severity and types in memory; each
    is still written back as it came, an explicit null included."""
    remediation = {"Recommendation": {"Text": "Block public access", "Url": "https://docs.aws.amazon.com/"}}
    given = [
        make_finding(f"f-{n}", arn=f"arn:aws:s3:::b-{n}", Compliance={"Status": "FAILED"}, Remediation=remediation)
        for n in range(3)
    ]
    given.append(make_finding("f-null", arn="arn:aws:s3:::b-3", Compliance={"Status": "FAILED",
                                                                             "RelatedRequirements": None}))  # fmt: skip
    run = metahub.load(write(tmp_path / "in.json", given))
    found = {f.Id: f for f in run.findings}
    assert found["f-0"].Compliance is found["f-1"].Compliance is found["f-2"].Compliance
    assert found["f-0"].Remediation is found["f-2"].Remediation
    assert found["f-null"].Compliance is not found["f-0"].Compliance
    for finding in given:
        assert found[finding["Id"]].to_asff() == finding
