"""Filters: which findings and resources a run keeps.

Three kinds, all optional, all of which must pass:

- **finding fields** (``severity=HIGH,CRITICAL``, ``title~=public``): decided from the findings
  alone, so they apply before enrichment and nothing is fetched for what they drop;
- **checks** (``is_public=True``): MetaHub's semantics — ``True`` matches a value that is true or
  carries data, ``False`` one that is false or empty; an unknown (null) value matches neither;
- **tags** (``Environment=prod``): a resource matches when at least one pair matches (MetaHub), or
  every pair with ``tags_all``; the tags are the account's (MetaTags) when fetched, else the
  finding's;
- **query**: a JMESPath expression over each resource's document (its ``json-short`` entry plus
  ``arn``); the resource is kept when the result is truthy.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jmespath
import jmespath.exceptions

from metahub.checks.access_analyzer import DISAGREEMENT, FINDINGS
from metahub.checks.base import all_checks
from metahub.impact import VALUES
from metahub.models import SEVERITY_ORDER, AffectedResource, Finding


class FilterError(ValueError):
    """A filter that cannot mean anything: the message names it and what was probably meant."""


def _closest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(set(choices)), n=3, cutoff=0.5)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def _query_fields(node: Mapping[str, Any]) -> set[str]:
    """Every field name a parsed JMESPath expression reads (not the keys it builds)."""
    fields = {node["value"]} if node["type"] == "field" else set()
    for child in node.get("children", ()):
        if isinstance(child, Mapping):
            fields |= _query_fields(child)
    return fields


def _collect_keys(value: Any, keys: set[str]) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            keys.update(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# MetaHub v2 names config keys and associations (``public``, ``network_interfaces``); metahub names
# checks (``is_public``, ``its_associated_with_network_interfaces``). Where the rule below misses:
_V2_KEYS = {
    "volumes": ("its_associated_with_ebs",),
    "instances": ("its_associated_with_instances", "its_associated_with_ec2_instances"),
    "iam_roles": ("its_associated_with_iam_roles", "its_associated_with_iam_role"),
    "public_ip": ("it_has_public_ip",),
    "private_ip": ("it_has_private_ip",),
}


def check_names(key: str) -> tuple[str, ...]:
    """The checks a filter key may name, the first a resource's type has wins: the key itself, then,
    for MetaHub v2's keys, ``is_<key>``, ``its_associated_with_<key>`` and ``it_has_<key>``."""
    return (key, *_V2_KEYS.get(key, ()), f"is_{key}", f"its_associated_with_{key}", f"it_has_{key}")


