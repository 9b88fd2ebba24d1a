"""``metahub merge SHARD...``: the shard files of N runs made with ``--shard K/N`` (each a file, or
a folder holding them) into the outputs one run over the same input writes (the JSON ones byte for
byte); or those of runs made with ``--part NAME``, into what one run over their inputs writes."""

from __future__ import annotations

import argparse
import sys

from metahub.cli.exits import EXIT_OK, EXIT_OUTPUT, UsageError
from metahub.cli.parsing import Group, Parser, bounded, build, flag, output_dir, output_label
from metahub.html_report import LARGEST_MB
from metahub.json_outputs import JSON_MODES
from metahub.run import MERGED_MODES, merge
from metahub.shards import ShardError, shard_files

FLAGS = (
    Group(
        "Merge",
        (
            flag("shards", nargs="+", metavar="SHARD",
                 help="shard files (metahub-shard-*.jsonl), or folders holding them: one of each K of the "
                 "split, or the named parts"),
            flag("--output-modes", nargs="+", choices=MERGED_MODES, default=list(JSON_MODES),
                 help="files to write (default: json-short, json-full, json-inventory, json-statistics); "
                 "the JSON ones, CSV and SQLite stream; XLSX and the html report hold the merged run in memory"),
            output_dir(),
            output_label("metahub-short-LABEL-<time>.json"),
            flag("--report-title", metavar="TEXT", help="the HTML report's title (default: named after the accounts)"),
            flag("--report-customer", metavar="TEXT", help="who the HTML report is for, on its summary page"),
            flag("--report-max-mb", type=bounded(float, 1, 100_000), default=LARGEST_MB, metavar="MB",
                 help="the HTML report's largest size: above, the resources ranked first that fit "
                 f"(default {LARGEST_MB:g})"),
            flag("--quiet", action="store_true", help="print nothing on stderr but errors"),
        ),
    ),
)  # fmt: skip


def parser() -> Parser:
    return build(
        "metahub merge",
        "Merge the shard files of runs made with --shard K/N (or --part NAME) into one run's outputs.",
        FLAGS,
    )


def run(args: argparse.Namespace) -> int:
    try:
        shards = shard_files(args.shards)
        written, failures = merge(
            shards, args.output_modes, args.output_dir, label=args.output_label,
            report_title=args.report_title, report_customer=args.report_customer,
            report_max_mb=args.report_max_mb,
        )  # fmt: skip
    except ShardError as exc:
        raise UsageError(str(exc)) from exc
    if not args.quiet:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        print(f"metahub: merged {len(shards)} shard files into {len(written)} output(s)", file=sys.stderr)
    for mode, reason in failures.items():
        print(f"metahub: error: could not write {mode}: {reason}", file=sys.stderr)
    return EXIT_OUTPUT if failures else EXIT_OK
