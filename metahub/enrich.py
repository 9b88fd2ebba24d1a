"""Enrichment in two phases: fetch everything the checks need (batched, in parallel, once per
(account, region, type)), then run the checks over that snapshot with no AWS access."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from metahub.aws import Aws, RateLimiter, describe_error
from metahub.checks.access_analyzer import POLICY_CHECKS, POLICY_DISAGREEMENT, compare, compare_policy_checks
from metahub.checks.base import No, ResourceView, Unknown, checks_for
from metahub.checks.policy import SELF_GRANT
from metahub.checks.resource_policy import PolicyDocument, policy_documents
from metahub.detection import detect, load_rules
from metahub.models import ROLLUPS, AffectedResource
from metahub.progress import bar
from metahub.resources.access_analyzer import ANALYZED_TYPES, external_access, policy_check
from metahub.resources.account import account_context
from metahub.resources.cloudtrail import LOOKUP_RATE, creator, lookup_events
from metahub.resources.fetch import Demand, Fetcher, Inventory
from metahub.resources.spec import GroupKey, Spec, group_key, spec_for, spec_for_type
from metahub.resources.tagging import TAGGING_BATCH, iam_tags, tags_by_api

log = logging.getLogger(__name__)


@dataclass
class EnrichReport:
    calls: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    enriched: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    """Resources that got no checks, by reason (pseudo-ARN, type without checks)."""
    unknown: Counter[str] = field(default_factory=Counter)
    """Checks that stayed unknown, by reason."""
    contexts: list[str] = field(default_factory=list)
    """What was asked for: config, tags, account, cloudtrail, access-analyzer."""
    answered: Counter[str] = field(default_factory=Counter)
    """Calls AWS answered with success, per ``service:Operation``."""
    unreachable: dict[str, str] = field(default_factory=dict)
    """Accounts that could not be entered, with the reason."""

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def add(self, other: EnrichReport) -> EnrichReport:
        """What two runs read, as one report (the parts of a split run, each enriched in turn)."""
        for mine, theirs in ((self.calls, other.calls), (self.skipped, other.skipped),
                             (self.unknown, other.unknown), (self.answered, other.answered)):  # fmt: skip
            mine.update(theirs)
        self.seconds += other.seconds
        self.enriched += other.enriched
        self.contexts = list(dict.fromkeys([*self.contexts, *other.contexts]))
        self.unreachable.update(other.unreachable)
        return self

    @property
    def reached_nothing(self) -> bool:
        """AWS was needed and answered nothing but who the caller is: every call failed, or none
        could be signed or sent, or no account of the findings could be entered. Such a run has
        seen no resource, and must not read like one that found nothing wrong."""

        def beyond_sts(counts: Counter[str]) -> int:
            return sum(n for call, n in counts.items() if not call.startswith("sts:"))

        return beyond_sts(self.answered) == 0 and (beyond_sts(self.calls) > 0 or bool(self.unreachable))

    def why_nothing(self) -> str:
        """The reasons that stood between the run and its accounts, most frequent first."""
        reasons = list(dict.fromkeys(self.unreachable.values())) or [
            reason for reason, _ in self.unknown.most_common(3)
        ]
        return "; ".join(reasons[:3]) or "no AWS call succeeded"


def demand_for(types: Iterable[str]) -> dict[str, Demand]:
    """What to fetch beyond the items, per type, from the ``needs`` of the checks of ``types``.

    A need is a path of relations, optionally ending in a detail: ``subnet.route_tables`` or
    ``instance_profile.roles.attached_policies`` or ``Policy``; ``instances.*`` is whatever the
    checks of the related type need (an Auto Scaling group asking its instances' ``is_public``).
    """
    details: dict[str, set[str]] = defaultdict(set)
    relations: dict[str, set[str]] = defaultdict(set)
    expanded: set[str] = set()

    def walk(type_: str, path: str, check_name: str) -> None:
        spec = spec_for_type(type_)
        head, _, rest = path.partition(".")
        if head == "*" and not rest:
            if type_ not in expanded:
                expanded.add(type_)
                for definition in checks_for(type_).values():
                    for need in definition.needs:
                        walk(type_, need, f"{type_}.{definition.name}")
        elif spec is not None and head in spec.relations:
            relations[type_].add(head)
            if rest:
                walk(spec.relations[head].target, rest, check_name)
        elif spec is not None and head in spec.details and not rest:
            details[type_].add(head)
        else:
            raise ValueError(
                f"check {check_name} needs {path!r}, but {type_} has no relation or detail {head!r}"
            )

    for type_ in types:
        for definition in checks_for(type_).values():
            for need in definition.needs:
                walk(type_, need, f"{type_}.{definition.name}")
    return {
        type_: Demand(frozenset(details.get(type_, ())), frozenset(relations.get(type_, ())))
        for type_ in set(details) | set(relations)
    }


def _fetch(
    resources: Mapping[str, AffectedResource], aws: Aws, max_workers: int, progress: bool
) -> tuple[dict[str, tuple[GroupKey, str]], Inventory]:
    """MetaChecks' data: every type once per (account, region), and what the checks need of it."""
    wanted, located = plan(resources.values())
    log.debug(
        "plan: %d resource(s) in %d group(s) of (account, region, type): %s",
        len(located), len(wanted), ", ".join(f"{k[2]} {k[0]}/{k[1]} x{len(v)}" for k, v in sorted(wanted.items())),
    )  # fmt: skip
    demand = demand_for({key[2] for key in wanted})
    partitions = {r.account: r.partition for r in resources.values()}
    with bar("fetching context", "group", quiet=not progress) as groups:
        fetcher = Fetcher(aws, demand, max_workers=max_workers, progress=groups.update)
        return located, fetcher.run(wanted, partitions)


def plan(
    resources: Iterable[AffectedResource],
) -> tuple[dict[GroupKey, set[str]], dict[str, tuple[GroupKey, str]]]:
    """Group what the findings name by (account, region, type): the first level of the fetch.

    Returns the ids to fetch per group, and for each resource ARN where its item will be.
    Resources without a spec, or account-level pseudo-ARNs, get their reason in ``unknown``.
    """
    wanted: dict[GroupKey, set[str]] = defaultdict(set)
    located: dict[str, tuple[GroupKey, str]] = {}
    for resource in resources:
        arn = resource.parsed_arn
        spec = spec_for(resource.type, arn)
        if not resource.concrete:
            resource.unknown["metachecks"] = "account-level pseudo-ARN: a setting, not a resource to check"
            continue
        if spec is None or not checks_for(spec.type):
            resource.unknown["metachecks"] = f"no MetaChecks for resource type {resource.type}"
            continue
        if arn is None:
            resource.unknown["metachecks"] = f"resource id {resource.arn!r} is not an ARN"
            continue
        key = group_key(spec, resource.account, resource.region)
        item_id = spec.item_id(arn)
        wanted[key].add(item_id)
        located[resource.arn] = (key, item_id)
    return dict(wanted), located


def evaluate(view: ResourceView, spec: Spec) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """Run every check of the type on one resource: (values, unknown reasons, evidence for no).

    Every resource carries the four rollups; one that means nothing for its type (an IAM policy is
    not encrypted or unencrypted) is null, and its evidence says it does not apply.
    """
    values: dict[str, Any] = {}
    unknown: dict[str, str] = {}
    evidence = not_applicable(spec.type)
    for name in checks_for(spec.type):
        try:
            value = view.check(name)
        except Unknown as exc:
            values[name], unknown[name] = None, str(exc)
            continue
        except Exception as exc:  # a bug in a check must not hide the others; its reason says so
            values[name], unknown[name] = None, f"check failed: {type(exc).__name__}: {exc}"
            continue
        if isinstance(value, No):
            values[name], evidence[name] = False, value.reason
        else:
            values[name] = value
    values.update({name: None for name in evidence if name not in values})  # in order: a set's varies by process
    return values, unknown, evidence


def not_applicable(resource_type: str) -> dict[str, str]:
    """The rollups a type has no check for, with why they are null."""
    checks = checks_for(resource_type)
    return {name: f"does not apply to {resource_type}" for name in ROLLUPS if name not in checks}


CONTEXTS = ("config", "tags", "account", "cloudtrail", "access-analyzer", "access-analyzer-checks")
"""What enrichment can add: MetaChecks (MetaHub's ``config``), MetaTags, account context, MetaTrails,
IAM Access Analyzer's findings beside metahub's own verdicts (read only when asked: it needs an
analyzer), and its custom policy checks of each distinct policy (billed per call: asked for, and
confirmed, only; they need ``config``'s documents, which they imply)."""
BILLED = "access-analyzer-checks"


def enrich(
    resources: Mapping[str, AffectedResource],
    aws: Aws | None = None,
    *,
    contexts: Iterable[str] = ("config",),
    detection_rules: dict[str, Any] | None = None,
    trail_events: Mapping[str, list[str]] | None = None,
    lookback_days: int = 90,
    max_workers: int = 16,
    progress: bool = True,
    confirm_billed: Callable[[int], bool] | None = None,
) -> EnrichReport:
    """Fill the asked ``contexts`` on every resource, then what the detection rules make of them
    (environment, owner, application); never raises for AWS trouble. ``progress`` draws a bar
    where someone watches (a terminal, a notebook). ``confirm_billed`` is asked, with their
    number, before any billed call (``access-analyzer-checks``); without it none is made."""
    started = time.perf_counter()
    wanted_contexts = set(contexts)
    if unknown_contexts := wanted_contexts - set(CONTEXTS):
        raise ValueError(
            f"unknown context {sorted(unknown_contexts)}; expected some of {', '.join(CONTEXTS)}"
        )
    if BILLED in wanted_contexts:
        wanted_contexts.add("config")  # the checks are of the documents config reads
    aws = aws or Aws(max_workers=max_workers)
    calls_before, answered_before = Counter(aws.calls), Counter(aws.answered)
    report = EnrichReport(contexts=sorted(wanted_contexts))
    # Contexts that need nothing of another read AWS at once, side by side with the MetaChecks'
    # fetch; what they read is set on the resources afterwards, in this thread and in this order,
    # so that a run's output does not depend on which answer came first.
    readers: dict[str, Callable[[], Callable[[], None]]] = {
        "access-analyzer": lambda: _access_analyzer(resources, aws, report, max_workers),
        "tags": lambda: _tags(resources, aws, report, max_workers),
        "account": lambda: _accounts(resources, aws, report, max_workers),
        "cloudtrail": lambda: _trails(
            resources, aws, report, trail_events if trail_events is not None else load_trail_events(),
            lookback_days, max_workers,
        ),
    }  # fmt: skip
    asked = [name for name in readers if name in wanted_contexts]
    with ThreadPoolExecutor(max(1, len(asked)), thread_name_prefix="metahub-context") as contexts_pool:
        reading = {name: contexts_pool.submit(readers[name]) for name in asked}
        try:
            if "config" in wanted_contexts:
                located, inventory = _fetch(resources, aws, max_workers, progress)
                _attach(resources, located, inventory, report)
                if BILLED in wanted_contexts:
                    _attach_policy_checks(resources, located, inventory, aws, report, confirm_billed, max_workers)
            for name in asked:
                reading[name].result()()
        except BaseException:  # interrupted, or a bug: the other readers' calls end now, not later
            aws.stop()
            raise
    rules = detection_rules or load_rules()
    for resource in resources.values():
        resource.detected = detect(resource, rules)
    report.calls = Counter(aws.calls) - calls_before
    report.answered = aws.answered - answered_before
    report.unreachable = aws.unavailable
    report.seconds = time.perf_counter() - started
    return report


def _tags(
    resources: Mapping[str, AffectedResource], aws: Aws, report: EnrichReport, max_workers: int
) -> Callable[[], None]:
    """MetaTags: the finding's tags when it has any; else batched lookups per (account, region)
    (the batches side by side), and IAM's listing per account. Returns what sets them."""
    batches: dict[tuple[str, str, str, int], list[AffectedResource]] = defaultdict(list)
    by_iam_account: dict[tuple[str, str], list[AffectedResource]] = defaultdict(list)
    counts: Counter[tuple[str, str, str]] = Counter()
    for resource in resources.values():
        arn = resource.parsed_arn
        if not resource.concrete or arn is None or resource.tags:
            continue
        if arn.service == "iam":
            by_iam_account[(resource.account, resource.partition)].append(resource)
        else:
            account, region = resource.account, resource.region or arn.region or "us-east-1"
            where = (account, region, resource.partition)
            batches[(account, region, resource.partition, counts[where] // TAGGING_BATCH)].append(resource)
            counts[where] += 1

    def regional(key: tuple[str, str, str, int]) -> tuple[list[AffectedResource], dict[str, dict[str, str]] | str]:
        account, region, partition, _ = key
        try:
            return batches[key], tags_by_api(aws, account, region, partition, [r.arn for r in batches[key]])
        except Exception as exc:
            return batches[key], describe_error(exc, "tagging:GetResources")

    def iam(key: tuple[str, str]) -> tuple[list[AffectedResource], dict[str, dict[str, str]] | str]:
        try:
            return by_iam_account[key], iam_tags(aws, *key)
        except Exception as exc:
            return by_iam_account[key], describe_error(exc, "iam:GetAccountAuthorizationDetails")

    with ThreadPoolExecutor(max_workers, thread_name_prefix="metahub-tags") as pool:
        results = [*pool.map(regional, batches), *pool.map(iam, by_iam_account)]

    def apply() -> None:
        for resource in resources.values():
            if resource.concrete and resource.parsed_arn is not None and resource.tags:
                resource.metatags = dict(resource.tags)
        for group, found in results:
            for resource in group:
                if isinstance(found, str):
                    resource.unknown["metatags"] = found
                    report.unknown[found] += 1
                elif resource.arn in found:
                    resource.metatags = found[resource.arn]
                else:
                    reason = "IAM keeps tags of this kind apart (only those of roles and users are read)"
                    resource.unknown["metatags"] = reason
                    report.unknown[reason] += 1

    return apply


def load_trail_events(path: str | Path | None = None) -> dict[str, list[str]]:
    """Event names per ASFF type (default: ``metahub/config/trails.json``)."""
    if path is None:
        text = importlib.resources.files("metahub").joinpath("config/trails.json").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    events = {k: v for k, v in json.loads(text).items() if not k.startswith("_")}
    for type_, names in events.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"trail events {path or 'default'}: {type_} must list event names")
    return events


def _trail_names(resource: AffectedResource) -> set[str]:
    """The names a CloudTrail event may give this resource: ARN, id, last path segment."""
    arn = resource.parsed_arn
    names = {resource.arn}
    if arn is not None and arn.resource_id:
        names |= {arn.resource_id, arn.resource_id.rsplit("/", 1)[-1], arn.resource_id.split(":")[0]}
    return names


def _trails(
    resources: Mapping[str, AffectedResource],
    aws: Aws,
    report: EnrichReport,
    events: Mapping[str, list[str]],
    lookback_days: int,
    max_workers: int,
) -> Callable[[], None]:
    """MetaTrails: one LookupEvents pass per (account, region, event name), matched locally.
    Returns what sets them."""
    index, members, names_by_group = _trail_groups(resources, events)
    rate = math.inf if aws.replay is not None else LOOKUP_RATE  # a replay is no load on CloudTrail
    limiters = {group: RateLimiter(rate) for group in names_by_group}
    start = datetime.now(timezone.utc) - timedelta(days=lookback_days)
    tasks = [(group, name) for group, names in names_by_group.items() for name in sorted(names)]

    def run(task: tuple[tuple[str, str, str], str]) -> list[dict[str, Any]] | str:
        (account, region, partition), name = task
        try:
            return lookup_events(aws, account, region, partition, name, start, limiters[task[0]])
        except Exception as exc:
            return describe_error(exc, "cloudtrail:LookupEvents")

    # One name per (account, region) first: where CloudTrail cannot answer at all (access denied,
    # an endpoint without LookupEvents), the other names of that group are not asked in vain.
    firsts = {group: (group, min(names)) for group, names in names_by_group.items()}
    with ThreadPoolExecutor(max_workers, thread_name_prefix="metahub-trails") as pool:
        answers = dict(zip(firsts.values(), pool.map(run, firsts.values()), strict=True))
        failed = {task[0]: found for task, found in answers.items() if isinstance(found, str)}
        rest = [task for task in tasks if task not in answers and task[0] not in failed]
        answers.update(zip(rest, pool.map(run, rest), strict=True))
    results = [answers.get(task, failed.get(task[0], "")) for task in tasks]

    def apply() -> None:
        for kept in members.values():
            for resource in kept:
                resource.metatrails = {}
        for (group, name), found in zip(tasks, results, strict=True):
            if isinstance(found, str):
                for resource in members[group]:
                    if name in events[resource.type]:
                        resource.unknown[f"metatrails.{name}"] = found
                        report.unknown[found] += 1
            else:
                _record_trails(found, name, index[group], events)
        for kept in members.values():  # the configured order: the event that creates the type first
            for resource in kept:
                order = events[resource.type]
                trails = resource.metatrails or {}
                resource.metatrails = {name: trails[name] for name in sorted(trails, key=order.index)}

    return apply


TrailGroup = tuple[str, str, str]
"""(account, region, partition): where LookupEvents is asked."""


def _trail_groups(
    resources: Mapping[str, AffectedResource], events: Mapping[str, list[str]]
) -> tuple[
    dict[TrailGroup, dict[str, list[AffectedResource]]],
    dict[TrailGroup, list[AffectedResource]],
    dict[TrailGroup, set[str]],
]:
    """Per group: the resources by every name an event may give them, the resources, the event names."""
    index: dict[TrailGroup, dict[str, list[AffectedResource]]] = defaultdict(lambda: defaultdict(list))
    members: dict[TrailGroup, list[AffectedResource]] = defaultdict(list)
    names_by_group: dict[TrailGroup, set[str]] = defaultdict(set)
    for resource in resources.values():
        wanted = events.get(resource.type)
        if not resource.concrete or not wanted:
            continue
        iam = resource.parsed_arn is not None and resource.parsed_arn.service == "iam"
        region = "us-east-1" if iam else (resource.region or "us-east-1")
        group = (resource.account, region, resource.partition)
        names_by_group[group].update(wanted)
        members[group].append(resource)
        for name in _trail_names(resource):
            index[group][name].append(resource)
    return index, members, names_by_group


def _record_trails(
    found: list[dict[str, Any]],
    name: str,
    index: Mapping[str, list[AffectedResource]],
    events: Mapping[str, list[str]],
) -> None:
    """The latest event of ``name`` on each resource it mentions (events come newest first)."""
    for event in found:
        for mentioned in event.get("Resources", []):
            for resource in index.get(mentioned.get("ResourceName", ""), []):
                trails = resource.metatrails
                if trails is not None and name in events[resource.type] and name not in trails:
                    when = event.get("EventTime")
                    trails[name] = {
                        "Username": event.get("Username"),
                        "EventTime": when.isoformat() if isinstance(when, datetime) else when,
                        "EventId": event.get("EventId"),
                        **({"Creator": who} if (who := creator(event)) else {}),
                    }


def _access_analyzer(
    resources: Mapping[str, AffectedResource], aws: Aws, report: EnrichReport, max_workers: int
) -> Callable[[], None]:
    """Access Analyzer's active external-access findings, one read per (account, region); returns
    what sets them beside each analysed resource's own ``is_public``
    (:mod:`metahub.checks.access_analyzer`), to be called once the MetaChecks are set."""
    by_region: dict[tuple[str, str, str], list[AffectedResource]] = defaultdict(list)
    for resource in resources.values():
        spec = spec_for(resource.type, resource.parsed_arn)
        if resource.concrete and spec is not None and spec.type in ANALYZED_TYPES:
            region = resource.region or spec.global_region or "us-east-1"
            by_region[(resource.account, region, resource.partition)].append(resource)
    keys = list(by_region)
    with ThreadPoolExecutor(max_workers, thread_name_prefix="metahub-analyzer") as pool:
        results = list(pool.map(lambda key: external_access(aws, *key), keys))

    def apply() -> None:
        for key, analyzed in zip(keys, results, strict=True):
            for resource in by_region[key]:
                checks = resource.metachecks or {}
                found, unknown, evidence = compare(
                    resource.arn, key[1], analyzed, checks.get("is_public"), resource.evidence.get("is_public")
                )
                _record(resource, found, unknown, evidence, report)

    return apply


PolicyCall = tuple[str, str, str, str, dict[str, Any]]
"""(account, region, partition, operation, parameters) of one Access Analyzer policy check."""
_CHECK_NAMES = {
    "check_no_public_access": "CheckNoPublicAccess",
    "check_access_not_granted": "CheckAccessNotGranted",
}


def _attach_policy_checks(
    resources: Mapping[str, AffectedResource],
    located: Mapping[str, tuple[GroupKey, str]],
    inventory: Inventory,
    aws: Aws,
    report: EnrichReport,
    confirm: Callable[[int], bool] | None,
    max_workers: int,
) -> None:
    """IAM Access Analyzer's custom policy checks, each distinct document once per run: resource and
    trust policies with CheckNoPublicAccess, identity policies with CheckAccessNotGranted of the
    permissions-management actions. They are billed per call, so their number is confirmed first."""
    wanted, calls = _policy_calls(resources, located, inventory)
    if not calls:
        return
    if confirm is None or not confirm(len(calls)):
        reason = f"{len(calls)} IAM Access Analyzer policy checks are billed per call and were not confirmed"
        for arn in wanted:
            resource = resources[arn]
            resource.metachecks = {
                **(resource.metachecks or {}),
                POLICY_CHECKS: None,
                POLICY_DISAGREEMENT: None,
            }
            resource.unknown.update({POLICY_CHECKS: reason, POLICY_DISAGREEMENT: reason})
        report.unknown[reason] += 2 * len(wanted)
        return
    keys = sorted(calls)
    with ThreadPoolExecutor(max_workers, thread_name_prefix="metahub-policy-checks") as pool:
        answers = dict(zip(keys, pool.map(lambda k: policy_check(aws, *calls[k]), keys), strict=True))
    for arn, entries in wanted.items():
        resource = resources[arn]
        results = [
            {"check": _CHECK_NAMES[calls[digest][3]], "policy": document.label,
             "local_check": document.local_check, **answers[digest]}
            for document, digest in entries
        ]  # fmt: skip
        found, unknown, evidence = compare_policy_checks(
            results, resource.metachecks or {}, resource.evidence
        )
        _record(resource, found, unknown, evidence, report)


def _policy_calls(
    resources: Mapping[str, AffectedResource],
    located: Mapping[str, tuple[GroupKey, str]],
    inventory: Inventory,
) -> tuple[dict[str, list[tuple[PolicyDocument, tuple[Any, ...]]]], dict[tuple[Any, ...], PolicyCall]]:
    """Per resource, its documents and the call that checks each; the distinct calls, keyed by
    account, region, operation and a hash of the parameters."""
    shared: dict[Any, Any] = {}
    wanted: dict[str, list[tuple[PolicyDocument, tuple[Any, ...]]]] = {}
    calls: dict[tuple[Any, ...], PolicyCall] = {}
    for arn, resource in resources.items():
        if arn not in located or inventory.item(*located[arn]) is None:
            continue
        key, item_id = located[arn]
        try:
            documents = policy_documents(ResourceView(inventory, key, item_id, shared))
        except Unknown as exc:
            resource.metachecks = {**(resource.metachecks or {}), POLICY_CHECKS: None}
            resource.unknown[POLICY_CHECKS] = str(exc)
            continue
        region = resource.region or "us-east-1"
        entries = []
        for document in documents:
            call = _policy_call(document)
            if call is None:
                continue
            operation, params = call
            digest = (
                key[0],
                region,
                operation,
                hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest(),
            )
            calls.setdefault(digest, (key[0], region, resource.partition, operation, params))
            entries.append((document, digest))
        wanted[arn] = entries
    return wanted, calls


def _policy_call(document: PolicyDocument) -> tuple[str, dict[str, Any]] | None:
    """The Access Analyzer check for one document: none for a resource type it does not take."""
    text = json.dumps(document.document, sort_keys=True, separators=(",", ":"))
    if document.kind == "resource" and document.analyzer_type:
        return "check_no_public_access", {"policyDocument": text, "resourceType": document.analyzer_type}
    if document.kind == "identity":
        access = [{"actions": list(SELF_GRANT)}]
        return "check_access_not_granted", {
            "policyDocument": text,
            "access": access,
            "policyType": "IDENTITY_POLICY",
        }
    return None


def _accounts(
    resources: Mapping[str, AffectedResource], aws: Aws, report: EnrichReport, max_workers: int
) -> Callable[[], None]:
    """Account context, the accounts side by side; returns what sets it."""
    partitions = {r.account: r.partition for r in resources.values()}
    with ThreadPoolExecutor(max_workers, thread_name_prefix="metahub-accounts") as pool:
        found = pool.map(lambda item: account_context(aws, *item), partitions.items())
        contexts = dict(zip(partitions, found, strict=True))

    def apply() -> None:
        for resource in resources.values():
            context, unknown = contexts[resource.account]
            resource.metaaccount = context
            resource.unknown.update(unknown)
        for _, unknown in contexts.values():
            for reason in unknown.values():
                report.unknown[reason] += 1

    return apply


def _record(
    resource: AffectedResource,
    found: Mapping[str, Any],
    unknown: Mapping[str, str],
    evidence: Mapping[str, str],
    report: EnrichReport,
) -> None:
    """Check values onto the resource (beside those it has), with why some are unknown or no; the
    run's report counts the unknowns by reason."""
    resource.metachecks = {**(resource.metachecks or {}), **found}
    resource.unknown.update(unknown)
    resource.evidence.update(evidence)
    for reason in unknown.values():
        report.unknown[reason] += 1


def _attach(
    resources: Mapping[str, AffectedResource],
    located: Mapping[str, tuple[GroupKey, str]],
    inventory: Inventory,
    report: EnrichReport,
) -> None:
    shared: dict[Any, Any] = {}
    for arn, resource in resources.items():
        if arn not in located:
            report.skipped[resource.unknown.get("metachecks", "no checks")] += 1
            continue
        key, item_id = located[arn]
        spec = spec_for_type(key[2])
        assert spec is not None
        if inventory.item(key, item_id) is None:
            reason = inventory.missing_reason(key, item_id)
            checks = list(checks_for(spec.type))
            resource.metachecks = dict.fromkeys([*checks, *not_applicable(spec.type)])
            resource.unknown.update(dict.fromkeys(checks, reason))
            resource.evidence.update(not_applicable(spec.type))  # n/a stays n/a, found or not
            report.unknown[reason] += len(checks)
            continue
        view = ResourceView(inventory, key, item_id, shared)
        values, unknown, evidence = evaluate(view, spec)
        resource.metachecks = None
        _record(resource, values, unknown, evidence, report)
        report.enriched += 1
