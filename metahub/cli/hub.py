"""The Security Hub side of a command line: where it is, with which credentials, what to read and
what to write back (behind confirmation, dry run first)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from metahub.actions import apply, parse_update, plan_actions
from metahub.aws import Aws, ConfigurationError, RoleSettings, check_region, describe_error
from metahub.cli.exits import EXIT_ACTIONS, EXIT_OK, EXIT_USAGE
from metahub.ingest import Source
from metahub.json_outputs import write_json
from metahub.run import Run
from metahub.securityhub import (
    DEFAULT_FILTERS,
    V2_DEFAULT_FILTERS,
    ExportSource,
    SecurityHubError,
    SecurityHubSource,
    clients,
    is_v2_filters,
    load_template,
    parse_destination,
    parse_filters,
    parse_filters_v2,
    parse_scopes,
    split_filters,
)

PROBLEMS_SHOWN = 20


V1, V2 = "securityhub", "securityhub-v2"


def uses_security_hub(args: argparse.Namespace) -> bool:
    return V1 in args.inputs or V2 in args.inputs or bool(args.update_findings) or args.enrich_findings


class Hub:
    """Security Hub as the flags name it: its clients, region, account, filters and writes; the
    CSPM one (GetFindings, ASFF) and the new one (GetFindingsV2, OCSF), either or both."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.aws = _clients(args)
        self.account = args.sh_account
        self.region = args.sh_region
        self.checkpoint: Path | None = args.sh_checkpoint
        self.update = parse_update(args.update_findings) if args.update_findings else None
        self.enrich = bool(args.enrich_findings)
        self.filters: dict[str, list[dict[str, Any]]] = {}
        self.filters_v2: dict[str, Any] = {}
        self.scopes: dict[str, Any] = {}
        self.export: tuple[str, str] | None = None
        self.v1, self.v2 = V1 in args.inputs, V2 in args.inputs
        if not (self.v1 or self.v2):
            return
        self.region = self.region or self.aws.region
        if not self.region:
            raise SecurityHubError("no region for Security Hub: give --sh-region")
        template = load_template(args.sh_template) if args.sh_template else None
        if template is not None and self.v1 and self.v2:
            raise SecurityHubError(f"--sh-template {args.sh_template}: a template holds one API's filters and both "
                                   "Security Hubs are read: read one of them, or give --sh-filters")  # fmt: skip
        if template is not None and is_v2_filters(template) != self.v2:
            wanted = "GetFindingsV2 (CompositeFilters)" if self.v2 else "GetFindings"
            raise SecurityHubError(f"--sh-template {args.sh_template}: the Security Hub read takes {wanted} filters")
        first, second = split_filters(args.sh_filters, self.v1, self.v2)
        self.scopes, accounts = parse_scopes(args.sh_scope, self._organization) if self.v2 else ({}, [])
        given = bool(args.sh_filters or template)
        if self.v1:
            self.filters = dict(template or {})
            for name, values in parse_filters(first if given else DEFAULT_FILTERS).items():
                self.filters.setdefault(name, []).extend(values)
        if self.v2:
            parsed = parse_filters_v2([*(second if given else V2_DEFAULT_FILTERS), *accounts])
            self.filters_v2 = _joined(template or {}, parsed)
        if args.sh_export:
            if not args.sh_export_kms_key:
                raise SecurityHubError("--sh-export needs --sh-export-kms-key: Security Hub encrypts every export "
                                       "with a KMS key of yours (its full ARN)")  # fmt: skip
            parse_destination(args.sh_export)
            self.export = (args.sh_export, args.sh_export_kms_key)

    def _organization(self) -> str:
        """The caller's organisation id, for ``--sh-scope organization``."""
        try:
            client = self.aws.client("organizations", self.account or self.aws.caller_account(), self.region or "us-east-1")
            return str(client.describe_organization()["Organization"]["Id"])
        except Exception as exc:
            raise SecurityHubError(
                f"--sh-scope organization: {describe_error(exc, 'organizations:DescribeOrganization')}; "
                "give organization=o-ID"
            ) from None

    @property
    def actions(self) -> bool:
        return self.update is not None or self.enrich

    def sources(self, progress: bool) -> list[Source]:
        """The readings of the Security Hubs named in ``--inputs`` (none when it names none)."""
        found: list[Source] = []
        if self.region is None:
            return found
        if self.v1:
            found.append(SecurityHubSource(self.aws, self.region, self.filters, account=self.account,
                                           progress=progress, checkpoint=self.checkpoint))  # fmt: skip
        if self.v2 and self.export is not None:
            found.append(ExportSource(self.aws, self.region, self.filters_v2, *self.export, account=self.account,
                                      scopes=self.scopes, progress=progress))  # fmt: skip
        elif self.v2:
            checkpoint = self.checkpoint
            if checkpoint is not None and self.v1:  # one file a reading
                checkpoint = checkpoint.with_name(checkpoint.name + ".v2")
            found.append(SecurityHubSource(self.aws, self.region, self.filters_v2, account=self.account,
                                           progress=progress, checkpoint=checkpoint, v2=True, scopes=self.scopes))  # fmt: skip
        return found


def _joined(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two GetFindingsV2 filters that must both hold: their composite filters, joined by AND."""
    if not first or not second:
        return first or second
    if first.get("CompositeOperator", "AND") == "AND":
        return {**first, "CompositeFilters": [*first.get("CompositeFilters", []), *second["CompositeFilters"]]}
    return {"CompositeFilters": [{"NestedCompositeFilters": first["CompositeFilters"],
                                  "Operator": first["CompositeOperator"]}, *second["CompositeFilters"]],
            "CompositeOperator": "AND"}  # fmt: skip


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
