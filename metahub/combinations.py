"""Toxic combinations: what is dangerous together, across resources, with the path that makes it.

Rules are data (``metahub/config/combinations.json``, and the user's own); this module reads the
checks that enrichment left on the resources and follows the associations they name. Pure: the
hops were fetched with the checks, nothing here calls AWS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from metahub.files import rule_entries
from metahub.models import SEVERITY_ORDER, AffectedResource
from metahub.traits import has

Rule = dict[str, Any]


class CombinationRulesError(ValueError):
    """Rules that cannot be read: the message names the file and the rule."""


def load_rules(paths: Sequence[str | Path] = ()) -> list[Rule]:
    """The built-in rules, then each file's (a list of rules, or ``{"rules": [...]}``), validated."""
    return [
        _valid(rule, where) for where, rule in rule_entries("combinations.json", paths, CombinationRulesError)
    ]


def _valid(rule: Any, where: str) -> Rule:
    if not isinstance(rule, dict):
        raise CombinationRulesError(f"{where}: not an object")
    for key in ("id", "title", "severity", "types", "when"):
        if key not in rule:
            raise CombinationRulesError(f"{where}: needs {key!r}")
    if rule["severity"] not in SEVERITY_ORDER:
        raise CombinationRulesError(
            f"{where} ({rule['id']}): severity {rule['severity']!r} is not one of {', '.join(SEVERITY_ORDER)}"
        )
    for key in ("when", "then"):
        conditions = rule.get(key, {})
        if key == "then" and any(k.startswith("trait:") for k in conditions):
            raise CombinationRulesError(f"{where} ({rule['id']}): traits go in 'when'")
        if not isinstance(conditions, dict) or not all(isinstance(v, bool) for v in conditions.values()):
            raise CombinationRulesError(f"{where} ({rule['id']}): {key!r} maps check names to true or false")
    if "then" in rule and "via" not in rule:
        raise CombinationRulesError(f"{where} ({rule['id']}): 'then' needs 'via', the check that leads there")
    return rule


def _holds(resource: AffectedResource, conditions: Mapping[str, bool]) -> dict[str, Any] | None:
    """The checks' values when every condition holds (a true condition wants data or true, a false
    one false or empty; unknown holds neither), else None."""
    checks = resource.metachecks or {}
    evidence: dict[str, Any] = {}
    for name, wanted in conditions.items():
        if name.startswith("trait:"):  # what the findings say (metahub.traits), not refuted
            if has(resource, name.removeprefix("trait:")) != wanted:
                return None
            trait = (resource.traits or {}).get(name.removeprefix("trait:").replace("exploitable-", ""))
            evidence[name] = trait["why"] if trait else False
            continue
        value = checks.get(name)
        if value is None or bool(value) != wanted:
            return None
        evidence[name] = value if value else resource.evidence.get(name, False)
    return evidence


def _targets(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def failed_ids(resource: AffectedResource) -> list[str]:
    """The ids of a resource's failed findings, as a combination lists them."""
    return [f.Id for f in resource.findings if f.outcome == "FAILED"]


def find(
    resources_: Mapping[str, AffectedResource],
    rules: Sequence[Rule],
    failed: Mapping[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Every combination the rules find: one record each, its resources in path order with the
    evidence at each hop, and the failed findings on any of them (their ids: ``failed`` per ARN
    when the resources carry no findings, as in a merge of shards)."""
    by_id = {arn.rsplit("/", 1)[-1]: arn for arn in resources_}
    found: list[dict[str, Any]] = []
    for rule in rules:
        for arn, resource in resources_.items():
            if resource.type not in rule["types"]:
                continue
            start = _holds(resource, rule["when"])
            if start is None:
                continue
            path = [{"arn": arn, "type": resource.type, "evidence": start}]
            if "via" not in rule:
                found.append(_record(rule, path, resources_, failed))
                continue
            for target in _targets((resource.metachecks or {}).get(rule["via"])):
                target_arn = target if target in resources_ else by_id.get(target, target)
                hop: dict[str, Any] = {"arn": target_arn, "via": rule["via"]}
                other = resources_.get(target_arn)
                hop["evidence"] = f"named by {rule['via']} of {arn}"
                if other is not None:
                    hop["type"] = other.type
                    if rule.get("then"):
                        reached = _holds(other, rule["then"])
                        if reached is None:
                            continue
                        hop["evidence"] = reached
                elif rule.get("then"):
                    continue  # what must hold there cannot be read: no claim
                found.append(_record(rule, [*path, hop], resources_, failed))
    order = {label: i for i, label in enumerate(SEVERITY_ORDER)}
    found.sort(key=lambda c: (order[c["severity"]], c["rule"], c["path"][0]["arn"]))
    return found


def _record(
    rule: Rule,
    path: list[dict[str, Any]],
    resources_: Mapping[str, AffectedResource],
    failed: Mapping[str, list[str]] | None,
) -> dict[str, Any]:
    findings = [
        finding
        for hop in path
        if (resource := resources_.get(hop["arn"])) is not None
        for finding in (failed_ids(resource) if failed is None else failed.get(hop["arn"], []))
    ]
    return {
        "rule": rule["id"],
        "title": rule["title"],
        "severity": rule["severity"],
        "why": rule.get("why", ""),
        "path": path,
        "findings": findings,
    }
