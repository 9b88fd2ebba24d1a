"""MetaHub-compatible JSON views of grouped findings: short, full, inventory and statistics."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from metahub.models import AffectedResource, Finding

JSON_MODES = ("json-short", "json-full", "json-inventory", "json-statistics")


def _header(resource: AffectedResource) -> dict[str, Any]:
    return {
        "AwsAccountId": resource.account,
        "Region": resource.region,
        "ResourceType": resource.type,
        "Concrete": resource.concrete,
    }


def short_entry(resource: AffectedResource) -> dict[str, Any]:
    """One resource as ``json-short`` shows it: finding titles, where it lives, its context."""
    return {
        "findings": list(dict.fromkeys(f.Title or f.GeneratorId or f.Id for f in resource.findings)),
        **_header(resource),
        **resource.context(),
    }


def short(resources: Mapping[str, AffectedResource]) -> dict[str, Any]:
    """``{ARN: {"findings": [titles], "AwsAccountId", "Region", "ResourceType", ...context}}``."""
    return {arn: short_entry(resource) for arn, resource in resources.items()}


def full(resources: Mapping[str, AffectedResource]) -> dict[str, Any]:
    """Like :func:`short`, with every finding whole (as ASFF) instead of its title."""
    return {
        arn: {
            "findings": [f.to_asff() for f in resource.findings],
            **_header(resource),
            **resource.context(),
        }
        for arn, resource in resources.items()
    }


def inventory(resources: Mapping[str, AffectedResource]) -> list[str]:
    return list(resources)


_FINDING_FIELDS: dict[str, Callable[[Finding], Any]] = {
    "SeverityLabel": lambda f: f.severity_label,
    "Outcome": lambda f: f.outcome,
    "ComplianceStatus": lambda f: f.compliance_status,
    "WorkflowStatus": lambda f: f.workflow_status,
    "RecordState": lambda f: f.RecordState,
    "ProductName": lambda f: f.product_name,
    "AwsAccountId": lambda f: f.AwsAccountId,
    "Region": lambda f: f.Region,
    "ResourceType": lambda f: f.Resources[0].Type,
    "GeneratorId": lambda f: f.GeneratorId,
    "Title": lambda f: f.Title,
}

_RESOURCE_FIELDS: dict[str, Callable[[AffectedResource], Any]] = {
    "ResourceType": lambda r: r.type,
    "AwsAccountId": lambda r: r.account,
    "Region": lambda r: r.region,
    "Concrete": lambda r: r.concrete,
    "HighestSeverity": lambda r: r.highest_severity,
    "WorstFailedSeverity": lambda r: r.worst_failed_severity,
}


def statistics(findings: Iterable[Finding], resources: Mapping[str, AffectedResource]) -> dict[str, Any]:
    """Counts per field and value, most common first, for findings and for resources.

    Scalar context values (a check that is True/False/None, a tag value) are counted too,
    as ``metachecks.is_public`` or ``metatags.Environment``.
    """
    findings = list(findings)
    finding_counts = {name: _count(get(f) for f in findings) for name, get in _FINDING_FIELDS.items()}
    resource_counts = {
        name: _count(get(r) for r in resources.values()) for name, get in _RESOURCE_FIELDS.items()
    }
    context: dict[str, Counter[str]] = {}
    for resource in resources.values():
        for section, values in resource.context().items():
            if not isinstance(values, dict) or section in ("unknown", "evidence"):
                continue
            for key, value in values.items():
                context.setdefault(f"{section}.{key}", Counter())[_statistic_value(value)] += 1
    resource_counts.update({name: dict(counter.most_common()) for name, counter in sorted(context.items())})
    return {
        "totals": {"findings": len(findings), "resources": len(resources)},
        "findings": finding_counts,
        "resources": resource_counts,
    }


def _count(values: Iterable[Any]) -> dict[str, int]:
    return dict(Counter(_statistic_value(v) for v in values).most_common())


def _statistic_value(value: Any) -> str:
    """A count key: scalars as JSON text, and data that makes a check true as ``True``."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value if isinstance(value, str) else json.dumps(value)
    return "true" if value else "false"


def write_json(path: Path, data: Any) -> Path:
    """Whole or not at all (see :func:`metahub.files.atomic`)."""
    from metahub.files import atomic

    with atomic(path) as part, open(part, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, default=str, ensure_ascii=False)
        fh.write("\n")
    return path
