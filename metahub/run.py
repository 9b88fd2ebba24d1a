"""The notebook and library entry point: ``metahub.load(...)`` returns a :class:`Run`."""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from html import escape
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metahub import combinations, exposure, files, json_outputs, tabular, traits
from metahub import mutelist as mutes
from metahub.aws import Aws
from metahub.checks.base import checks_for
from metahub.diff import Changes, diff, highlights, read_output, tallied
from metahub.enrich import EnrichReport, enrich
from metahub.filters import FilterError, Filters
from metahub.grouping import group_by_resource
from metahub.html_report import LARGEST_MB, ReportOptions, write_html
from metahub.impact import impact, load_config
from metahub.ingest import IngestReport, Source, gc_paused, read_findings, read_part
from metahub.models import SEVERITY_ORDER, VERDICTS, AffectedResource, Finding, scored_from
from metahub.ranking import priority
from metahub.resources.spec import spec_for
from metahub.shards import Merged, Part, Shard, shard_files, spill, spilled, write_shard
from metahub.snapshot import CACHE_TTL, ContextCache, Snapshot

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

OUTPUT_MODES = (
    "json-short",
    "json-full",
    "json-inventory",
    "json-statistics",
    "json-combinations",
    "csv",
    "xlsx",
    "sqlite",
    "html",
    "targets",
)
SHARD_MODE = "shard"
"""The shard file of a run read with ``shard=`` (:mod:`metahub.shards`), written beside its outputs."""
MERGED_MODES = OUTPUT_MODES
"""What :func:`merge` writes from shard files, each as one process would: the JSON outputs streamed,
byte for byte; CSV and SQLite streamed from resources grouped again one at a time (:func:`restored`);
XLSX and the report from the run rebuilt in memory (:func:`rebuilt`)."""
_STREAMED = ("json-short", "json-full", "json-inventory", "json-statistics", "json-combinations")


def _unclaim(path: Path) -> None:
    """Remove the empty placeholder claimed for an output that was not written."""
    with contextlib.suppress(OSError):
        if path.exists() and path.stat().st_size == 0:
            path.unlink()


def output_path(directory: Path, mode: str, stamp: str) -> Path:
    """``metahub-<view>-<stamp>.json`` for the JSON views, ``metahub-<stamp>.<ext>`` for the rest."""
    if mode.startswith("json-"):
        return directory / f"metahub-{mode.removeprefix('json-')}-{stamp}.json"
    if mode == SHARD_MODE:
        return directory / f"metahub-shard-{stamp}.jsonl"
    if mode == "targets":  # the list nmap reads; its JSON (with the evidence) is written beside it
        return directory / f"metahub-targets-{stamp}.txt"
    return directory / f"metahub-{stamp}.{mode}"


class ContextWarning(UserWarning):
    """Enrichment saw some accounts but not all (a role it could not assume, another account
    reached with the caller's credentials)."""


class ContextUnreachable(RuntimeError):
    """Enrichment reached no account: every check is unknown. The run keeps what was tried
    (``run.enrichment``, each resource's ``unknown``), so outputs can still be written."""

    def __init__(self, report: EnrichReport) -> None:
        super().__init__(
            f"enrichment reached no AWS account ({report.why_nothing()}): no resource was seen, "
            "so every check is unknown"
        )
        self.report = report


