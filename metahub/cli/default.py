"""The default command, MetaHub's: read findings, enrich them from their accounts, filter, write
the outputs and act on Security Hub. Each step is a call of the library (``metahub.load``,
:class:`~metahub.run.Run`), so that a notebook can do the same with the same calls."""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError

from metahub import notify, tickets
from metahub.aws import Aws
from metahub.aws_lambda import VARIABLES, boolean_env
from metahub.cli import context, flags, list_checks, outputs
from metahub.cli.exits import (
    EPILOG,
    EXIT_ACTIONS,
    EXIT_NO_CONTEXT,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_REJECTED,
    EXIT_USAGE,
    UsageError,
)
from metahub.cli.hub import Hub, act, uses_security_hub
from metahub.cli.parsing import Parser, build
from metahub.combinations import load_rules as load_combination_rules
from metahub.demo import demo_findings, emulated_account
from metahub.detection import becomes_alerts, load_routing, load_rules
from metahub.diff import DiffError, read_output
from metahub.enrich import EnrichReport, load_trail_events
from metahub.exposure import AGREEMENTS
from metahub.filters import FilterError, Filters
from metahub.html_report import ReportOptions
from metahub.impact import load_config as load_impact_config
from metahub.ingest import IngestReport, Source
from metahub.json_outputs import write_json
from metahub.logs import configure as configure_logging
from metahub.mutelist import Mutelist, MutelistError, MuteReport
from metahub.mutelist import load as load_mutelist
from metahub.run import SHARD_MODE, Run, from_output, load, load_split, write_merged
from metahub.securityhub import SecurityHubError, clients
from metahub.shards import Merged, shard_files
from metahub.snapshot import ContextCache
from metahub.traits import load_rules as load_trait_rules
from metahub.version import __version__


def parser() -> Parser:
    built = build(
        "metahub",
        "Group security findings (ASFF, Prowler OCSF) by the resource they affect, and report.",
        flags.RUN,
        EPILOG + " Other commands: metahub list-checks, metahub merge (see metahub COMMAND --help).",
    )
    built.add_argument("--version", action="version", version=f"metahub {__version__}")
    return built


@dataclass
class Plan:
    """Everything the flags decide, checked before a finding is read or AWS is called."""

    hub: Hub | None
    sources: list[Source]
    filters: Filters
    contexts: set[str]
    aws: Aws | None
    rules: dict[str, Any] | None
    trail_events: dict[str, list[str]] | None
    baseline: list[Path] | None = None
    """``--baseline``: json-full or SQLite outputs, checked before anything else (read again when the
    report is written, which names them)."""
    mutelist: Mutelist | None = None
    """``--mutelist``, read and checked before any finding is."""


def run(args: argparse.Namespace) -> int:
    """read -> enrich -> filter -> write -> act: the library's own steps, driven by flags."""
    try:
        configure_logging(args.log_level, wire=args.log_wire, log_file=args.log_file)
    except OSError as exc:
        raise UsageError(f"--log-file {args.log_file}: {exc.strerror or exc}") from exc
    settle(args)
    if args.checks_dir or args.list_meta_checks:
        list_checks.load(args.checks_dir)
    if args.json and not args.list_meta_checks:
        raise UsageError("--json goes with --list-meta-checks", show_usage=True)
    if args.list_meta_checks:
        list_checks.show(as_json=args.json)
        return EXIT_OK
    given = [name for name, value in (("--shard", args.shard), ("--part", args.part), ("--split", args.split)) if value]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)}: --shard K/N is one shard of this input, --part NAME one part of "
                         "a larger run, --split N all of it in N shards: give one of them")  # fmt: skip
    plan = prepare(args)
    if args.split:
        return run_split(args, plan)
    found = load(
        *plan.sources,
        only_failed=args.only_failed,
        only_active=args.only_active,
        deadline=args.deadline,
        shard=args.shard,
        part=args.part,
    )
    if plan.mutelist is not None:
        tell_muted(found.mute(plan.mutelist), args.quiet)
    if plan.filters:
        found = found.apply(plan.filters, before_enrichment=True)
    with demo_account(args, plan):
        reached = enrich_or_score(found, args, plan)
    unsaved = context.save_snapshot(args, plan.aws, plan.contexts)
    kept = keep(found, args, plan.filters)
    if kept is None:
        return EXIT_USAGE
    stamp = outputs.run_stamp(args)  # every file of the run: the outputs, the problems, the actions
    written = outputs.write(kept, args, stamp, plan.baseline)
    status = reach_people(kept, args, plan, stamp, next((p for p in written if p.suffix == ".html"), None))
    return status if status != EXIT_OK else status_of(kept.report, reached, {**kept.write_failures, **unsaved})


