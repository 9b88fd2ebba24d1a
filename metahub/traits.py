"""Traits: what the findings themselves say about a resource (reachable, vulnerable, holding
sensitive data, under threat), whatever scanner wrote them, by rules kept as data
(``metahub/config/traits.json``). Context from the account confirms or refutes a trait. Pure.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metahub.files import rule_entries
from metahub.models import AffectedResource, Finding

FIELDS = ("product", "generator", "type", "title", "exposure")


class TraitRulesError(ValueError):
    """Rules that cannot be read: the message names the file and the rule."""


def load_rules(paths: Sequence[str | Path] = ()) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for where_rule, rule in rule_entries("traits.json", paths, TraitRulesError):
        if not isinstance(rule, dict) or not isinstance(rule.get("trait"), str):
            raise TraitRulesError(f"{where_rule}: needs 'trait'")
        fields = [f for f in FIELDS if f in rule]
        if not fields:
            raise TraitRulesError(
                f"{where_rule} ({rule['trait']}): matches nothing; give one of {', '.join(FIELDS)}"
            )
        for field in fields:
            if not isinstance(rule[field], list) or not all(isinstance(p, str) for p in rule[field]):
                raise TraitRulesError(f"{where_rule} ({rule['trait']}): {field!r} is a list of patterns")
        rules.append({**rule, "_match": {f: _compile(rule[f]) for f in fields}})
    return rules


def _compile(patterns: list[str]) -> re.Pattern[str]:
    """One case-insensitive regex for a field's wildcard patterns (matched once, not per pattern)."""
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns), re.IGNORECASE)


def _values(finding: Finding, field: str) -> list[str]:
    if field == "product":
        provider = (finding.ProductFields or {}).get("ProviderName")
        return [v for v in (finding.ProductName, finding.product_name, provider) if v]
    if field == "generator":
        return [finding.GeneratorId] if finding.GeneratorId else []
    if field == "type":
        return list(finding.Types or [])
    if field == "exposure":
        return list(finding.exposure_categories or ())
    return [finding.Title] if finding.Title else []


def _matches(values: dict[str, list[str]], rule: dict[str, Any]) -> bool:
    return all(any(regex.match(v) for v in values[field]) for field, regex in rule["_match"].items())


def _vulnerability_detail(findings: list[Finding]) -> dict[str, Any]:
    """What the findings say of their vulnerabilities (ASFF ``Vulnerabilities``)."""
    found = [v for f in findings for v in (getattr(f, "Vulnerabilities", None) or []) if isinstance(v, dict)]
    # An exposure finding's Vulnerability trait names the exploit in its values ("Exploit Available")
    exposed = [
        value.lower()
        for f in findings for t in (f.exposure or {}).get("traits") or [] if t.get("category") == "Vulnerability"
        for value in t.get("values") or []
    ]  # fmt: skip
    return {
        "ids": sorted({str(v["Id"]) for v in found if v.get("Id")}),
        "exploit_available": any(v.get("ExploitAvailable") == "YES" for v in found) or "exploit available" in exposed,
        "fix_available": any(v.get("FixAvailable") in ("YES", "PARTIAL") for v in found),
    }


def traits(
    resource: AffectedResource,
    rules: Sequence[dict[str, Any]],
    memo: dict[Any, tuple[int, ...]] | None = None,
    failed: list[Finding] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{trait: {"findings", "status", "why", ...}}`` from the resource's failed findings.

    ``status``: ``claimed`` (a finding says so; nothing read confirms or refutes it),
    ``confirmed`` or ``refuted`` by the named check (``refuted``: "not reachable, stopped").
    ``memo`` (one per run) keeps which rules a kind of finding matches: scans repeat a few checks;
    ``failed``: the resource's failed findings, when the caller has them.
    """
    found: dict[str, dict[str, Any]] = {}
    if failed is None:
        failed = [f for f in resource.findings if f.outcome == "FAILED"]
    if not failed:
        return found
    memo = {} if memo is None else memo
    for finding in failed:
        kind = finding.kind
        matched = memo.get(kind)
        if matched is None:
            values = {field: _values(finding, field) for field in FIELDS}
            matched = memo[kind] = tuple(i for i, rule in enumerate(rules) if _matches(values, rule))
        for index in matched:
            rule = rules[index]
            entry = found.setdefault(
                rule["trait"], {"findings": [], "confirmed_by": rule.get("confirmed_by")}
            )
            if finding.Id not in entry["findings"]:
                entry["findings"].append(finding.Id)
    checks = resource.metachecks or {}
    for name, entry in found.items():
        check = entry.pop("confirmed_by")
        value = checks.get(check) if check else None
        if check is None or value is None:
            entry["status"] = "claimed"
            entry["why"] = f"{len(entry['findings'])} finding(s) say so" + (
                f"; {check} is {'unknown' if check in checks else 'not read'}" if check else ""
            )
        elif value:
            entry["status"] = "confirmed"
            entry["why"] = f"{check}: {str(value)[:200]}"
        else:
            entry["status"] = "refuted"
            entry["why"] = (
                f"claimed by the findings, refuted: {resource.evidence.get(check, f'{check} is false')}"
            )
        if name == "vulnerability":
            entry.update(_vulnerability_detail([f for f in failed if f.Id in entry["findings"]]))
    return found


def has(resource: AffectedResource, name: str) -> bool | None:
    """Whether a resource has a trait that was not refuted (``exploitable-vulnerability``: a
    vulnerability with an exploit available)."""
    found = resource.traits or {}
    if name == "exploitable-vulnerability":
        entry = found.get("vulnerability")
        return bool(entry and entry.get("exploit_available"))
    entry = found.get(name)
    return bool(entry and entry["status"] != "refuted")
