"""A run split by resource, and the shards merged back into what one process writes.

``metahub --shard K/N`` keeps the resources whose ARN hashes to K of N (BLAKE2b of the ARN: every
machine, Python and run puts an ARN in the same shard) and writes a *shard file* beside its
outputs: JSON lines, a header (format, metahub version, K/N, the toxic-combination rules, the
shard's statistics tally), then one line per resource: its ARN, its rank key (:mod:`metahub.ranking`),
the ids of its failed findings and its ``json-full`` entry.

A run can also be one *named part* of a larger one (``--part NAME``, ``load(..., part=NAME)``): one
account of an organisation, read from that account's findings alone (the organisation-wide run of
``deploy/metahub-org.yaml``). Named parts merge into what one process writes over their inputs one
after another in the order of their names; an ARN in two parts is refused (the parts were not
disjoint, and one process would have joined its findings).

``metahub merge`` reads N shard files in two passes and writes the same json-short, json-full,
json-inventory, json-statistics and json-combinations as one process over the same input, byte
for byte. The first pass keeps, per resource, its rank key, where its line is, and only what
toxic combinations read; the combinations are found again over every shard's resources (a path
from an instance in one shard to its security group in another), which may change ranks. The
second pass streams the entries in rank order, one line at a time. Statistics add up exactly:
each finding is counted by one shard (that of its first resource), each value with where it was
first seen, so ties come out in one process's order (:func:`metahub.json_outputs.statistics_of`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from metahub.combinations import Rule, failed_ids, find
from metahub.enrich import EnrichReport
from metahub.files import atomic
from metahub.grouping import position
from metahub.json_outputs import full_entries, short_of, statistics_of, tally
from metahub.json_outputs import with_combinations as entry_with
from metahub.models import AffectedResource, Finding
from metahub.ranking import priority
from metahub.ranking import with_combinations as key_with
from metahub.version import __version__

FORMAT = 3
"""The shard file's format: a merge reads only its own (2: named parts; 3: what enrichment read,
and each resource's impact as scored, for the tables and the report)."""
PATTERN = "metahub-shard-*.jsonl"


class ShardError(ValueError):
    """Shard files that cannot be merged, and why (naming the file, and the line where it matters)."""