def reach_people(run: Run, args: argparse.Namespace, plan: Plan, stamp: str, report: Path | None = None) -> int:
    """What the flags ask to do with the findings: write back to Security Hub, tickets,
    notifications, in that order; the first status that is not OK stops the rest. Tickets and
    messages link back to the routing file's ``tickets.link``, else name this run's ``report``."""
    hub, routing = plan.hub, plan.rules or {}
    link = (routing.get("tickets") or {}).get("link") or (f"{report.name} (this run's HTML report)" if report else None)
    steps: list[Callable[[], int]] = []
    if hub is not None and hub.actions:
        steps.append(lambda: act(run, hub, args, stamp))
    if args.tickets is not None:
        steps.append(lambda: send_tickets(run, args, stamp, hub, routing, link))
    if args.notify is not None:
        steps.append(lambda: send_notifications(run, args, stamp, routing, link, plan.baseline))
    for step in steps:
        status = step()
        if status != EXIT_OK:
            return status
    return EXIT_OK


TRACKERS = {"jira": "Jira", "servicenow": "ServiceNow", "securityhub": "Security Hub"}


def tracker(args: argparse.Namespace, hub: Hub | None = None, routing: dict[str, Any] | None = None,
            ) -> tickets.Tracker | tickets.SecurityHubTickets:  # fmt: skip
    """The tracker ``--tickets`` names, its settings from the environment and its custom fields
    from the routing file (Security Hub's connector from ``--tickets-connector``, reached with the
    Security Hub flags' credentials)."""
    section = (routing or {}).get("tickets") or {}
    custom = section.get(args.tickets) or {}
    places = section.get("places", {}).get(args.tickets, {})
    if args.tickets == "jira":
        return tickets.Jira(tickets.JiraSettings.from_env(os.environ), custom=custom, places=places)
    if args.tickets == "servicenow":
        return tickets.ServiceNow(tickets.ServiceNowSettings.from_env(os.environ), custom=custom, places=places)
    if not args.tickets_connector:
        raise tickets.TicketError("--tickets securityhub needs --tickets-connector ID (a connector of Security Hub's)")
    return tickets.SecurityHubTickets(clients(hub.aws if hub else Aws(), args.sh_account), args.tickets_connector)


