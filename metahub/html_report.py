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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metahub import exposure
from metahub.detection import owner_of
from metahub.files import atomic
from metahub.models import OUTCOMES, PALETTE, ROLLUPS, SEVERITY_ORDER, AffectedResource, Finding, unknown_kind
from metahub.ranking import why
from metahub.version import __version__

log = logging.getLogger("metahub.html_report")

LARGEST_MB = 200
"""A report larger than this holds the resources ranked first that fit, and says so on its first
screen: the page parses every resource's row before the first table shows (46 MB, 50,000 findings
on 45,638 resources: 0.7 s in headless Chromium; details and findings wait until opened), and
browsers give up on a file of a gigabyte."""


@dataclass(frozen=True)
class ReportOptions:
    """What heads the report (default title: named after the accounts) and how large it may grow."""

    title: str | None = None
    customer: str | None = None
    max_mb: float = LARGEST_MB
    changes: Mapping[str, Any] | None = None
    """What changed since a baseline run (:func:`metahub.diff.highlights`): the summary opens on it."""


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
    """What the report's page renders, as compact rows (the template names the columns).

    ``details`` holds, per resource, what only its detail and the Findings view read (its context
    and its findings' rows); ``render`` writes them apart so that the page parses them on first use.
    ``summary`` holds the counts the first screen draws from the findings."""
    rollups, checks = _columns(resources, check_columns)
    rows: list[list[Any]] = []
    details: list[list[Any]] = []
    by_check: dict[str, dict[str, Any]] = {}
    compliance: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    outcomes: Counter[str] = Counter()
    failed: dict[str, Counter[str]] = defaultdict(Counter)  # by severity, type, account, region
    for index, (arn, resource) in enumerate(resources.items()):
        rows.append(_resource_row(arn, resource, rollups, tag_columns, checks))
        for finding in resource.findings:
            generator = _generator(finding)
            entry = by_check.get(generator)
            if entry is None:
                entry = by_check[generator] = _check_entry(generator, finding, len(by_check))
            entry["resources"][finding.outcome].add(index)
            _count_requirements(finding, compliance)
            outcomes[finding.outcome] += 1
            if finding.outcome == "FAILED":
                failed["severity"][finding.severity_label or "(none)"] += 1
                failed["type"][resource.type or "(none)"] += 1
                failed["account"][resource.account or "(none)"] += 1
                failed["region"][resource.region or "(none)"] += 1
        details.append(_details(index, resource, lambda f: int(by_check[_generator(f)]["index"])))
    return {
        "title": title,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "severities": list(SEVERITY_ORDER),
        "outcomes": list(OUTCOMES),
        "palette": dict(PALETTE),
        "rollups": rollups,
        "owners": any((r.detected or {}).get("owner") for r in resources.values()),
        "tagColumns": [f"Tag:{t}" for t in tag_columns],
        "checkColumns": checks,
        "resources": rows,
        "details": details,
        # counted in the findings' order, so that equal counts keep the order the page had
        "summary": {
            "findings": sum(outcomes.values()),
            "outcomes": list(outcomes.items()),
            "failed": {key: list(failed[key].items()) for key in ("severity", "type", "account", "region")},
        },
        "checks": [_check_row(entry) for entry in by_check.values()],
        "compliance": [
            [framework, requirement, *(counts[outcome] for outcome in OUTCOMES)]
            for (framework, requirement), counts in sorted(compliance.items())
        ],
    }


