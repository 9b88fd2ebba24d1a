"""The HTML report: one self-contained file (CSS, JS and data inline, nothing fetched), made for
handing a scan to someone who opens it offline.

The data travels as JSON in a ``<script type="application/json">`` block, with ``<``, ``>``, ``&``
and the JavaScript line separators escaped so that no string from a finding can end the block;
the page builds every cell with ``textContent``, never with HTML.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metahub.files import atomic
from metahub.models import OUTCOMES, PALETTE, ROLLUPS, SEVERITY_ORDER, AffectedResource, Finding, unknown_kind
from metahub.ranking import why
from metahub.version import __version__

log = logging.getLogger("metahub.html_report")

COMFORTABLE_MB = 100
"""Above this size a report is written, and said to be too large to open comfortably: a browser
parses all of the embedded data before the first table shows (48 MB, 50,000 findings: 1.1 s in
headless Chromium for the parse alone), and tabs crash on the largest."""

if TYPE_CHECKING:
    from metahub.enrich import EnrichReport

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(data: Any) -> str:
    """Compact JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(data, default=str, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return text


def requirements(related: str, standards: Sequence[str] = ()) -> tuple[str, list[str]]:
    """(framework, requirement ids) of one ``Compliance.RelatedRequirements`` entry: Prowler writes
    ``NIST-CSF-1.1 ac_3 ac_5`` (a framework of ``standards`` may hold spaces: ``ASD-Essential-Eight-Nov
    2023 E8-1.5``), Security Hub ``NIST.800-53.r5 AC-3`` or ``CIS AWS Foundations Benchmark v1.2.0/2.7``."""
    text = related.strip()
    for standard in sorted(standards, key=len, reverse=True):
        if text.startswith(standard + " "):
            return standard, text[len(standard) :].split()
    framework, sep, rest = text.rpartition("/")
    if sep and " " in framework and " " not in rest:
        return framework, [rest]
    framework, _, rest = text.partition(" ")
    return framework, rest.split() or ["(all)"]


def label(resource: AffectedResource) -> str:
    """What people call the resource: its Name tag, else the short id its ARN ends with (IAM names
    are what people use for roles, users, groups and policies, whatever their tags say)."""
    name = resource.effective_tags.get("Name")
    if name and not resource.type.startswith("AwsIam"):
        return str(name)
    arn = resource.arn
    tail = arn.split(":", 5)[-1] if arn.startswith("arn:") else arn
    return re.split(r"[/:]", tail)[-1] or tail


def safe_url(url: Any) -> str | None:
    """A remediation link that may become a live link: http(s) only (never ``javascript:``)."""
    return url if isinstance(url, str) and re.match(r"https?://", url, re.IGNORECASE) else None


def report_data(
    resources: Mapping[str, AffectedResource],
    tag_columns: Sequence[str] = (),
    check_columns: Sequence[str] = (),
    title: str = "metahub report",
) -> dict[str, Any]:
    """What the report's page renders, as compact rows (the template names the columns)."""
    enriched = any(r.metachecks for r in resources.values())
    rollups = list(ROLLUPS) if enriched else []
    checks = [c for c in check_columns if c not in rollups]
    rows, findings = [], []
    by_check: dict[str, dict[str, Any]] = {}
    compliance: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for index, (arn, resource) in enumerate(resources.items()):
        rows.append(_resource_row(arn, resource, rollups, tag_columns, checks))
        for finding in resource.findings:
            generator = finding.GeneratorId or finding.Title or "(no check id)"
            entry = by_check.get(generator)
            if entry is None:
                entry = by_check[generator] = _check_entry(generator, finding, len(by_check))
            entry["resources"][finding.outcome].add(index)
            _count_requirements(finding, compliance)
            findings.append(_finding_row(index, finding, entry["index"]))
    return {
        "title": title,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "severities": list(SEVERITY_ORDER),
        "outcomes": list(OUTCOMES),
        "palette": dict(PALETTE),
        "rollups": rollups,
        "tagColumns": [f"Tag:{t}" for t in tag_columns],
        "checkColumns": checks,
        "resources": rows,
        "findings": findings,
        "checks": [_check_row(entry) for entry in by_check.values()],
        "compliance": [
            [framework, requirement, *(counts[outcome] for outcome in OUTCOMES)]
            for (framework, requirement), counts in sorted(compliance.items())
        ],
    }


def _resource_row(
    arn: str,
    resource: AffectedResource,
    rollups: Sequence[str],
    tag_columns: Sequence[str],
    checks: Sequence[str],
) -> list[Any]:
    counts = resource.failed_severity_counts
    metachecks = resource.metachecks or {}
    tags = resource.effective_tags
    return [
        arn,
        resource.type,
        resource.account,
        resource.region,
        resource.worst_failed_severity or "",
        [counts.get(label, 0) for label in SEVERITY_ORDER],
        len(resource.findings),
        *(resource.verdict(name) for name in rollups),
        *("" if tags.get(t) is None else str(tags[t]) for t in tag_columns),
        *(json.dumps(metachecks.get(c), default=str) if c in metachecks else "" for c in checks),
        {"tags": tags, **resource.context()},
        label(resource),
        (resource.impact or {}).get("score"),
        why(resource),  # the ranking rule's reasons: what to fix first, and why
        {  # why a rollup is unknown, as a kind (ids out), for the summary's charts
            name: unknown_kind(resource.unknown.get(name) or resource.evidence.get(name) or "not decided")
            for name in rollups
            if resource.verdict(name) == "unknown"
        },
    ]


def _finding_row(index: int, finding: Finding, check_index: int) -> list[Any]:
    return [
        index,
        finding.severity_label or "",
        finding.Title or "",
        finding.compliance_status or "",
        finding.workflow_status or "",
        finding.GeneratorId or "",
        finding.product_name or "",
        finding.Id,
        finding.outcome,
        check_index,
        (finding.Description or "")[:2000],
    ]


def _count_requirements(finding: Finding, compliance: dict[tuple[str, str], Counter[str]]) -> None:
    """Outcomes per (framework, requirement) the finding's compliance names."""
    related = (finding.Compliance.RelatedRequirements if finding.Compliance else None) or []
    standards = finding.Compliance.standards if finding.Compliance else []
    for text in related:
        framework, ids = requirements(text, standards)
        for requirement in ids:
            compliance[(framework, requirement)][finding.outcome] += 1


def _check_row(entry: dict[str, Any]) -> list[Any]:
    return [
        entry["generator"],
        entry["title"],
        entry["severity"],
        *(len(entry["resources"][outcome]) for outcome in OUTCOMES),
        entry["remediation"],
        entry["url"],
        entry["product"],
        entry["frameworks"],
    ]


def _check_entry(generator: str, finding: Finding, index: int) -> dict[str, Any]:
    """A check (or control) as its first finding describes it: title, severity, remediation."""
    recommendation = (finding.Remediation or {}).get("Recommendation") or {}
    related = (finding.Compliance.RelatedRequirements if finding.Compliance else None) or []
    standards = finding.Compliance.standards if finding.Compliance else []
    return {
        "index": index,
        "generator": generator,
        "title": finding.Title or "",
        "severity": finding.severity_label or "",
        "remediation": str(recommendation.get("Text") or "")[:4000],
        "url": safe_url(recommendation.get("Url")),
        "product": finding.product_name or "",
        "frameworks": sorted({requirements(text, standards)[0] for text in related}),
        "resources": {outcome: set() for outcome in OUTCOMES},
    }


def render(data: dict[str, Any]) -> str:
    import jinja2  # here, not at the top: only the organisation run's merge renders a report in a Lambda

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("metahub", "templates"), autoescape=True, keep_trailing_newline=True
    )
    template = environment.get_template("report.html.j2")
    return template.render(title=data["title"], data_json=script_json(data))


