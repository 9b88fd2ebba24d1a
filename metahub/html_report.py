"""The HTML report: one self-contained file (CSS, JS and data inline, nothing fetched), made for
handing a scan to someone who opens it offline.

The data travels as JSON in a ``<script type="application/json">`` block, with ``<``, ``>``, ``&``
and the JavaScript line separators escaped so that no string from a finding can end the block;
the page builds every cell with ``textContent``, never with HTML.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from metahub import __version__
from metahub.checks.base import ROLLUPS
from metahub.models import OUTCOMES, PALETTE, SEVERITY_ORDER, AffectedResource

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(data: Any) -> str:
    """Compact JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(data, default=str, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return text


def _verdict(resource: AffectedResource, name: str) -> str:
    """A rollup as the table shows it: true (with data), false, unknown, or n/a."""
    checks = resource.metachecks or {}
    if name not in checks or resource.evidence.get(name, "").startswith("does not apply"):
        return "n/a"
    if checks[name] is None:
        return "unknown"
    return "true" if checks[name] else "false"


def report_data(
    resources: Mapping[str, AffectedResource],
    tag_columns: Sequence[str] = (),
    check_columns: Sequence[str] = (),
    title: str = "metahub report",
) -> dict[str, Any]:
    enriched = any(r.metachecks for r in resources.values())
    rollups = list(ROLLUPS) if enriched else []
    checks = [c for c in check_columns if c not in rollups]
    rows, findings = [], []
    for index, (arn, resource) in enumerate(resources.items()):
        counts = resource.failed_severity_counts
        metachecks = resource.metachecks or {}
        tags = resource.effective_tags
        rows.append(
            [
                arn,
                resource.type,
                resource.account,
                resource.region,
                resource.worst_failed_severity or "",
                [counts.get(label, 0) for label in SEVERITY_ORDER],
                len(resource.findings),
                *(_verdict(resource, name) for name in rollups),
                *("" if tags.get(t) is None else str(tags[t]) for t in tag_columns),
                *(json.dumps(metachecks.get(c), default=str) if c in metachecks else "" for c in checks),
                {"tags": tags, **resource.context()},
            ]
        )
        for finding in resource.findings:
            findings.append(
                [
                    index,
                    finding.severity_label or "",
                    finding.Title or "",
                    finding.compliance_status or "",
                    finding.workflow_status or "",
                    finding.GeneratorId or "",
                    finding.product_name or "",
                    finding.Id,
                    finding.outcome,
                ]
            )
    return {
        "title": title,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "severities": list(SEVERITY_ORDER),
        "outcomes": list(OUTCOMES),
        "palette": {label: f"#{colour}" for label, colour in PALETTE.items()},
        "rollups": rollups,
        "tagColumns": [f"Tag:{t}" for t in tag_columns],
        "checkColumns": checks,
        "resources": rows,
        "findings": findings,
    }


def render(data: dict[str, Any]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("metahub", "templates"), autoescape=True, keep_trailing_newline=True
    )
    template = environment.get_template("report.html.j2")
    return template.render(title=data["title"], data_json=script_json(data))


def write_html(
    path: Path,
    resources: Mapping[str, AffectedResource],
    tag_columns: Sequence[str] = (),
    check_columns: Sequence[str] = (),
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report_data(resources, tag_columns, check_columns)), encoding="utf-8")
    return path
