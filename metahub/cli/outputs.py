"""What a run leaves behind: the files, the ``--list-findings`` views on stdout, and on stderr
what was written, what was found and what went wrong."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

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


def write(run: Run, args: argparse.Namespace, stamp: str) -> None:
    """The outputs, the --list-findings views on stdout, and what happened on stderr."""
    modes = output_modes(args) + ([SHARD_MODE] if run.shard else [])
    print_problems(run, args.output_dir if modes else None, stamp)
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
    )
    if not args.quiet:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        print(found_line(run), file=sys.stderr)
        print(summary_line(run), file=sys.stderr)
        if isinstance(run.shard, Shard):
            print(
                f"metahub: this run is shard {run.shard} of the input's resources; once all {run.shard.of} "
                "are written, 'metahub merge FOLDER...' makes their shard files into one run's outputs",
                file=sys.stderr,
            )
        elif run.shard is not None:
            print(
                f"metahub: this run is part {run.shard} of a larger run; 'metahub merge FOLDER...' makes "
                "the parts' shard files into one run's outputs",
                file=sys.stderr,
            )
        for path in written:
            if path.suffix == ".html":
                print(
                    f"metahub: open the report in any browser (one file, works offline): {path.resolve().as_uri()}",
                    file=sys.stderr,
                )
    for mode, reason in run.write_failures.items():
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


def found_line(run: Run) -> str:
    """What was found, first: failed findings by severity, and the worrying rollups."""
    failed = Counter(
        f.severity_label or "UNRATED"
        for r in run.resources.values()
        for f in r.findings
        if f.outcome == "FAILED"
    )
    order = [*SEVERITY_ORDER, "UNRATED"]
    by_severity = ", ".join(f"{failed[label]:,} {label.lower()}" for label in order if failed[label])
    failing = sum(1 for r in run.resources.values() if any(f.outcome == "FAILED" for f in r.findings))
    line = f"metahub: found {sum(failed.values()):,} failed findings ({by_severity or 'none'}) on {failing:,} resources"
    if run.enrichment is not None:
        resources = run.resources.values()
        if not any(r.context_seen for r in resources):  # never "0 public" for resources nobody saw
            line += "; no resource's context was seen: public, encrypted, unrestricted are unknown"
        else:
            verdicts = {name: Counter(r.verdict(name) for r in resources) for name in FOUND}
            line += "; " + ", ".join(
                f"{verdicts[name][worst]:,} {word}"
                + (f" ({verdicts[name]['unknown']:,} unknown)" if verdicts[name]["unknown"] else "")
                for name, (worst, word) in FOUND.items()
            )
    if run.combinations:
        critical = sum(1 for c in run.combinations if c["severity"] == "CRITICAL")
        line += f"; {len(run.combinations)} toxic combination(s), {critical} critical"
    return line


def print_problems(run: Run, output_dir: Path | None, stamp: str) -> None:
    """What ingestion warned of and rejected: the first ones here, all of them in a file."""
    for kind, seen in run.report.deviations.items():
        first = seen.first
        print(
            f"metahub: warning: {seen.count} finding(s) with {kind} (first: {first.source}: {first.where})",
            file=sys.stderr,
        )
    problems = run.report.problems
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


def summary_line(run: Run) -> str:
    s = run.summary()
    line = (
        f"metahub: {s['sources']} source(s), {s['findings_read']} findings read, {s['rejected']} rejected, "
        f"{s['duplicates']} duplicate(s), {s['filtered_out']} filtered out, {s['findings']} findings on "
        f"{s['resources']} resources, {s['seconds']:.2f} s"
    )
    if run.filtered is not None:
        line += f"; filters dropped {run.filtered} resource(s)"
    if run.enrichment is not None:
        report = run.enrichment
        line += (
            f"; enriched {report.enriched} resources, AWS calls: {report.total_calls}, "
            f"{sum(report.unknown.values())} checks unknown, {report.seconds:.2f} s"
        )
    return line
