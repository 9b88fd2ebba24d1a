"""What a run leaves behind: the files, the ``--list-findings`` views on stdout, and on stderr
what was written, what was found and what went wrong."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from metahub.enrich import EnrichReport
from metahub.ingest import IngestReport
from metahub.json_outputs import JSON_MODES, write_json
from metahub.models import SEVERITY_ORDER
from metahub.run import SHARD_MODE, Run
from metahub.shards import Shard

DEMO_MODES = ("json-short", "json-statistics", "html")
METAHUB_MODES = ("json-short", "json-full", "json-statistics", "json-inventory", "html", "csv", "xlsx")
"""MetaHub's default ``--output-modes`` (its lib/arguments.py), offered as ``--output-modes metahub``."""
PROBLEMS_SHOWN = 20
FOUND = {
    "is_public": ("true", "public"),
    "is_encrypted": ("false", "unencrypted"),
    "is_unrestricted": ("true", "unrestricted"),
}
"""The rollups the closing line counts: the worrying verdict, and its word."""


def stdout_gone() -> None:
    """The reader of stdout left (``| head``): send the rest nowhere instead of failing at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def output_modes(args: argparse.Namespace) -> list[str]:
    """The files to write: those asked for (``metahub``: MetaHub's set), else what a newcomer wants
    to open, not 27 MB of JSON; none when only printing was asked for."""
    if args.output_modes is None:
        listing = args.list_findings is not None
        return [] if listing else list(DEMO_MODES if args.demo else JSON_MODES)
    return list(
        dict.fromkeys(
            m for mode in args.output_modes for m in (METAHUB_MODES if mode == "metahub" else (mode,))
        )
    )


def write(run: Run, args: argparse.Namespace, stamp: str, baseline: list[Path] | None = None) -> list[Path]:
    """The outputs, the --list-findings views on stdout, and what happened on stderr; the report
    opens on what changed since ``baseline`` (an earlier run's json-full output) when given. The
    paths written."""
    modes = output_modes(args) + ([SHARD_MODE] if run.shard else [])
    print_problems(run.report, args.output_dir if modes else None, stamp)
    print_views(run, args.list_findings)
    written = run.write(
        modes,
        args.output_dir,
        stamp,
        tag_columns=args.output_tag_columns,
        account_columns=args.output_account_columns,
        check_columns=args.output_config_columns,
        report_title=args.report_title,
        report_customer=args.report_customer,
        report_max_mb=args.report_max_mb,
        baseline=baseline,
    )
    note = None
    if isinstance(run.shard, Shard):
        note = (f"metahub: this run is shard {run.shard} of the input's resources; once all {run.shard.of} "
                "are written, 'metahub merge FOLDER...' makes their shard files into one run's outputs")  # fmt: skip
    elif run.shard is not None:
        note = (f"metahub: this run is part {run.shard} of a larger run; 'metahub merge FOLDER...' makes "
                "the parts' shard files into one run's outputs")  # fmt: skip
    found, summary = Found().add(run).line(run.combinations), summary_line(run.summary(), run.enrichment)
    tell(written, run.write_failures, found, summary, args, note)
    return written


def run_stamp(args: argparse.Namespace) -> str:
    """The time in every file name of a run, after ``--output-label`` (metahub-short-acme-<time>.json)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{args.output_label}-{stamp}" if args.output_label else stamp


def tell(
    written: list[Path], failures: dict[str, str], found: str, summary: str, args: argparse.Namespace,
    note: str | None = None,
) -> None:
    """On stderr: the files written, what was found, the summary, where to open the report; and
    each output that could not be written."""
    if not args.quiet:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        print(found, file=sys.stderr)
        print(summary, file=sys.stderr)
        if note:
            print(note, file=sys.stderr)
        for path in written:
            if path.suffix == ".html":
                print(
                    f"metahub: open the report in any browser (one file, works offline): {path.resolve().as_uri()}",
                    file=sys.stderr,
                )
    for mode, reason in failures.items():
        print(f"metahub: error: could not write {mode}: {reason}", file=sys.stderr)


def print_views(run: Run, views: list[str] | None) -> None:
    """``--list-findings`` (alone: full, as in MetaHub v1) as JSON on stdout."""
    try:
        for view in ["full"] if views == [] else views or []:
            json.dump(getattr(run, view)(), sys.stdout, indent=2, default=str, ensure_ascii=False)
            sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` has what it wanted; the files are still written
        stdout_gone()


@dataclass
class Found:
    """What the closing line counts: failed findings by severity and the worrying rollups, over a
    run, or added up over the parts of a split one (each resource is in one part)."""

    failed: Counter[str] = field(default_factory=Counter)
    failing: int = 0
    enriched: bool = False
    seen: bool = False
    verdicts: dict[str, Counter[str]] = field(default_factory=lambda: {name: Counter() for name in FOUND})

    def add(self, run: Run) -> Found:
        for resource in run.resources.values():
            labels = [f.severity_label or "UNRATED" for f in resource.findings if f.outcome == "FAILED"]
            self.failed.update(labels)
            self.failing += bool(labels)
        if run.enrichment is not None:
            self.enriched = True
            self.seen = self.seen or any(r.context_seen for r in run.resources.values())
            for name, counts in self.verdicts.items():
                counts.update(r.verdict(name) for r in run.resources.values())
        return self

    def line(self, combinations: list[dict[str, Any]]) -> str:
        """What was found, first."""
        order = [*SEVERITY_ORDER, "UNRATED"]
        by_severity = ", ".join(f"{self.failed[label]:,} {label.lower()}" for label in order if self.failed[label])
        line = (
            f"metahub: found {sum(self.failed.values()):,} failed findings ({by_severity or 'none'}) "
            f"on {self.failing:,} resources"
        )
        if self.enriched and not self.seen:  # never "0 public" for resources nobody saw
            line += "; no resource's context was seen: public, encrypted, unrestricted are unknown"
        elif self.enriched:
            line += "; " + ", ".join(
                f"{self.verdicts[name][worst]:,} {word}"
                + (f" ({self.verdicts[name]['unknown']:,} unknown)" if self.verdicts[name]["unknown"] else "")
                for name, (worst, word) in FOUND.items()
            )
        if combinations:
            critical = sum(1 for c in combinations if c["severity"] == "CRITICAL")
            line += f"; {len(combinations)} toxic combination(s), {critical} critical"
        return line


def print_problems(report: IngestReport, output_dir: Path | None, stamp: str) -> None:
    """What ingestion warned of and rejected: the first ones here, all of them in a file."""
    for kind, seen in report.deviations.items():
        first = seen.first
        print(
            f"metahub: warning: {seen.count} finding(s) with {kind} (first: {first.source}: {first.where})",
            file=sys.stderr,
        )
    problems = report.problems
    for problem in problems[:PROBLEMS_SHOWN]:
        print(f"metahub: {problem}", file=sys.stderr)
    if len(problems) > PROBLEMS_SHOWN:
        rest = len(problems) - PROBLEMS_SHOWN
        where = ""
        if output_dir is not None:
            path = write_json(
                output_dir / f"metahub-problems-{stamp}.json",
                [{"source": p.source, "where": p.where, "reason": p.reason} for p in problems],
            )
            where = f"; all are in {path}"
        print(f"metahub: ... and {rest} more problem(s){where}", file=sys.stderr)


def summary_line(s: dict[str, Any], enrichment: EnrichReport | None) -> str:
    """What was read and done: ``s`` is :meth:`metahub.Run.summary` (or a split run's, added up)."""
    line = (
        f"metahub: {s['sources']} source(s), {s['findings_read']} findings read, {s['rejected']} rejected, "
        f"{s['duplicates']} duplicate(s), {s['filtered_out']} filtered out, {s['findings']} findings on "
        f"{s['resources']} resources, {s['seconds']:.2f} s"
    )
    if "resources_filtered_out" in s:
        line += f"; filters dropped {s['resources_filtered_out']} resource(s)"
    if enrichment is not None:
        line += (
            f"; enriched {enrichment.enriched} resources, AWS calls: {enrichment.total_calls}, "
            f"{sum(enrichment.unknown.values())} checks unknown, {enrichment.seconds:.2f} s"
        )
    if "muted" in s:
        line += f"; {s['muted']} finding(s) muted"
    if s.get("exposure_verdicts"):
        counts = ", ".join(f"{count} {name}" for name, count in s["exposure_verdicts"].items())
        line += f"; AWS exposure verdicts against metahub's: {counts}"
    return line
