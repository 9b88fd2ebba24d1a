"""The ``metahub`` command. Flags follow the original MetaHub where it has them."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError

from metahub.actions import parse_update
from metahub.aws import (
    Aws,
    ConfigurationError,
    CredentialsError,
    RoleSettings,
    assume_role_problem,
    check_region,
)
from metahub.combinations import load_rules as load_combination_rules
from metahub.demo import demo_findings, emulated_account, missing_dependency
from metahub.detection import load_rules
from metahub.enrich import CONTEXTS, load_trail_events
from metahub.files import label
from metahub.filters import FilterError, Filters
from metahub.impact import load_config as load_impact_config
from metahub.ingest import Source
from metahub.json_outputs import JSON_MODES, write_json
from metahub.logs import configure as configure_logging
from metahub.models import SEVERITY_ORDER, AffectedResource, unknown_kind
from metahub.run import OUTPUT_MODES, ContextUnreachable, ContextWarning, Run, load
from metahub.securityhub import (
    DEFAULT_FILTERS,
    SecurityHubError,
    SecurityHubSource,
    clients,
    load_template,
    parse_filters,
)
from metahub.traits import load_rules as load_trait_rules
from metahub.version import __version__

log = logging.getLogger("metahub")

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_ACTIONS, EXIT_OUTPUT, EXIT_NO_CONTEXT = 0, 1, 2, 3, 4, 5
EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h): a bug in metahub, never a verdict on the input
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
"""0 all done; 1 some findings were rejected (the rest went through); 2 usage or unreadable input;
3 not every Security Hub update took; 4 an output could not be written (the others were); 5 context
was asked for and AWS answered no call (every check unknown; the outputs are written and say so)."""
_KINDS_SHOWN = 8
_DEMO_MODES = ("json-short", "json-statistics", "html")
_PROBLEMS_SHOWN = 20
_LIST_VIEWS = ("short", "full", "inventory", "statistics")
_FOUND = {
    "is_public": ("true", "public"),
    "is_encrypted": ("false", "unencrypted"),
    "is_unrestricted": ("true", "unrestricted"),
}
"""The rollups the closing line counts: the worrying verdict, and its word."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a short answer to a mistyped flag: the closest flags, not a 27-line usage."""

    def error(self, message: str) -> NoReturn:
        unknown = re.findall(r"(?<![\w-])(--?[\w-]+)", message) if "unrecognized arguments" in message else []
        flags = [o for action in self._actions for o in action.option_strings if o.startswith("--")]
        hints = []
        for flag in unknown:
            close = difflib.get_close_matches(flag.split("=")[0], flags, n=3, cutoff=0.6)
            if close:
                hints.append(f"{flag}: did you mean {' or '.join(close)}?")
        lines = [f"{self.prog}: error: {message}", *(f"{self.prog}: {hint}" for hint in hints)]
        lines.append(f"{self.prog}: see '{self.prog} --help' for every flag")
        self.exit(EXIT_USAGE, "\n".join(lines) + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="metahub",
        description="Group security findings (ASFF, Prowler OCSF) by the resource they affect, and report.",
        epilog="Exit status: 0 ok, 1 some findings were rejected, 2 usage error, missing credentials or "
        "unreadable input, 3 Security Hub did not take every update, 4 an output could not be written, "
        "5 context reached no AWS account, 70 internal error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"metahub {__version__}")
    _input_flags(parser)
    _hub_flags(parser)
    _context_flags(parser)
    _filter_flags(parser)
    _output_flags(parser)
    _general_flags(parser)
    return parser


def _input_flags(parser: argparse.ArgumentParser) -> None:
    """Where findings come from."""
    inputs = parser.add_argument_group("Inputs")
    inputs.add_argument(
        "--inputs",
        nargs="+",
        choices=["file-asff", "securityhub"],
        help="where findings come from, one or both (default: file-asff with --input-asff or --demo, "
        "else securityhub, as in MetaHub)",
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


def _hub_flags(parser: argparse.ArgumentParser) -> None:
    """Reading from and writing back to Security Hub."""
    hub = parser.add_argument_group("Security Hub", "reading with --inputs securityhub, and writing back")
    hub.add_argument(
        "--sh-filters",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="GetFindings filters, typed by kind: SeverityLabel=HIGH (a key repeated means any), "
        "SeverityNormalized=40..100, UpdatedAt=7d or 2026-01-01..2026-02-01, ResourceTags=Env=prod "
        "(default when no filter or template: RecordState=ACTIVE WorkflowStatus=NEW)",
    )
    hub.add_argument(
        "--sh-template",
        type=Path,
        metavar="FILE",
        help="GetFindings filters as the API takes them (YAML or JSON), any comparison",
    )
    hub.add_argument("--sh-region", metavar="REGION", help="Security Hub region (default: the profile's)")
    hub.add_argument("--sh-account", metavar="ACCOUNT", help="Security Hub account (default: the caller's)")
    hub.add_argument("--sh-assume-role", metavar="ROLE_NAME", help="role to assume in --sh-account")
    hub.add_argument(
        "--sh-external-id", type=_sts_parameter("ExternalId"), metavar="ID", help="external ID for --sh-assume-role"
    )
    hub.add_argument("--sh-profile", metavar="PROFILE", help="AWS profile for Security Hub")
    hub.add_argument(
        "--update-findings",
        nargs="+",
        default=[],
        metavar="FIELD=VALUE",
        help='on every finding of the result: Workflow=NOTIFIED Note="text" Severity=LOW '
        "VerificationState=FALSE_POSITIVE Confidence=N Criticality=N",
    )
    hub.add_argument(
        "--enrich-findings",
        action="store_true",
        help="write the context into each finding's UserDefinedFields (implies --context config)",
    )
    hub.add_argument(
        "--actions-confirmation",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ask before writing to Security Hub (default); --no-actions-confirmation writes without asking",
    )
    hub.add_argument(
        "--dry-run", action="store_true", help="show and save what would be written; write nothing"
    )


def _context_flags(parser: argparse.ArgumentParser) -> None:
    """What is fetched from the accounts, and how."""
    context = parser.add_argument_group("Context")
    context.add_argument(
        "--context",
        nargs="*",
        choices=list(CONTEXTS),
        default=[],
        help="enrich resources from their accounts: config = MetaChecks, tags = MetaTags, "
        "account = alias, organization, contacts, cloudtrail = MetaTrails (MetaHub v2 flag); "
        "access-analyzer = its findings beside metahub's verdicts; access-analyzer-checks = its "
        "policy checks of each distinct policy (billed per call: counted and confirmed first)",
    )
    context.add_argument(
        "--meta-checks", action="store_true", help="same as --context config (MetaHub v1 flag)"
    )
    context.add_argument("--meta-tags", action="store_true", help="same as --context tags (MetaHub v1 flag)")
    context.add_argument(
        "--meta-account", action="store_true", help="same as --context account (MetaHub v1 flag)"
    )
    context.add_argument(
        "--meta-trails", action="store_true", help="same as --context cloudtrail (MetaHub v1 flag)"
    )
    context.add_argument(
        "--trail-events",
        type=Path,
        metavar="FILE",
        help="CloudTrail event names per resource type (default: metahub/config/trails.json)",
    )
    context.add_argument(
        "--trail-lookback-days",
        type=_bounded(int, 1, 90),
        default=90,
        metavar="N",
        help="CloudTrail window in days, 1-90: LookupEvents keeps 90 days (default: 90)",
    )
    context.add_argument(
        "--detection-rules",
        type=Path,
        metavar="FILE",
        help="environment/owner/application rules (default: metahub/config/detection.json)",
    )
    context.add_argument(
        "--mh-assume-role",
        metavar="ROLE_NAME",
        help="assume this role in each affected account (arn:...:iam::<account>:role/ROLE_NAME)",
    )
    context.add_argument(
        "--mh-external-id", type=_sts_parameter("ExternalId"), metavar="ID", help="external ID for --mh-assume-role"
    )
    context.add_argument(
        "--mh-role-session-name", type=_sts_parameter("RoleSessionName"), default="metahub", metavar="NAME"
    )
    context.add_argument("--mh-profile", metavar="PROFILE", help="AWS profile for the starting credentials")
    context.add_argument(
        "--checks-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="also load MetaChecks from the *.py files in DIR (repeatable)",
    )
    context.add_argument(
        "--max-workers",
        type=_bounded(int, 1, 256),
        default=16,
        help="parallel AWS requests, 1-256 (default: 16)",
    )
    context.add_argument(
        "--deadline",
        type=_bounded(float, 1, 7 * 86400),
        metavar="SECONDS",
        help="stop calling AWS for context this long after the run starts; what was not fetched is "
        "unknown, saying so",
    )
    context.add_argument(
        "--read-timeout",
        type=_bounded(float, 1, 3600),
        default=30,
        metavar="SECONDS",
        help="how long one AWS response may take before the call is retried or given up (default: 30)",
    )
    context.add_argument(
        "--list-meta-checks",
        "--list-metachecks",
        action="store_true",
        help="list the MetaChecks per resource type and exit",
    )
    context.add_argument(
        "--json",
        action="store_true",
        help="with --list-meta-checks: as JSON (type -> check -> doc, needs, module)",
    )


def _filter_flags(parser: argparse.ArgumentParser) -> None:
    """Which findings and resources are kept."""
    filters = parser.add_argument_group(
        "Filters", "all given must pass; finding filters apply before anything is fetched"
    )
    filters.add_argument(
        "--mh-filters-checks",
        "--mh-filters-config",
        nargs="+",
        default=[],
        metavar="CHECK=True|False",
        help="keep resources whose checks match (True: true or with data; False: false or empty); "
        "implies --context config",
    )
    filters.add_argument(
        "--mh-filters-tags",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="keep resources with at least one of these tags (all of them with --mh-filters-tags-all)",
    )
    filters.add_argument("--mh-filters-tags-all", action="store_true", help="every tag pair must match")
    filters.add_argument(
        "--mh-filters-impact",
        nargs="+",
        default=[],
        metavar="PROPERTY=VALUE|score>=N",
        help="keep resources by impact (MetaHub's): exposure=effectively-public access=unrestricted "
        "score>=70 (=, >=, <=, >, < for the score); properties imply --context config",
    )
    filters.add_argument(
        "--combination-rules",
        nargs="+",
        default=[],
        metavar="FILE",
        help="toxic-combination rules of your own, beside the built-in ones (metahub/config/combinations.json)",
    )
    filters.add_argument(
        "--trait-rules",
        nargs="+",
        default=[],
        metavar="FILE",
        help="rules of your own mapping findings to traits, beside metahub/config/traits.json",
    )
    filters.add_argument(
        "--impact-config",
        metavar="FILE",
        help="impact weights, an impact.yaml of MetaHub's shape (default: metahub/config/impact.yaml)",
    )
    filters.add_argument(
        "--mh-filters-findings",
        nargs="+",
        default=[],
        metavar="FIELD=VALUE[,VALUE]",
        help="keep findings by severity, compliance, workflow, record_state, resource_type, account, "
        "region, title (contains), generator (contains)",
    )
    filters.add_argument(
        "--query",
        metavar="JMESPATH",
        help="keep resources whose json-short document (with 'arn') makes this JMESPath truthy; "
        "implies --context config",
    )


def _output_flags(parser: argparse.ArgumentParser) -> None:
    """What is written, and where."""
    outputs = parser.add_argument_group("Outputs")
    outputs.add_argument(
        "--list-findings",
        nargs="*",
        choices=_LIST_VIEWS,
        default=None,
        help="print these views as JSON on stdout (alone, as in MetaHub v1: full)",
    )
    outputs.add_argument(
        "--output-modes",
        nargs="*",
        choices=[*OUTPUT_MODES, "metahub"],
        default=None,
        help="files to write (default: all JSON modes; with --demo, json-short, json-statistics and html; "
        "with --list-findings, none; 'metahub': MetaHub's default set, the JSON modes, html, csv and xlsx; "
        "give the flag alone to write none)",
    )
    outputs.add_argument(
        "--output-tag-columns", nargs="+", default=[], metavar="TAG", help="CSV/XLSX: a column per tag"
    )
    outputs.add_argument(
        "--output-account-columns",
        nargs="+",
        default=[],
        metavar="KEY",
        help="CSV/XLSX: a column per account key (AccountId, Alias, Organization; needs --context account)",
    )
    outputs.add_argument(
        "--output-config-columns",
        nargs="+",
        default=None,
        metavar="CHECK",
        help="CSV/XLSX: a column per MetaCheck (default: the four rollups, when enriched)",
    )
    outputs.add_argument(
        "--output-dir", default="outputs", type=Path, help="where files go (default: ./outputs)"
    )
    outputs.add_argument(
        "--output-label",
        type=_label,
        metavar="LABEL",
        help="a customer or account name in every file name (metahub-short-LABEL-<time>.json)",
    )
    outputs.add_argument(
        "--report-title", metavar="TEXT", help="HTML: the report's title (default: named after the account)"
    )
    outputs.add_argument("--report-customer", metavar="TEXT", help="HTML: who the report is for")


def _general_flags(parser: argparse.ArgumentParser) -> None:
    """Logging, banner, quiet."""
    general = parser.add_argument_group("General")
    general.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper
    )
    general.add_argument(
        "--log-wire",
        action="store_true",
        help="also log AWS requests and responses (botocore, urllib3), credentials masked",
    )
    general.add_argument("--log-file", type=Path, metavar="FILE", help="write the log to FILE too")
    general.add_argument(
        "--banners",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="print the banner on stderr (default: on)",
    )
    general.add_argument("--quiet", action="store_true", help="print nothing on stderr but errors")


def _bounded(kind: type[int] | type[float], low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number within [low, high], or a one-line error naming the range."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a{'n integer' if kind is int else ' number'}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low:g} and {high:g}")
        return value

    return parse


def _sts_parameter(member: str) -> Callable[[str], str]:
    """An argparse type: a value AssumeRole takes as ``member``, so that ``--mh-external-id X`` is
    refused before the run, not once per account after reading."""

    def parse(text: str) -> str:
        if problem := assume_role_problem(member, text):
            raise argparse.ArgumentTypeError(problem)
        return text

    return parse


def _label(text: str) -> str:
    try:
        return label(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _UsageError(Exception):
    """A problem with the command line or a file it names, found before anything is fetched."""

    def __init__(self, message: str, *, show_usage: bool = False) -> None:
        super().__init__(message)
        self.show_usage = show_usage


def main(argv: list[str] | None = None) -> int:
    """The command line. Its exit status always means what the README says: an interrupted run
    is 130, and anything unexpected is 70 with one line, never 1 ("some findings were rejected")."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("\nmetahub: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _stdout_gone()
        return EXIT_OK
    except Exception as exc:
        logging.getLogger("metahub").debug("internal error", exc_info=True)
        print(
            f"metahub: internal error, please report it (with --log-level DEBUG for the details): "
            f"{type(exc).__name__}: {str(exc)[:300]}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _stdout_gone() -> None:
    """The reader of stdout left (``| head``): send the rest nowhere instead of failing at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _main(argv: list[str] | None) -> int:
    """read -> enrich -> filter -> write -> act: the library's own steps, driven by flags."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, wire=args.log_wire, log_file=args.log_file)
    try:
        if _load_checks(args):
            return EXIT_OK
        _resolve_inputs(args)
        hub = _connect(args)
        sources = _sources(args, hub)
        filters = _filters(args)
        contexts = _contexts(args, filters)
        aws = _context_aws(args) if contexts else None
        rules, trail_events = _load_config_files(args)
    except _UsageError as exc:  # the reason first, and one line to go on with
        print(f"metahub: error: {exc}", file=sys.stderr)
        if exc.show_usage:
            print("metahub: see 'metahub --help' for every flag", file=sys.stderr)
        return EXIT_USAGE

    run = load(*sources, only_failed=args.only_failed, only_active=args.only_active)
    if filters:
        run = run.apply(filters, before_enrichment=True)
    reached = _enrich_or_score(run, args, contexts, aws, rules, trail_events)
    if filters:
        try:
            unfiltered, run = run, run.apply(filters)
        except FilterError as exc:  # a --query naming fields no resource has: nothing is written
            print(f"metahub: error: {exc}; nothing was written", file=sys.stderr)
            return EXIT_USAGE
        if filters.tags and not run.resources and not args.quiet:
            for hint in filters.tag_hints(unfiltered.resources.values()):
                print(f"metahub: {hint}", file=sys.stderr)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    if args.output_label:  # every file of the run: metahub-short-acme-<time>.json, the problems, the actions
        stamp = f"{args.output_label}-{stamp}"
    _write(run, args, stamp)
    if hub is not None and hub.actions:
        status = _act(run, hub, args, stamp)
        if status != EXIT_OK:
            return status
    if run.report.unreadable:
        return EXIT_USAGE
    if not reached:
        return EXIT_NO_CONTEXT
    if run.write_failures:
        return EXIT_OUTPUT
    return EXIT_REJECTED if run.report.rejected else EXIT_OK


def _load_checks(args: argparse.Namespace) -> bool:
    """Third-party checks; True when the run was only to list the MetaChecks."""
    if args.checks_dir or args.list_meta_checks:
        from metahub.checks.base import load_plugins

        try:
            load_plugins(args.checks_dir)
        except (ImportError, SyntaxError, OSError) as exc:
            raise _UsageError(f"cannot load checks: {exc}") from exc
    if args.json and not args.list_meta_checks:
        raise _UsageError("--json goes with --list-meta-checks", show_usage=True)
    if args.list_meta_checks:
        _list_meta_checks(as_json=args.json)
    return bool(args.list_meta_checks)


def _resolve_inputs(args: argparse.Namespace) -> None:
    """MetaHub's habit: without files, findings come from Security Hub (its default filters, or the
    Security Hub filters given). Next to an input of files only, Security Hub filters would be
    silently ignored, so they are refused instead."""
    selecting = [
        flag
        for flag, value in (("--sh-filters", args.sh_filters), ("--sh-template", args.sh_template))
        if value
    ]
    if args.inputs is None:
        from_files = args.input_asff or args.demo
        args.inputs = ["file-asff"] if from_files else ["securityhub"]
    if selecting and "securityhub" not in args.inputs:
        raise _UsageError(
            f"{' and '.join(selecting)} select findings in Security Hub, but the input is files only: "
            "add --inputs file-asff securityhub to read both",
            show_usage=True,
        )


def _connect(args: argparse.Namespace) -> _Hub | None:
    if not _uses_security_hub(args):
        return None
    try:
        return _Hub(args)
    except (SecurityHubError, BotoCoreError) as exc:
        raise _UsageError(str(exc)) from exc


def _sources(args: argparse.Namespace, hub: _Hub | None) -> list[Source]:
    sources: list[Source] = list(args.input_asff)
    if args.demo:
        sources.append(demo_findings())
    if "securityhub" in args.inputs and hub is not None:
        sources.append(hub.source(not args.quiet))
    problem = _input_problem(args, sources)
    if problem:
        raise _UsageError(problem, show_usage=True)
    if args.banners and not args.quiet:
        print(f"metahub {__version__}: context for security findings", file=sys.stderr)
    return sources


def _filters(args: argparse.Namespace) -> Filters:
    try:
        filters = Filters.parse(
            args.mh_filters_checks,
            args.mh_filters_tags,
            args.mh_filters_findings,
            tags_all=args.mh_filters_tags_all,
            query=args.query,
            impact=args.mh_filters_impact,
        )
        if args.output_config_columns:
            Filters.parse([f"{name}=True" for name in args.output_config_columns])
    except FilterError as exc:
        raise _UsageError(str(exc)) from exc
    return filters


def _load_config_files(
    args: argparse.Namespace,
) -> tuple[dict[str, Any] | None, dict[str, list[str]] | None]:
    """Every rules file is read before anything is fetched, so a bad one costs nothing."""
    try:
        rules = load_rules(args.detection_rules) if args.detection_rules else None
        trail_events = load_trail_events(args.trail_events) if args.trail_events else None
        load_impact_config(args.impact_config)
        load_combination_rules(args.combination_rules)
        load_trait_rules(args.trait_rules)
    except (OSError, ValueError) as exc:
        raise _UsageError(str(exc)) from exc
    return rules, trail_events


def _contexts(args: argparse.Namespace, filters: Filters) -> set[str]:
    """The contexts to fetch: those asked for, plus those the filters and the flags imply."""
    contexts = set(args.context)
    wants_config = args.meta_checks or filters.needs_context or (args.demo and not contexts)
    contexts |= {"config"} if wants_config or (args.enrich_findings and not contexts) else set()
    contexts |= {"tags"} if args.meta_tags else set()
    contexts |= {"account"} if args.meta_account or args.output_account_columns else set()
    contexts |= {"cloudtrail"} if args.meta_trails else set()
    return contexts


def _enrich_or_score(
    run: Run,
    args: argparse.Namespace,
    contexts: set[str],
    aws: Aws | None,
    rules: dict[str, Any] | None,
    trail_events: dict[str, list[str]] | None,
) -> bool:
    """Enrich when context was asked for, else score from the findings; False when enrichment
    reached no account."""
    if aws is None or not contexts:
        run.score_impact(args.impact_config, args.trait_rules)  # from the findings alone
        return True
    with ExitStack() as stack:
        if args.demo:
            if not args.quiet:
                print("metahub: starting the emulated demo account ...", file=sys.stderr)
            stack.enter_context(emulated_account(progress=not args.quiet))
        return _enrich(run, args, aws, contexts, rules, trail_events)


def _write(run: Run, args: argparse.Namespace, stamp: str) -> None:
    """The outputs, the --list-findings views on stdout, and what happened on stderr."""
    if args.output_modes is None:  # what a newcomer wants to open, not 27 MB of JSON
        listing = args.list_findings is not None  # printing was asked for, not files
        args.output_modes = [] if listing else list(_DEMO_MODES if args.demo else JSON_MODES)
    if "metahub" in args.output_modes:
        args.output_modes = list(dict.fromkeys(m for mode in args.output_modes for m in _modes(mode)))
    _print_problems(run, args.output_dir if args.output_modes else None, stamp)
    try:
        for view in ["full"] if args.list_findings == [] else args.list_findings or []:
            json.dump(getattr(run, view)(), sys.stdout, indent=2, default=str, ensure_ascii=False)
            sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` has what it wanted; the files are still written
        _stdout_gone()
    written = run.write(
        args.output_modes,
        args.output_dir,
        stamp,
        tag_columns=args.output_tag_columns,
        account_columns=args.output_account_columns,
        check_columns=args.output_config_columns,
        report_title=args.report_title,
        report_customer=args.report_customer,
    )
    if not args.quiet:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        print(_found_line(run), file=sys.stderr)
        print(_summary_line(run), file=sys.stderr)
        for path in written:
            if path.suffix == ".html":
                print(
                    f"metahub: open the report in any browser (one file, works offline): {path.resolve().as_uri()}",
                    file=sys.stderr,
                )
    for mode, reason in run.write_failures.items():
        print(f"metahub: error: could not write {mode}: {reason}", file=sys.stderr)


METAHUB_MODES = ("json-short", "json-full", "json-statistics", "json-inventory", "html", "csv", "xlsx")
"""MetaHub's default ``--output-modes`` (its lib/arguments.py), offered as ``--output-modes metahub``."""


def _modes(mode: str) -> tuple[str, ...]:
    return METAHUB_MODES if mode == "metahub" else (mode,)


def _uses_security_hub(args: argparse.Namespace) -> bool:
    return "securityhub" in args.inputs or bool(args.update_findings) or args.enrich_findings


def _input_problem(args: argparse.Namespace, sources: list[Source]) -> str | None:
    if args.input_asff and "file-asff" not in args.inputs:
        return "--input-asff needs file-asff among --inputs"
    if args.demo and (args.update_findings or args.enrich_findings) and not args.dry_run:
        return "the demo's findings are in no Security Hub: add --dry-run to see what would be written"
    if not sources:
        return "no input: give --input-asff FILE [FILE ...] (- for stdin), --inputs securityhub, or --demo"
    return None


class _Hub:
    """The Security Hub side of a command line: where, with which credentials, what to write."""

    def __init__(self, args: argparse.Namespace) -> None:
        role = RoleSettings(args.sh_assume_role, args.sh_external_id) if args.sh_assume_role else None
        if role and not args.sh_account:
            raise SecurityHubError("--sh-assume-role needs --sh-account")
        try:
            self.aws = Aws(
                role=role,
                profile=args.sh_profile,
                max_workers=args.max_workers,
                read_timeout=args.read_timeout,
            )
            if not args.demo:  # the demo reads no Security Hub and never writes to one
                if args.sh_region:
                    check_region(args.sh_region, "--sh-region")
                else:
                    self.aws.check_region()
                self.aws.check_credentials()
        except ConfigurationError as exc:
            files = "" if args.input_asff else "; or read files: --input-asff FILE ... (or --demo)"
            raise SecurityHubError(f"Security Hub: {exc}{files}") from exc
        self.account = args.sh_account
        self.region = args.sh_region
        self.update = parse_update(args.update_findings) if args.update_findings else None
        self.enrich = bool(args.enrich_findings)
        self.filters: dict[str, list[dict[str, Any]]] = {}
        if "securityhub" in args.inputs:
            self.region = self.region or self.aws.region
            if not self.region:
                raise SecurityHubError("no region for Security Hub: give --sh-region")
            if args.sh_template:
                self.filters = load_template(args.sh_template)
            pairs = args.sh_filters or ([] if args.sh_template else list(DEFAULT_FILTERS))
            for name, values in parse_filters(pairs).items():
                self.filters.setdefault(name, []).extend(values)

    @property
    def actions(self) -> bool:
        return self.update is not None or self.enrich

    def source(self, progress: bool) -> SecurityHubSource:
        assert self.region is not None
        return SecurityHubSource(self.aws, self.region, self.filters, account=self.account, progress=progress)


def _act(run: Run, hub: _Hub, args: argparse.Namespace, stamp: str) -> int:
    """Plan the writes, show them, ask, write; 3 when Security Hub did not take them all."""
    from metahub.actions import apply, plan_actions

    plans = plan_actions(run.resources, update=hub.update, enrich=hub.enrich, region=args.sh_region)
    for plan in plans:
        print(f"metahub: {plan.describe()}", file=sys.stderr)
        for skipped in plan.skipped[:_PROBLEMS_SHOWN]:
            print(f"metahub: cannot write {skipped['Id']}: {skipped['reason']}", file=sys.stderr)
    record: dict[str, Any] = {"dry_run": args.dry_run, "plans": [p.to_dict() for p in plans]}
    if args.dry_run:
        path = write_json(args.output_dir / f"metahub-actions-plan-{stamp}.json", record)
        print(
            f"metahub: dry run, nothing written to Security Hub; the requests are in {path}", file=sys.stderr
        )
        return EXIT_OK
    if not any(plan.batches for plan in plans):
        return EXIT_ACTIONS if any(plan.skipped for plan in plans) else EXIT_OK
    if args.actions_confirmation and not _confirmed():
        print("metahub: nothing written to Security Hub", file=sys.stderr)
        return EXIT_USAGE
    results = [
        apply(plan, clients(hub.aws, hub.account), max_workers=4, progress=not args.quiet) for plan in plans
    ]
    record["results"] = [r.to_dict() for r in results]
    path = write_json(args.output_dir / f"metahub-actions-{stamp}.json", record)
    for result in results:
        print(
            f"metahub: {result.action}: {result.processed} finding(s) updated, "
            f"{len(result.unprocessed)} not, in {result.calls} call(s); details in {path}",
            file=sys.stderr,
        )
        reasons = Counter(f"{item['ErrorCode']}: {item['ErrorMessage']}" for item in result.unprocessed)
        for reason, count in reasons.most_common(_PROBLEMS_SHOWN):
            print(f"metahub: not updated x{count}: {reason}", file=sys.stderr)
    failed = any(r.unprocessed for r in results) or any(p.skipped for p in plans)
    return EXIT_ACTIONS if failed else EXIT_OK


def _billed_calls_confirmed(count: int, ask: bool) -> bool:
    """IAM Access Analyzer's policy checks cost money per call: say how many, and ask (as before a
    write), unless --no-actions-confirmation; without a terminal, refuse rather than guess."""
    print(f"metahub: IAM Access Analyzer policy checks: {count} call(s), billed per call", file=sys.stderr)
    if not ask:
        return True
    if not sys.stdin.isatty():
        print(
            "metahub: the billed checks need confirmation and stdin is not a terminal; they are skipped "
            "(pass --no-actions-confirmation to make them)",
            file=sys.stderr,
        )
        return False
    try:
        answer = input(f"metahub: make {count} billed IAM Access Analyzer call(s)? [y/N] ")
    except EOFError:
        print(file=sys.stderr)
        return False
    return answer.strip().lower() in ("y", "yes")


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        print(
            "metahub: error: writing to Security Hub needs confirmation and stdin is not a terminal; "
            "pass --no-actions-confirmation",
            file=sys.stderr,
        )
        return False
    try:
        answer = input("metahub: write these changes to Security Hub? [y/N] ")
    except EOFError:  # Ctrl-D: no
        print(file=sys.stderr)
        return False
    return answer.strip().lower() in ("y", "yes")


def _context_aws(args: argparse.Namespace) -> Aws:
    """The clients for context, made before anything is read so that a missing profile, missing
    credentials or a demo without its emulator stop the run at once; --deadline counts from here."""
    if args.demo and (problem := missing_dependency()):
        raise _UsageError(problem)
    role = None
    if args.mh_assume_role:
        role = RoleSettings(args.mh_assume_role, args.mh_external_id, args.mh_role_session_name)
    try:
        aws = Aws(
            role=role,
            profile=args.mh_profile,
            max_workers=args.max_workers,
            read_timeout=args.read_timeout,
            deadline=args.deadline,
        )
        if not args.demo:  # the demo's credentials and region are the emulator's, set when it starts
            aws.check_region()
            aws.check_credentials()
    except ConfigurationError as exc:
        raise _UsageError(
            f"context: {exc}; give --mh-profile NAME or configure credentials, or leave out --context"
            if isinstance(exc, CredentialsError)
            else f"context: {exc}"
        ) from exc
    return aws


def _enrich(
    run: Run,
    args: argparse.Namespace,
    aws: Aws,
    contexts: set[str],
    rules: dict[str, Any] | None,
    trail_events: dict[str, list[str]] | None,
) -> bool:
    """The run's context; a run that reached no account says so first, and returns False."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ContextWarning)  # said below, with the other unknowns
            run.enrich(
                aws,
                contexts=sorted(contexts),
                detection_rules=rules,
                trail_events=trail_events,
                lookback_days=args.trail_lookback_days,
                max_workers=args.max_workers,
                progress=not args.quiet,
                impact_config=args.impact_config,
                combination_rules=args.combination_rules,
                trait_rules=args.trait_rules,
                confirm_billed=lambda count: _billed_calls_confirmed(count, args.actions_confirmation),
            )
    except ContextUnreachable as exc:
        print(f"metahub: error: {exc}", file=sys.stderr)
        return False
    report = run.enrichment
    if report is None or args.quiet:
        return True
    for account, reason in sorted(report.unreachable.items()):
        print(f"metahub: warning: account {account} not seen: {reason}", file=sys.stderr)
    by_kind: dict[str, Counter[str]] = {}
    for (type_, kind), count in unknown_kinds(run.resources.values()).items():
        by_kind.setdefault(kind, Counter())[type_] += count
    ranked = sorted(by_kind.items(), key=lambda item: -sum(item[1].values()))
    for kind, types in ranked[:_KINDS_SHOWN]:  # one line per reason, however many types it touched
        ((only, _),) = types.most_common(1)
        what = only if len(types) == 1 else f"resources of {len(types)} types"
        print(f"metahub: unknown for {sum(types.values()):,} {what}: {kind}", file=sys.stderr)
    if len(ranked) > _KINDS_SHOWN:
        print(
            f"metahub: ... and {len(ranked) - _KINDS_SHOWN} more kinds of unknown (see 'unknown' in the outputs)",
            file=sys.stderr,
        )
    return True


def unknown_kinds(resources: Iterable[AffectedResource]) -> Counter[tuple[str, str]]:
    """Resources per (type, kind of unknown): a reason with its accounts, ARNs and ids taken out,
    so that 2,444 snapshots of one account and 80 of another make one line, not two."""
    from metahub.arn import parse_arn
    from metahub.resources.spec import spec_for

    kinds: Counter[tuple[str, str]] = Counter()
    for resource in resources:
        spec = spec_for(resource.type, parse_arn(resource.arn))
        type_ = spec.type if spec is not None else resource.type
        for kind in {unknown_kind(reason) for reason in resource.unknown.values()}:
            kinds[(type_, kind)] += 1
    return kinds


def _found_line(run: Run) -> str:
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
            verdicts = {name: Counter(r.verdict(name) for r in resources) for name in _FOUND}
            line += "; " + ", ".join(
                f"{verdicts[name][worst]:,} {word}"
                + (f" ({verdicts[name]['unknown']:,} unknown)" if verdicts[name]["unknown"] else "")
                for name, (worst, word) in _FOUND.items()
            )
    if run.combinations:
        critical = sum(1 for c in run.combinations if c["severity"] == "CRITICAL")
        line += f"; {len(run.combinations)} toxic combination(s), {critical} critical"
    return line


def _list_meta_checks(*, as_json: bool = False) -> None:
    from metahub.checks.base import all_checks

    if as_json:
        listing = {
            type_: {
                name: {"doc": check.doc, "needs": list(check.needs), "module": check.func.__module__}
                for name, check in checks.items()
            }
            for type_, checks in sorted(all_checks().items())
        }
        json.dump(listing, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    for type_, checks in sorted(all_checks().items()):
        print(type_)
        for name, definition in checks.items():
            print(f"  {name:60} {definition.doc}")


def _print_problems(run: Run, output_dir: Path | None, stamp: str) -> None:
    for kind, seen in run.report.deviations.items():
        first = seen.first
        print(
            f"metahub: warning: {seen.count} finding(s) with {kind} (first: {first.source}: {first.where})",
            file=sys.stderr,
        )
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


if __name__ == "__main__":
    sys.exit(main())