def provenance(
    findings: Iterable[Finding], resources: Sequence[AffectedResource], enrichment: EnrichReport | None
) -> dict[str, Any]:
    """Where the report comes from: scanners and versions, accounts (with aliases when the account
    context was read), regions, the findings' time span, and what context metahub fetched."""
    scanners: Counter[str] = Counter()
    times: list[datetime] = []
    for finding in findings:
        fields = finding.ProductFields or {}
        name = fields.get("ProviderName") or finding.product_name or "unknown scanner"
        scanners[" ".join(p for p in (name, fields.get("ProviderVersion")) if p)] += 1
        times.extend(t for t in (finding.CreatedAt, finding.UpdatedAt) if t is not None)
    accounts: dict[str, dict[str, Any]] = {}
    for resource in resources:
        entry = accounts.setdefault(resource.account, {"alias": None, "resources": 0})
        entry["resources"] += 1
        entry["alias"] = entry["alias"] or (resource.metaaccount or {}).get("Alias")
    if enrichment is None:
        context = "none: the findings alone, nothing read from the accounts"
    else:
        context = f"{', '.join(enrichment.contexts)} from the accounts ({enrichment.total_calls:,} AWS calls)"
    return {
        # most findings first, then by name: the same whatever order the findings came in (a merge)
        "scanners": [[name, n] for name, n in sorted(scanners.items(), key=lambda item: (-item[1], item[0]))],
        "accounts": [[account, e["alias"], e["resources"]] for account, e in sorted(accounts.items())],
        "regions": sorted({r.region for r in resources if r.region}),
        "span": [min(times).strftime("%Y-%m-%d"), max(times).strftime("%Y-%m-%d")] if times else None,
        "context": context,
    }


def default_title(accounts: Sequence[Sequence[Any]]) -> str:
    """Named after what was scanned: its account (alias) when there is one, else how many."""
    if len(accounts) == 1:
        account, alias, _ = accounts[0]
        return f"Security findings: {alias} ({account})" if alias else f"Security findings: account {account}"
    return f"Security findings: {len(accounts)} accounts" if accounts else "Security findings"


def write_html(
    path: Path,
    ranked: Mapping[str, AffectedResource],
    findings: Iterable[Finding],
    enrichment: EnrichReport | None = None,
    combinations: Sequence[Mapping[str, Any]] = (),
    tag_columns: Sequence[str] = (),
    check_columns: Sequence[str] = (),
    *,
    title: str | None = None,
    customer: str | None = None,
) -> Path:
    """The report of ``ranked`` resources (most impact first), from ``findings``, with what
    enrichment read and the toxic combinations found."""
    origin = provenance(findings, list(ranked.values()), enrichment)
    data = report_data(ranked, tag_columns, check_columns, title or default_title(origin["accounts"]))
    data.update(customer=customer or "", provenance=origin, combinations=list(combinations))
    text = render(data)
    with atomic(path) as part:
        part.write_text(text, encoding="utf-8")
    if (size := path.stat().st_size / 1e6) > COMFORTABLE_MB:
        log.warning(
            "%s: the report is %.0f MB (%s resource(s)); a browser opens more than %g MB slowly or not at "
            "all: narrow the run (--mh-filters-impact, --mh-filters-checks, --sh-filters ...) or read "
            "it whole from the sqlite output",
            path, size, f"{len(ranked):,}", COMFORTABLE_MB,
        )  # fmt: skip
    return path
