"""What to fix first (metahub/ranking.py): each criterion of the rule outranks the ones after it,
and every output lists resources in that one order."""

from __future__ import annotations

from typing import Any

import pytest

import metahub
from metahub.models import AffectedResource
from metahub.ranking import priority, why

from .conftest import make_finding


def _resource(
    name: str,
    severities: tuple[str, ...] = ("HIGH",),
    *,
    public: bool | None = False,
    seen: bool = True,
    combination: str | None = None,
    score: float = 50,
    passed: bool = False,
) -> AffectedResource:
    arn = f"arn:aws:s3:::{name}"
    findings = [
        make_finding(
            f"{name}-{i}", arn, Severity={"Label": s}, Compliance={"Status": "PASSED" if passed else "FAILED"}
        )
        for i, s in enumerate(severities)
    ]
    (resource,) = metahub.Run.from_findings(findings).resources.values()
    checks: dict[str, Any] = {
        "is_public": public if seen else None,
        "is_unrestricted": False if seen else None,
    }
    resource.metachecks = checks
    resource.impact = {"score": score}
    if combination:
        resource.combinations = [{"title": "toxic", "severity": combination, "path": [{"arn": arn}]}]
    return resource


# Each row: (the rule's criterion, the resource that must come first, the one that must come after).
# The first one is worse by that criterion only, or better by every criterion after it.
CASES = [
    ("something failed", _resource("a", ("LOW",)), _resource("b", ("CRITICAL",), passed=True)),
    ("a combination beats exposure", _resource("a", ("LOW",), combination="HIGH"), _resource("b", ("CRITICAL",), public=True)),
    ("the worse combination first", _resource("a", ("LOW",), combination="CRITICAL"), _resource("b", ("HIGH",), combination="HIGH")),
    ("proven exposure beats severity", _resource("a", ("LOW",), public=True), _resource("b", ("CRITICAL", "CRITICAL"))),
    ("unknown exposure is not proven", _resource("b", ("HIGH",)), _resource("a", ("LOW",), public=None)),
    ("severity beats context seen", _resource("a", ("CRITICAL",), seen=False), _resource("b", ("HIGH",) * 5)),
    ("context seen beats counts", _resource("a", ("HIGH",)), _resource("b", ("HIGH",) * 5, seen=False)),
    ("counts, severity by severity", _resource("a", ("HIGH", "HIGH")), _resource("b", ("HIGH", "MEDIUM", "MEDIUM", "LOW"))),
    ("impact breaks what is left", _resource("b", score=90), _resource("a", score=40)),
    ("then the ARN", _resource("a"), _resource("b")),
]  # fmt: skip


@pytest.mark.parametrize(("first", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_criterion_of_the_rule(first: AffectedResource, after: AffectedResource) -> None:
    assert priority(first) < priority(after)
    run = metahub.Run.from_findings([])
    run.resources = {after.arn: after, first.arn: first}
    assert list(run.by_impact()) == [first.arn, after.arn]


def test_the_reasons_name_the_rule() -> None:
    assert why(_resource("a", ("CRITICAL", "HIGH"), public=True, combination="CRITICAL")) == (
        "toxic: toxic (critical); public; failed 1 critical, 1 high"
    )
    assert why(_resource("b", ("HIGH",), seen=False)) == "failed 1 high; context not seen"


def test_every_output_lists_the_same_order(enriched_lab: metahub.Run) -> None:
    ranked = list(enriched_lab.by_impact())
    assert list(enriched_lab.short()) == ranked
    assert enriched_lab.inventory() == ranked
    top = [enriched_lab.resources[arn] for arn in ranked[:10]]
    assert all(r.combinations or why(r).startswith(("public", "unrestricted")) for r in top[:10])
    # The snapshots nobody could see (another account's) come after every seen resource of their severity.
    high = [
        enriched_lab.resources[a] for a in ranked if enriched_lab.resources[a].worst_failed_severity == "HIGH"
    ]
    seen = [r.context_seen is not False for r in high if not r.combinations]
    assert seen == sorted(seen, reverse=True)
