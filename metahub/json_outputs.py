"""MetaHub-compatible JSON views of grouped findings: short, full, inventory and statistics."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from metahub.checks.network import described_path
from metahub.files import atomic, texts
from metahub.grouping import position
from metahub.models import AffectedResource, Finding

JSON_MODES = ("json-short", "json-full", "json-inventory", "json-statistics")


def header_of(resource: AffectedResource) -> dict[str, Any]:
    """Where a resource is, as every JSON output opens its entry."""
    return {
        "AwsAccountId": resource.account,
        "Region": resource.region,
        "ResourceType": resource.type,
        "Concrete": resource.concrete,
    }


def short_entry(resource: AffectedResource) -> dict[str, Any]:
    """One resource as ``json-short`` shows it: finding titles, where it lives, its context."""
    return {
        "findings": titles(resource),
        **header_of(resource),
        **resource.context(),
    }


def titles(resource: AffectedResource) -> list[str]:
    """What json-short lists of a resource's findings: each title once (else generator, else id)."""
    return list(dict.fromkeys(f.Title or f.GeneratorId or f.Id for f in resource.findings))


_AFTER_COMBINATIONS = ("muted", "aws_exposure", "unknown", "evidence")
"""The context keys :meth:`AffectedResource.context` puts after ``combinations``, last."""


def with_combinations(entry: dict[str, Any], combinations: list[dict[str, Any]]) -> dict[str, Any]:
    """A resource's entry with ``combinations`` (those starting at it) in their place instead of
    any it had, as :meth:`AffectedResource.context` places them."""
    before = {k: v for k, v in entry.items() if k != "combinations" and k not in _AFTER_COMBINATIONS}
    if combinations:
        before["combinations"] = combinations
    return before | {k: entry[k] for k in _AFTER_COMBINATIONS if k in entry}


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
        yield arn, {"findings": [f.to_asff() for f in resource.findings], **header_of(resource), **resource.context()}


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
    return statistics_of([tally(enumerate(findings), resources)])


Tally = dict[str, Any]
"""``{"totals": {"findings": n, "resources": n}, "findings" | "resources": {field: {value: [count,
first]}}}``: counts with where each value was first seen (a finding's position in the run, a
resource's :func:`metahub.grouping.position`). Tallies of disjoint parts of a run add up to the
run's own (:func:`statistics_of`): what a merge of shards needs to give one process's statistics
byte for byte."""


def tally(findings: Iterable[tuple[int, Finding]], resources: Mapping[str, AffectedResource]) -> Tally:
    """The counts of ``findings`` (each with its position in the run) and of ``resources``."""
    counted: Tally = {"findings": {}, "resources": {}}
    numbered = list(findings)
    places = [index for index, _ in numbered]
    held = [finding for _, finding in numbered]
    for name, get in _FINDING_FIELDS.items() if held else ():
        _count(counted["findings"].setdefault(name, {}), map(get, held), places)
    wheres = [list(position(resource)) for resource in resources.values()]  # lists, as a shard file gives
    for field, read in _RESOURCE_FIELDS.items() if wheres else ():
        _count(counted["resources"].setdefault(field, {}), map(read, resources.values()), wheres)
    seen: dict[str, tuple[list[Any], list[Any]]] = {}  # per context value: the values and where
    for resource, where in zip(resources.values(), wheres, strict=True):
        for section, values in resource.context().items():
            if not isinstance(values, dict) or section in ("unknown", "evidence"):
                continue
            for key, value in values.items():
                found, at = seen.setdefault(f"{section}.{key}", ([], []))
                found.append(value)
                at.append(where)
    for name, (found, at) in seen.items():
        _count(counted["resources"].setdefault(name, {}), found, at)
    counted["totals"] = {"findings": len(held), "resources": len(resources)}
    return counted


def _count(counts: dict[str, list[Any]], values: Iterable[Any], places: Iterable[Any]) -> None:
    """Count each value (as :func:`_statistic_value` keys it) with the place it was first seen."""
    get = counts.get
    for value, seen_at in zip(values, places, strict=True):
        key = value if value.__class__ is str else _statistic_value(value)
        entry = get(key)
        if entry is None:
            counts[key] = [1, seen_at]
        else:
            entry[0] += 1


