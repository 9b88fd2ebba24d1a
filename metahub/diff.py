"""What changed between two runs: ``metahub diff OLD NEW`` and :meth:`metahub.Run.diff`.

Both sides are json-full outputs (a run gives its own, :meth:`metahub.Run.full`), so that last
week's file and today's run compare alike. Per resource ARN:

- a resource in NEW only *appeared*, in OLD only *disappeared* (deleted, or out of the scan: which
  one, neither file says, so its findings are not called fixed);
- its failing findings are *new*, *fixed* (gone, or no longer failing) or *still failing*. A finding
  is matched by (ProductArn, Id); scanners that issue new ids for the same check are matched by
  their generator (the check) on that resource;
- each rollup whose verdict changed, with what decided it on both sides (the value, the evidence
  for a no, the reason for unknown). Reaching ``is_public`` or ``is_unrestricted`` true, or
  ``is_encrypted`` false, is a *regression*; leaving it, an *improvement*;
- the impact score, when it moved.

Failing is :attr:`metahub.models.Finding.outcome` ``FAILED``, as everywhere else.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from metahub.files import atomic
from metahub.models import ROLLUPS, Finding, metahub_shape, verdict_of
from metahub.tabular import cell, write_csv

if TYPE_CHECKING:
    import pandas as pd

Entry = Mapping[str, Any]
"""One resource of a json-full output: its findings, where it is, its context."""

BAD = {"is_public": "true", "is_unrestricted": "true", "is_encrypted": "false"}
"""The verdict of each rollup a team must hear of when a resource reaches it (``is_attached`` says
whether a resource is in use: a change either way is reported, neither is a regression)."""

DIFF_MODES = ("json", "csv", "html")
CSV_HEADER = ["resource", "type", "account", "region", "change", "subject", "old", "new", "detail"]


class DiffError(ValueError):
    """A file that is not a json-full output: names the file and what is wrong."""


SQLITE = b"SQLite format 3\x00"
"""How every SQLite database file begins."""


def read_output(path: str | Path) -> dict[str, dict[str, Any]]:
    """A run's json-full or SQLite output (told apart by their first bytes), as json-full entries."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE))
    except OSError as exc:
        raise DiffError(f"{path}: {exc.strerror or exc}") from None
    return read_sqlite(path) if head == SQLITE else read_full(path)


def read_sqlite(path: str | Path) -> dict[str, dict[str, Any]]:
    """A run's SQLite output (opened read-only) as json-full entries: each resource in the order
    written (what to fix first first), with its findings as ASFF."""
    columns = ("metachecks", "metatags", "metatrails", "metaaccount", "unknown", "evidence", "impact")
    entries: dict[str, dict[str, Any]] = {}
    try:
        with closing(sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)) as db:
            query = f"SELECT arn, type, account, region, impact_score, {', '.join(columns)} FROM resources ORDER BY rowid"
            for arn, type_, account, region, score, *context in db.execute(query):
                kept = {name: json.loads(value) for name, value in zip(columns, context, strict=True) if value}
                if "impact" in kept:  # as scored: json-full's shape, as every output reads it
                    kept["impact"] = metahub_shape(kept["impact"])
                entries[arn] = {"findings": [], "AwsAccountId": account, "Region": region, "ResourceType": type_,
                                **kept, "impact_score": score}  # fmt: skip
            for arn, asff in db.execute("SELECT resource_arn, asff FROM findings ORDER BY rowid"):
                entries[arn]["findings"].append(json.loads(asff))
    except (sqlite3.Error, KeyError, ValueError) as exc:
        raise DiffError(f"{path}: not a metahub SQLite output ({exc})") from None
    return entries


