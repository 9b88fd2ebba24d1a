"""The HTML report, opened in real headless Chromium (Debian's, driven by Playwright).

Any request other than the report file itself fails the test: the file must work offline.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.html_report import label

from .conftest import make_finding

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[1] / "docs"
"""Where the README's pictures are; ``make screenshots`` renews them (tests never touch tracked files)."""
XSS_TAG = '"><img src=x onerror=alert(1)>'
XSS_TITLE = "</script><script>alert(1)</script>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


class Page:
    """A page that opens one report and records every request, dialog and script error."""

    def __init__(self, browser: Any, path: Path, viewport: dict[str, int] | None = None) -> None:
        self.path = path
        self.page = browser.new_page(
            viewport=viewport or {"width": 1400, "height": 900}, accept_downloads=True
        )
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(path.as_uri())
        self.page.wait_for_function("document.body.dataset.ready === 'true'")

    def check_clean(self) -> None:
        assert self.requests == [self.path.as_uri()], f"requests beyond the file: {self.requests}"
        assert self.dialogs == [] and self.errors == []

    def show(self, view: str) -> None:
        self.page.click(f"nav button[data-view={view}]")

    def shown(self) -> list[str]:
        return self.page.evaluate("window.metahub.shownKeys()")


@pytest.fixture(scope="module")
def lab_report(enriched_lab: metahub.Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return enriched_lab.to_html(tmp_path_factory.mktemp("html") / "lab.html", tag_columns=["Environment"])


def test_lab_report_counts_filter_sort_expand(
    browser: Any, lab_report: Path, enriched_lab: metahub.Run
) -> None:
    page = Page(browser, lab_report)
    page.show("resources")
    assert len(page.shown()) == len(enriched_lab.resources) == 2704
    assert page.page.text_content("#count") == "2,704 of 2,704 resources"

    page.page.fill("input[data-column=is_public]", "true")
    assert set(page.shown()) == set(enriched_lab.filter("is_public=True").resources)
    page.page.fill("input[data-column=is_public]", "")

    page.page.click(".head [data-column=Findings]")  # numeric columns sort descending first
    counts = [len(enriched_lab.resources[arn].findings) for arn in page.shown()]
    assert counts == sorted(counts, reverse=True)
    first = page.page.locator(".row.data").first
    cell = first.locator("div").nth(0)  # what people call it (Name tag or short id); the ARN on hover
    resource = enriched_lab.resources[page.shown()[0]]
    assert cell.get_attribute("title") == resource.arn
    assert cell.text_content() == label(resource)

    first.click()
    detail = page.page.locator("#detail")
    assert detail.is_visible() and page.shown()[0] in detail.text_content()
    assert "metachecks" in detail.locator("details pre").text_content()  # raw JSON behind a toggle
    assert detail.locator("h3", has_text="Exposure").count() == 1 and "is_public" in detail.text_content()

    page.page.select_option("#group", "Type")
    assert page.page.locator(".row.group").first.text_content().startswith("Aws")

    page.show("findings")
    assert len(page.shown()) == sum(len(r.findings) for r in enriched_lab.resources.values())
    page.page.fill("#search", "cifs")
    assert page.shown() and all(
        "cifs" in f.Title.lower() or "cifs" in (f.GeneratorId or "")
        for r in enriched_lab.resources.values()
        for f in r.findings
        if f.Id in set(page.shown())
    )
    with page.page.expect_download() as download:
        page.page.click("#export-csv")
    exported = Path(download.value.path()).read_text().splitlines()
    assert len(exported) == len(page.shown()) + 1
    page.check_clean()


def test_screenshots_for_the_readme(browser: Any, lab_report: Path, tmp_path: Path) -> None:
    """The README's pictures, made from the lab report at desktop and phone sizes: into a temporary
    folder, or into docs/ when METAHUB_SCREENSHOTS=docs (``make screenshots``)."""
    folder = DOCS if os.environ.get("METAHUB_SCREENSHOTS") == "docs" else tmp_path
    page = Page(browser, lab_report)
    assert page.page.locator(".card").count() >= 10  # what to fix first, five charts, four rollups
    page.page.screenshot(path=str(folder / "report-summary.png"), full_page=True)
    page.show("resources")
    page.page.fill("input[data-column=is_public]", "true")
    page.page.locator(".row.data").first.click()
    page.page.screenshot(path=str(folder / "report.png"))
    page.check_clean()
    phone = Page(browser, lab_report, viewport={"width": 390, "height": 844})
    phone.show("resources")
    phone.page.screenshot(path=str(folder / "report-phone.png"))
    phone.check_clean()


def test_phone_tables_become_cards(browser: Any, lab_report: Path, enriched_lab: metahub.Run) -> None:
    page = Page(browser, lab_report, viewport={"width": 390, "height": 844})
    for view in ("summary", "resources", "findings", "checks", "compliance"):
        page.show(view)
        assert page.page.evaluate("document.documentElement.scrollWidth") <= 390, view  # nothing cut off
    page.show("resources")
    card = page.page.locator(".row.card-row:visible").first
    resource = enriched_lab.resources[page.shown()[0]]
    assert card.locator("b").text_content() == label(resource)
    assert card.locator(".sev").first.text_content() == resource.worst_failed_severity
    assert card.locator(".chip").count() >= 1  # the rollups that apply
    assert not page.page.locator("input[data-column=Type]").is_visible()
    page.page.click("#toggle-filters")  # the same filters, behind a button
    page.page.fill("input[data-column=Type]", "AwsS3Bucket")
    assert len(page.shown()) == 8 and page.page.locator(".row.card-row:visible").count() == 8
    page.check_clean()


def test_hostile_text_renders_as_text(browser: Any, tmp_path: Path) -> None:
    finding = make_finding(
        Title=XSS_TITLE,
        GeneratorId=XSS_TAG,
        Description=XSS_TAG,
        Remediation={"Recommendation": {"Text": XSS_TITLE, "Url": "javascript:alert(1)"}},
        Compliance={"Status": "FAILED", "RelatedRequirements": [f"{XSS_TAG} 1.1"]},
        Resources=[
            {"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b", "Tags": {"Owner": XSS_TAG, "Name": XSS_TAG}}
        ],
    )
    path = metahub.Run.from_findings([finding]).to_html(
        tmp_path / "xss.html", tag_columns=["Owner"], title=XSS_TITLE, customer=XSS_TAG
    )
    assert "</script><script>" not in path.read_text()
    page = Page(browser, path)
    assert page.page.text_content("#report-title") == XSS_TITLE
    assert page.page.text_content("#customer") == "Prepared for " + XSS_TAG
    for view in ("resources", "findings", "checks", "compliance"):
        page.show(view)
        page.page.locator(".row.data:visible").first.click()  # the detail renders every field
        assert page.page.locator("img").count() == 0 and page.page.locator("#detail a").count() == 0, view
    page.show("findings")
    assert page.page.locator(".row.data div").nth(2).text_content() == XSS_TITLE
    page.show("resources")
    assert page.page.locator(f"text={XSS_TAG}").count() >= 1
    page.check_clean()  # no dialog opened, no script error, nothing fetched


def test_passed_findings_are_not_risk(browser: Any, tmp_path: Path) -> None:
    findings = [
        make_finding("f-pass", Severity={"Label": "CRITICAL"}, Compliance={"Status": "PASSED"}),
        make_finding("f-fail", Severity={"Label": "LOW"}, Compliance={"Status": "FAILED"}),
        make_finding("f-other", Severity={"Label": "HIGH"}, Compliance={"Status": "WARNING"}),
        make_finding(
            "f-only-pass", arn="arn:aws:s3:::b2", Severity={"Label": "HIGH"}, Compliance={"Status": "PASSED"}
        ),
    ]
    path = metahub.Run.from_findings(findings).to_html(tmp_path / "status.html")
    page = Page(browser, path)
    tiles = {
        t.get_attribute("data-outcome"): t.locator(".n").text_content()
        for t in page.page.locator(".kpi").all()
    }
    assert tiles == {"FAILED": "1", "PASSED": "2", "OTHER": "1", "resources-failing": "1"}
    page.page.click(".kpi[data-outcome=FAILED]")  # a tile opens the table it counts
    assert page.shown() == ["f-fail"]
    page.page.fill("input[data-column=Status]", "")
    page.page.click(".head [data-column=Status]")
    assert page.shown()[0] == "f-fail"  # failed first
    row = page.page.locator(".row.data:visible").nth(page.shown().index("f-pass"))
    assert row.locator(".sev-muted").text_content() == "CRITICAL"  # a passed check's severity, muted
    assert row.locator(".out-PASSED").count() == 1 and row.locator(".sev-CRITICAL").count() == 0
    colour = row.locator(".out-PASSED").evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(46, 125, 50)"  # PALETTE["PASSED"], as in the XLSX
    page.show("resources")
    worst = dict(
        zip(
            page.shown(),
            page.page.locator(".row.data:visible > div:nth-child(5)").all_text_contents(),
            strict=True,
        )
    )
    assert worst == {"arn:aws:s3:::bucket-a": "LOW", "arn:aws:s3:::b2": "PASSED"}
    page.check_clean()


HOSTILE_URL = "javascript:alert(document.domain)"


def test_why_and_how_to_fix_checks_and_compliance(browser: Any, tmp_path: Path) -> None:
    def finding(finding_id: str, arn: str, status: str, check: str, url: str, **extra: Any) -> dict[str, Any]:
        return make_finding(
            finding_id,
            arn=arn,
            GeneratorId=check,
            Title=f"{check} title",
            Description=f"{arn} is {status.lower()} on {check}",
            Severity={"Label": "HIGH"},
            Compliance={
                "Status": status,
                "RelatedRequirements": ["CIS-2.0 2.1.1 2.1.2", "ASD-Essential-Eight-Nov 2023 E8-1.5"],
                "AssociatedStandards": [
                    {"StandardsId": "CIS-2.0"},
                    {"StandardsId": "ASD-Essential-Eight-Nov 2023"},
                ],
            },
            Remediation={"Recommendation": {"Text": "Turn **it** on.", "Url": url}},
            **extra,
        )

    findings = [
        finding("f-1", "arn:aws:s3:::a", "FAILED", "s3_check", "https://docs.example/fix"),
        finding("f-2", "arn:aws:s3:::b", "FAILED", "s3_check", "https://docs.example/fix"),
        finding("f-3", "arn:aws:s3:::c", "PASSED", "s3_check", "https://docs.example/fix"),
        finding("f-4", "arn:aws:s3:::a", "PASSED", "evil_check", HOSTILE_URL),
    ]
    path = metahub.Run.from_findings(findings).to_html(tmp_path / "fix.html")
    page = Page(browser, path)
    page.show("checks")
    assert page.shown() == ["s3_check", "evil_check"]  # most failed resources first
    rows = page.page.locator(".row.data:visible")
    assert (
        rows.nth(0).locator("div").nth(2).text_content() == "2"
        and rows.nth(0).locator(".sev-HIGH").count() == 1
    )
    assert rows.nth(1).locator(".sev-muted").count() == 1  # a check that only passed is not drawn as risk
    assert rows.nth(0).locator("div").nth(4).text_content() == "Turn it on."
    rows.nth(1).click()
    assert page.page.locator("#detail a").count() == 0  # a javascript: URL never becomes a link:
    assert HOSTILE_URL not in path.read_text()  # it does not even reach the page (http(s) only)
    page.show("compliance")
    assert page.page.text_content("#count") == "3 of 3 requirements"
    assert page.shown()[0] in ("CIS-2.0 2.1.1", "CIS-2.0 2.1.2", "ASD-Essential-Eight-Nov 2023 E8-1.5")
    assert "ASD-Essential-Eight-Nov 2023 E8-1.5" in page.shown()
    page.show("findings")
    page.page.fill("#search", "arn:aws:s3:::b")  # ARNs are searched though the column shows names
    assert page.shown() == ["f-2"]
    page.page.locator(".row.data:visible").first.click()
    detail = page.page.locator("#detail")
    assert "arn:aws:s3:::b is failed on s3_check" in detail.text_content()
    fix = detail.locator("a", has_text="More")
    assert (
        fix.get_attribute("href") == "https://docs.example/fix"
        and fix.get_attribute("rel") == "noopener noreferrer"
    )
    assert "Compliance: ASD-Essential-Eight-Nov 2023, CIS-2.0" in detail.text_content()
    page.check_clean()


def test_executive_summary(browser: Any, enriched_lab: metahub.Run, tmp_path: Path) -> None:
    path = enriched_lab.to_html(tmp_path / "exec.html", title="Quarterly review", customer="ACME Corp")
    page = Page(browser, path)
    assert page.page.text_content("#report-title") == "Quarterly review"
    assert page.page.text_content("#customer") == "Prepared for ACME Corp"
    provenance = page.page.text_content("#provenance")
    assert "Prowler 5.46.0 (6,073 findings)" in provenance and "eu-west-1, us-east-1" in provenance
    assert "from the accounts (" in provenance  # context was fetched, and how much it cost
    # Every chart element opens the table it counts, exactly.
    page.page.locator(".chart path[data-label=CRITICAL]").first.click()
    failed_critical = {
        f.Id
        for r in enriched_lab.resources.values()
        for f in r.findings
        if f.outcome == "FAILED" and f.severity_label == "CRITICAL"
    }
    assert set(page.shown()) == failed_critical and len(failed_critical) == 13
    page.show("summary")
    page.page.locator(".chart .bar[data-label=AwsS3Bucket]").first.click()
    assert page.page.text_content("#count").startswith("92 of")
    # What to fix first: public or unrestricted, with failed high/critical findings, worst first.
    page.show("summary")
    listed = page.page.locator("#fix-first .fix").evaluate_all("rows => rows.map(r => r.dataset.arn)")
    assert listed
    for arn in listed:
        resource = enriched_lab.resources[arn]
        checks = resource.metachecks or {}
        assert checks.get("is_public") or checks.get("is_unrestricted")
        assert resource.worst_failed_severity in ("CRITICAL", "HIGH")
    page.page.locator("#fix-first .fix").first.click()
    assert listed[0] in page.page.text_content("#detail")
    page.check_clean()


def test_rollup_charts_keep_what_was_decided_apart_from_what_was_not_seen(
    browser: Any, lab_report: Path, enriched_lab: metahub.Run
) -> None:
    """The 2,592 snapshots of other accounts must not drown the 24 proven public resources: a
    rollup's donut draws true / false, and lists unknown (by reason) and n/a beside it."""
    page = Page(browser, lab_report)
    verdicts = Counter(r.verdict("is_public") for r in enriched_lab.resources.values())
    chart = page.page.locator(".chart", has=page.page.locator("h2", has_text="is_public: decided"))
    assert chart.locator("svg text").text_content() == f"{verdicts['true'] + verdicts['false']:,}"
    assert sorted(chart.locator("path").evaluate_all("ps => ps.map(p => p.dataset.label)")) == ["false", "true"]
    apart = chart.locator(".apart").text_content()
    assert f"unknown: {verdicts['unknown']:,}" in apart and f"n/a: {verdicts['n/a']:,}" in apart
    assert "2,592: owned by another account" in apart
    chart.locator(".apart li[data-label=unknown]").click()
    unknown = {arn for arn, r in enriched_lab.resources.items() if r.verdict("is_public") == "unknown"}
    assert set(page.shown()) == unknown
    page.check_clean()


def test_default_title_names_the_account(tmp_path: Path) -> None:
    path = metahub.Run.from_findings([make_finding()]).to_html(tmp_path / "r.html")
    assert "<title>Security findings: account 123456789012</title>" in path.read_text()


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def _print(page: Page) -> bytes:
    """What the browser does on Ctrl+P: beforeprint, then the print media, to PDF."""
    page.page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    pdf: bytes = page.page.pdf(format="A4", landscape=True, print_background=True)
    page.page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    return pdf


def test_printing_gives_every_row_of_the_filtered_view(browser: Any, lab_report: Path) -> None:
    page = Page(browser, lab_report)
    assert _pdf_pages(_print(page)) == 1  # the summary fits one page
    page.show("resources")
    page.page.fill("input[data-column=Type]", "AwsS3Bucket")
    pdf = _print(page)
    page.page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    printed = page.page.locator("#print-area tbody tr").count()
    title = page.page.text_content("#print-area thead .print-title")
    assert printed == len(page.shown()) == 8 and _pdf_pages(pdf) == 1
    assert 'filtered, 8 of 2,704 resources: Type contains "AwsS3Bucket"' in title
    assert page.page.locator("#print-area thead tr").count() == 2  # title and names, repeated per page
    page.page.fill("input[data-column=Type]", "")
    pdf = _print(page)  # all 2,704: not one page of what was on screen
    page.page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.page.locator("#print-area tbody tr").count() == 2704
    assert 30 <= _pdf_pages(pdf) <= 120
    page.check_clean()


def test_combinations_view_draws_each_path(browser: Any, lab_report: Path, enriched_lab: metahub.Run) -> None:
    page = Page(browser, lab_report)
    page.show("combinations")
    combos = page.page.locator(".combo")
    assert combos.count() == len(enriched_lab.combinations) >= 4
    first = enriched_lab.combinations[0]
    drawn = combos.first.locator(".hop").evaluate_all("hops => hops.map(h => h.dataset.arn)")
    assert drawn == [hop["arn"] for hop in first["path"]]  # resource -> resource, in path order
    assert combos.first.locator("svg line").count() == len(first["path"]) - 1  # an arrow per association
    assert "named by" in combos.first.locator(".evidence").text_content()  # the evidence at each hop
    combos.first.locator(".hop").nth(1).click()  # a box opens the resource
    assert page.shown() == [first["path"][1]["arn"]] and first["path"][1]["arn"] in page.page.text_content(
        "#detail"
    )
    page.show("summary")
    fix = page.page.locator("#fix-first .fix").evaluate_all("rows => rows.map(r => r.dataset.arn)")
    # The ranking rule's order (metahub/ranking.py), as in every other output: the first ten that failed.
    ranked = [a for a, r in enriched_lab.by_impact().items() if r.outcome_counts["FAILED"]]
    assert fix == ranked[:10]
    assert enriched_lab.resources[fix[0]].combinations, "a proven toxic combination comes first"
    page.check_clean()


def test_the_detail_opens_where_the_eye_is_and_closes_by_key(
    browser: Any, enriched_lab: metahub.Run, tmp_path: Path
) -> None:
    """A side panel over the table, full height, with a close button and Esc, reached with the
    keyboard (Tab to a row, Enter); the resources' columns fit a 1440 px screen without scrolling."""
    report = enriched_lab.to_html(tmp_path / "lab.html")  # the four rollups, no extra columns
    page = Page(browser, report, viewport={"width": 1440, "height": 900})
    page.show("resources")
    grid = page.page.locator(".grid").first
    width, visible = grid.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert width <= visible, "columns scroll sideways at 1440 px"
    page.page.locator(".row.data").first.click()
    detail = page.page.locator("#detail")
    box = detail.bounding_box()
    assert box is not None and box["y"] == 0 and box["height"] == 900 and box["x"] + box["width"] == 1440
    assert page.page.evaluate("document.activeElement.id") == "detail"
    detail.locator("button.close").click()
    assert detail.is_hidden()
    page.page.locator(".row.data").nth(1).focus()
    page.page.keyboard.press("Enter")
    assert detail.is_visible() and page.shown()[1] in detail.text_content()
    page.page.keyboard.press("Escape")
    assert detail.is_hidden() and page.page.evaluate("document.activeElement.dataset.index") == "1"
    page.check_clean()


def test_the_title_shows_once_on_a_phone(browser: Any, lab_report: Path) -> None:
    phone = Page(browser, lab_report, viewport={"width": 390, "height": 844})
    assert phone.page.locator("#title").is_visible() and phone.page.locator("#report-title").is_hidden()
    phone.check_clean()


def test_details_wait_in_blocks_until_opened(
    browser: Any, enriched_lab: metahub.Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page is ready once the resources are parsed: a resource's context and findings wait, as
    one JSON line in blocks of a few MB, until its detail or the Findings view asks for them; the
    summary's counts come ready-made. Blocks are made small here so that the lab needs many."""
    from metahub import html_report

    monkeypatch.setattr(html_report, "BLOCK_CHARS", 100_000)
    path = enriched_lab.to_html(tmp_path / "blocks.html")
    assert len(re.findall(r'<script type="application/json" class="metahub-details">', path.read_text())) > 10
    page = Page(browser, path)
    ranked = enriched_lab.by_impact()
    failed = sum(f.outcome == "FAILED" for r in ranked.values() for f in r.findings)
    assert page.page.text_content(".kpi[data-outcome=FAILED] .n") == f"{failed:,}"
    page.show("resources")
    assert page.page.evaluate("window.metahub.detailsRead()") == 0

    last = list(ranked)[-1]  # the last block's last line
    page.page.fill("#search", last)
    page.page.locator(".row.data").first.click()
    detail = page.page.locator("#detail")
    titles = detail.locator(".finding > div > b").all_text_contents()
    assert sorted(titles) == sorted(f.Title for f in ranked[last].findings)
    assert page.page.evaluate("window.metahub.detailsRead()") == 1

    page.show("findings")
    assert page.shown() == [f.Id for r in ranked.values() for f in r.findings]
    assert page.page.evaluate("window.metahub.detailsRead()") == len(ranked)
    page.check_clean()


def test_a_run_too_large_for_one_file_keeps_the_resources_ranked_first(
    browser: Any, enriched_lab: metahub.Run, tmp_path: Path, caplog: Any
) -> None:
    """Above ``max_mb`` the report holds the resources metahub ranks first that fit, says so on its
    first screen and in a warning naming the outputs that hold the whole run; a report that fits
    says nothing."""
    whole = enriched_lab.to_html(tmp_path / "whole.html")
    assert not [r for r in caplog.records if "ranked first" in r.getMessage()]
    max_mb = whole.stat().st_size / 1e6 / 3
    path = enriched_lab.to_html(tmp_path / "cut.html", max_mb=max_mb)
    assert path.stat().st_size <= max_mb * 1e6
    page = Page(browser, path)
    assert page.page.locator("#cut").is_visible()
    note = page.page.text_content("#cut")
    page.show("resources")
    shown = page.page.evaluate("window.metahub.show('resources'), window.metahub.shownKeys()")
    ranked = list(enriched_lab.by_impact())
    assert 0 < len(shown) < len(ranked) and shown == ranked[: len(shown)]
    total = sum(len(r.findings) for r in enriched_lab.resources.values())
    assert note.startswith(f"This report shows the {len(shown):,} resources ranked first of 2,704 ({total:,} findings)")
    [said] = [r.getMessage() for r in caplog.records if "ranked first" in r.getMessage()]
    assert said.startswith(f"{path}: the report holds the {len(shown):,} resource(s) ranked first of 2,704")
    assert "sqlite" in said and "--mh-filters-impact" in said
    page.check_clean()
    assert not Page(browser, whole).page.locator("#cut").is_visible()


def test_a_report_with_a_baseline_opens_on_what_changed(browser: Any, tmp_path: Path) -> None:
    """Regressions first, then new findings, then what got better; a line opens its resource; a
    resource only the baseline has is listed but opens nothing; hostile titles stay text."""
    a, b, c = "arn:aws:s3:::alpha", "arn:aws:s3:::beta", "arn:aws:s3:::gamma"
    old = metahub.Run.from_findings([make_finding("a-1", arn=a), make_finding("b-1", arn=b, GeneratorId="g-b")])
    new = metahub.Run.from_findings([
        make_finding("a-1", arn=a), make_finding("c-1", arn=c, Title=XSS_TITLE, GeneratorId="g-c")])  # fmt: skip
    for run, public in ((old, False), (new, {"policy": ["Principal * may s3:GetObject"]})):
        run.resources[a].metachecks = {"is_public": public}
        run.resources[a].evidence = {} if public else {"is_public": "no statement lets an outsider in"}
    oldest = metahub.Run.from_findings([make_finding("a-0", arn=a), make_finding("a-00", arn=a, GeneratorId="g-0")])
    path = new.to_html(tmp_path / "changes.html", baseline=[oldest, old])
    page = Page(browser, path)
    assert page.page.text_content("#changes-title") == "What changed since an earlier run"
    over_time = page.page.locator("table.history tr")  # oldest first, this run last
    assert [c.text_content() for c in over_time.nth(0).locator("th").all()][1:] == ["an earlier run"] * 2 + ["this run"]
    assert [c.text_content() for c in page.page.locator("tr[data-kpi=findings_failing] td").all()] == [
        "failing findings", "2", "2", "2"]
    assert [c.text_content() for c in page.page.locator("tr[data-kpi=is_public] td").all()] == ["public", "0", "0", "1"]
    tiles = {t.get_attribute("data-change"): t.text_content() for t in page.page.locator("#changes .kpi").all()}
    assert tiles["regressions"].startswith("1") and tiles["appeared"].startswith("1")
    assert tiles["disappeared"].startswith("1") and tiles["findings_fixed"].startswith("0")
    lines = page.page.locator("#changes .fix")
    assert [lines.nth(k).locator(".change").text_content() for k in range(3)] == ["regression", "appeared", "disappeared"]
    assert "is_public: false -> true" in lines.nth(0).text_content()
    assert page.page.locator("#changes img").count() == 0
    lines.nth(0).click()
    page.page.wait_for_selector("#detail:not(.hidden)")
    assert a in page.page.text_content("#detail")
    page.check_clean()
    plain = metahub.Run.from_findings([make_finding()]).to_html(tmp_path / "plain.html")
    assert Page(browser, plain).page.locator("#changes").is_hidden()  # no baseline, no card


def test_aws_exposure_verdict_beside_metahubs_evidence(browser: Any, tmp_path: Path) -> None:
    """A resource with Security Hub's exposure finding shows AWS's verdict, metahub's is_public with
    its evidence and whether they agree; the summary counts the verdicts. Trait text is the
    finding's, so hostile: it renders as text."""
    from metahub.ocsf import to_asff

    from .securityhub_v2_endpoint import samples

    findings = samples()[:2]
    findings[1]["finding_info"]["related_events"][0]["tags"][0]["values"] = [XSS_TAG]
    run = metahub.Run.from_findings([to_asff(f) for f in findings])
    public, private = (run.resources[f"arn:aws:s3:::{name}-us-east-1-0"] for name in ("public-assets", "private-data"))
    public.metachecks = {"is_public": "bucket policy allows s3:GetObject to *"}
    private.metachecks = {"is_public": False}
    private.evidence["is_public"] = "Block Public Access is on for the bucket"
    run.score_impact()
    page = Page(browser, run.to_html(tmp_path / "v2.html"))
    assert page.page.text_content("#provenance").count("AWS exposure verdicts") == 1
    assert "1 agree, 1 aws-only, 0 metahub-only, 0 unknown" in page.page.text_content("#provenance")
    page.show("resources")
    for index in range(2):
        page.page.locator(".row.data").nth(index).click()
        text = page.page.text_content("#detail")
        assert "AWS exposure verdict" in text
        if private.arn in text:
            assert "aws-only" in text and "is_public false: Block Public Access is on for the bucket" in text
            assert XSS_TAG in text and page.page.locator("#detail img").count() == 0
        else:
            assert "agree" in text and "reachable: Public access allowed" in text
    page.check_clean()