class Run:
    """Findings read in one go, grouped by resource, with what went wrong while reading."""

    def __init__(self, findings: list[Finding], report: IngestReport | None = None, seconds: float = 0.0):
        self.findings = findings
        self.report = report or IngestReport()
        with gc_paused():
            self.resources: dict[str, AffectedResource] = group_by_resource(findings)
        self.seconds = seconds
        self.enrichment: EnrichReport | None = None
        self.combinations: list[dict[str, Any]] = []
        self.write_failures: dict[str, str] = {}
        """Output mode -> why it could not be written, after :meth:`write`."""
        """Toxic combinations found after enrichment (:mod:`metahub.combinations`)."""
        self.filtered: int | None = None
        """Resources dropped by filters (None: no filter applied)."""
        self.shard: Shard | Part | None = None
        """The part of a larger run this run is (:func:`load`'s ``shard`` or ``part``), None: a whole run."""
        self.positions: list[int] | None = None
        """Of a shard: where each of ``findings`` was in the whole input (what a merge orders by)."""
        self.combination_rules: list[combinations.Rule] | None = None
        """The toxic-combination rules applied (None: :meth:`find_combinations` was not called)."""
        self.mute_report: mutes.MuteReport | None = None
        """What :meth:`mute` did (None: no mutelist)."""

    def enrich(
        self,
        aws: Aws | None = None,
        *,
        contexts: Iterable[str] = ("config",),
        detection_rules: dict[str, Any] | None = None,
        trail_events: Mapping[str, list[str]] | None = None,
        lookback_days: int = 90,
        max_workers: int = 16,
        progress: bool = True,
        impact_config: str | Path | None = None,
        combination_rules: Sequence[str | Path] = (),
        trait_rules: Sequence[str | Path] = (),
        confirm_billed: Callable[[int], bool] | None = None,
        replay: Snapshot | str | Path | None = None,
        save_context: str | Path | None = None,
        context_cache: str | Path | None = None,
        cache_ttl: float = CACHE_TTL,
    ) -> EnrichReport:
        """Add context from the accounts the resources live in: ``contexts`` among ``config``
        (MetaChecks), ``tags`` (MetaTags), ``account`` and ``cloudtrail`` (MetaTrails, events of
        the last ``lookback_days`` per ``trail_events``); then environment, owner and application
        by ``detection_rules`` (default: ``metahub/config/detection.json``); then the impact of every
        resource, weighted by ``impact_config`` (default: ``metahub/config/impact.yaml``), and the toxic
        combinations of the built-in rules and ``combination_rules`` files.
        ``access-analyzer-checks`` (IAM Access Analyzer's policy checks) are billed per call:
        ``confirm_billed(count)`` is asked first (``lambda n: True`` to agree); without it none is made.

        ``aws`` carries credentials and roles (default: the standard credential chain). AWS
        trouble for some resources never raises: affected values are null and ``resource.unknown``
        says why, and accounts that could not be entered are named in a :class:`ContextWarning`.
        When AWS answered no call at all (no credentials, a wrong endpoint, every call refused),
        :class:`ContextUnreachable` is raised after the run is scored, so that
        such a run never reads like a clean one; ``self.enrichment`` and the resources keep the reasons.

        ``save_context`` writes every answer AWS gave to a snapshot file (``aws`` made with
        ``record=True``, or none); ``replay`` (a snapshot or its file) answers instead of AWS: no
        call is made, and what the snapshot does not hold is unknown, saying so. ``context_cache``
        (a folder) keeps the answers for later runs, which reuse those younger than ``cache_ttl``
        seconds instead of asking again (or ``Aws(cache=ContextCache(...))``).
        """
        if aws is not None and (replay is not None or context_cache is not None):
            raise ValueError("replay and context_cache make their own Aws: give them to Aws(replay=..., cache=...)")
        if replay is not None:
            aws = Aws(replay=replay if isinstance(replay, Snapshot) else Snapshot.load(replay), max_workers=max_workers)
        elif aws is None and (save_context is not None or context_cache is not None):
            cache = None if context_cache is None else ContextCache(context_cache, cache_ttl)
            aws = Aws(record=save_context is not None, cache=cache, max_workers=max_workers)
        if save_context is not None and (aws is None or not aws.recording):
            raise ValueError("save_context needs the answers recorded: Aws(record=True, ...), and no replay")
        self.enrichment = enrich(
            self.resources,
            aws,
            contexts=contexts,
            detection_rules=detection_rules,
            trail_events=trail_events,
            lookback_days=lookback_days,
            max_workers=max_workers,
            progress=progress,
            confirm_billed=confirm_billed,
        )
        if aws is not None and aws.cache is not None:
            try:
                aws.cache.save()
            except OSError as exc:  # a cache: the run stands, the next one asks AWS again
                log.warning("context cache %s not written: %s", aws.cache.directory, exc.strerror or exc)
        if save_context is not None:
            assert aws is not None  # checked above
            aws.recorded(contexts).save(save_context)
        self.score_impact(impact_config, trait_rules)
        self.find_combinations(combination_rules)
        report = self.enrichment
        if report.reached_nothing:
            raise ContextUnreachable(report)
        if report.unreachable:
            names = "; ".join(f"{reason}" for reason in list(report.unreachable.values())[:3])
            warnings.warn(
                f"{len(report.unreachable)} account(s) could not be entered, their resources' context "
                f"is unknown: {names}",
                ContextWarning,
                stacklevel=2,
            )
        return report

    def find_combinations(self, rule_files: Sequence[str | Path] = ()) -> list[dict[str, Any]]:
        """What is dangerous together, with its path (built-in rules and ``rule_files``); each record
        is also on the resource its path starts at. Raises
        :class:`metahub.combinations.CombinationRulesError` for unreadable rules."""
        self.combination_rules = combinations.load_rules(rule_files)
        self.combinations = combinations.find(self.resources, self.combination_rules)
        for resource in self.resources.values():
            resource.combinations = None
        for record in self.combinations:
            start = self.resources[record["path"][0]["arn"]]
            start.combinations = [*(start.combinations or []), record]
        return self.combinations

    def mute(self, mutelist: str | Path | mutes.Mutelist, today: date | None = None) -> mutes.MuteReport:
        """Mark the findings a mutelist mutes (Prowler's format, :mod:`metahub.mutelist`): they stay
        in every output with the entry that muted them, and count as set aside (OTHER). Entries
        expired by ``today`` are reported, never applied. Raises :class:`metahub.mutelist.MutelistError`
        naming the file and line of a bad entry. Score (or enrich) afterwards: the impact is then
        given with and without the muted findings."""
        listed = mutelist if isinstance(mutelist, mutes.Mutelist) else mutes.load(mutelist)
        live, expired = listed.active(today or datetime.now(timezone.utc).date())
        report = mutes.MuteReport(listed.source, expired=[
            {"entry": e.name, "line": e.line, "expires": str(e.expires), "reason": e.reason} for e in expired
        ])  # fmt: skip
        for resource in self.resources.values():
            for finding in resource.findings:
                if finding.muted:
                    continue  # a finding on several resources is muted once
                entry = mutes.matching(live, finding, resource)
                if entry is not None:
                    finding.mute(entry.record(listed.source))
                    report.muted[entry.name] += 1
        self.mute_report = report
        return report

    def score_impact(self, config: str | Path | None = None, trait_rules: Sequence[str | Path] = ()) -> None:
        """Set ``resource.traits`` (what the findings say: :mod:`metahub.traits`) and
        ``resource.impact`` (:mod:`metahub.impact`) on every resource: from the findings alone when
        nothing was enriched. Raises :class:`metahub.impact.ImpactConfigError` or
        :class:`metahub.traits.TraitRulesError` for a bad file."""
        weights, rules = load_config(config), traits.load_rules(trait_rules)
        memo: dict[Any, tuple[int, ...]] = {}
        with gc_paused():  # many small long-lived dicts: see gc_paused
            for resource in self.resources.values():
                failed = [f for f in resource.findings if f.outcome == "FAILED"]  # once, for both
                # Straight into the fields' storage: pydantic's checked assignment costs more than the
                # scoring of a resource without context, and these values need no validation.
                fields = resource.__dict__
                fields["traits"] = traits.traits(resource, rules, memo, failed) or None
                fields["impact"] = impact(resource, weights, failed)  # reads the traits
                fields["aws_exposure"] = exposure.verdict(resource)
                fields["muted"] = _muted(resource, weights, failed, rules, memo)

    def by_impact(self) -> dict[str, AffectedResource]:
        """The resources, what to fix first first: the rule of :mod:`metahub.ranking` (toxic
        combination, proven exposure, worst failed severity, context seen, counts, impact, ARN)."""
        return dict(sorted(self.resources.items(), key=lambda item: priority(item[1])))

    def filter(
        self,
        *checks: str,
        tags: Mapping[str, str] | Iterable[str] = (),
        tags_all: bool = False,
        findings: Iterable[str] = (),
        query: str | None = None,
        impact: Iterable[str] = (),
    ) -> Run:
        """A new run with what passes the filters (see :mod:`metahub.filters`), e.g.
        ``run.filter("is_public=True", tags={"Environment": "prod"}, findings=["severity=HIGH,CRITICAL"],
        impact=["score>=70"])``. Raises :class:`metahub.filters.FilterError` for a filter that cannot
        mean anything, and for MetaChecks filters on a run that was not enriched."""
        parsed = Filters.parse(checks, tags, findings, tags_all=tags_all, query=query, impact=impact)
        if parsed.checks and self.enrichment is None:
            # Every resource would silently fail the filter: there are no check values to compare.
            raise FilterError(
                f"{', '.join(checks)}: MetaChecks filters need an enriched run; call run.enrich() first "
                "(or run.apply(filters, before_enrichment=True) to keep the resource types they could match)"
            )
        if (parsed.impact or parsed.score) and any(r.impact is None for r in self.resources.values()):
            self.score_impact()
        return self.apply(parsed)

    def apply(self, filters: Filters, *, before_enrichment: bool = False) -> Run:
        """A new run with the findings and resources that pass ``filters``. Before enrichment only
        what findings decide applies, and resources whose type lacks a filtered check are dropped."""
        candidates: dict[str, AffectedResource] = {}
        for arn, resource in self.resources.items():
            if filters.findings:
                matching = [f for f in resource.findings if filters.keeps_finding(f, resource)]
                if not matching:
                    continue
                if len(matching) != len(resource.findings):
                    resource = resource.model_copy(update={"findings": matching})
            if before_enrichment and filters.checks:
                spec = spec_for(resource.type, resource.parsed_arn)
                if spec is None or not filters.could_match_type(checks_for(spec.type)):
                    continue
            candidates[arn] = resource
        if before_enrichment:
            kept = candidates
        else:
            documents = {
                arn: {"arn": arn, **json_outputs.short_entry(resource)} if filters.query else None
                for arn, resource in candidates.items()
            }
            filters.check_query_fields(d for d in documents.values() if d is not None)
            kept = {arn: r for arn, r in candidates.items() if filters.keeps_resource(r, documents[arn])}
        ids = {id(f) for resource in kept.values() for f in resource.findings}
        subset = Run.__new__(Run)
        subset.findings = [f for f in self.findings if id(f) in ids]
        subset.shard, subset.combination_rules = self.shard, self.combination_rules
        subset.positions = None if self.positions is None else [
            position for f, position in zip(self.findings, self.positions, strict=True) if id(f) in ids
        ]  # fmt: skip
        subset.report = self.report
        subset.resources = kept
        subset.seconds = self.seconds
        subset.enrichment = self.enrichment
        # A combination stays when the resource its path starts at does.
        subset.combinations = [c for c in self.combinations if c["path"][0]["arn"] in kept]
        subset.write_failures = {}
        subset.mute_report = self.mute_report
        subset.filtered = (self.filtered or 0) + len(self.resources) - len(kept)
        return subset

    @classmethod
    def from_findings(cls, findings: Iterable[Finding | Mapping[str, Any]]) -> Run:
        """A run over findings already in memory (ASFF dicts or :class:`Finding` objects)."""
        return cls([f if isinstance(f, Finding) else Finding.model_validate(f) for f in findings])

    # --- views -------------------------------------------------------------------------------

    # Outputs list resources by impact, highest first (insertion order where nothing is scored).

    def short(self) -> dict[str, Any]:
        return json_outputs.short(self.by_impact())

    def full(self) -> dict[str, Any]:
        return json_outputs.full(self.by_impact())

    def inventory(self) -> list[str]:
        return json_outputs.inventory(self.by_impact())

    def diff(self, earlier: Earlier) -> Changes:
        """What changed since ``earlier`` (a run, its json-full or SQLite output, or that read):
        a summary of counts, and per changed resource its new and fixed findings, the rollups that
        changed with both sides' evidence, and its impact (:mod:`metahub.diff`); ``.frame()`` gives
        a row per change as a DataFrame."""
        return diff(_entries(earlier), self.full())

    def statistics(self) -> dict[str, Any]:
        return json_outputs.statistics(self.findings, self.resources)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per (finding, affected resource), with the resource's columns beside the finding's."""
        return _finding_frame(list(self._finding_rows()))

    def dataframes(self, rows: int = 100_000) -> Iterator[pd.DataFrame]:
        """:meth:`to_dataframe` in frames of at most ``rows`` rows, made one at a time: a large run's
        rows never sit in memory all at once (a million rows take gigabytes as Python objects)."""
        if rows < 1:
            raise ValueError(f"rows must be at least 1, not {rows}")
        # every frame has the whole run's columns, in to_dataframe()'s order (first seen first)
        columns = list(dict.fromkeys(key for r in self.resources.values() for key in next(_rows(r), {})))
        made = self._finding_rows()
        while chunk := list(islice(made, rows)):
            yield _finding_frame(chunk, columns)

    def _finding_rows(self) -> Iterator[dict[str, Any]]:
        for resource in self.resources.values():
            yield from _rows(resource)

    def resources_dataframe(self) -> pd.DataFrame:
        """One row per resource: counts of findings by severity, and its context when enriched."""
        import pandas as pd

        rows = []
        for resource in self.resources.values():
            row: dict[str, Any] = {
                "ResourceArn": resource.arn,
                "ResourceType": resource.type,
                "ResourceAccount": resource.account,
                "ResourceRegion": resource.region,
                "ResourceConcrete": resource.concrete,
                "Findings": len(resource.findings),
                "HighestSeverity": resource.highest_severity,
                "WorstFailedSeverity": resource.worst_failed_severity,
                "ImpactScore": (resource.impact or {}).get("score"),
                **{
                    f"impact.{name}": prop["value"]
                    for name, prop in (resource.impact or {}).get("properties", {}).items()
                },
                **{label.title(): count for label, count in resource.severity_counts.items()},
                **{f"Failed{label.title()}": n for label, n in resource.failed_severity_counts.items()},
                **{outcome.title(): n for outcome, n in resource.outcome_counts.items()},
                "Tags": resource.tags,
                **_flat(resource),
            }
            rows.append(row)
        frame = pd.DataFrame(rows)
        if frame.empty:
            frame = pd.DataFrame(
                columns=["ResourceArn", "ResourceType", "Findings", "HighestSeverity", "WorstFailedSeverity"]
            )
        if "HighestSeverity" in frame:
            frame["HighestSeverity"] = _severity_dtype(frame["HighestSeverity"])
            frame["WorstFailedSeverity"] = _worst_dtype(frame["WorstFailedSeverity"])
        return _verdict_dtype(frame)

    # --- files -------------------------------------------------------------------------------

    def write(
        self,
        modes: Iterable[str],
        output_dir: str | Path = "outputs",
        stamp: str | None = None,
        *,
        tag_columns: Sequence[str] = (),
        check_columns: Sequence[str] | None = None,
        account_columns: Sequence[str] = (),
        report_title: str | None = None,
        report_customer: str | None = None,
        report_max_mb: float = LARGEST_MB,
        label: str | None = None,
        baseline: Earlier | Sequence[Earlier] | None = None,
    ) -> list[Path]:
        """Write ``metahub-<view>-<stamp>.<ext>`` for each mode (:data:`OUTPUT_MODES`, and ``"shard"``
        for a run read with ``shard=``: ``metahub-shard-<stamp>.jsonl``); returns the paths. CSV and
        XLSX get a column per tag in ``tag_columns``, per account key in ``account_columns`` and per
        check in ``check_columns`` (default: the four rollups, when enriched). The HTML report is
        headed by ``report_title`` and ``report_customer`` and holds the resources ranked first that
        fit in ``report_max_mb``; with a ``baseline`` (an earlier run or its json-full or SQLite output,
        or a list of them, oldest first) it opens on what changed since the last, and the counts of
        each over time.

        Each file appears whole or not at all (written aside, then renamed); one that cannot be
        written does not stop the others, and ``self.write_failures`` says which and why. Names are
        claimed first: a run in the same second gets ``<stamp>-2``, never another run's files."""
        modes = list(modes)
        for mode in modes:
            if mode not in OUTPUT_MODES and mode != SHARD_MODE:
                raise ValueError(f"unknown output mode {mode!r}; expected one of {', '.join(OUTPUT_MODES)}")
        if SHARD_MODE in modes:
            self._check_shard()

        changes = None if baseline is None or "html" not in modes else self._highlights(baseline)

        def write_one(mode: str, path: Path) -> None:
            report = ReportOptions(report_title, report_customer, report_max_mb, changes)
            self._write_one(mode, path, tag_columns, check_columns, account_columns, report)

        written, self.write_failures = write_all(modes, output_dir, stamp, label, write_one)
        return written

    def _check_shard(self) -> None:
        if self.shard is None or self.positions is None:
            raise ValueError("a shard file is written by a run read with metahub.load(..., shard='K/N' or part=NAME)")
        if self.filtered is not None:
            raise ValueError(
                "a filtered run's shard would not merge into one process's output (toxic combinations "
                "reach resources the filters dropped): shard unfiltered runs"
            )

    def _write_one(
        self,
        mode: str,
        path: Path,
        tag_columns: Sequence[str],
        check_columns: Sequence[str] | None,
        account_columns: Sequence[str],
        report: ReportOptions,
    ) -> None:
        views: dict[str, Callable[[], Any]] = {  # the resources' entries made while written
            "json-short": lambda: json_outputs.Streamed(json_outputs.short_entries(self.by_impact())),
            "json-full": lambda: json_outputs.Streamed(json_outputs.full_entries(self.by_impact())),
            "json-inventory": self.inventory,
            "json-statistics": self.statistics,
            "json-combinations": lambda: self.combinations,
        }
        if mode in views:
            json_outputs.write_json(path, views[mode]())
        elif mode == SHARD_MODE:
            assert self.shard is not None and self.positions is not None
            findings = zip(self.positions, self.findings, strict=True)
            write_shard(path, self.shard, self.resources, findings, self.combination_rules, self.enrichment)
        elif mode == "html":
            self._html(path, tag_columns, check_columns, report)
        elif mode == "sqlite":
            tabular.write_sqlite(path, self.by_impact().items())  # the order a merge streams them in
        elif mode == "targets":
            json_outputs.write_targets(path, self.by_impact())
        else:
            header, body = tabular.rows(self.by_impact(), tag_columns, check_columns, account_columns)
            (tabular.write_csv if mode == "csv" else tabular.write_xlsx)(path, header, body)

    def to_html(
        self,
        path: str | Path,
        tag_columns: Sequence[str] = (),
        check_columns: Sequence[str] | None = None,
        *,
        title: str | None = None,
        customer: str | None = None,
        max_mb: float = LARGEST_MB,
        baseline: Earlier | Sequence[Earlier] | None = None,
    ) -> Path:
        """One self-contained HTML report (nothing fetched when opened); returns its path. ``title``
        (default: named after the account scanned) and ``customer`` head its summary page; a run that
        would make a file over ``max_mb`` gets the resources ranked first that fit, and says so.
        With a ``baseline`` (an earlier run or its json-full or SQLite output, or a list of them, oldest
        first), it opens on what changed since the last, and the counts of each over time."""
        changes = None if baseline is None else self._highlights(baseline)
        return self._html(Path(path), tag_columns, check_columns, ReportOptions(title, customer, max_mb, changes))

    def _html(
        self, path: Path, tag_columns: Sequence[str], check_columns: Sequence[str] | None, options: ReportOptions
    ) -> Path:
        return write_html(path, self.by_impact(), self.findings, self.enrichment, self.combinations,
                          tag_columns, check_columns or (), options)  # fmt: skip

    def _highlights(self, baseline: Earlier | Sequence[Earlier]) -> dict[str, Any]:
        earlier = [baseline] if isinstance(baseline, (Run, str, Path, Mapping)) else list(baseline)
        if not earlier:
            raise ValueError("baseline: give an earlier run, or a list of one or more")
        # one at a time: the earlier ones are only counted; the last is compared, which counts both sides
        history = [(_name(run), tallied(_entries(run))) for run in earlier[:-1]]
        changes = diff(_entries(earlier[-1]), self.full())
        history += [(_name(earlier[-1]), changes["totals"]["old"]), ("this run", changes["totals"]["new"])]
        return highlights(changes, _name(earlier[-1]), history)

    # --- summaries ---------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        verdicts = exposure.summary(self.resources.values())  # AWS's exposure verdicts against metahub's
        return {
            "sources": len(self.report.sources),
            "findings_read": self.report.read,
            "rejected": len(self.report.rejected),
            "unreadable": len(self.report.unreadable),
            "duplicates": self.report.duplicates,
            "filtered_out": self.report.filtered_out,
            "findings": len(self.findings),
            "resources": len(self.resources),
            **({"resources_filtered_out": self.filtered} if self.filtered is not None else {}),
            "seconds": round(self.seconds, 2),
            **({"exposure_verdicts": verdicts} if any(verdicts.values()) else {}),
            **({"muted": self.mute_report.findings} if self.mute_report is not None else {}),
            **(
                {
                    "aws_calls": self.enrichment.total_calls,
                    "enrich_seconds": round(self.enrichment.seconds, 2),
                }
                if self.enrichment
                else {}
            ),
        }

    def __repr__(self) -> str:
        s = self.summary()
        return f"<metahub.Run {s['findings']} findings on {s['resources']} resources from {s['sources']} source(s)>"

    def _repr_html_(self) -> str:
        counts = {label: 0 for label in SEVERITY_ORDER}
        for finding in self.findings:
            if finding.severity_label:
                counts[finding.severity_label] += 1
        cells = "".join(f"<td>{escape(label.title())}: {count}</td>" for label, count in counts.items())
        return (
            f"<p><b>metahub run</b>: {len(self.findings)} findings on {len(self.resources)} resources, "
            f"{len(self.report.problems)} problem(s)</p><table><tr>{cells}</tr></table>"
        )


