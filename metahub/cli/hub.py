"""The Security Hub side of a command line: where it is, with which credentials, what to read and
what to write back (behind confirmation, dry run first)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from metahub.actions import apply, parse_update, plan_actions
from metahub.aws import Aws, ConfigurationError, RoleSettings, check_region
from metahub.cli.exits import EXIT_ACTIONS, EXIT_OK, EXIT_USAGE
from metahub.json_outputs import write_json
from metahub.run import Run
from metahub.securityhub import (
    DEFAULT_FILTERS,
    SecurityHubError,
    SecurityHubSource,
    clients,
    load_template,
    parse_filters,
)

PROBLEMS_SHOWN = 20


def uses_security_hub(args: argparse.Namespace) -> bool:
    return "securityhub" in args.inputs or bool(args.update_findings) or args.enrich_findings


class Hub:
    """Security Hub as the flags name it: its clients, region, account, filters and writes."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.aws = _clients(args)
        self.account = args.sh_account
        self.region = args.sh_region
        self.checkpoint: Path | None = args.sh_checkpoint
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
        return SecurityHubSource(
            self.aws, self.region, self.filters, account=self.account, progress=progress, checkpoint=self.checkpoint
        )


def _clients(args: argparse.Namespace) -> Aws:
    """Credentials and region checked at once, so that a run that cannot reach Security Hub stops
    before reading anything."""
    role = RoleSettings(args.sh_assume_role, args.sh_external_id) if args.sh_assume_role else None
    if role and not args.sh_account:
        raise SecurityHubError("--sh-assume-role needs --sh-account")
    try:
        aws = Aws(
            role=role, profile=args.sh_profile, max_workers=args.max_workers, read_timeout=args.read_timeout
        )
        if not args.demo:  # the demo reads no Security Hub and never writes to one
            if args.sh_region:
                check_region(args.sh_region, "--sh-region")
            else:
                aws.check_region()
            aws.check_credentials()
    except ConfigurationError as exc:
        files = "" if args.input_asff else "; or read files: --input-asff FILE ... (or --demo)"
        raise SecurityHubError(f"Security Hub: {exc}{files}") from exc
    return aws


def act(run: Run, hub: Hub, args: argparse.Namespace, stamp: str) -> int:
    """Plan the writes, show them, ask, write; 3 when Security Hub did not take them all."""
    plans = plan_actions(run.resources, update=hub.update, enrich=hub.enrich, region=args.sh_region)
    for plan in plans:
        print(f"metahub: {plan.describe()}", file=sys.stderr)
        for skipped in plan.skipped[:PROBLEMS_SHOWN]:
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
    if args.actions_confirmation and not confirmed("write these changes to Security Hub?"):
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
        for reason, count in reasons.most_common(PROBLEMS_SHOWN):
            print(f"metahub: not updated x{count}: {reason}", file=sys.stderr)
    failed = any(r.unprocessed for r in results) or any(p.skipped for p in plans)
    return EXIT_ACTIONS if failed else EXIT_OK


WRITE_REFUSED = (
    "metahub: error: writing to Security Hub needs confirmation and stdin is not a terminal; "
    "pass --no-actions-confirmation"
)


def confirmed(question: str, no_terminal: str = WRITE_REFUSED) -> bool:
    """Ask on the terminal; without one, refuse rather than guess (``no_terminal`` says how to go on)."""
    if not sys.stdin.isatty():
        print(no_terminal, file=sys.stderr)
        return False
    try:
        answer = input(f"metahub: {question} [y/N] ")
    except EOFError:  # Ctrl-D: no
        print(file=sys.stderr)
        return False
    return answer.strip().lower() in ("y", "yes")
