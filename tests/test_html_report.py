"""The HTML report, opened in real headless Chromium (Debian's, driven by Playwright).

Any request other than the report file itself fails the test: the file must work offline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import metahub

from .conftest import make_finding

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[1] / "docs"
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

    def __init__(self, browser: Any, path: Path) -> None:
        self.path = path
        self.page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
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
    assert first.locator("div").nth(0).text_content() == page.shown()[0]

    first.click()
    detail = page.page.locator("#detail")
    assert detail.is_visible() and page.shown()[0] in detail.text_content()
    assert "metachecks" in detail.locator("pre").text_content()

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


def test_summary_screenshot(browser: Any, lab_report: Path) -> None:
    page = Page(browser, lab_report)
    assert page.page.locator(".card").count() >= 9  # severities, types, accounts, regions, four rollups
    DOCS.mkdir(exist_ok=True)
    page.show("resources")
    page.page.fill("input[data-column=is_public]", "true")
    page.page.locator(".row.data").first.click()
    page.page.screenshot(path=str(DOCS / "report.png"))
    page.check_clean()


def test_hostile_text_renders_as_text(browser: Any, tmp_path: Path) -> None:
    finding = make_finding(
        Title=XSS_TITLE,
        Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b", "Tags": {"Owner": XSS_TAG}}],
    )
    path = metahub.Run.from_findings([finding]).to_html(tmp_path / "xss.html", tag_columns=["Owner"])
    assert "</script><script>" not in path.read_text()
    page = Page(browser, path)
    page.show("resources")
    assert page.page.locator(f"text={XSS_TAG}").count() >= 1
    assert page.page.locator("img").count() == 0
    page.show("findings")
    assert page.page.locator(".row.data div").nth(2).text_content() == XSS_TITLE
    page.check_clean()


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