def _columns(
    resources: Mapping[str, AffectedResource], check_columns: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The rollups (when anything was enriched) and the other checks a column each."""
    rollups = list(ROLLUPS) if any(r.metachecks for r in resources.values()) else []
    return rollups, [c for c in check_columns if c not in rollups]


def _generator(finding: Finding) -> str:
    """The check a finding is of, as the Checks view lists it."""
    return finding.GeneratorId or finding.Title or "(no check id)"


def _details(index: int, resource: AffectedResource, check_of: Callable[[Finding], int]) -> list[Any]:
    """What the page reads of a resource only when asked: its context and its findings' rows."""
    context = {"tags": resource.effective_tags, **resource.context()}
    return [context, [_finding_row(index, finding, check_of(finding)) for finding in resource.findings]]


def fitting(
    ranked: Mapping[str, AffectedResource],
    tag_columns: Sequence[str],
    check_columns: Sequence[str],
    budget: float,
) -> int:
    """How many of the resources ranked first fit in ``budget`` characters, their rows and details
    as the page holds them; at least one. Stops reading at the budget: a million findings are not
    serialised to learn that a fifth of them fit."""
    used = 0
    for index, size in enumerate(_sizes(ranked, ranked.items(), tag_columns, check_columns)):
        used += size
        if used > budget:
            return max(index, 1)
    return len(ranked)


def _estimated_chars(
    ranked: Mapping[str, AffectedResource], tag_columns: Sequence[str], check_columns: Sequence[str]
) -> float:
    """The characters of the resources' rows and details, from a thousand of them evenly spread."""
    sample = list(islice(ranked.items(), 0, None, max(1, len(ranked) // 1000)))
    sizes = list(_sizes(ranked, sample, tag_columns, check_columns))
    return sum(sizes) / len(sizes) * len(ranked) if sizes else 0


def _sizes(
    ranked: Mapping[str, AffectedResource],
    items: Iterable[tuple[str, AffectedResource]],
    tag_columns: Sequence[str],
    check_columns: Sequence[str],
) -> Iterator[int]:
    """The characters each resource's row and details take in the page."""
    rollups, checks = _columns(ranked, check_columns)
    for arn, resource in items:
        row = _resource_row(arn, resource, rollups, tag_columns, checks)
        yield len(script_json(row)) + len(script_json(_details(0, resource, lambda _: 0))) + 2


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
        label(resource),
        (resource.impact or {}).get("score"),
        why(resource),  # the ranking rule's reasons: what to fix first, and why
        {  # why a rollup is unknown, as a kind (ids out), for the summary's charts
            name: unknown_kind(resource.unknown.get(name) or resource.evidence.get(name) or "not decided")
            for name in rollups
            if resource.verdict(name) == "unknown"
        },
        *(str(v or "") for v in owner_of(resource)),  # who it goes to, and why them
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
        _muted_text(finding.muted),
    ]


def _muted_text(muted: dict[str, Any] | None) -> str:
    """A muted finding's attestation in one line: the entry, why, by whom, until when."""
    if not muted:
        return ""
    parts = [f"by {muted['entry']} ({muted['mutelist']})"]
    parts += [f"{label} {muted[key]}" for key, label in (("reason", "because"), ("approved_by", "approved by"),
                                                         ("expires", "until")) if muted.get(key)]  # fmt: skip
    return "muted " + ", ".join(parts)


def _count_requirements(finding: Finding, compliance: dict[tuple[str, str], Counter[str]]) -> None:
    """Outcomes per (framework, requirement) the finding's compliance names."""
    named = finding.Compliance
    if named and named.RelatedRequirements:
        for pair in _requirement_pairs(tuple(named.RelatedRequirements), tuple(named.standards)):
            compliance[pair][finding.outcome] += 1


@lru_cache(maxsize=4096)
def _requirement_pairs(related: tuple[str, ...], standards: tuple[str, ...]) -> list[tuple[str, str]]:
    """(framework, requirement) of each entry: a check's findings name the same ones (at 100,000
    findings, splitting them for each finding took half of the report's time)."""
    pairs = []
    for text in related:
        framework, ids = requirements(text, standards)
        pairs += [(framework, requirement) for requirement in ids]
    return pairs


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


BLOCK_CHARS = 4_000_000
"""The resources' details are JSON lines in blocks of about this many characters: the page reads
a block's text only when one of its resources is opened, and no block nears a browser's longest
string (V8: 2**29 characters)."""


def render(data: dict[str, Any]) -> str:
    """The page: ``data`` but its ``details`` in one JSON block parsed at load, the details in
    blocks of JSON lines (one per resource) that the page parses a resource at a time, when asked."""
    import jinja2  # here, not at the top: only the organisation run's merge renders a report in a Lambda

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("metahub", "templates"), autoescape=True, keep_trailing_newline=True
    )
    blocks: list[list[str]] = []
    starts: list[int] = []
    size = BLOCK_CHARS
    for index, detail in enumerate(data.get("details", [])):
        line = script_json(detail)  # compact JSON holds no line break: one line per resource
        if size + len(line) > BLOCK_CHARS:
            blocks.append([])
            starts.append(index)
            size = 0
        blocks[-1].append(line)
        size += len(line) + 1
    eager = {key: value for key, value in data.items() if key != "details"} | {"blocks": starts}
    template = environment.get_template("report.html.j2")
    return template.render(
        title=data["title"], data_json=script_json(eager), blocks=["\n".join(block) for block in blocks]
    )


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
    verdicts = exposure.summary(resources)  # AWS's exposure verdicts against metahub's
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
        "verdicts": [[name, n] for name, n in verdicts.items()] if any(verdicts.values()) else None,
    }


def default_title(accounts: Sequence[Sequence[Any]]) -> str:
    """Named after what was scanned: its account (alias) when there is one, else how many."""
    if len(accounts) == 1:
        account, alias, _ = accounts[0]
        return f"Security findings: {alias} ({account})" if alias else f"Security findings: account {account}"
    return f"Security findings: {len(accounts)} accounts" if accounts else "Security findings"


_PAGE_CHARS = 100_000
"""The page around the data (styles, script, the summary's lists), kept out of a budget."""


def _count(ranked: Mapping[str, AffectedResource]) -> int:
    return sum(len(r.findings) for r in ranked.values())


def write_html(
    path: Path,
    ranked: Mapping[str, AffectedResource],
    findings: Iterable[Finding],
    enrichment: EnrichReport | None = None,
    combinations: Sequence[Mapping[str, Any]] = (),
    tag_columns: Sequence[str] = (),
    check_columns: Sequence[str] = (),
    options: ReportOptions = ReportOptions(),
) -> Path:
    """The report of ``ranked`` resources (most impact first), from ``findings``, with what
    enrichment read and the toxic combinations found: all of them, or those ranked first that fit in
    ``options.max_mb`` (the report then says how many it shows of how many)."""
    origin = provenance(findings, list(ranked.values()), enrichment)
    title, limit = options.title or default_title(origin["accounts"]), options.max_mb * 1e6
    extra = {"customer": options.customer or "", "provenance": origin, "combinations": list(combinations),
             "changes": options.changes}  # fmt: skip
    budget = limit * 0.95 - _PAGE_CHARS
    # A run that may not fit is measured before anything is made: making a gigabyte of report to
    # keep a fifth of it took minutes and gigabytes.
    shown, total = len(ranked), _count(ranked)
    if _estimated_chars(ranked, tag_columns, check_columns) > budget * 0.8:
        shown = fitting(ranked, tag_columns, check_columns, budget)
    while True:
        kept = ranked if shown == len(ranked) else dict(islice(ranked.items(), shown))
        data = report_data(kept, tag_columns, check_columns, title) | extra
        if shown < len(ranked):
            cut = {"resources": len(ranked), "findings": total, "shown": shown, "max_mb": options.max_mb}
            data["cut"] = cut
        text = render(data)  # characters for bytes: the JSON is nearly all ASCII
        if len(text) <= limit or shown == 1:
            break
        # The estimate missed (count what fits), or the checks' lists outgrew the margin (fewer,
        # in proportion).
        fitted = fitting(ranked, tag_columns, check_columns, budget)
        shown = fitted if fitted < shown else max(1, int(shown * limit / len(text) * 0.95))
    with atomic(path) as part:
        part.write_text(text, encoding="utf-8")
    if shown < len(ranked):
        log.warning(
            "%s: the report holds the %s resource(s) ranked first of %s (%s findings), %g MB at most: a "
            "browser opens a larger file slowly or not at all; the sqlite and csv outputs hold the whole "
            "run, or narrow it (--mh-filters-impact, --mh-filters-checks, --sh-filters ...)",
            path, f"{shown:,}", f"{len(ranked):,}", f"{total:,}", options.max_mb,
        )  # fmt: skip
    return path
