from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

import metahub

from .conftest import make_finding, write


def test_json_short_shape(asff_fixture: Path) -> None:
    run = metahub.load(asff_fixture)
    short = run.short()
    assert list(short) == list(run.resources)
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
    assert run.inventory() == list(run.resources)
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
    names = sorted(p.name.split("-")[1] for p in (tmp_path / "o").iterdir())
    assert names == ["full", "inventory", "short", "statistics"]
    assert "2929 findings on 2683 resources" in result.stderr


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
