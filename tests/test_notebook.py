"""What a notebook user sees: verdict columns, short reprs, escaped HTML reprs, one palette."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

import metahub
from metahub.models import PALETTE, VERDICTS

from .conftest import make_finding

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.text = ""

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def _parsed(markup: str) -> _Tags:
    parser = _Tags()
    parser.feed(markup)
    return parser


def test_verdict_columns_find_what_the_data_columns_hide(enriched_lab: metahub.Run) -> None:
    frame = enriched_lab.resources_dataframe()
    verdicts = frame["verdict.is_public"]
    assert list(verdicts.cat.categories) == list(VERDICTS)
    public = {arn for arn, r in enriched_lab.resources.items() if r.verdict("is_public") == "true"}
    assert public and set(frame.loc[verdicts == "true", "ResourceArn"]) == public
    # The data column holds dicts and addresses for "true": comparing it with True misses them.
    assert (frame["metachecks.is_public"] == True).sum() < len(public)  # noqa: E712
    assert set(verdicts.unique()) <= set(VERDICTS) and "n/a" in set(verdicts)
    rows = enriched_lab.to_dataframe()
    assert set(rows.loc[rows["verdict.is_public"] == "true", "ResourceArn"]) == public


def test_a_finding_prints_short_and_renders_escaped() -> None:
    run = metahub.Run.from_findings([make_finding("f-1", Title=HOSTILE, Description="d" * 10_000)])
    finding = run.findings[0]
    assert len(repr(finding)) < 300 and "f-1" in repr(finding)
    shown = _parsed(finding._repr_html_())
    assert shown.tags <= {"table", "tr", "th", "td", "span", "br"}
    assert HOSTILE in shown.text


def test_a_resource_renders_its_rollups_and_findings_escaped(enriched_lab: metahub.Run) -> None:
    arn, resource = next(
        (a, r) for a, r in enriched_lab.resources.items() if r.verdict("is_public") == "true"
    )
    resource = resource.model_copy(update={"metatags": {"Owner": HOSTILE}})
    shown = _parsed(resource._repr_html_())
    assert "script" not in shown.tags and "img" not in shown.tags
    assert arn in shown.text and "is_public" in shown.text and HOSTILE in shown.text
    assert len(repr(resource)) < 300


def test_one_palette_for_report_sheet_and_notebook() -> None:
    assert metahub.PALETTE is PALETTE
    assert metahub.severity_style("critical") == f"background-color: {PALETTE['CRITICAL']}; color: white"
    assert metahub.severity_style("PASSED").startswith(f"background-color: {PALETTE['PASSED']}")
    assert all(re.fullmatch(r"#[0-9A-F]{6}", colour) for colour in PALETTE.values())  # CSS, as matplotlib wants
    assert metahub.severity_style(None) == metahub.severity_style("nonsense") == ""


def test_dataframes_in_chunks_hold_the_whole_frame(enriched_lab: metahub.Run) -> None:
    """A large run's rows come a frame at a time; together they are ``to_dataframe()``'s rows, each
    frame typed as it is (Severity an ordered categorical)."""
    import pandas as pd

    whole = enriched_lab.to_dataframe()
    frames = list(enriched_lab.dataframes(rows=1000))
    assert [len(f) for f in frames[:-1]] == [1000] * (len(frames) - 1) and 0 < len(frames[-1]) <= 1000
    assert all(f["Severity"].cat.ordered for f in frames)
    joined = pd.concat(frames, ignore_index=True)
    columns = list(whole.columns)
    assert sorted(joined.columns) == sorted(columns)
    assert joined[columns].astype(str).equals(whole.astype(str))
    assert list(metahub.Run.from_findings([]).dataframes()) == []
    with pytest.raises(ValueError, match="at least 1"):
        next(enriched_lab.dataframes(rows=0))
