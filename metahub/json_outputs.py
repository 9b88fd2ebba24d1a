"""MetaHub-compatible JSON views of grouped findings: short, full, inventory and statistics."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic_core import to_json

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
    return dict(short_entries(resources))


def short_entries(resources: Mapping[str, AffectedResource]) -> Iterator[tuple[str, dict[str, Any]]]:
    return ((arn, short_entry(resource)) for arn, resource in resources.items())


def full(resources: Mapping[str, AffectedResource]) -> dict[str, Any]:
    """Like :func:`short`, with every finding whole (as ASFF) instead of its title."""
    return dict(full_entries(resources))


def full_entries(resources: Mapping[str, AffectedResource]) -> Iterator[tuple[str, dict[str, Any]]]:
    for arn, resource in resources.items():
        yield arn, {"findings": [f.to_asff() for f in resource.findings], **_header(resource), **resource.context()}


class Streamed:
    """A JSON object whose entries are made while it is written (:func:`write_json`): json-full
    holds one resource's findings as ASFF at a time, not every resource's."""

    def __init__(self, entries: Iterable[tuple[str, Any]]) -> None:
        self.entries = entries


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
    """Whole or not at all (see :func:`metahub.files.atomic`), indented by two spaces."""
    from metahub.files import atomic

    with atomic(path) as part, open(part, "wb") as fh:
        fh.writelines(pretty_json(data))
    return path


def pretty_json(data: Any) -> Iterator[bytes]:
    """``data`` as JSON indented by two spaces, UTF-8, one top-level entry at a time: the same
    bytes as ``to_json(data, indent=2)``, without holding a whole json-full in memory. pydantic's
    encoder (Rust) writes five times faster than ``json.dump``; values it does not know are
    written as their ``str``. A newline in the encoded text is always layout (one inside a string
    is escaped), so indenting an entry one level is a replace."""
    entries: Iterable[bytes]
    if isinstance(data, (Mapping, Streamed)):
        pairs = data.items() if isinstance(data, Mapping) else data.entries
        opener, closer = b"{", b"}"
        entries = (_encode(str(key)) + b": " + _encode(value) for key, value in pairs)
    elif isinstance(data, (list, tuple)):
        opener, closer = b"[", b"]"
        entries = (_encode(value) for value in data)
    else:
        yield _encode(data) + b"\n"
        return
    separator, before = b"\n  ", opener
    for entry in entries:
        yield before + separator + entry.replace(b"\n", separator)
        before = b","
    yield (opener if before is opener else b"\n") + closer + b"\n"


def _encode(value: Any) -> bytes:
    return to_json(value, indent=2, fallback=str)
