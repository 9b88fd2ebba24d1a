"""The ``metahub`` command. Flags follow the original MetaHub where it has them."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime, timezone
from importlib import resources as package_files
from pathlib import Path

from metahub import __version__
from metahub.json_outputs import JSON_MODES, write_json
from metahub.run import Run, load

log = logging.getLogger("metahub")

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
_PROBLEMS_SHOWN = 20
_LIST_VIEWS = ("short", "full", "inventory", "statistics")


def demo_findings() -> Path:
    """The bundled sample: real Prowler 5.46 ASFF output of the emulated lab account."""
    return Path(str(package_files.files("metahub") / "demo" / "prowler-lab.asff.json.gz"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metahub",
        description="Group security findings (ASFF, Prowler OCSF) by the resource they affect, and report.",
        epilog="Exit status: 0 ok, 1 some findings were rejected, 2 usage error or unreadable input.",
    )
    parser.add_argument("--version", action="version", version=f"metahub {__version__}")
    inputs = parser.add_argument_group("Inputs")
    inputs.add_argument(
        "--inputs",
        nargs="+",
        choices=["file-asff"],
        default=["file-asff"],
        help="where findings come from (default: file-asff)",
    )
    inputs.add_argument(
        "--input-asff",
        nargs="+",
        metavar="FILE",
        default=[],
        help='ASFF or Prowler OCSF files: JSON array, {"Findings": [...]}, JSON lines, '
        "EventBridge events, optionally .gz; - reads stdin",
    )
    inputs.add_argument(
        "--demo",
        action="store_true",
        help="use the bundled sample (Prowler output of the emulated lab account)",
    )
    inputs.add_argument(
        "--only-failed", action="store_true", help="keep only findings with Compliance.Status FAILED"
    )
    inputs.add_argument(
        "--only-active", action="store_true", help="keep only findings with RecordState ACTIVE"
    )
    outputs = parser.add_argument_group("Outputs")
    outputs.add_argument(
        "--list-findings",
        nargs="+",
        choices=_LIST_VIEWS,
        default=[],
        help="print these views as JSON on stdout",
    )
    outputs.add_argument(
        "--output-modes",
        nargs="*",
        choices=JSON_MODES,
        default=list(JSON_MODES),
        help="files to write (default: all JSON modes; give the flag alone to write none)",
    )
    outputs.add_argument(
        "--output-dir", default="outputs", type=Path, help="where files go (default: ./outputs)"
    )
    general = parser.add_argument_group("General")
    general.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper
    )
    general.add_argument(
        "--banners",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="print the banner on stderr (default: on)",
    )
    general.add_argument("--quiet", action="store_true", help="print nothing on stderr but errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    sources: list[str | Path] = list(args.input_asff)
    if args.demo:
        sources.append(demo_findings())
    if not sources:
        parser.print_usage(sys.stderr)
        print(
            "metahub: error: no input: give --input-asff FILE [FILE ...] (- for stdin), or --demo",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.banners and not args.quiet:
        print(f"metahub {__version__}: context for security findings", file=sys.stderr)

    run = load(*sources, only_failed=args.only_failed, only_active=args.only_active)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    _print_problems(run, args.output_dir if args.output_modes else None, stamp)

    for view in args.list_findings:
        json.dump(getattr(run, view)(), sys.stdout, indent=2, default=str, ensure_ascii=False)
        sys.stdout.write("\n")
    written = run.write(args.output_modes, args.output_dir, stamp) if args.output_modes else []
    if not args.quiet:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        print(_summary_line(run), file=sys.stderr)
    if run.report.unreadable:
        return EXIT_USAGE
    return EXIT_REJECTED if run.report.rejected else EXIT_OK


def _print_problems(run: Run, output_dir: Path | None, stamp: str) -> None:
    problems = run.report.problems
    for problem in problems[:_PROBLEMS_SHOWN]:
        print(f"metahub: {problem}", file=sys.stderr)
    if len(problems) > _PROBLEMS_SHOWN:
        rest = len(problems) - _PROBLEMS_SHOWN
        where = ""
        if output_dir is not None:
            path = write_json(
                output_dir / f"metahub-problems-{stamp}.json",
                [{"source": p.source, "where": p.where, "reason": p.reason} for p in problems],
            )
            where = f"; all are in {path}"
        print(f"metahub: ... and {rest} more problem(s){where}", file=sys.stderr)


def _summary_line(run: Run) -> str:
    s = run.summary()
    return (
        f"metahub: {s['sources']} source(s), {s['findings_read']} findings read, {s['rejected']} rejected, "
        f"{s['duplicates']} duplicate(s), {s['filtered_out']} filtered out, {s['findings']} findings on "
        f"{s['resources']} resources, {s['seconds']:.2f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
