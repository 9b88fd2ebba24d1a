"""A run split by resource, and the shards merged back into what one process writes.

``metahub --shard K/N`` keeps the resources whose ARN hashes to K of N (BLAKE2b of the ARN: every
machine, Python and run puts an ARN in the same shard) and writes a *shard file* beside its
outputs: JSON lines, a header (format, metahub version, K/N, the toxic-combination rules, the
shard's statistics tally), then one line per resource in four JSON texts joined by tabs (JSON
writes none of its own): what the merge's first pass reads (its ARN, its rank key from
:mod:`metahub.ranking`, the ids of its failed findings, what the combination rules read), its
context and impact, its finding titles (json-short), its findings (json-full).

``metahub --split N`` is the same in one process: :func:`spill` reads the input once into a part
file per shard, and each shard's run is read from its part file (:func:`spilled`) in turn.

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
from metahub.ingest import IngestReport, Shared, Source, gc_paused, read_into
from metahub.json_outputs import header_of, statistics_of, tally, titles
from metahub.json_outputs import with_combinations as entry_with
from metahub.models import AffectedResource, Finding
from metahub.ranking import priority
from metahub.ranking import with_combinations as key_with
from metahub.version import __version__

FORMAT = 4
"""The shard file's format: a merge reads only its own (2: named parts; 3: what enrichment read,
and each resource's impact as scored, for the tables and the report; 4: a resource's line in four
parts, so that a merge reads only what each output needs)."""
PATTERN = "metahub-shard-*.jsonl"


class ShardError(ValueError):
    """Shard files that cannot be merged, and why (naming the file, and the line where it matters)."""


def shard_of(arn: str, of: int) -> int:
    """The shard (1 to ``of``) that owns a resource: BLAKE2b of its ARN, the same everywhere."""
    digest = hashlib.blake2b(arn.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % of + 1


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
        return shard_of(arn, self.of) == self.number

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


def spill(
    sources: Iterable[Source],
    report: IngestReport,
    of: int,
    directory: Path,
    *,
    only_failed: bool = False,
    only_active: bool = False,
    until: float | None = None,
) -> list[Path]:
    """Read the input once into ``of`` part files in ``directory``, one per shard: each finding goes,
    with its position in the whole input, to every shard that owns one of its resources (as
    ``--shard K/N`` keeps it). :func:`spilled` reads a part back as that shard's run reads it."""
    paths = [directory / f"part-{number}-of-{of}.jsonl" for number in range(1, of + 1)]
    with ExitStack() as stack:
        files = [stack.enter_context(path.open("wb")) for path in paths]
        serialise = Finding.__pydantic_serializer__.to_json
        handed = 0  # positions come new in order; a smaller one is a newer duplicate's

        def sink(position: int, finding: Finding) -> None:
            nonlocal handed
            if position < handed:  # the older one may be on another shard's resources: forgotten everywhere
                for fh in files:
                    fh.write(b"%d\n" % position)
            handed = max(handed, position + 1)
            line = b"%d " % position + serialise(finding, exclude_unset=True) + b"\n"
            for index in {shard_of(resource.Id, of) - 1 for resource in finding.Resources}:
                files[index].write(line)

        read_into(sources, report, sink, only_failed=only_failed, only_active=only_active, until=until)
    return paths


