"""What to fix first: one order for every output (JSON, CSV, SQLite, the report, ``Run.by_impact``).

A resource ranks by, in this order (each a tie-breaker for the one before):

1. **something failed**: resources without a failed finding come last;
2. **a proven toxic combination** whose path starts at it, worst combination severity first;
3. **proven exposure**: ``is_public`` or ``is_unrestricted`` decided *true* (not unknown);
4. the **severity of its worst failed finding**;
5. **context seen** before context that could not be seen (another account's snapshot, a call
   refused): at equal severity, what metahub could check comes before what it could not;
6. the **number of failed findings**, severity by severity (critical, then high, ...);
7. MetaHub's **impact score** (it saturates at 100, so it only breaks ties here);
8. the ARN, so that equal resources keep one order everywhere.

Pure: it reads what enrichment and scoring left on the resource.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from metahub.models import SEVERITY_ORDER, AffectedResource

_SEVERITY = {label: rank for rank, label in enumerate(SEVERITY_ORDER)}
_EXPOSURE = ("is_public", "is_unrestricted")


def priority(resource: AffectedResource) -> tuple[object, ...]:
    """The sort key of the rule above: lower comes first."""
    counts = resource.failed_severity_counts
    failed = resource.outcome_counts["FAILED"]
    return (
        0 if failed else 1,
        _combination_rank(resource.combinations or ()),
        0 if exposed(resource) else 1,
        _SEVERITY.get(resource.worst_failed_severity or "", len(_SEVERITY)),
        1 if resource.context_seen is False else 0,
        *(-counts[label] for label in SEVERITY_ORDER),
        -failed,
        -((resource.impact or {}).get("score") or 0),
        resource.arn,
    )


def with_combinations(key: Sequence[Any], combinations: Iterable[Mapping[str, Any]]) -> tuple[Any, ...]:
    """A resource's key with ``combinations`` starting at it instead of those it was ranked with:
    the combinations of a merge of shards reach across them (:mod:`metahub.shards`)."""
    return (key[0], _combination_rank(combinations), *key[2:])


def _combination_rank(combinations: Iterable[Mapping[str, Any]]) -> int:
    return min((_SEVERITY.get(c.get("severity", ""), len(_SEVERITY)) for c in combinations), default=len(_SEVERITY) + 1)


def exposed(resource: AffectedResource) -> list[str]:
    """The exposure rollups proven true on the resource."""
    return [name for name in _EXPOSURE if resource.verdict(name) == "true"]


def why(resource: AffectedResource) -> str:
    """The rule's reasons for this resource, in the rule's order, in one line."""
    parts = [f"toxic: {c['title']} ({c['severity'].lower()})" for c in resource.combinations or ()][:1]
    parts += [name.removeprefix("is_") for name in exposed(resource)]
    counts = resource.failed_severity_counts
    failed = ", ".join(f"{counts[s]} {s.lower()}" for s in SEVERITY_ORDER if counts[s])
    parts.append(f"failed {failed}" if failed else "nothing failed")
    if resource.context_seen is False:
        parts.append("context not seen")
    return "; ".join(parts)