def read_full(path: str | Path) -> dict[str, dict[str, Any]]:
    """A json-full output, checked for its shape: ARN -> entry with its findings."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise DiffError(f"{path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise DiffError(f"{path}: line {exc.lineno} column {exc.colno}: not JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise DiffError(f"{path}: byte {exc.start}: not UTF-8 text") from None
    if not isinstance(data, dict):
        raise DiffError(f"{path}: not a json-full output (an object of resources by ARN; this is a {type(data).__name__})")
    for arn, entry in data.items():
        findings = entry.get("findings") if isinstance(entry, dict) else None
        if not isinstance(findings, list) or not all(isinstance(f, dict) for f in findings):
            raise DiffError(f"{path}: resource {arn!r}: no list of findings: not a json-full output "
                            "(json-short lists titles only; compare two json-full files)")  # fmt: skip
    return data


class Changes(dict[str, Any]):
    """What :func:`diff` finds (``{"summary": ..., "resources": ...}``), and :meth:`frame`."""

    def frame(self) -> pd.DataFrame:
        """A row per change, the CSV output's columns (values as they are, not made formula-safe)."""
        import pandas as pd

        return pd.DataFrame(list(rows(self)), columns=CSV_HEADER)


def diff(old: Mapping[str, Entry], new: Mapping[str, Entry], names: tuple[str, str] = ("old", "new")) -> Changes:
    """The changes from ``old`` to ``new``: a summary of counts, each side's :func:`tallied` counts
    (``totals``), and each changed resource (NEW's order, which is what to fix first first; then
    those that disappeared). A finding that is not ASFF raises :class:`DiffError` naming its side
    (``names``), resource and position."""
    summary: Counter[str] = Counter()
    totals: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
    resources: dict[str, dict[str, Any]] = {}
    for arn in [*new, *(arn for arn in old if arn not in new)]:
        sides = (old.get(arn), new.get(arn))
        try:
            before, after = _failing(sides[0]), _failing(sides[1])
        except _NotAsff as exc:
            side = names[0] if exc.entry is sides[0] else names[1]
            raise DiffError(f"{side}: resource {arn!r}: finding {exc.index + 1}: not ASFF ({exc.reason})") from None
        for side_totals, entry, failing in zip(totals, sides, (before, after), strict=True):
            _tally(side_totals, entry, failing)
        change = _resource(*sides, before, after)
        findings, rollups = change["findings"], change["rollups"].values()
        summary.update({
            change["status"]: 1,
            "findings_new": len(findings["new"]),
            "findings_fixed": len(findings["fixed"]),
            "findings_still_failing": findings["still_failing"],
            "regressions": sum(r["regression"] for r in rollups),
            "improvements": sum(r["improvement"] for r in rollups),
        })  # fmt: skip
        if change["status"] != "unchanged":
            resources[arn] = change
    counts = ("appeared", "disappeared", "changed", "unchanged", "findings_new", "findings_fixed",
              "findings_still_failing", "regressions", "improvements")  # fmt: skip
    return Changes(summary={name: summary[name] for name in counts}, resources=resources,
                   totals={"old": _counts(totals[0]), "new": _counts(totals[1])})  # fmt: skip


def _resource(
    old: Entry | None, new: Entry | None, before: Mapping[Key, Finding], after: Mapping[Key, Finding]
) -> dict[str, Any]:
    where = new if new is not None else old
    assert where is not None
    fixed, added = _unmatched(before, after)
    rollups = _rollups(old, new) if old is not None and new is not None else {}
    impact = None
    if old is not None and new is not None and old.get("impact_score") != new.get("impact_score"):
        impact = {"old": old.get("impact_score"), "new": new.get("impact_score")}
    status = "appeared" if old is None else "disappeared" if new is None else "changed"
    if status == "changed" and not (fixed or added or rollups or impact):
        status = "unchanged"
    return {
        "status": status,
        "type": where.get("ResourceType"),
        "account": where.get("AwsAccountId"),
        "region": where.get("Region"),
        "findings": {
            "new": [_shown(f) for f in added],
            "fixed": [_shown(f) for f in fixed] if new is not None else [],
            "still_failing": len(after) - len(added),
        },
        "rollups": rollups,
        "impact": impact,
        **({"failing_before": len(before)} if new is None else {}),
    }


Key = tuple[str | None, str]


class _NotAsff(Exception):
    def __init__(self, entry: Entry, index: int, reason: str) -> None:
        self.entry, self.index, self.reason = entry, index, reason