def _pairs(expressions: Iterable[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for expression in expressions:
        key, sep, value = expression.partition("=")
        if not sep or not key.strip():
            raise FilterError(f"{what} filter {expression!r} is not KEY=VALUE")
        pairs.append((key.strip(), value.strip()))
    return pairs


_ENUMERATED: dict[str, tuple[str, ...]] = {
    "severity": SEVERITY_ORDER,
    "compliance": ("PASSED", "FAILED", "WARNING", "NOT_AVAILABLE"),
    "workflow": ("NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"),
    "record_state": ("ACTIVE", "ARCHIVED"),
}
_OF_RESOURCE = {"resource_type": "type", "account": "account", "region": "region"}
_FREE = tuple(_OF_RESOURCE)
_CONTAINS = ("title", "generator")
FINDING_KEYS = (*_ENUMERATED, *_FREE, *_CONTAINS)


def _finding_value(key: str, finding: Finding) -> str | None:
    return {
        "severity": finding.severity_label,
        "compliance": finding.compliance_status,
        "workflow": finding.workflow_status,
        "record_state": finding.RecordState,
        "title": finding.Title,
        "generator": finding.GeneratorId,
    }.get(key)


_COMPARE = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
}


def _impact_filters(expressions: Iterable[str]) -> tuple[dict[str, set[str]], list[tuple[str, float]]]:
    """``exposure=effectively-public``, ``access=unrestricted,dangerous-actions``, ``score>=70``."""
    properties: dict[str, set[str]] = {}
    score: list[tuple[str, float]] = []
    for expression in expressions:
        match = re.fullmatch(r"\s*([A-Za-z_-]+)\s*(>=|<=|>|<|=)\s*(.+?)\s*", expression)
        if not match:
            raise FilterError(f"impact filter {expression!r}: expected PROPERTY=VALUE or score>=N")
        name, op, value = match.groups()
        if name == "score":
            try:
                score.append((op, float(value)))
            except ValueError:
                raise FilterError(f"impact filter {expression!r}: {value!r} is not a number") from None
            continue
        if name not in VALUES:
            raise FilterError(f"no impact property {name!r}{_closest(name, [*VALUES, 'score'])}")
        if op != "=":
            raise FilterError(f"impact filter {expression!r}: {name} takes =, not {op}")
        for one in (v.strip() for v in value.split(",")):
            if one not in VALUES[name]:
                raise FilterError(f"impact {name} has no value {one!r}{_closest(one, VALUES[name])}")
            properties.setdefault(name, set()).add(one)
    return properties, score


@dataclass
class Filters:
    findings: dict[str, set[str]] = field(default_factory=dict)
    """Finding field -> accepted values (for ``title`` and ``generator``: substrings)."""
    checks: dict[str, bool] = field(default_factory=dict)
    tags: dict[str, set[str]] = field(default_factory=dict)
    tags_all: bool = False
    query: str | None = None
    impact: dict[str, set[str]] = field(default_factory=dict)
    """Impact property -> accepted values (MetaHub's ``--mh-filters-impact exposure=effectively-public``)."""
    score: list[tuple[str, float]] = field(default_factory=list)
    """Comparisons the impact score must pass (``score>=70``)."""

    @classmethod
    def parse(
        cls,
        checks: Iterable[str] = (),
        tags: Iterable[str] | Mapping[str, str] = (),
        findings: Iterable[str] = (),
        *,
        tags_all: bool = False,
        query: str | None = None,
        known_checks: Iterable[str] | None = None,
        impact: Iterable[str] = (),
    ) -> Filters:
        """From CLI-style ``KEY=VALUE`` expressions; raises :class:`FilterError` on nonsense."""
        if known_checks is None:
            known_checks = {name for checks_ in all_checks().values() for name in checks_}
            known_checks |= {FINDINGS, DISAGREEMENT}  # set by the access-analyzer context
        known = set(known_checks)
        parsed_checks = {}
        for key, value in _pairs(checks, "checks"):
            if not any(name in known for name in check_names(key)):
                raise FilterError(f"no MetaCheck named {key!r}{_closest(key, known)}")
            if value.lower() not in ("true", "false"):
                raise FilterError(f"checks filter {key}={value!r}: the value must be True or False")
            parsed_checks[key] = value.lower() == "true"
        parsed_tags: dict[str, set[str]] = {}
        tag_pairs = list(tags.items()) if isinstance(tags, Mapping) else _pairs(tags, "tags")
        for key, value in tag_pairs:
            parsed_tags.setdefault(key, set()).add(value)
        parsed_findings: dict[str, set[str]] = {}
        for key, value in _pairs(findings, "findings"):
            key = key.lower()
            if key not in FINDING_KEYS:
                raise FilterError(f"no finding field {key!r}{_closest(key, FINDING_KEYS)}")
            values = {v.strip() for v in value.split(",") if v.strip()}
            if key in _ENUMERATED:
                values = {v.upper() for v in values}
                for bad in values - set(_ENUMERATED[key]):
                    raise FilterError(f"{key} has no value {bad!r}{_closest(bad, _ENUMERATED[key])}")
            parsed_findings.setdefault(key, set()).update(values)
        if query is not None:
            try:
                jmespath.compile(query)
            except jmespath.exceptions.JMESPathError as exc:
                raise FilterError(f"query {query!r} is not valid JMESPath: {exc}") from exc
        parsed_impact, score = _impact_filters(impact)
        return cls(parsed_findings, parsed_checks, parsed_tags, tags_all, query, parsed_impact, score)

    def __bool__(self) -> bool:
        return bool(self.findings or self.checks or self.tags or self.query or self.impact or self.score)

    @property
    def needs_context(self) -> bool:
        return bool(self.checks or self.query or self.impact)

    def check_query_fields(self, documents: Iterable[Mapping[str, Any]]) -> None:
        """Refuse a query naming a field that no resource document has: that is a typo, not a
        filter, and ``!(metachecks.is_pubic)`` would keep every resource and act on all of them."""
        if self.query is None:
            return
        present: set[str] = set()
        for document in documents:
            _collect_keys(document, present)
        if not present:
            return
        missing = sorted(_query_fields(jmespath.compile(self.query).parsed) - present)
        if missing:
            hints = "".join(_closest(name, present) for name in missing)
            raise FilterError(
                f"query {self.query!r} names {', '.join(map(repr, missing))}, which no resource has{hints}"
            )

    # --- findings, before enrichment -----------------------------------------------------------

    def keeps_finding(self, finding: Finding, resource: AffectedResource) -> bool:
        for key, accepted in self.findings.items():
            if key in _OF_RESOURCE:  # where the resource lives: Prowler sets no top-level Region
                if getattr(resource, _OF_RESOURCE[key]) not in accepted:
                    return False
            elif key in _CONTAINS:
                text = (_finding_value(key, finding) or "").lower()
                if not any(part.lower() in text for part in accepted):
                    return False
            elif _finding_value(key, finding) not in accepted:
                return False
        return True

    def could_match_type(self, checks_of_type: Iterable[str]) -> bool:
        """Whether a resource of a type with these checks can pass the checks filter at all: types
        without one of the checks are dropped before anything is fetched for them."""
        present = set(checks_of_type)
        return all(any(name in present for name in check_names(key)) for key in self.checks)

    # --- resources, after enrichment -------------------------------------------------------------

    def tag_hints(self, resources: Iterable[AffectedResource]) -> list[str]:
        """For a tag filter that kept nothing: per key, the values the resources do have, closest
        to the asked ones first (``Environment=production`` when the tags say ``prod``)."""
        present: dict[str, Counter[str]] = {key: Counter() for key in self.tags}
        for resource in resources:
            tags = resource.effective_tags
            for key in self.tags:
                if key in tags:
                    present[key][tags[key]] += 1
        hints = []
        for key, asked in self.tags.items():
            values = present[key]
            if not values:
                hints.append(f"no resource has a tag {key!r}")
                continue
            close = [v for a in sorted(asked) for v in difflib.get_close_matches(a, values, n=3, cutoff=0.3)]
            ranked = list(dict.fromkeys([*close, *(v for v, _ in values.most_common())]))
            shown = ", ".join(f"{v} ({values[v]:,})" for v in ranked[:8])
            more = f" and {len(ranked) - 8} more" if len(ranked) > 8 else ""
            hints.append(f"{key}: {', '.join(sorted(asked))} matched nothing; its values are {shown}{more}")
        return hints

    def keeps_resource(self, resource: AffectedResource, document: Mapping[str, Any] | None = None) -> bool:
        checks = resource.metachecks or {}
        for key, wanted in self.checks.items():
            name = next((n for n in check_names(key) if n in checks), None)
            if name is None or checks[name] is None:
                return False
            if bool(checks[name]) != wanted:
                return False
        if self.tags:
            tags = resource.effective_tags
            hits = [key in tags and tags[key] in values for key, values in self.tags.items()]
            if not (all(hits) if self.tags_all else any(hits)):
                return False
        if self.impact or self.score:
            result = resource.impact
            if result is None:
                return False
            for name, accepted in self.impact.items():
                if result["properties"][name]["value"] not in accepted:
                    return False
            if not all(_COMPARE[op](result["score"], limit) for op, limit in self.score):
                return False
        if self.query is not None:
            if document is None:
                raise ValueError("a query filter needs the resource document")
            if not jmespath.search(self.query, document):
                return False
        return True