def send_notifications(run: Run, args: argparse.Namespace, stamp: str, routing: dict[str, Any],
                       link: str | None = None, plan_baseline: list[Path] | None = None) -> int:  # fmt: skip
    """``--notify``: one message per owner and per alert of the routing file, planned (a dry run) or,
    with ``--notify-apply``, sent; 3 when some could not be (they are in a file with why)."""
    ranked = run.by_impact()
    # read again only for the alerts that compare with it
    before = from_output(plan_baseline[-1]).resources if plan_baseline and becomes_alerts(routing) else None
    found = notify.messages(ranked, link) + notify.alerts(ranked, routing.get("alerts", []), link, before)
    channel = routing.get("notify", {}).get("channel")
    if not args.notify_apply:
        shown = notify.PagerDuty("(PAGERDUTY_ROUTING_KEY)")  # what each event would be, without the key
        plan = [{**m.summary(), "text": m.text(), **({"event": shown.event(m)} if args.notify == "pagerduty" else
                                                     {"blocks": m.blocks()})} for m in found]  # fmt: skip
        path = write_json(args.output_dir / f"metahub-notifications-plan-{stamp}.json", plan)
        print(f"metahub: dry run, nothing sent (--notify-apply sends): {len(found)} message(s) in {path}", file=sys.stderr)
        return EXIT_OK
    if args.notify == "slack":
        slack = notify.Slack(os.environ["SLACK_BOT_TOKEN"], channel, os.environ.get("SLACK_API_URL") or "https://slack.com/api")
        outcome = notify.deliver(found, slack.send)
    elif args.notify == "pagerduty":
        pager = notify.PagerDuty(os.environ["PAGERDUTY_ROUTING_KEY"], os.environ.get("PAGERDUTY_EVENTS_URL") or notify.PAGERDUTY_URL)
        outcome = notify.deliver(found, pager.send)
    else:
        outcome = notify.deliver(found, lambda message: notify.post_webhook(args.notify_url, message))
    print(f"metahub: {args.notify}: {len(outcome.sent)} message(s) sent, {len(outcome.unsent)} not", file=sys.stderr)
    if outcome.unsent:
        path = write_json(args.output_dir / f"metahub-notifications-unsent-{stamp}.json", outcome.unsent)
        print(f"metahub: not sent ({outcome.unsent[0]['reason']}); the messages are in {path}", file=sys.stderr)
        return EXIT_ACTIONS
    return EXIT_OK


def send_tickets(run: Run, args: argparse.Namespace, stamp: str, hub: Hub | None, routing: dict[str, Any],
                 link: str | None = None) -> int:  # fmt: skip
    """``--tickets``: the tickets written to files, or planned for a tracker (a dry run) and sent with
    ``--tickets-apply``; 3 when some could not be sent (they are in a file, nothing is lost)."""
    made = tickets.build(run.by_impact(), args.tickets_group, link)
    if args.tickets == "file" or not args.tickets_apply:
        name = "tickets" if args.tickets == "file" else "tickets-plan"
        custom = (routing.get("tickets") or {}).get(args.tickets)
        paths = tickets.write_files(made, args.output_dir / f"metahub-{name}-{stamp}.json", custom)
        said = "" if args.tickets == "file" else f"dry run, nothing sent to {TRACKERS[args.tickets]} (--tickets-apply sends): "
        print(f"metahub: {said}{len(made)} ticket(s) in {paths[0]} and {paths[1]}", file=sys.stderr)
        return EXIT_OK
    sender = tracker(args, hub, routing)
    outcome = sender.send(made)
    reached = not made or len(outcome.unsent) < len(made)  # the tracker answered: fixed resources can be told
    if isinstance(sender, tickets.Tracker) and args.tickets_group == "resource" and reached:
        sender.close_fixed(tickets.fixed(run.resources), outcome)
    print(f"metahub: {sender.name}: {outcome.describe()}", file=sys.stderr)
    if outcome.unsent:
        path = write_json(args.output_dir / f"metahub-tickets-unsent-{stamp}.json", outcome.unsent)
        print(f"metahub: {len(outcome.unsent)} ticket(s) not sent ({outcome.unsent[0]['reason']}); they are in {path}",
              file=sys.stderr)  # fmt: skip
        return EXIT_ACTIONS
    return EXIT_OK


def tell_muted(report: MuteReport, quiet: bool) -> None:
    """What ``--mutelist`` did: its expired entries (never applied), and the findings it muted."""
    for entry in report.expired:
        print(f"metahub: --mutelist {report.source}:{entry['line']}: {entry['entry']} expired on {entry['expires']}"
              + (f" ({entry['reason']})" if entry["reason"] else "") + ": not applied", file=sys.stderr)  # fmt: skip
    if not quiet:
        entries = len(report.muted)
        print(f"metahub: --mutelist {report.source}: {report.findings} finding(s) muted by {entries} "
              f"entr{'y' if entries == 1 else 'ies'}", file=sys.stderr)  # fmt: skip


