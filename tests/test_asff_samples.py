"""Findings as AWS publishes them (tests/fixtures/asff-samples/README.md names each page): read
whole, named after their product, grouped with the other scanners' findings on the same resource."""

from __future__ import annotations

import json
from pathlib import Path

import metahub

SAMPLES = Path(__file__).parent / "fixtures" / "asff-samples"
INSTANCE = "arn:aws:ec2:us-east-1:193043430472:instance/i-0c10c2c7863d1a356"


def _run() -> metahub.Run:
    return metahub.load(*sorted(SAMPLES.glob("*.json")))


def test_every_published_sample_is_read_as_is() -> None:
    run = _run()
    assert len(run.findings) == len(list(SAMPLES.glob("*.json"))) == 3
    assert run.report.problems == [] and run.report.deviations == {}


def test_products_are_named_as_security_hub_names_them() -> None:
    """These findings carry no top-level ProductName: Security Hub recorded it in ProductFields
    (``aws/securityhub/ProductName``); without it, the ProductArn's last part names the product."""
    names = {f.product_name for f in _run().findings}
    assert names == {"GuardDuty", "Inspector", "access-analyzer"}


def test_two_services_findings_on_one_instance_are_one_resource_with_both_traits() -> None:
    run = _run()
    run.score_impact()
    instance = run.resources[INSTANCE]
    assert sorted(f.product_name or "" for f in instance.findings) == ["GuardDuty", "Inspector"]
    traits = instance.traits or {}
    assert traits["threat"]["status"] == "claimed"  # GuardDuty's TTPs/ type is a threat
    assert traits["reachability"]["status"] == "claimed"  # Inspector's Network Reachability


def test_every_output_takes_them(tmp_path: Path) -> None:
    run = _run()
    written = run.write(
        ["json-full", "json-short", "json-statistics", "csv", "xlsx", "sqlite", "html"], tmp_path
    )
    assert len(written) == 7 and not run.write_failures
    statistics = json.loads(next(tmp_path.glob("metahub-statistics-*.json")).read_text())
    assert "GuardDuty" in json.dumps(statistics)