def spilled(path: Path) -> list[tuple[int, Finding]]:
    """A part file's findings with their positions, in input order; of a position handed over twice
    (a newer duplicate), the last, or none when the last is on other shards' resources only."""
    found: dict[int, Finding] = {}
    shared = Shared()
    with gc_paused(), path.open("rb") as fh:
        for line in fh:
            position, _, text = line.partition(b" ")
            if not text:  # forgotten: a newer duplicate follows, if it is on this shard's resources
                found.pop(int(position), None)
                continue
            finding = Finding.model_validate_json(text)
            shared.share(finding)
            found[int(position)] = finding
    return sorted(found.items(), key=lambda pair: pair[0])


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
    needed = None if rules is None else _checks_read(rules)
    serialise = Finding.__pydantic_serializer__.to_json
    with atomic(path) as part, open(part, "wb") as fh:
        fh.write(to_json(header, fallback=str) + b"\n")
        for arn, resource in resources.items():
            rest = {**header_of(resource), **resource.context()}
            rest.pop("combinations", None)  # found again across every shard when merged
            head = {"arn": arn, "key": priority(resource), "failed": failed_ids(resource),
                    "enriched": bool(rest.get("metachecks")), "scored": bool(resource.impact),
                    "verdicts": bool(resource.aws_exposure), "muted": any(f.muted for f in resource.findings),
                    "reads": None if needed is None else _read_by_rules(rest, needed)}  # fmt: skip
            # json-full shapes the impact as MetaHub did; the tables and the report read it whole
            segments = (
                to_json(head, fallback=str),
                to_json({"entry": rest, "impact": resource.impact}, fallback=str),
                to_json(titles(resource)),
                b"[" + b",".join(serialise(f, exclude_unset=True) for f in resource.findings) + b"]",
            )
            fh.write(b"\t".join(segments) + b"\n")
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
        # any resource with checks, with an impact, with an exposure verdict: the tables' columns
        self.enriched = self.scored = self.verdicts = self.muted = False
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
        for place, (_, rest, _, findings) in self._segments():
            scored = json.loads(rest)
            entry = {"findings": json.loads(findings), **scored["entry"]}
            yield place.arn, entry_with(entry, self.starting.get(place.arn, [])), scored["impact"]

    def short_entries(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each resource's json-short entry (finding titles), what to fix first first."""
        for place, (_, rest, titled, _) in self._segments():
            entry = {"findings": json.loads(titled), **json.loads(rest)["entry"]}
            yield place.arn, entry_with(entry, self.starting.get(place.arn, []))

    def _segments(self) -> Iterator[tuple[_Place, list[bytes]]]:
        """Each resource's line in rank order, in its four parts (see :func:`write_shard`), unread."""
        with ExitStack() as stack:
            files = [stack.enter_context(path.open("rb")) for path in self.paths]
            for place in self.places:
                fh = files[place.file]
                fh.seek(place.offset)
                yield place, fh.readline().split(b"\t", 3)

    def inventory(self) -> list[str]:
        return [place.arn for place in self.places]

    def statistics(self) -> dict[str, Any]:
        return statistics_of(self.tallies)

    def totals(self) -> dict[str, int]:
        """How many findings and resources the shards hold, each counted once."""
        return {kind: sum(tally["totals"][kind] for tally in self.tallies) for kind in ("findings", "resources")}

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
                        record = json.loads(line[: line.index(b"\t")])
                        arn, key, ids = record["arn"], record["key"], record["failed"]
                    except (ValueError, KeyError, TypeError) as exc:
                        raise ShardError(f"{path}: line {number} is no resource line ({exc!r})") from None
                    if self.named and owner.setdefault(arn, index) != index:
                        raise ShardError(
                            f"{path}: line {number}: {arn} is also in {self.paths[owner[arn]]}; parts must hold "
                            "different resources (one account's findings each)"
                        )
                    places.append(_Place(tuple(key), arn, index, offset))
                    self.enriched = self.enriched or record["enriched"]
                    self.scored = self.scored or record["scored"]
                    self.verdicts = self.verdicts or record.get("verdicts", False)
                    self.muted = self.muted or record.get("muted", False)
                    if self.rules is not None:
                        stand_ins.append(_stand_in(arn, record["reads"]))
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


def _read_by_rules(entry: dict[str, Any], needed: set[str]) -> dict[str, Any]:
    """What the toxic-combination rules read of a resource's entry: where it is, the checks they
    name with their evidence, its traits."""
    checks, evidence = entry.get("metachecks"), entry.get("evidence") or {}
    return {
        "ResourceType": entry["ResourceType"],
        "AwsAccountId": entry["AwsAccountId"],
        "Region": entry["Region"],
        "metachecks": None if checks is None else {k: v for k, v in checks.items() if k in needed},
        "evidence": {k: v for k, v in evidence.items() if k in needed},
        "traits": entry.get("traits"),
    }


def _stand_in(arn: str, read: dict[str, Any]) -> tuple[tuple[str, ...], AffectedResource]:
    """A resource holding only what the toxic-combination rules read (:func:`_read_by_rules`), and
    its grouping position."""
    resource = AffectedResource.model_construct(
        arn=arn,
        type=read["ResourceType"],
        account=read["AwsAccountId"],
        region=read["Region"],
        findings=[],
        metachecks=read["metachecks"],
        evidence=read["evidence"],
        traits=read["traits"],
    )
    return position(resource), resource
