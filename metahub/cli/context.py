"""Context from the accounts, as the command line asks for it: which contexts, the clients (checked
before anything is read), the enrichment, and what it could not see, one line per reason."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from collections.abc import Iterable
from typing import Any

from metahub.aws import Aws, ConfigurationError, CredentialsError, RoleSettings
from metahub.cli.exits import UsageError
from metahub.cli.hub import confirmed
from metahub.demo import missing_dependency
from metahub.filters import Filters
from metahub.models import AffectedResource, unknown_kind
from metahub.resources.spec import spec_for
from metahub.run import ContextUnreachable, ContextWarning, Run
from metahub.snapshot import CACHE_TTL, ContextCache, Snapshot, SnapshotError

KINDS_SHOWN = 8


def replayed(args: argparse.Namespace) -> Snapshot | None:
    """The snapshot ``--replay-context`` names, read before any finding."""
    if args.replay_context is None:
        return None
    if args.save_context is not None or args.context_cache is not None:
        which = "--save-context" if args.save_context is not None else "--context-cache"
        raise UsageError(f"{which} keeps what AWS answers, and --replay-context asks AWS nothing: "
                         "give one of them")  # fmt: skip
    try:
        return Snapshot.load(args.replay_context)
    except SnapshotError as exc:
        raise UsageError(f"--replay-context {exc}") from exc


def contexts(args: argparse.Namespace, filters: Filters, snapshot: Snapshot | None = None) -> set[str]:
    """The contexts to fetch: those asked for (or those of the replayed snapshot), plus those the
    filters and the flags imply."""
    wanted = set(args.context) or set(snapshot.contexts if snapshot else ())
    wants_config = args.meta_checks or filters.needs_context or (args.demo and not wanted)
    wanted |= {"config"} if wants_config or (args.enrich_findings and not wanted) else set()
    wanted |= {"tags"} if args.meta_tags else set()
    wanted |= {"account"} if args.meta_account or args.output_account_columns else set()
    wanted |= {"cloudtrail"} if args.meta_trails else set()
    return wanted


def context_aws(args: argparse.Namespace, snapshot: Snapshot | None = None) -> Aws:
    """The clients for context, made before anything is read so that a missing profile, missing
    credentials or a demo without its emulator stop the run at once; --deadline counts from here.
    A replay's clients answer from the snapshot and need nothing of the machine."""
    if snapshot is not None:
        return Aws(replay=snapshot, max_workers=args.max_workers)
    cache = None if args.context_cache is None else ContextCache(args.context_cache, args.cache_ttl or CACHE_TTL)
    if args.demo and (problem := missing_dependency()):
        raise UsageError(problem)
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
            record=args.save_context is not None,
            cache=cache,
        )
        if not args.demo:  # the demo's credentials and region are the emulator's, set when it starts
            aws.check_region()
            aws.check_credentials()
    except ConfigurationError as exc:
        raise UsageError(
            f"context: {exc}; give --mh-profile NAME or configure credentials, or leave out --context"
            if isinstance(exc, CredentialsError)
            else f"context: {exc}"
        ) from exc
    return aws


def enrich(
    run: Run,
    args: argparse.Namespace,
    aws: Aws,
    wanted: set[str],
    rules: dict[str, Any] | None,
    trail_events: dict[str, list[str]] | None,
) -> bool:
    """The run's context; a run that reached no account says so first, and returns False."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ContextWarning)  # said below, with the other unknowns
            run.enrich(
                aws,
                contexts=sorted(wanted),
                detection_rules=rules,
                trail_events=trail_events,
                lookback_days=args.trail_lookback_days,
                max_workers=args.max_workers,
                progress=not args.quiet,
                impact_config=args.impact_config,
                combination_rules=args.combination_rules,
                trait_rules=args.trait_rules,
                confirm_billed=lambda count: billed_calls_confirmed(count, args.actions_confirmation),
            )
    except ContextUnreachable as exc:
        print(f"metahub: error: {exc}", file=sys.stderr)
        return False
    if run.enrichment is not None and not args.quiet:
        for account, reason in sorted(run.enrichment.unreachable.items()):
            print(f"metahub: warning: account {account} not seen: {reason}", file=sys.stderr)
        print_unknowns(run.resources.values())
    return True


def save_snapshot(args: argparse.Namespace, aws: Aws | None, wanted: Iterable[str]) -> dict[str, str]:
    """``--save-context``: what AWS answered, written once the enrichment is done; the failure to
    write it, by name, as the outputs' are."""
    if args.save_context is None or aws is None:
        return {}
    snapshot = aws.recorded(wanted)
    try:
        path = snapshot.save(args.save_context)
    except OSError as exc:
        reason = f"{args.save_context}: {exc.strerror or exc}"
        print(f"metahub: error: could not write --save-context: {reason}", file=sys.stderr)
        return {"--save-context": reason}
    if not args.quiet:
        entered = sum(reason is None for reason in snapshot.accounts.values())
        print(f"wrote {path} (context snapshot: {len(snapshot):,} answers from {entered} account(s))",
              file=sys.stderr)  # fmt: skip
    return {}


def print_unknowns(resources: Iterable[AffectedResource]) -> None:
    """One line per reason, however many types it touched, the most frequent first."""
    by_kind: dict[str, Counter[str]] = {}
    for (type_, kind), count in unknown_kinds(resources).items():
        by_kind.setdefault(kind, Counter())[type_] += count
    ranked = sorted(by_kind.items(), key=lambda item: -sum(item[1].values()))
    for kind, types in ranked[:KINDS_SHOWN]:
        ((only, _),) = types.most_common(1)
        what = only if len(types) == 1 else f"resources of {len(types)} types"
        print(f"metahub: unknown for {sum(types.values()):,} {what}: {kind}", file=sys.stderr)
    if len(ranked) > KINDS_SHOWN:
        print(
            f"metahub: ... and {len(ranked) - KINDS_SHOWN} more kinds of unknown (see 'unknown' in the outputs)",
            file=sys.stderr,
        )


def unknown_kinds(resources: Iterable[AffectedResource]) -> Counter[tuple[str, str]]:
    """Resources per (type, kind of unknown): a reason with its accounts, ARNs and ids taken out,
    so that 2,444 snapshots of one account and 80 of another make one line, not two."""
    kinds: Counter[tuple[str, str]] = Counter()
    for resource in resources:
        spec = spec_for(resource.type, resource.parsed_arn)
        type_ = spec.type if spec is not None else resource.type
        for kind in {unknown_kind(reason) for reason in resource.unknown.values()}:
            kinds[(type_, kind)] += 1
    return kinds


def billed_calls_confirmed(count: int, ask: bool) -> bool:
    """IAM Access Analyzer's policy checks cost money per call: say how many, and ask (as before a
    write), unless --no-actions-confirmation; without a terminal, refuse rather than guess."""
    print(f"metahub: IAM Access Analyzer policy checks: {count} call(s), billed per call", file=sys.stderr)
    if not ask:
        return True
    return confirmed(
        f"make {count} billed IAM Access Analyzer call(s)?",
        "metahub: the billed checks need confirmation and stdin is not a terminal; they are skipped "
        "(pass --no-actions-confirmation to make them)",
    )
