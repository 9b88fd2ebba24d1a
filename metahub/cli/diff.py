"""``metahub diff OLD NEW``: what changed between two runs' json-full or SQLite outputs, per resource (new and
fixed findings, rollups that changed with both sides' evidence, resources that appeared or
disappeared, impact), as JSON and CSV; ``--fail-on`` makes it a gate in CI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metahub.cli.exits import EXIT_OK, EXIT_OUTPUT, EXIT_REJECTED, UsageError
from metahub.cli.outputs import run_stamp
from metahub.cli.parsing import Group, Parser, build, flag, output_dir, output_label
from metahub.diff import DIFF_MODES, DiffError, diff, read_output, write
from metahub.run import from_output

FAIL_ON = ("regression", "new", "any")

FLAGS = (
    Group(
        "Diff",
        (
            flag("old", type=Path, help="the earlier run's json-full or SQLite output (metahub-full-*.json, *.sqlite)"),
            flag("new", type=Path, help="the later run's json-full or SQLite output"),
            flag("--output-modes", nargs="*", choices=DIFF_MODES, default=list(DIFF_MODES),
                 help="files to write: json (every change, with both sides' evidence), csv (a row per "
                 "change), html (NEW's report, opening on what changed); default all, the flag alone none"),
            output_dir(),
            output_label("metahub-diff-LABEL-<time>.json"),
            flag("--fail-on", choices=FAIL_ON, metavar="WHAT",
                 help="exit 1 when there is a regression (a resource became public or unrestricted, or "
                 "lost encryption), a new failing finding (new), or any change (any)"),
            flag("--quiet", action="store_true", help="print nothing on stderr but errors"),
        ),
    ),
)  # fmt: skip


def parser() -> Parser:
    return build("metahub diff", "What changed between two runs' json-full or SQLite outputs.", FLAGS)


def run(args: argparse.Namespace) -> int:
    try:
        changes = diff(read_output(args.old), read_output(args.new), (str(args.old), str(args.new)))
    except DiffError as exc:
        raise UsageError(str(exc)) from exc
    stamp = run_stamp(args)
    try:
        written = write(changes, args.output_modes, args.output_dir, stamp)
        if "html" in args.output_modes:  # the later run's report, opening on what changed
            report = args.output_dir / f"metahub-diff-{stamp}.html"
            written.append(from_output(args.new).to_html(report, baseline=args.old))
    except OSError as exc:
        print(f"metahub: error: could not write the diff: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_OUTPUT
    counts = changes["summary"]
    if not args.quiet:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        print(
            f"metahub: {counts['changed']:,} resources changed, {counts['appeared']:,} appeared, "
            f"{counts['disappeared']:,} disappeared ({counts['unchanged']:,} unchanged); findings "
            f"{counts['findings_new']:,} new, {counts['findings_fixed']:,} fixed, "
            f"{counts['findings_still_failing']:,} still failing; {counts['regressions']:,} regressions, "
            f"{counts['improvements']:,} improvements",
            file=sys.stderr,
        )
    failing = {
        "regression": counts["regressions"] > 0,
        "new": counts["findings_new"] > 0,
        "any": bool(changes["resources"]),
    }
    return EXIT_REJECTED if args.fail_on and failing[args.fail_on] else EXIT_OK
