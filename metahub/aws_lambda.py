"""Security Hub custom action (and automation) as an AWS Lambda function.

EventBridge delivers "Security Hub Findings - Custom Action" when someone picks findings in the
console and chooses the action, and "Security Hub Findings - Imported" whenever findings arrive
or change; the new Security Hub delivers "Findings Imported V2", one OCSF finding an event, whose
writes go through BatchUpdateFindingsV2. ``handler`` enriches the event's findings from their accounts, then acts as configured.
Findings that already hold what would be written are left alone, so the "Imported" event that an
update raises does not start a loop.

Configuration, from environment variables (deploy/metahub-custom-action.yaml sets them):

==============================  =====================================================================
``METAHUB_CONTEXT``             comma list of config, tags, account, cloudtrail (default: config,tags)
``METAHUB_ACTIONS``             comma list of enrich-findings, update-findings (default: enrich-findings)
``METAHUB_UPDATE_FINDINGS``     e.g. ``Workflow=NOTIFIED Note="Reviewed by metahub"`` (shell quoting)
``METAHUB_FILTERS_CHECKS``      act only on resources matching, e.g. ``is_public=True``
``METAHUB_FILTERS_TAGS``        act only on resources with one of these tags, e.g. ``Environment=prod``
``METAHUB_ASSUME_ROLE``         role name to assume in each affected account for the context
``METAHUB_EXTERNAL_ID``         external ID for that role
``METAHUB_DRY_RUN``             ``true``: plan and report, write nothing
``METAHUB_MUTELIST``            a mutelist (Prowler's YAML): ``s3://bucket/key`` or a file in the package
==============================  =====================================================================
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from metahub import mutelist as mutes
from metahub.actions import apply, parse_update, plan_actions
from metahub.aws import Aws, RoleSettings
from metahub.enrich import CONTEXTS
from metahub.filters import Filters
from metahub.run import Run, load
from metahub.securityhub import clients

log = logging.getLogger("metahub.lambda")

EVENT_TYPES = ("Security Hub Findings - Custom Action", "Security Hub Findings - Imported", "Findings Imported V2")
# Every variable the Lambda reads; the CLI honours METAHUB_DRY_RUN and refuses the rest (flags say them).
VARIABLES = (
    "METAHUB_CONTEXT",
    "METAHUB_ACTIONS",
    "METAHUB_UPDATE_FINDINGS",
    "METAHUB_FILTERS_CHECKS",
    "METAHUB_FILTERS_TAGS",
    "METAHUB_ASSUME_ROLE",
    "METAHUB_EXTERNAL_ID",
    "METAHUB_DRY_RUN",
    "METAHUB_MUTELIST",
)
ACTIONS = ("enrich-findings", "update-findings")


@dataclass
class Settings:
    contexts: list[str] = field(default_factory=lambda: ["config", "tags"])
    actions: list[str] = field(default_factory=lambda: ["enrich-findings"])
    update: dict[str, Any] | None = None
    filters: Filters = field(default_factory=Filters)
    role: RoleSettings | None = None
    dry_run: bool = False
    mutelist: str | None = None
    """``s3://bucket/key`` or a path: muted findings are marked and set aside, never written to."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the configuration; a bad value raises ``ValueError`` naming the variable."""
        env = os.environ if env is None else env
        contexts = comma_list(env.get("METAHUB_CONTEXT", "config,tags"))
        actions = comma_list(env.get("METAHUB_ACTIONS", "enrich-findings"))
        for name, values, allowed in (
            ("METAHUB_CONTEXT", contexts, CONTEXTS),
            ("METAHUB_ACTIONS", actions, ACTIONS),
        ):
            wrong = [v for v in values if v not in allowed]
            if wrong:
                raise ValueError(f"{name}: {', '.join(wrong)} not among {', '.join(allowed)}")
        update_text = env.get("METAHUB_UPDATE_FINDINGS", "").strip()
        if "update-findings" in actions and not update_text:
            raise ValueError("METAHUB_ACTIONS has update-findings but METAHUB_UPDATE_FINDINGS is empty")
        role_name = env.get("METAHUB_ASSUME_ROLE", "").strip()
        return cls(
            contexts=contexts,
            actions=actions,
            update=parse_update(shell_words(env, "METAHUB_UPDATE_FINDINGS")) if update_text else None,
            filters=Filters.parse(shell_words(env, "METAHUB_FILTERS_CHECKS"), shell_words(env, "METAHUB_FILTERS_TAGS")),
            role=RoleSettings(role_name, env.get("METAHUB_EXTERNAL_ID") or None) if role_name else None,
            dry_run=boolean_env(env, "METAHUB_DRY_RUN"),
            mutelist=env.get("METAHUB_MUTELIST", "").strip() or None,
        )


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def boolean_env(env: Mapping[str, str], name: str) -> bool:
    """A yes/no variable, read strictly: a value that is neither refuses to run (``METAHUB_DRY_RUN=ture``
    must not mean "write")."""
    value = env.get(name, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(
            f"{name}: {env[name]!r} is neither true ({', '.join(_TRUE)}) nor false (0, false, no, off, empty)"
        )
    return value in _TRUE


def shell_words(env: Mapping[str, str], name: str) -> list[str]:
    """A variable's value split as a shell would (``Note="two words"``)."""
    try:
        return shlex.split(env.get(name, ""))
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


@dataclass
class _EventFindings:
    """The event's findings, each validated alone: one bad finding is rejected, the rest acted on."""

    name: str
    findings: list[Any]

    def records(self) -> Iterator[tuple[str, Any]]:
        for index, finding in enumerate(self.findings):
            yield f"detail.findings[{index}]", finding


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The Lambda entry point: ``metahub.aws_lambda.handler``."""
    summary = process(event, Settings.from_env())
    log.info("metahub summary: %s", json.dumps(summary, default=str))
    return summary


def process(
    event: dict[str, Any],
    settings: Settings,
    *,
    aws: Aws | None = None,
    securityhub: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Enrich and act on one EventBridge event; ``securityhub(region)`` gives the client to write
    with (default: the function's own credentials, never the assumed context role)."""
    skipped = _not_for_us(event)
    if skipped is not None:
        return skipped
    detail = event["detail"]
    run = load(_EventFindings(f"event {str(event.get('id', '?'))[:80]}", detail["findings"]))
    summary: dict[str, Any] = {
        "event": event["detail-type"],
        "action": detail.get("actionName"),
        "findings": len(run.findings),
        "resources": len(run.resources),
        "problems": [str(p) for p in run.report.problems],
    }
    aws = aws or Aws(role=settings.role)
    if settings.mutelist:
        summary["mutelist"] = run.mute(_mutelist(settings.mutelist, Aws() if settings.role else aws)).to_dict()
    if settings.contexts and run.resources:
        report = run.enrich(aws, contexts=settings.contexts)
        summary["context"] = {
            "enriched": report.enriched,
            "aws_calls": report.total_calls,
            "unknown": dict(report.unknown.most_common(10)),
        }
    if settings.filters:
        run = run.apply(settings.filters)
        summary["resources_matching_filters"] = len(run.resources)
    # The event's region holds its findings (the aggregation region, where findings are aggregated).
    region = event.get("region") or aws.region
    # Written with the function's own credentials: METAHUB_ASSUME_ROLE is a read-only role for context.
    write = securityhub or clients(Aws() if settings.role else aws)
    summary["actions"] = _act(run, settings, region, write)
    summary["dry_run"] = settings.dry_run
    return summary


def _mutelist(where: str, aws: Aws) -> mutes.Mutelist:
    """The mutelist from S3 (with the function's own credentials) or from a file."""
    match = re.fullmatch(r"s3://([^/]+)/(.+)", where)
    if match is None:
        return mutes.load(where)
    bucket, key = match.groups()
    body = aws.client("s3", aws.caller_account(), aws.region or "us-east-1").get_object(Bucket=bucket, Key=key)["Body"]
    return mutes.parse(body.read().decode("utf-8-sig"), where)


def _not_for_us(event: Any) -> dict[str, Any] | None:
    """The summary of an event this function does not handle, with why; None for one it does."""
    if not isinstance(event, dict):
        return {"event": None, "skipped": f"the event is not a JSON object but {type(event).__name__}"}
    kind = event.get("detail-type")
    if kind not in EVENT_TYPES:
        return {"event": kind, "skipped": f"not a Security Hub findings event ({', '.join(EVENT_TYPES)})"}
    detail = event.get("detail")
    if not isinstance(detail, dict) or not isinstance(detail.get("findings"), list):
        return {"event": kind, "skipped": "the event has no detail.findings array"}
    return None


def _act(run: Run, settings: Settings, region: str | None, write: Callable[[str], Any]) -> list[dict[str, Any]]:
    """The configured writes, planned and (unless a dry run) sent; what each did."""
    plans = plan_actions(
        run.resources,
        update=settings.update if "update-findings" in settings.actions else None,
        enrich="enrich-findings" in settings.actions,
        region=region,
    )
    outcomes = []
    for plan in plans:
        outcome: dict[str, Any] = {
            "action": plan.action,
            "planned": plan.findings,
            "up_to_date": plan.up_to_date,
            "cannot_write": plan.skipped,
        }
        if not settings.dry_run:
            outcome.update(apply(plan, write).to_dict())
        outcomes.append(outcome)
    return outcomes