_FINDING_COLUMNS = [
    "ResourceArn",
    "ResourceType",
    "ResourceAccount",
    "ResourceRegion",
    "ResourceConcrete",
    "Id",
    "Title",
    "GeneratorId",
    "Severity",
    "Outcome",
    "ResourceWorstFailedSeverity",
    "ResourceImpactScore",
    "ComplianceStatus",
    "WorkflowStatus",
    "RecordState",
    "ProductName",
    "AwsAccountId",
    "Region",
    "CreatedAt",
    "UpdatedAt",
    "Tags",
]


def _rows(resource: AffectedResource) -> Iterator[dict[str, Any]]:
    """A resource's rows of :meth:`Run.to_dataframe`, one per finding; what is the resource's is
    computed once (the worst failed severity reads every finding)."""
    worst, score, flat = resource.worst_failed_severity, (resource.impact or {}).get("score"), _flat(resource)
    return (
        {
            "ResourceArn": resource.arn,
            "ResourceType": resource.type,
            "ResourceAccount": resource.account,
            "ResourceRegion": resource.region,
            "ResourceConcrete": resource.concrete,
            "Id": finding.Id,
            "Title": finding.Title,
            "GeneratorId": finding.GeneratorId,
            "Severity": finding.severity_label,
            "Outcome": finding.outcome,
            "ResourceWorstFailedSeverity": worst,
            "ResourceImpactScore": score,
            "ComplianceStatus": finding.compliance_status,
            "WorkflowStatus": finding.workflow_status,
            "RecordState": finding.RecordState,
            "ProductName": finding.product_name,
            "AwsAccountId": finding.AwsAccountId,
            "Region": finding.Region,
            "CreatedAt": finding.CreatedAt,
            "UpdatedAt": finding.UpdatedAt,
            "Tags": resource.tags,
            **flat,
        }
        for finding in resource.findings
    )