def split_folder(args: argparse.Namespace) -> tempfile.TemporaryDirectory[str]:
    """Where a split run keeps its part and shard files: beside the outputs, removed at the end."""
    try:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryDirectory(dir=args.output_dir, prefix=".metahub-split-")
    except OSError as exc:
        raise UsageError(f"--output-dir {args.output_dir}: {exc.strerror or exc} (--split works there)") from exc


def run_split(args: argparse.Namespace, plan: Plan) -> int:
    """``--split N``: the input read once into N part files; each shard enriched (or scored) and its
    shard file written in turn, one shard in memory at a time; then the shard files merged into the
    outputs, as one process writes them."""
    modes, stamp, work = outputs.output_modes(args), outputs.run_stamp(args), split_folder(args)
    found, enrichment, reached, seconds = outputs.Found(), None, False, 0.0
    verdicts: Counter[str] = Counter()  # AWS's exposure verdicts against metahub's, over every shard
    muted: MuteReport | None = None  # what the mutelist did, over every shard
    with work as folder, demo_account(args, plan):
        shards = Path(folder) / "shards"
        if plan.aws is not None and plan.aws.replay is None and plan.aws.cache is None:
            # what one shard listed, the next ones reuse: a type is listed once per account and
            # region, as in one process (answers to their own ids are still their own)
            plan.aws.cache = ContextCache(Path(folder) / "context", math.inf)
        parts = load_split(*plan.sources, parts=args.split, directory=folder, only_failed=args.only_failed,
                           only_active=args.only_active, deadline=args.deadline)  # fmt: skip
        for part in parts:
            if not args.quiet:
                print(f"metahub: shard {part.shard}: {len(part.resources):,} resources", file=sys.stderr)
            if plan.mutelist is not None:
                muted = part.mute(plan.mutelist) if muted is None else muted.add(part.mute(plan.mutelist))
            reached = enrich_or_score(part, args, plan) or reached
            part.write([SHARD_MODE], shards, str(part.shard).replace("/", "-of-"))
            if part.write_failures:
                print(f"metahub: error: could not write shard {part.shard}: {part.write_failures[SHARD_MODE]}",
                      file=sys.stderr)  # fmt: skip
                return EXIT_OUTPUT
            found.add(part)
            seconds += part.seconds
            if part.enrichment is not None:
                enrichment = (enrichment or EnrichReport()).add(part.enrichment)
            report, summary = part.report, part.summary()
            verdicts.update(summary.pop("exposure_verdicts", {}))
            del part  # before the next shard is read
        unsaved = context.save_snapshot(args, plan.aws, plan.contexts)
        merged = Merged(shard_files([shards]))
        outputs.print_problems(report, args.output_dir if modes else None, stamp)
        options = ReportOptions(args.report_title, args.report_customer, args.report_max_mb)
        written, failures = write_merged(merged, modes, args.output_dir, stamp, None, options)
    summary = {**summary, **merged.totals(), "seconds": seconds}
    if muted is not None:
        tell_muted(muted, args.quiet)
        summary["muted"] = muted.findings
    if any(verdicts.values()):
        summary["exposure_verdicts"] = {name: verdicts[name] for name in AGREEMENTS}
    outputs.tell(written, failures, found.line(merged.combinations), outputs.summary_line(summary, enrichment), args)
    return status_of(report, reached, {**failures, **unsaved})


# The Lambda's variables the CLI does not read, and the flags that say the same on the command line.
LAMBDA_ONLY = {
    "METAHUB_CONTEXT": "--context",
    "METAHUB_ACTIONS": "--enrich-findings / --update-findings",
    "METAHUB_UPDATE_FINDINGS": "--update-findings",
    "METAHUB_FILTERS_CHECKS": "--mh-filters-checks",
    "METAHUB_FILTERS_TAGS": "--mh-filters-tags",
    "METAHUB_ASSUME_ROLE": "--mh-assume-role",
    "METAHUB_EXTERNAL_ID": "--mh-external-id",
    "METAHUB_MUTELIST": "--mutelist",
}


