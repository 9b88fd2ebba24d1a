"""HTML report benchmark in headless Chromium, at 50,000 findings.

    python benchmarks/bench_html.py [--findings 50000] [--lab]

Measures, for a report of synthetic enriched findings (10 per resource, with MetaChecks):
- time to an interactive resources table (open the file, table painted), against a baseline page
  measured in the same run that only parses the same embedded JSON;
- the repaint after one filter keystroke (median of 20);
- the file size against the compact JSON of its rows.
Targets (issue 6): <= 2 s to interactive, <= 100 ms per keystroke, <= 1.3x the JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import metahub
from metahub.html_report import render, report_data, script_json

SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"]


def synthetic_run(findings: int) -> metahub.Run:
    raw = []
    for n in range(findings):
        resource = n // 10
        raw.append(
            {
                "SchemaVersion": "2018-10-08",
                "Id": f"finding-{n}",
                "ProductArn": "arn:aws:securityhub:us-east-1::product/prowler/prowler",
                "GeneratorId": f"prowler-check_{n % 97}",
                "AwsAccountId": f"{100000000000 + resource % 7}",
                "Title": f"Check {n % 97}: something about resource {resource} is not as it should be",
                "Severity": {"Label": SEVERITIES[n % 5]},
                "Compliance": {"Status": "FAILED"},
                "Resources": [
                    {
                        "Type": "AwsEc2Instance",
                        "Id": f"arn:aws:ec2:eu-west-1:{100000000000 + resource % 7}:instance/i-{resource:017x}",
                        "Region": "eu-west-1",
                        "Tags": {"Environment": ["prod", "dev", "stage"][resource % 3]},
                    }
                ],
            }
        )
    run = metahub.Run.from_findings(raw)
    for i, resource in enumerate(run.resources.values()):
        public = i % 4 == 0
        resource.metachecks = {
            "it_has_public_ip": f"55.55.{i % 250}.{i % 200}" if public else False,
            "is_public": {"reachable": [f"tcp/22 from 0.0.0.0/0 over IPv4 to 55.55.{i % 250}.{i % 200} via sg-1"]}
            if public
            else False,
            "is_encrypted": i % 3 != 0,
            "is_attached": None,
            "is_unrestricted": public,
        }
        resource.evidence = {"is_attached": "does not apply to AwsEc2Instance"}
    return run


def lab_run(findings: int) -> metahub.Run:
    """The lab scan's FAILED findings copied across 100 accounts (bench_scale.py's input): real
    titles, descriptions and remediation, nearly one resource per finding."""
    from bench_scale import write_lines

    with tempfile.TemporaryDirectory() as folder:
        lines = Path(folder) / "findings.jsonl"
        write_lines(lines, findings)
        return metahub.load(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--findings", type=int, default=50_000)
    parser.add_argument(
        "--lab", action="store_true", help="the lab's findings across 100 accounts instead of synthetic ones"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    run = lab_run(args.findings) if args.lab else synthetic_run(args.findings)
    data = report_data(run.resources, ["Environment"])
    folder = Path(tempfile.mkdtemp(prefix="metahub-bench-html-"))
    report = folder / "report.html"
    report.write_text(render(data), encoding="utf-8")
    rows_json = len(
        json.dumps({"resources": data["resources"], "details": data["details"]}, separators=(",", ":"))
    )
    baseline = folder / "baseline.html"
    baseline.write_text(
        "<!DOCTYPE html><html><body><script type='application/json' id='d'>"
        + script_json(data)
        + "</script><script>JSON.parse(document.getElementById('d').textContent);"
        "document.body.dataset.ready='true'</script></body></html>",
        encoding="utf-8",
    )
    size = report.stat().st_size
    print(f"HTML report, {args.findings:,} findings on {len(run.resources):,} resources")
    print(
        f"   size:        {size / 1e6:6.2f} MB, {size / rows_json:.2f}x the compact JSON of its rows (target <= 1.3x)"
    )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )

        def open_(path: Path) -> tuple[Any, float]:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            started = time.perf_counter()
            page.goto(path.as_uri())
            page.wait_for_function("document.body.dataset.ready === 'true'")
            return page, started

        timings, base_timings, keys = [], [], []
        for _ in range(3):
            page, started = open_(baseline)
            base_timings.append(time.perf_counter() - started)
            page.close()
            page, started = open_(report)
            page.evaluate("window.metahub.show('resources')")
            page.wait_for_selector(".row.data")
            timings.append(time.perf_counter() - started)
            page.close()
        page, _ = open_(report)
        page.evaluate("window.metahub.show('findings')")
        for text in ["c", "ch", "che", "chec", "check", "check ", "check 1", "check 12"] * 3:
            keys.append(
                page.evaluate(
                    """text => new Promise(done => {
                        const input = document.querySelector('#search');
                        const started = performance.now();
                        input.value = text;
                        input.dispatchEvent(new Event('input'));
                        requestAnimationFrame(() => setTimeout(() => done(performance.now() - started), 0));
                    })""",
                    text,
                )
            )
        browser.close()
    tti, base = statistics.median(timings), statistics.median(base_timings)
    key = statistics.median(keys)
    print(
        f"   interactive: {tti:6.2f} s (parse-only baseline {base:.2f} s, {tti / base:.2f}x; target <= 2 s)"
    )
    print(
        f"   keystroke:   {key:6.1f} ms median, {max(keys):.1f} ms worst, full-text search over "
        f"{args.findings:,} findings (target <= 100 ms)"
    )


if __name__ == "__main__":
    main()