def _flat(resource: AffectedResource) -> dict[str, Any]:
    """``tags.<key>`` and ``<section>.<name>`` columns (``metachecks.is_public``) of one resource."""
    tags = resource.effective_tags
    flat: dict[str, Any] = {f"tags.{key}": value for key, value in tags.items()}
    for section, values in resource.context().items():
        if isinstance(values, dict) and section not in ("unknown", "evidence"):
            flat.update({f"{section}.{key}": value for key, value in values.items()})
    # Beside each check's data (None, bool, text, dicts), its verdict: `== "true"` finds them all.
    flat.update({f"verdict.{name}": resource.verdict(name) for name in resource.metachecks or {}})
    return flat


def _verdict_dtype(frame: pd.DataFrame) -> pd.DataFrame:
    """Verdict columns as one categorical; a type without the check is ``n/a``, not NaN."""
    import pandas as pd

    dtype = pd.CategoricalDtype(categories=list(VERDICTS))
    for column in [c for c in frame.columns if str(c).startswith("verdict.")]:
        frame[column] = frame[column].astype(object).fillna("n/a").astype(dtype)  # a column of NaN alone is float
    return frame


def _severity_dtype(series: pd.Series) -> pd.Series:
    import pandas as pd

    ordered = list(reversed(SEVERITY_ORDER))  # INFORMATIONAL < ... < CRITICAL
    return series.astype(pd.CategoricalDtype(categories=ordered, ordered=True))