def settle(args: argparse.Namespace) -> None:
    """What the flags alone cannot say: a filter modifier needs its filter, printing needs a
    stdout, and the Lambda's environment is honoured (``METAHUB_DRY_RUN``) or refused, never ignored:
    a ``METAHUB_FILTERS_CHECKS`` the CLI skipped would widen a write to every resource."""
    if args.mh_filters_tags_all and not args.mh_filters_tags:
        raise UsageError(
            "--mh-filters-tags-all changes how --mh-filters-tags match, and no --mh-filters-tags was given: "
            "without it every resource would pass",
            show_usage=True,
        )
    if (args.shard or args.part or args.split) and (
        args.mh_filters_checks or args.mh_filters_tags or args.mh_filters_findings or args.query or args.mh_filters_impact
    ):
        which = "--shard" if args.shard else "--part" if args.part else "--split"
        raise UsageError(
            f"{which} with filters would not merge into one run's output (a toxic combination reaches "
            "resources of other parts that the filters could drop): split the whole input, then filter "
            "the output of 'metahub merge' (e.g. with jq), or run whole"
        )
    if args.split:
        whole = [name for name, value in (
            ("--list-findings", args.list_findings is not None), ("--update-findings", args.update_findings),
            ("--enrich-findings", args.enrich_findings), ("--output-tag-columns", args.output_tag_columns),
            ("--output-account-columns", args.output_account_columns), ("--baseline", args.baseline),
            ("--output-config-columns", args.output_config_columns),
        ) if value]  # fmt: skip
        if whole:
            raise UsageError(f"{', '.join(whole)} need the whole run in memory, and --split holds one shard of it "
                             "at a time: run whole, or read the split run's outputs")  # fmt: skip
    if args.list_findings is not None and sys.stdout is None:
        raise UsageError("--list-findings prints on stdout, and stdout is closed")
    ignored = [name for name in VARIABLES if name in LAMBDA_ONLY and os.environ.get(name, "").strip()]
    if ignored:
        raise UsageError(
            f"{', '.join(ignored)} configure the Lambda, not the command line, which would ignore them; "
            f"unset them, or give {', '.join(dict.fromkeys(LAMBDA_ONLY[name] for name in ignored))}"
        )
    try:
        args.dry_run = args.dry_run or boolean_env(os.environ, "METAHUB_DRY_RUN")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def check_people(args: argparse.Namespace, rules: dict[str, Any] | None) -> None:
    """What tickets and notifications need, there before anything is read: the notify URL, the
    tracker's settings, a baseline for the routing file's ``becomes`` alerts."""
    if args.notify == "webhook" and not args.notify_url:
        raise UsageError("--notify webhook posts to --notify-url URL: give it")
    if args.notify_url and args.notify != "webhook":
        raise UsageError("--notify-url is where --notify webhook posts: add --notify webhook")
    if args.notify_apply and args.notify is None:
        raise UsageError("--notify-apply sends notifications: give --notify slack, webhook or pagerduty")
    if args.notify == "slack" and args.notify_apply and not os.environ.get("SLACK_BOT_TOKEN"):
        raise UsageError("--notify slack needs SLACK_BOT_TOKEN (a bot token with chat:write and users:read.email)")
    if args.notify == "pagerduty" and args.notify_apply and not os.environ.get("PAGERDUTY_ROUTING_KEY"):
        raise UsageError("--notify pagerduty needs PAGERDUTY_ROUTING_KEY (the integration key of an Events API v2 integration)")
    if args.tickets_apply and args.tickets in (None, "file"):
        raise UsageError("--tickets-apply sends tickets to a tracker: give --tickets jira, servicenow or securityhub")
    if args.tickets_apply:
        try:
            tracker(args) if args.tickets != "securityhub" else None  # before anything is read
            if args.tickets == "securityhub" and not args.tickets_connector:
                raise tickets.TicketError("--tickets securityhub needs --tickets-connector ID (a connector of "
                                          "Security Hub's, to Jira or ServiceNow)")  # fmt: skip
        except tickets.TicketError as exc:
            raise UsageError(str(exc)) from exc
    becomes = becomes_alerts(rules)
    if becomes and args.notify is not None and args.baseline is None:
        raise UsageError(f"the routing file's alert '{becomes[0]}' says becomes: give --baseline EARLIER (an earlier "
                         "run's json-full or SQLite output) to compare with")  # fmt: skip


