from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import metahub

from .conftest import make_finding, metahub_cli, write


def test_json_short_shape(asff_fixture: Path) -> None:
    run = metahub.load(asff_fixture)
    short = run.short()
    assert list(short) == list(run.by_impact())  # what to fix first first, scored or not
    entry = short["arn:aws:s3:::public-assets-us-east-1-0"]
    assert set(entry) == {"findings", "AwsAccountId", "Region", "ResourceType", "Concrete"}
    assert (entry["AwsAccountId"], entry["Region"], entry["ResourceType"]) == (
        "123456789012",
        "us-east-1",
        "AwsS3Bucket",
    )
    assert all(isinstance(title, str) for title in entry["findings"])
    assert len(entry["findings"]) == len(set(entry["findings"]))


def test_json_full_holds_the_findings_as_given(
    asff_fixture: Path, asff_findings: list[dict[str, Any]]
) -> None:
    run = metahub.load(asff_fixture)
    by_id = {f["Id"]: f for f in asff_findings}
    full = run.full()
    written = [finding for entry in full.values() for finding in entry["findings"]]
    assert len(written) == 6073
    for finding in written[:500]:
        assert finding == by_id[finding["Id"]]


def test_inventory_and_statistics(asff_fixture: Path) -> None:
    run = metahub.load(asff_fixture, only_failed=True)
    assert run.inventory() == list(run.by_impact())
    stats = run.statistics()
    assert stats["totals"] == {"findings": 2929, "resources": 2683}
    assert sum(stats["findings"]["SeverityLabel"].values()) == 2929
    assert stats["findings"]["ComplianceStatus"] == {"FAILED": 2929}
    assert sum(stats["resources"]["ResourceType"].values()) == 2683
    counts = list(stats["findings"]["Title"].values())
    assert counts == sorted(counts, reverse=True)


def test_cli_writes_every_mode_and_lists(tmp_path: Path, asff_fixture: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "metahub",
            "--inputs",
            "file-asff",
            "--input-asff",
            str(asff_fixture),
            "--only-failed",
            "--list-findings",
            "statistics",
            "--output-dir",
            str(tmp_path / "o"),
            "--no-banners",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout)["totals"] == {"findings": 2929, "resources": 2683}
    assert not (tmp_path / "o").exists(), "--list-findings prints; files only when --output-modes asks"
    assert "2929 findings on 2683 resources" in result.stderr


def test_output_modes_metahub_is_metahubs_default_set(tmp_path: Path) -> None:
    source = write(tmp_path / "f.json", [make_finding()])
    result = metahub_cli("--input-asff", str(source), "--output-modes", "metahub", "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    suffixes = sorted(p.name.split("-")[1].split(".")[0] if p.suffix == ".json" else p.suffix for p in (tmp_path / "o").iterdir())
    assert suffixes == [".csv", ".html", ".xlsx", "full", "inventory", "short", "statistics"]


def test_outputs_follow_the_umask(tmp_path: Path) -> None:
    """Not 0600 as the temporary file they are written through: what the umask allows (022 here)."""
    source = write(tmp_path / "f.json", [make_finding()])
    result = metahub_cli("--input-asff", str(source), "--output-modes", "json-short", "csv",
                         "--output-dir", str(tmp_path / "o"), umask=0o022)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "o").iterdir()} == {"0o644"}


def test_dataframes(asff_fixture: Path) -> None:
    run = metahub.load(asff_fixture, only_failed=True)
    frame = run.to_dataframe()
    assert len(frame) == 2929
    assert frame["Severity"].cat.ordered and frame["Severity"].max() == "CRITICAL"
    assert str(frame["UpdatedAt"].dtype).startswith("datetime64")
    resources = run.resources_dataframe()
    assert len(resources) == 2683
    assert resources["Findings"].sum() == 2929
    assert (
        resources[["Critical", "High", "Medium", "Low", "Informational"]].sum(axis=1) == resources["Findings"]
    ).all()


def test_empty_run_has_empty_frames(tmp_path: Path) -> None:
    run = metahub.load(write(tmp_path / "a.json", []))
    assert run.to_dataframe().empty and run.resources_dataframe().empty
    assert run.statistics()["totals"] == {"findings": 0, "resources": 0}
    assert isinstance(run.to_dataframe(), pd.DataFrame)