def statistics_of(tallies: Iterable[Tally]) -> dict[str, Any]:
    """One statistics document from the tallies of disjoint parts: each field's values most common
    first, ties in the order they were first seen (as ``Counter.most_common`` orders one run's)."""
    totals = {"findings": 0, "resources": 0}
    merged: dict[str, dict[str, dict[str, list[Any]]]] = {"findings": {}, "resources": {}}
    for part in tallies:
        for kind in totals:
            totals[kind] += part["totals"][kind]
            for name, counts in part[kind].items():
                into = merged[kind].setdefault(name, {})
                for value, (count, first) in counts.items():
                    entry = into.get(value)
                    if entry is None:
                        into[value] = [count, first]
                    else:
                        entry[0] += count
                        entry[1] = min(entry[1], first)

    def ordered(counts: dict[str, list[Any]]) -> dict[str, int]:
        return {value: c for value, (c, _) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[1][1]))}

    findings, resources = merged["findings"], merged["resources"]
    return {
        "totals": totals,
        "findings": {name: ordered(findings.get(name, {})) for name in _FINDING_FIELDS},
        "resources": {
            **{name: ordered(resources.get(name, {})) for name in _RESOURCE_FIELDS},
            **{name: ordered(resources[name]) for name in sorted(resources) if name not in _RESOURCE_FIELDS},
        },
    }


def _statistic_value(value: Any) -> str:
    """A count key: scalars as JSON text, and data that makes a check true as ``True``."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(int(value))  # as JSON writes it (an int subclass too)
    if isinstance(value, float):
        return json.dumps(value)
    return "true" if value else "false"


def write_json(path: Path, data: Any) -> Path:
    """Whole or not at all (see :func:`metahub.files.atomic`), indented by two spaces."""
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
    separator, empty = b"\n  ", True
    for entry in entries:
        yield (opener if empty else b",") + separator + entry.replace(b"\n", separator)
        empty = False
    yield (opener + closer if empty else b"\n" + closer) + b"\n"


def _encode(value: Any) -> bytes:
    return to_json(value, indent=2, fallback=str)


def targets(resources: Mapping[str, AffectedResource]) -> dict[str, Any]:
    """The public endpoints metahub *proved* reachable, for network scanners: each path an
    ``is_public`` that is true names (an address, a protocol, its ports, and the path as evidence),
    nothing else; ``nmap`` gives the ports to scan (``-p T:22,443,U:53``) and the hosts of each
    family (nmap scans IPv6 only with ``-6``, one family a run)."""
    found: list[dict[str, Any]] = []
    for arn, resource in resources.items():
        if resource.verdict("is_public") != "true":
            continue
        for text in texts((resource.metachecks or {}).get("is_public")):
            path = described_path(text)
            if path is not None:
                found.append({**path, "resource": arn, "type": resource.type, "evidence": text})
    ports: dict[str, set[str]] = {"T": set(), "U": set()}
    for target in found:
        letter = {"tcp": "T", "udp": "U"}.get(target["protocol"])
        if letter and target["ports"]:
            ports[letter].add("1-65535" if target["ports"] == "all" else target["ports"])
    hosts = {family: sorted({t["address"] for t in found if t["family"] == family}) for family in ("IPv4", "IPv6")}
    spec = ",".join(  # nmap's -p: "T:22,443,U:53"
        f"{letter}:{','.join(sorted(ports[letter], key=_port_order))}" for letter in ("T", "U") if ports[letter]
    )
    return {"nmap": {"ports": spec, "ipv4_and_names": hosts["IPv4"], "ipv6": hosts["IPv6"]}, "targets": found}


def _port_order(ports: str) -> int:
    return int(ports.split("-")[0])


def write_targets(path: Path, resources: Mapping[str, AffectedResource]) -> Path:
    """``path`` (``.txt``): the IPv4 addresses and DNS names to scan, one a line, as ``nmap -iL``
    reads them; beside it, the same name in ``.json``: every target with its evidence (IPv6 ones too)."""
    found = targets(resources)
    write_json(path.with_suffix(".json"), found)
    with atomic(path) as part:
        part.write_text("".join(f"{host}\n" for host in found["nmap"]["ipv4_and_names"]), encoding="utf-8")
    return path