@dataclass(frozen=True)
class Shard:
    """Shard ``number`` of ``of`` (1-based, as ``--shard 2/4`` says it)."""

    number: int
    of: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        number, slash, of = text.partition("/")
        try:
            shard = cls(int(number), int(of))
        except ValueError:
            shard = None
        if not slash or shard is None or not 1 <= shard.number <= shard.of:
            raise ValueError(f"{text!r} is not K/N with 1 <= K <= N (e.g. 2/4)")
        return shard

    def owns(self, arn: str) -> bool:
        digest = hashlib.blake2b(arn.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.of + 1 == self.number

    def __str__(self) -> str:
        return f"{self.number}/{self.of}"


@dataclass(frozen=True)
class Part:
    """A named part of a larger run (an account of an organisation): it owns all it reads, and
    another part must hold none of its resources."""

    name: str

    def __post_init__(self) -> None:
        if not self.name.strip() or self.name != self.name.strip() or "\n" in self.name:
            raise ValueError(f"{self.name!r} is no part name (a non-empty word, e.g. an account id)")

    def owns(self, arn: str) -> bool:
        return True

    def __str__(self) -> str:
        return self.name


def write_shard(
    path: Path,
    shard: Shard | Part,
    resources: Mapping[str, AffectedResource],
    findings: Iterable[tuple[int, Finding]],
    rules: Sequence[Rule] | None,
    enrichment: EnrichReport | None = None,
) -> Path:
    """The shard file of ``resources`` (those the shard owns); ``findings`` are those it counts in
    statistics, each with its position in the whole input; ``rules`` are the toxic-combination
    rules the run was enriched with (None: it was not, and a merge finds none); ``enrichment``
    what was read for it (the contexts and the calls, which a merged report states)."""
    owned = [(position, f) for position, f in findings if shard.owns(f.Resources[0].Id)]
    header = {
        "metahub": "shard",
        "format": FORMAT,
        "version": __version__,
        **({"part": shard.name} if isinstance(shard, Part) else {"shard": [shard.number, shard.of]}),
        "rules": rules,
        "tally": tally(owned, resources),
        "enrichment": None if enrichment is None else {"contexts": enrichment.contexts, "calls": enrichment.calls},
    }
    with atomic(path) as part, open(part, "wb") as fh:
        fh.write(to_json(header, fallback=str) + b"\n")
        for arn, entry in full_entries(resources):
            resource = resources[arn]
            entry.pop("combinations", None)  # found again across every shard when merged
            # json-full shapes the impact as MetaHub did; the tables and the report read it whole
            line = {"arn": arn, "key": priority(resource), "failed": failed_ids(resource), "entry": entry,
                    "impact": resource.impact}  # fmt: skip
            fh.write(to_json(line, fallback=str) + b"\n")
    return path


def shard_files(paths: Iterable[str | Path]) -> list[Path]:
    """Shard files, each named or found in a folder (``metahub-shard-*.jsonl``)."""
    found: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            inside = sorted(given.glob(PATTERN))
            if not inside:
                raise ShardError(f"{given}: no shard file ({PATTERN}) in this folder")
            found += inside
        elif given.exists():
            found.append(given)
        else:
            raise ShardError(f"{given}: no such file or folder")
    if not found:
        raise ShardError("no shard file given")
    return found


@dataclass(frozen=True)
class _Place:
    key: tuple[Any, ...]
    arn: str
    file: int
    offset: int


class Merged:
    """Shard files read as one run: :meth:`entries` streams the json-full entries in rank order."""

    def __init__(self, paths: Sequence[Path]) -> None:
        pairs = [(self._header(path), path) for path in paths]
        self.named = any("part" in header for header, _ in pairs)
        if self.named:  # one process would read the parts' inputs in the order of their names
            pairs.sort(key=lambda pair: str(pair[0].get("part")))
        headers = [header for header, _ in pairs]
        self.paths = [path for _, path in pairs]
        self._check(headers)
        self.rules: list[Rule] | None = _holding(headers)[0]["rules"]
        self.enrichment = _enrichment(headers)
        self.tallies = [header["tally"] for header in headers]
        if self.named:
            self.tallies = [_placed(tally, index) for index, tally in enumerate(self.tallies)]
        self.enriched = self.scored = False  # any resource with checks, with an impact: the tables' columns
        places, stand_ins, failed = self._first_pass()
        self.combinations = find(stand_ins, self.rules, failed) if self.rules is not None else []
        starting: dict[str, list[dict[str, Any]]] = {}
        for record in self.combinations:
            starting.setdefault(record["path"][0]["arn"], []).append(record)
        self.starting = starting
        self.places = sorted(
            (_Place(key_with(p.key, starting.get(p.arn, ())), p.arn, p.file, p.offset) for p in places),
            key=lambda place: place.key,
        )

    def entries(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each resource's json-full entry, what to fix first first."""
        return ((arn, entry) for arn, entry, _ in self.lines())

    def lines(self) -> Iterator[tuple[str, dict[str, Any], dict[str, Any] | None]]:
        """Each resource's json-full entry and its impact as scored, what to fix first first."""
        with ExitStack() as stack:
            files = [stack.enter_context(path.open("rb")) for path in self.paths]
            for place in self.places:
                fh = files[place.file]
                fh.seek(place.offset)
                line = json.loads(fh.readline())
                yield place.arn, entry_with(line["entry"], self.starting.get(place.arn, [])), line["impact"]

    def short_entries(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return ((arn, short_of(entry)) for arn, entry in self.entries())

    def inventory(self) -> list[str]:
        return [place.arn for place in self.places]

    def statistics(self) -> dict[str, Any]:
        return statistics_of(self.tallies)

    # --- reading -----------------------------------------------------------------------------

    @staticmethod
    def _header(path: Path) -> dict[str, Any]:
        try:
            with path.open("rb") as fh:
                first = fh.readline()
        except OSError as exc:
            raise ShardError(f"{path}: {exc.strerror or exc}") from exc
        try:
            header = json.loads(first)
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("metahub") != "shard":
            raise ShardError(f"{path}: not a metahub shard file (line 1 is no shard header)")
        if header.get("format") != FORMAT:
            raise ShardError(f"{path}: shard format {header.get('format')}, and this metahub reads format {FORMAT}")
        return header

    def _check(self, headers: list[dict[str, Any]]) -> None:
        """One set: one metahub version, one N, every K once, the same rules (where a part holds
        resources for them to act on: an account without findings was not enriched)."""
        first, path = headers[0], self.paths[0]
        for header, other in zip(headers[1:], self.paths[1:], strict=True):
            if header["version"] != first["version"]:
                raise ShardError(f"{path} and {other} were made with different metahub versions (their checks "
                                 "may differ); make every shard with one")  # fmt: skip
        holding = _holding(headers)
        for header in holding[1:]:
            if header["rules"] != holding[0]["rules"]:
                one, other = (self.paths[headers.index(h)] for h in (holding[0], header))
                raise ShardError(f"{one} and {other} were made with different toxic-combination rules")
        if self.named:
            self._check_names(headers)
            return
        counts = {header["shard"][1] for header in headers}
        if len(counts) > 1:
            raise ShardError(f"shards of different splits: {', '.join(f'N={n}' for n in sorted(counts))}")
        total = counts.pop()
        seen: dict[int, Path] = {}
        for header, path in zip(headers, self.paths, strict=True):
            number = header["shard"][0]
            if number in seen:
                raise ShardError(f"shard {number}/{total} twice: {seen[number]} and {path}")
            seen[number] = path
        missing = [f"{k}/{total}" for k in range(1, total + 1) if k not in seen]
        if missing:
            raise ShardError(f"shard {', '.join(missing)} missing: a merge needs every shard of the split")

    def _check_names(self, headers: list[dict[str, Any]]) -> None:
        """Named parts only, each name once."""
        seen: dict[str, Path] = {}
        for header, path in zip(headers, self.paths, strict=True):
            name = header.get("part")
            if not isinstance(name, str):
                raise ShardError(f"{path} is shard {header['shard'][0]}/{header['shard'][1]} of a split, and "
                                 "other files are named parts: merge one split or one set of parts")  # fmt: skip
            if name in seen:
                raise ShardError(f"part {name} twice: {seen[name]} and {path}")
            seen[name] = path

    def _first_pass(self) -> tuple[list[_Place], dict[str, AffectedResource], dict[str, list[str]]]:
        """Where each resource's line is, with its key; and, when combinations are to be found,
        a stand-in per resource holding only what the rules read, in grouping order."""
        needed = _checks_read(self.rules or [])
        places: list[_Place] = []
        stand_ins: list[tuple[tuple[str, ...], AffectedResource]] = []
        failed: dict[str, list[str]] = {}
        owner: dict[str, int] = {}
        for index, path in enumerate(self.paths):
            with path.open("rb") as fh:
                fh.readline()
                number = 1
                while line := fh.readline():
                    number += 1
                    offset = fh.tell() - len(line)
                    try:
                        record = json.loads(line)
                        arn, entry, key, ids = record["arn"], record["entry"], record["key"], record["failed"]
                    except (ValueError, KeyError, TypeError) as exc:
                        raise ShardError(f"{path}: line {number} is no resource line ({exc!r})") from None
                    if self.named and owner.setdefault(arn, index) != index:
                        raise ShardError(
                            f"{path}: line {number}: {arn} is also in {self.paths[owner[arn]]}; parts must hold "
                            "different resources (one account's findings each)"
                        )
                    places.append(_Place(tuple(key), arn, index, offset))
                    self.enriched = self.enriched or bool(entry.get("metachecks"))
                    self.scored = self.scored or bool(record.get("impact"))
                    if self.rules is not None:
                        stand_ins.append(_stand_in(arn, entry, needed))
                        failed[arn] = ids
        stand_ins.sort(key=lambda pair: pair[0])
        return places, {resource.arn: resource for _, resource in stand_ins}, failed


def _enrichment(headers: list[dict[str, Any]]) -> EnrichReport | None:
    """What every shard read, as one report: the contexts asked for, the calls made (summed)."""
    read = [header["enrichment"] for header in headers if header["enrichment"] is not None]
    if not read:
        return None
    calls: Counter[str] = Counter()
    for part in read:
        calls.update(part["calls"])
    contexts = list(dict.fromkeys(context for part in read for context in part["contexts"]))
    return EnrichReport(calls=calls, contexts=contexts)


def _holding(headers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The headers of the shards that hold resources (all of them when none does)."""
    return [h for h in headers if h["tally"]["totals"]["resources"]] or headers


def _placed(counted: dict[str, Any], index: int) -> dict[str, Any]:
    """A named part's tally with each finding's position made ``[part, position]``: the positions
    one process gives the parts' inputs read one after another."""
    findings = {
        name: {value: [count, [index, first]] for value, (count, first) in values.items()}
        for name, values in counted["findings"].items()
    }
    return {**counted, "findings": findings}


def _checks_read(rules: Iterable[Rule]) -> set[str]:
    names: set[str] = set()
    for rule in rules:
        names.update(rule["when"], rule.get("then") or {})
        if "via" in rule:
            names.add(rule["via"])
    return {name for name in names if not name.startswith("trait:")}


def _stand_in(arn: str, entry: dict[str, Any], needed: set[str]) -> tuple[tuple[str, ...], AffectedResource]:
    """What the toxic-combination rules read of a resource (type, the checks they name with their
    evidence, traits), and its grouping position."""
    checks, evidence = entry.get("metachecks"), entry.get("evidence") or {}
    resource = AffectedResource.model_construct(
        arn=arn,
        type=entry["ResourceType"],
        account=entry["AwsAccountId"],
        region=entry["Region"],
        findings=[],
        metachecks=None if checks is None else {k: v for k, v in checks.items() if k in needed},
        evidence={k: v for k, v in evidence.items() if k in needed},
        traits=entry.get("traits"),
    )
    return position(resource), resource