def test_repr() -> None:
    run = metahub.Run.from_findings([make_finding("1")])
    assert repr(run) == "<metahub.Run 1 findings on 1 resources from 0 source(s)>"
    assert "1 findings on 1 resources" in run._repr_html_()


def test_the_demo_ends_with_the_report_and_what_it_found(tmp_path: Path) -> None:
    result = metahub_cli("--demo", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "%|" not in result.stderr  # no bars when nobody watches
    lines = result.stderr.splitlines()
    # What was found leads; unknowns come by kind, not one line per account.
    found = next(line for line in lines if line.startswith("metahub: found "))
    assert found.startswith(
        "metahub: found 2,929 failed findings (13 critical, 2,697 high, 151 medium, 68 low)"
    )
    assert "public" in found and "unencrypted" in found
    assert found.endswith("; 5 toxic combination(s), 4 critical")
    assert "metahub: unknown for 2,592 AwsEc2Snapshot: owned by another account:" in result.stderr
    assert not any("owned by account" in line for line in lines)
    # One HTML report a newcomer can open, not 27 MB of JSON.
    (report,) = tmp_path.glob("metahub-*.html")
    assert (
        len(list(tmp_path.glob("metahub-short-*.json")))
        == len(list(tmp_path.glob("metahub-statistics-*.json")))
        == 1
    )
    assert len(list(tmp_path.iterdir())) == 3
    assert (
        lines[-1]
        == f"metahub: open the report in any browser (one file, works offline): {report.resolve().as_uri()}"
    )
    assert not list(tmp_path.glob("metahub-full-*"))


def test_report_title_and_customer_from_the_command_line(tmp_path: Path) -> None:
    source = write(tmp_path / "in.json", [make_finding()])
    out = tmp_path / "out"
    result = metahub_cli(
        "--input-asff", str(source), "--output-modes", "html", "--output-dir", str(out),
        "--report-title", "Scan of <prod>", "--report-customer", "ACME & Co",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (report,) = out.glob("*.html")
    text = report.read_text()
    assert "<title>Scan of &lt;prod&gt;</title>" in text  # escaped, as everything rendered
    assert '"customer":"ACME \\u0026 Co"' in text


def test_report_max_mb_from_the_command_line(tmp_path: Path) -> None:
    """2,000 resources with long descriptions make a report over 1 MB: --report-max-mb 1 keeps the
    resources ranked first that fit, and says so; a size below 1 MB is refused."""
    findings = [
        make_finding(f"f-{n}", arn=f"arn:aws:s3:::bucket-{n:04d}", Description="x" * 1000) for n in range(2000)
    ]
    source = write(tmp_path / "in.json", findings)
    out = tmp_path / "out"
    result = metahub_cli("--input-asff", str(source), "--output-modes", "html", "--output-dir", str(out),
                         "--report-max-mb", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    (report,) = out.glob("*.html")
    assert report.stat().st_size <= 1e6
    assert "resource(s) ranked first of 2,000 (2,000 findings), 1 MB at most" in result.stderr
    refused = metahub_cli("--input-asff", str(source), "--report-max-mb", "0.5")
    assert refused.returncode == 2 and "0.5 is not between 1 and 100000" in refused.stderr


def test_a_report_larger_than_its_estimate_is_cut_once_made(tmp_path: Path) -> None:
    """The size is estimated from a thousand resources evenly spread: here every other one (those
    the estimate skips) carries 5 KB of tags, so the report is found too large only once made, and is
    made again with the resources ranked first that fit."""
    tags = {f"key-{n}": "v" * 90 for n in range(50)}

    def finding(n: int) -> dict[str, Any]:
        arn = f"arn:aws:s3:::bucket-{n:04d}"
        resource = {"Type": "AwsS3Bucket", "Id": arn, "Region": "eu-west-1", "Tags": tags if n % 2 else {}}
        return make_finding(f"f-{n}", arn=arn, Resources=[resource])

    run = metahub.Run.from_findings([finding(n) for n in range(2000)])
    path = run.to_html(tmp_path / "cut.html", max_mb=3)
    text = path.read_text()
    assert len(text.encode()) <= 3e6
    cut = json.loads(re.search(r'id="metahub-data">(.*?)</script>', text).group(1))["cut"]
    assert 0 < cut["shown"] < 2000 and cut["resources"] == cut["findings"] == 2000
    assert run.to_html(tmp_path / "whole.html", max_mb=10).stat().st_size > 3e6  # it did not fit


def test_two_runs_in_the_same_second_keep_their_own_files(tmp_path: Path) -> None:
    run = metahub.Run.from_findings([make_finding()])
    first = run.write(["json-short", "csv"], tmp_path, "20261124-000000")
    second = run.write(["json-short", "csv"], tmp_path, "20261124-000000")
    assert [p.name for p in first] == ["metahub-short-20261124-000000.json", "metahub-20261124-000000.csv"]
    assert [p.name for p in second] == [
        "metahub-short-20261124-000000-2.json",
        "metahub-20261124-000000-2.csv",
    ]
    assert all(json.loads(p.read_text()) for p in (first[0], second[0]))


def test_one_output_failing_does_not_stop_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from metahub import tabular

    def broken(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tabular, "write_xlsx", broken)
    run = metahub.Run.from_findings([make_finding()])
    written = run.write(["json-short", "xlsx", "csv", "json-statistics"], tmp_path, "s")
    assert [p.suffix for p in written] == [".json", ".csv", ".json"]
    assert run.write_failures == {"xlsx": "OSError: [Errno 28] No space left on device"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # no placeholder, no half file left behind
        "metahub-s.csv",
        "metahub-short-s.json",
        "metahub-statistics-s.json",
    ]


def test_a_file_is_whole_or_absent(tmp_path: Path) -> None:
    from metahub.files import atomic

    target = tmp_path / "out.json"
    target.write_text('{"before": true}\n')
    with pytest.raises(RuntimeError), atomic(target) as part:
        part.write_text('{"half')
        raise RuntimeError("disk gone")
    assert target.read_text() == '{"before": true}\n' and list(tmp_path.iterdir()) == [target]


def test_unwritable_output_dir_is_exit_4_and_says_so(tmp_path: Path) -> None:
    source = write(tmp_path / "in.json", [make_finding()])
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the output directory should be")
    result = metahub_cli("--input-asff", str(source), "--output-dir", str(blocker))
    assert result.returncode == 4
    assert "metahub: error: could not write json-short: " in result.stderr


def test_a_label_names_every_file_and_cannot_leave_the_folder(tmp_path: Path) -> None:
    source = tmp_path / "f.json"
    source.write_text(json.dumps([make_finding()]))
    result = metahub_cli("--input-asff", str(source), "--output-label", "../ACME Corp/eu", "--output-modes",
                         "json-short", "csv", "--output-dir", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(names) == 2 and all(
        n.startswith(("metahub-short-ACME-Corp-eu-", "metahub-ACME-Corp-eu-")) for n in names
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json", "out"]
    run = metahub.load(source)
    (path,) = run.write(["json-short"], tmp_path / "lib", label="acme")
    assert path.name.startswith("metahub-short-acme-")
    empty = metahub_cli("--input-asff", str(source), "--output-label", "///", cwd=tmp_path)
    assert empty.returncode == 2 and "leaves nothing usable in a file name" in empty.stderr


@pytest.mark.parametrize(
    "data",
    [
        {"arn:aws:s3:::a": {"findings": ["line\nbreak", "tab\there"], "Region": None, "n": [1, 2.5, {}]}, "b": {}},
        {},
        [],
        [[1, [2, []]], {"k": "\u0000\u2028é"}],
        "a scalar",
        {"nested": {"deeper": {"deepest": [{"x": True}]}}},
    ],
)
def test_json_outputs_are_written_entry_by_entry_as_the_whole_would_be(data: Any) -> None:
    """json-short and json-full are written one resource at a time; the bytes are those of the
    whole document encoded at once (two-space indent, UTF-8, strings escaped)."""
    from pydantic_core import to_json

    from metahub.json_outputs import Streamed, pretty_json

    whole = to_json(data, indent=2) + b"\n"
    assert b"".join(pretty_json(data)) == whole
    if isinstance(data, dict):
        assert b"".join(pretty_json(Streamed(iter(data.items())))) == whole
    assert json.loads(whole) == data