def _worst_dtype(series: pd.Series) -> pd.Series:
    """Worst failed severity, ordered: PASSED < UNRATED < INFORMATIONAL < ... < CRITICAL."""
    import pandas as pd

    ordered = ["PASSED", "UNRATED", *reversed(SEVERITY_ORDER)]
    return series.astype(pd.CategoricalDtype(categories=ordered, ordered=True))


def _finding_frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=_FINDING_COLUMNS)
    return _verdict_dtype(_typed(frame))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    frame["Severity"] = _severity_dtype(frame["Severity"])
    frame["ResourceWorstFailedSeverity"] = _worst_dtype(frame["ResourceWorstFailedSeverity"])
    for column in (
        "ResourceType",
        "ResourceAccount",
        "ResourceRegion",
        "Outcome",
        "ComplianceStatus",
        "WorkflowStatus",
        "RecordState",
        "ProductName",
        "AwsAccountId",
        "Region",
    ):
        frame[column] = frame[column].astype("category")
    for column in ("CreatedAt", "UpdatedAt"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def load(
    *sources: Source,
    only_failed: bool = False,
    only_active: bool = False,
    deadline: float | None = None,
    shard: Shard | str | None = None,
    part: str | None = None,
) -> Run:
    """Read findings from files (``.json``, ``.jsonl``, ``.gz``; ``"-"`` for stdin) or binary streams.

    Problems do not raise: they are in ``run.report.problems``, each naming its source and position.
    ``deadline`` (seconds) ends reading, a silent pipe included; what was read before it is kept.
    ``shard="K/N"`` keeps the resources that are the K-th of N parts of the input (and the findings
    on them): N runs over the same input, each written with the ``"shard"`` mode, merge (:func:`merge`)
    into what one run writes. ``part=NAME`` says that these sources are one named part of a larger
    run (one account's findings): parts merge into what one run over their sources, in the order of
    their names, writes.
    """
    if shard is not None and part is not None:
        raise ValueError("a run is a shard of its input (shard='K/N') or a named part (part=NAME), not both")
    named = None if part is None else Part(part)
    started = time.perf_counter()
    report = IngestReport()
    until = None if deadline is None else time.monotonic() + deadline
    if shard is None:
        run = Run(read_findings(sources, report, only_failed=only_failed, only_active=only_active, until=until), report)
        if named is not None:
            run.shard, run.positions = named, list(range(len(run.findings)))
    else:
        split = shard if isinstance(shard, Shard) else Shard.parse(shard)
        kept = read_part(
            sources,
            report,
            lambda f: any(split.owns(r.Id) for r in f.Resources),
            only_failed=only_failed,
            only_active=only_active,
            until=until,
        )
        run = _shard_run(kept, split, report)
    run.seconds = time.perf_counter() - started
    return run


def _shard_run(kept: list[tuple[int, Finding]], split: Shard, report: IngestReport) -> Run:
    """The run of one shard: the findings on its resources (each with its position in the whole
    input), grouped, and the resources it owns."""
    run = Run([f for _, f in kept], report)
    run.resources = {arn: r for arn, r in run.resources.items() if split.owns(arn)}
    run.shard, run.positions = split, [i for i, _ in kept]
    return run


def load_split(
    *sources: Source,
    parts: int,
    directory: str | Path,
    only_failed: bool = False,
    only_active: bool = False,
    deadline: float | None = None,
) -> Iterator[Run]:
    """The input read once, then worked through as ``parts`` shards one after another: each run is
    the shard ``load(..., shard="K/N")`` gives, from a part file spilled into ``directory`` (about
    the input's size on disk), so that memory holds one part's findings at a time. Write each
    run's ``"shard"`` mode and let it go before the next (``del run`` at the end of the loop's body:
    the loop's name holds a run while the next is read); :func:`merge` makes their shard files
    into what one run writes. Every run shares the whole input's ingest report; the first run's
    ``seconds`` count the reading of the whole input too, so that the runs' seconds add up."""
    if parts < 1:
        raise ValueError(f"parts={parts}: a run is split into one part or more")
    started = time.perf_counter()
    report = IngestReport()
    until = None if deadline is None else time.monotonic() + deadline
    paths = spill(sources, report, parts, Path(directory), only_failed=only_failed, only_active=only_active, until=until)
    for number, path in enumerate(paths, 1):
        run = _shard_run(spilled(path), Shard(number, parts), report)
        path.unlink()
        run.seconds = time.perf_counter() - started
        yield run
        del run  # before the next part is read
        started = time.perf_counter()


def write_all(
    modes: Sequence[str],
    output_dir: str | Path,
    stamp: str | None,
    label: str | None,
    write_one: Callable[[str, Path], None],
) -> tuple[list[Path], dict[str, str]]:
    """Write each mode's file with ``write_one(mode, path)``: the paths written, and why the others
    were not. Each file appears whole or not at all; names are claimed first, so that a run in the
    same second gets ``<stamp>-2``, never another run's files; a failure does not stop the others."""
    directory = Path(output_dir)
    failures: dict[str, str] = {}
    stamp = stamp or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    if label is not None:  # a customer or account in every name: metahub-short-<label>-<stamp>.json
        stamp = f"{files.label(label)}-{stamp}"
    try:
        stamp = files.claim(lambda s: [output_path(directory, m, s) for m in modes], stamp)
    except OSError as exc:  # the directory itself cannot be written: every output fails, for that
        return [], dict.fromkeys(modes, f"{type(exc).__name__}: {exc}")
    written: list[Path] = []
    try:
        for mode in modes:
            path = output_path(directory, mode, stamp)
            try:
                write_one(mode, path)
                written.append(path)
            except Exception as exc:  # one output's failure (disk full, a bug) must not cost the others
                failures[mode] = f"{type(exc).__name__}: {exc}"
                _unclaim(path)
    except BaseException:  # interrupted (Ctrl-C, SIGTERM): only whole files stay behind
        for mode in modes:
            if (path := output_path(directory, mode, stamp)) not in written:
                _unclaim(path)
        raise
    return written, failures


def merge(
    shards: Iterable[str | Path],
    modes: Iterable[str] = json_outputs.JSON_MODES,
    output_dir: str | Path = "outputs",
    stamp: str | None = None,
    *,
    label: str | None = None,
    report_title: str | None = None,
    report_customer: str | None = None,
    report_max_mb: float = LARGEST_MB,
) -> tuple[list[Path], dict[str, str]]:
    """Merge the shard files of N runs (files, or folders holding ``metahub-shard-*.jsonl``) into
    the outputs one run over the same input writes (:data:`MERGED_MODES`): the JSON ones byte for
    byte and streamed, one resource's entry at a time; CSV and SQLite streamed too, a resource
    grouped again at a time; XLSX and the HTML report (``report_title``, ``report_customer``,
    ``report_max_mb``) from the run rebuilt in memory, as one process holds it.
    Returns the paths written and why any other was not. Raises
    :class:`metahub.shards.ShardError` for files that are not one whole split."""
    modes = list(modes)
    for mode in modes:
        if mode not in MERGED_MODES:
            raise ValueError(f"{mode} cannot be merged from shards; these can: {', '.join(MERGED_MODES)}")
    merged = Merged(shard_files(shards))
    report = ReportOptions(report_title, report_customer, report_max_mb)
    return write_merged(merged, modes, output_dir, stamp, label, report)


def write_merged(
    merged: Merged, modes: Sequence[str], output_dir: str | Path, stamp: str | None, label: str | None,
    report: ReportOptions,
) -> tuple[list[Path], dict[str, str]]:
    """:func:`merge`'s writing, of shard files already read (:class:`metahub.shards.Merged`)."""
    views: dict[str, Callable[[], Any]] = {
        "json-short": lambda: json_outputs.Streamed(merged.short_entries()),
        "json-full": lambda: json_outputs.Streamed(merged.entries()),
        "json-inventory": merged.inventory,
        "json-statistics": merged.statistics,
        "json-combinations": lambda: merged.combinations,
    }
    whole: list[Run] = []

    def write_one(mode: str, path: Path) -> None:
        if mode in _STREAMED:
            json_outputs.write_json(path, views[mode]())
            return
        if mode == "sqlite":
            tabular.write_sqlite(path, restored(merged))
            return
        if mode == "csv":
            checks = tabular.rollup_columns(merged.enriched)
            tabular.write_csv(path, *tabular.streamed_rows(restored(merged), checks, merged.scored, verdicts=merged.verdicts,
                                                            muted=merged.muted, owners=merged.enriched))
            return
        if not whole:  # XLSX and the report hold the whole run anyway
            whole.append(rebuilt(merged))
        whole[0]._write_one(mode, path, (), None, (), report)

    return write_all(modes, output_dir, stamp, label, write_one)


Earlier = Run | str | Path | Mapping[str, Any]
"""A run to compare with: a run, its json-full or SQLite output, or that output read."""


def _entries(earlier: Earlier) -> Mapping[str, Any]:
    """An earlier run as json-full entries."""
    if isinstance(earlier, Run):
        return earlier.full()
    return earlier if isinstance(earlier, Mapping) else read_output(earlier)


def _name(earlier: Earlier) -> str:
    return "an earlier run" if isinstance(earlier, (Run, Mapping)) else Path(earlier).name


def from_output(path: str | Path) -> Run:
    """A run read back from its json-full or SQLite output: its findings grouped again, each
    resource's context and impact as written (its toxic combinations on the resources they start
    at; a SQLite output holds no detected owner, traits or combinations)."""
    entries = read_output(path)
    return _regrouped(lambda: (
        (arn, entry, None if entry.get("impact") is None else scored_from(entry["impact"]))
        for arn, entry in entries.items()
    ))  # fmt: skip


def rebuilt(merged: Merged) -> Run:
    """The run the shards are parts of, in memory: its findings (each once) grouped again, each
    resource's context and impact as its shard scored them, the combinations found across shards.
    What the workbook and the report are written from."""
    run = _regrouped(merged.lines)
    run.combinations, run.combination_rules = list(merged.combinations), merged.rules
    run.enrichment = merged.enrichment
    return run


def _regrouped(lines: Callable[[], Iterable[tuple[str, dict[str, Any], dict[str, Any] | None]]]) -> Run:
    """A run from resources' entries (ARN, json-full entry, impact as scored), read twice by calling
    ``lines``: its findings, each once, grouped again; then each resource's context and impact."""
    findings: dict[tuple[str | None, str], Finding] = {}
    for _, entry, _ in lines():  # a finding on two resources is in both entries
        for raw in entry["findings"]:
            key = (raw.get("ProductArn"), raw["Id"])  # as reading keeps one finding
            if key not in findings:
                findings[key] = Finding.model_validate(raw)
    run = Run(list(findings.values()))
    del findings
    for arn, entry, scored in lines():
        if arn in run.resources:
            _restore(run.resources[arn], entry, scored)
    return run


def restored(merged: Merged) -> Iterator[tuple[str, AffectedResource]]:
    """The merged run's resources one at a time, what to fix first first, each grouped again from
    its own findings with its context and impact as its shard scored them: what the CSV and SQLite
    outputs are written from, without the whole run in memory."""
    for arn, entry, scored in merged.lines():
        resource = group_by_resource(Finding.model_validate(raw) for raw in entry["findings"])[arn]
        yield arn, _restore(resource, entry, scored)


def _restore(
    resource: AffectedResource, entry: dict[str, Any], scored: dict[str, Any] | None
) -> AffectedResource:
    """A resource grouped again from a shard line, given the context and impact the line holds."""
    for name in ("metachecks", "metatags", "metatrails", "metaaccount", "detected", "traits", "combinations",
                 "muted", "aws_exposure"):
        setattr(resource, name, entry.get(name))
    resource.unknown, resource.evidence = entry.get("unknown", {}), entry.get("evidence", {})
    resource.impact = scored
    return resource


def _muted(resource: AffectedResource, weights: Any, failed: list[Finding], rules: Sequence[dict[str, Any]],
           memo: dict[Any, tuple[int, ...]]) -> dict[str, Any] | None:  # fmt: skip
    """The resource's muted failed findings, and what it would be had they not been muted: its
    impact score, computed with the traits they add (named in ``traits_with_muted``)."""
    muted = [f for f in resource.findings if f.muted and f.unmuted_outcome == "FAILED"]
    if not muted:
        return None
    fields = resource.__dict__
    without = fields["traits"]
    fields["traits"] = traits.traits(resource, rules, memo, failed + muted) or None
    try:
        score = impact(resource, weights, failed + muted)["score"]
        added = sorted(set(fields["traits"] or {}) - set(without or {}))
    finally:
        fields["traits"] = without
    return {"findings": [f.Id for f in muted], "impact_score_with_muted": score, **({"traits_with_muted": added} if added else {})}