def _failing(entry: Entry | None) -> dict[Key, Finding]:
    """The entry's failing findings by (ProductArn, Id)."""
    found: dict[Key, Finding] = {}
    for index, raw in enumerate(entry["findings"] if entry is not None else ()):
        try:
            finding = Finding.model_validate(raw)
        except ValidationError as exc:
            assert entry is not None
            first = exc.errors()[0]
            raise _NotAsff(entry, index, f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        if finding.outcome == "FAILED":
            found[(finding.ProductArn, finding.Id)] = finding
    return found


def _unmatched(before: Mapping[Key, Finding], after: Mapping[Key, Finding]) -> tuple[list[Finding], list[Finding]]:
    """(fixed, new): the failing findings of each side that the other lacks, by id; then, of those,
    one gone and one come from the same check are one finding whose id was issued again."""
    gone = [f for key, f in before.items() if key not in after]
    came = [f for key, f in after.items() if key not in before]
    reissued: dict[tuple[str | None, str], list[Finding]] = {}
    for finding in gone:
        if (check := _check(finding)) is not None:
            reissued.setdefault(check, []).append(finding)
    paired: set[int] = set()
    added = []
    for finding in came:
        same = reissued.get(_check(finding) or ("", ""))
        if same:
            paired.add(id(same.pop(0)))
        else:
            added.append(finding)
    return [f for f in gone if id(f) not in paired], added


def _check(finding: Finding) -> tuple[str | None, str] | None:
    """What made a finding, whatever its id: the product and its generator (the check id)."""
    generator = finding.GeneratorId or finding.Title
    return None if not generator else (finding.product_name, generator)


def _shown(finding: Finding) -> dict[str, Any]:
    return {"id": finding.Id, "title": finding.Title, "severity": finding.severity_label,
            "generator": finding.GeneratorId}  # fmt: skip


def _rollups(old: Entry, new: Entry) -> dict[str, dict[str, Any]]:
    changed = {}
    for name in ROLLUPS:
        before, after = _verdict(old, name), _verdict(new, name)
        if before == after:
            continue
        bad = BAD.get(name)
        changed[name] = {
            "old": before, "new": after, "old_why": _why(old, name, before), "new_why": _why(new, name, after),
            "regression": after == bad, "improvement": before == bad,
        }  # fmt: skip
    return changed


def _verdict(entry: Entry, name: str) -> str:
    return verdict_of(entry.get("metachecks"), entry.get("evidence") or {}, name)


def _why(entry: Entry, name: str, verdict: str) -> Any:
    """What decided a verdict: the value that makes it true, the evidence of a no, why unknown."""
    if verdict == "true":
        return (entry.get("metachecks") or {}).get(name)
    if verdict == "unknown":
        return (entry.get("unknown") or {}).get(name)
    return (entry.get("evidence") or {}).get(name)


HIGHLIGHTS = 500
"""At most this many changed resources ride in a report (the JSON output holds them all)."""


TALLIED = ("findings_failing", "resources_failing", *BAD)


def tallied(entries: Mapping[str, Entry]) -> dict[str, int]:
    """What a run's KPIs over time count: its failing findings, the resources with one, and the
    resources whose rollups are at their bad verdict (:data:`BAD`)."""
    counts: Counter[str] = Counter()
    for entry in entries.values():
        _tally(counts, entry, _failing(entry))
    return _counts(counts)


def _tally(counts: Counter[str], entry: Entry | None, failing: Mapping[Key, Finding]) -> None:
    if entry is not None:
        counts.update({"findings_failing": len(failing), "resources_failing": int(bool(failing))})
        counts.update(name for name, bad in BAD.items() if _verdict(entry, name) == bad)


def _counts(counts: Counter[str]) -> dict[str, int]:
    return {name: counts[name] for name in TALLIED}


def highlights(
    changes: Mapping[str, Any], baseline: str, history: Sequence[tuple[str, dict[str, int]]] = ()
) -> dict[str, Any]:
    """What a report opens on when made with a baseline: the counts, and the changed resources in
    the order a reader must see them (regressions, new failing findings, resources that appeared,
    improvements, fixes, resources that disappeared), each with one line of what changed; and the
    KPIs of each run over time (``history``: names and :func:`tallied` counts, oldest first)."""
    items = []
    for arn, change in changes["resources"].items():
        said = _said(change)
        rank, (kind, what) = next((rank, line) for rank, line in enumerate(said) if line[1])
        items.append((rank, {"arn": arn, "type": change["type"], "kind": kind, "what": what}))
    items.sort(key=lambda item: item[0])  # stable: NEW's order (what to fix first) within a kind
    return {"baseline": baseline, "summary": dict(changes["summary"]),
            "resources": [item for _, item in items[:HIGHLIGHTS]], "more": max(0, len(items) - HIGHLIGHTS),
            "history": [{"run": name, **counts} for name, counts in history]}  # fmt: skip


def _said(change: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Each kind of change of one resource with its line (empty where it has none), the kind a
    reader must see first first; the last always says something."""
    findings, rollups, status = change["findings"], change["rollups"], change["status"]

    def moved(which: str) -> str:
        return "; ".join(f"{name}: {r['old']} -> {r['new']}" for name, r in rollups.items()
                         if (r["regression"], r["improvement"]) == (which == "worse", which == "better"))  # fmt: skip

    return [
        ("regression", moved("worse")),
        ("new findings", _titles(findings["new"]) if status != "appeared" else ""),
        ("appeared", f"{len(findings['new'])} failing finding(s)" if status == "appeared" else ""),
        ("improvement", moved("better")),
        ("fixed", _titles(findings["fixed"])),
        ("disappeared", f"{change.get('failing_before', 0)} failing finding(s) before" if status == "disappeared" else ""),
        ("changed", moved("other") or (f"impact {change['impact']['old']} -> {change['impact']['new']}"
                                       if change["impact"] else "changed")),
    ]  # fmt: skip


def _titles(findings: list[dict[str, Any]]) -> str:
    if not findings:
        return ""
    shown = "; ".join(str(f["title"] or f["id"]) for f in findings[:3])
    return f"{len(findings)}: {shown}" + (" ..." if len(findings) > 3 else "")


def csv_rows(changes: Mapping[str, Any]) -> Iterator[list[Any]]:
    """:func:`rows`, every text cell safe from spreadsheet formulas."""
    return ([cell(value) for value in row] for row in rows(changes))


def rows(changes: Mapping[str, Any]) -> Iterator[list[Any]]:
    """One row per change, CSV_HEADER's columns, as they are."""
    for arn, change in changes["resources"].items():
        place = [arn, change["type"], change["account"], change["region"]]
        said: list[tuple[str, Any, Any, Any, Any]] = []
        if change["status"] in ("appeared", "disappeared"):
            said.append((change["status"], "resource", None, None, None))
        said += [("new finding", f["title"], None, f["severity"], f["id"]) for f in change["findings"]["new"]]
        said += [("fixed finding", f["title"], f["severity"], None, f["id"]) for f in change["findings"]["fixed"]]
        for name, rollup in change["rollups"].items():
            kind = "regression" if rollup["regression"] else "improvement" if rollup["improvement"] else "rollup"
            said.append((kind, name, rollup["old"], rollup["new"], _text(rollup["new_why"])))
        if change["impact"] is not None:
            said.append(("impact", "impact_score", change["impact"]["old"], change["impact"]["new"], None))
        for row in said:
            yield [*place, *row]


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def write(changes: Mapping[str, Any], modes: Iterable[str], folder: Path, stamp: str) -> list[Path]:
    """The diff as ``metahub-diff-<stamp>.json`` and/or ``.csv`` in ``folder`` (the report is the
    later run's, written by its run: :meth:`metahub.Run.to_html` with a baseline)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for mode in modes:
        if mode == "html":
            continue
        path = folder / f"metahub-diff-{stamp}.{mode}"
        if mode == "json":
            with atomic(path) as part, part.open("w", encoding="utf-8") as fh:
                json.dump(changes, fh, indent=2, ensure_ascii=False, default=str)
                fh.write("\n")
        else:
            write_csv(path, CSV_HEADER, csv_rows(changes))
        written.append(path)
    return written