def prepare(args: argparse.Namespace) -> Plan:
    """Inputs, Security Hub, filters, contexts, clients and rule files, in that order; the first
    problem is a :class:`UsageError`."""
    resolve_inputs(args)
    try:
        hub = Hub(args) if uses_security_hub(args) else None
    except (SecurityHubError, BotoCoreError) as exc:
        raise UsageError(str(exc)) from exc
    sources = input_sources(args, hub)
    filters = parse_filters(args)
    snapshot = context.replayed(args)
    wanted = context.contexts(args, filters, snapshot)
    for name, given in (("--save-context", args.save_context), ("--context-cache", args.context_cache)):
        if given is not None and not wanted:
            raise UsageError(f"{name} keeps the answers of enrichment: give --context (e.g. config)")
    if args.cache_ttl is not None and args.context_cache is None:
        raise UsageError("--cache-ttl says how long --context-cache answers are reused: give --context-cache DIR")
    aws = context.context_aws(args, snapshot) if wanted else None
    rules, trail_events = load_config_files(args)
    check_people(args, rules)
    compared = bool(becomes_alerts(rules)) and args.notify is not None
    if args.baseline is not None and "html" not in outputs.output_modes(args) and not compared:
        raise UsageError("--baseline is what the HTML report (and the routing file's 'becomes' alerts) compare "
                         "with: add html to --output-modes (or compare two json-full outputs with 'metahub diff')")  # fmt: skip
    try:
        for earlier in args.baseline or ():
            read_output(earlier)
    except DiffError as exc:
        raise UsageError(f"--baseline {exc}") from exc
    try:
        mutelist = load_mutelist(args.mutelist) if args.mutelist is not None else None
    except MutelistError as exc:
        raise UsageError(f"--mutelist {exc}") from exc
    return Plan(hub, sources, filters, wanted, aws, rules, trail_events, args.baseline, mutelist)


def resolve_inputs(args: argparse.Namespace) -> None:
    """MetaHub's habit: without files, findings come from Security Hub (its default filters, or the
    Security Hub filters given). Next to an input of files only, Security Hub's reading flags would
    be silently ignored, so they are refused instead."""
    selecting = [
        name
        for name, value in (
            ("--sh-filters", args.sh_filters),
            ("--sh-template", args.sh_template),
            ("--sh-checkpoint", args.sh_checkpoint),
        )
        if value
    ]
    if args.inputs is None:
        args.inputs = ["file-asff"] if args.input_asff or args.demo else ["securityhub"]
    if selecting and not {"securityhub", "securityhub-v2"} & set(args.inputs):
        raise UsageError(
            f"{' and '.join(selecting)} are for reading Security Hub, but the input is files only: "
            "add --inputs file-asff securityhub (or securityhub-v2) to read both",
            show_usage=True,
        )
    new_hub = [name for name, value in (("--sh-scope", args.sh_scope), ("--sh-export", args.sh_export),
                                         ("--sh-export-kms-key", args.sh_export_kms_key)) if value]  # fmt: skip
    if new_hub and "securityhub-v2" not in args.inputs:
        raise UsageError(f"{' and '.join(new_hub)} are for reading the new Security Hub: add securityhub-v2 "
                         "to --inputs", show_usage=True)  # fmt: skip


def input_sources(args: argparse.Namespace, hub: Hub | None) -> list[Source]:
    sources: list[Source] = list(args.input_asff)
    if args.demo:
        sources.append(demo_findings())
    if hub is not None:
        sources.extend(hub.sources(not args.quiet))
    problem = input_problem(args, sources)
    if problem:
        raise UsageError(problem, show_usage=True)
    if args.banners and not args.quiet:
        print(f"metahub {__version__}: context for security findings", file=sys.stderr)
    return sources


def input_problem(args: argparse.Namespace, sources: list[Source]) -> str | None:
    if args.input_asff and "file-asff" not in args.inputs:
        return "--input-asff needs file-asff among --inputs"
    if args.demo and (args.update_findings or args.enrich_findings) and not args.dry_run:
        return "the demo's findings are in no Security Hub: add --dry-run to see what would be written"
    if not sources:
        return ("no input: give --input-asff FILE [FILE ...] (- for stdin), --inputs securityhub (or "
                "securityhub-v2), or --demo")
    return None


def parse_filters(args: argparse.Namespace) -> Filters:
    try:
        parsed = Filters.parse(
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
        raise UsageError(str(exc)) from exc
    return parsed


def load_config_files(args: argparse.Namespace) -> tuple[dict[str, Any] | None, dict[str, list[str]] | None]:
    """Every rules file is read before anything is fetched, so a bad one costs nothing."""
    try:
        rules = load_rules(args.detection_rules) if args.detection_rules else None
        if args.routing is not None:
            rules = load_routing(args.routing, rules)
        trail_events = load_trail_events(args.trail_events) if args.trail_events else None
        load_impact_config(args.impact_config)
        load_combination_rules(args.combination_rules)
        load_trait_rules(args.trait_rules)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    return rules, trail_events


def enrich_or_score(found: Run, args: argparse.Namespace, plan: Plan) -> bool:
    """Enrich when context was asked for, else score from the findings; False when enrichment
    reached no account. ``--demo``: within :func:`demo_account`."""
    if plan.aws is None or not plan.contexts:
        found.score_impact(args.impact_config, args.trait_rules)  # from the findings alone
        return True
    return context.enrich(found, args, plan.aws, plan.contexts, plan.rules, plan.trail_events)


@contextmanager
def demo_account(args: argparse.Namespace, plan: Plan) -> Iterator[None]:
    """``--demo`` with context to fetch: the emulated account, built once for the whole run (every
    shard of a split one: moto's accounts live in the process, and a second build would collide)."""
    if not (args.demo and args.replay_context is None and plan.aws is not None and plan.contexts):
        yield
        return
    if not args.quiet:
        print("metahub: starting the emulated demo account ...", file=sys.stderr)
    with emulated_account(progress=not args.quiet):
        yield


def keep(found: Run, args: argparse.Namespace, filters: Filters) -> Run | None:
    """What passes the filters, now that context is known; None when a --query names fields no
    resource has (nothing is written)."""
    if not filters:
        return found
    try:
        kept = found.apply(filters)
    except FilterError as exc:
        print(f"metahub: error: {exc}; nothing was written", file=sys.stderr)
        return None
    if filters.tags and not kept.resources and not args.quiet:
        for hint in filters.tag_hints(found.resources.values()):
            print(f"metahub: {hint}", file=sys.stderr)
    return kept


def status_of(report: IngestReport, reached: bool, write_failures: dict[str, str]) -> int:
    """The exit status of a run whose outputs are written (the README's table)."""
    if report.unreadable:
        return EXIT_USAGE
    if not reached:
        return EXIT_NO_CONTEXT
    if write_failures:
        return EXIT_OUTPUT
    return EXIT_REJECTED if report.rejected or report.repaired else EXIT_OK
