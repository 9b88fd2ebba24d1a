"""Write back to Security Hub: ``--update-findings`` and ``--enrich-findings``.

Both become BatchUpdateFindings calls of at most 100 findings that share one update. Planning is
pure (no AWS): a finding that already holds what would be written is left out, so running twice,
or a custom action woken by the "Imported" event its own update caused, changes nothing.

``--enrich-findings`` writes the context into ``UserDefinedFields`` under ``metahub.`` keys, within
Security Hub's limits (50 fields, keys of 128 and values of 1,024 characters). Fields of other
origin on a finding are kept and count against the 50. What does not fit is cut in a fixed order
(rollups, detection, account, trails, tags, context that could not be had, then the other
checks: true ones, unknown ones, false ones),
and ``metahub.truncated`` says what was cut.

Findings of the new Security Hub (OCSF, a ``productv2`` product) go through BatchUpdateFindingsV2,
which takes StatusId, SeverityId and Comment (1 to 512 characters) and nothing else: Workflow and
Severity are written as their OCSF ids, Note as the Comment; VerificationState, Confidence and
Criticality have no v2 field, so such a finding is reported as not writable. ``--enrich-findings``
writes a v2 finding's Comment: the context summarised to fit (:func:`summary_comment`). v1 and v2
findings of one run each go to their own API.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore import xform_name

from metahub.aws import THROTTLED, RateLimiter, describe_error, error_code, paced_call
from metahub.models import ROLLUPS, AffectedResource, Finding
from metahub.progress import bar
from metahub.securityhub import SecurityHubError, check_request

BATCH_SIZE = 100  # BatchUpdateFindings' maximum
MAX_FIELDS, MAX_KEY, MAX_VALUE = 50, 128, 1024
MAX_NOTE = 512
PREFIX = "metahub."
TRUNCATED_KEY = f"{PREFIX}truncated"
UPDATE_RATE = 10.0  # requests per second per account and region (Security Hub's write quota)
# Security Hub also says LimitExceededException when a caller goes over its request rate.
_THROTTLED = THROTTLED | {"LimitExceededException"}
V2_STATUS = {"NEW": 1, "NOTIFIED": 2, "SUPPRESSED": 3, "RESOLVED": 4}
"""ASFF workflow status to OCSF ``status_id`` (1 New, 2 In Progress, 3 Suppressed, 4 Resolved)."""
V2_SEVERITY = {"INFORMATIONAL": 1, "LOW": 2, "MEDIUM": 3, "HIGH": 4, "CRITICAL": 5}
"""ASFF severity label to OCSF ``severity_id`` (1 Informational ... 5 Critical)."""
V2_API, V1_API = "BatchUpdateFindingsV2", "BatchUpdateFindings"

# --- what to write -------------------------------------------------------------------------------

_UPDATE_KEYS = {
    "workflow": "Workflow",
    "note": "Note",
    "severity": "Severity",
    "verificationstate": "VerificationState",
    "confidence": "Confidence",
    "criticality": "Criticality",
}


def parse_update(pairs: Iterable[str], updated_by: str = "metahub") -> dict[str, Any]:
    """``Workflow=NOTIFIED Note="text" Severity=LOW VerificationState=FALSE_POSITIVE Confidence=80
    Criticality=50`` to the fields of a BatchUpdateFindings request, checked against its model."""
    update: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        key = _UPDATE_KEYS.get(name.strip().lower())
        if not sep or key is None:
            raise SecurityHubError(
                f"--update-findings {pair!r}: expected one of {', '.join(_UPDATE_KEYS.values())}=VALUE"
            )
        if key in update:
            raise SecurityHubError(f"--update-findings: {key} given twice")
        if key == "Workflow":
            update[key] = {"Status": value.strip().upper()}
        elif key == "Note":
            if not value.strip():
                raise SecurityHubError("--update-findings: Note needs text")
            if len(value) > MAX_NOTE:
                raise SecurityHubError(
                    f"--update-findings: Note is {len(value)} characters; at most {MAX_NOTE}"
                )
            update[key] = {"Text": value, "UpdatedBy": updated_by}
        elif key == "Severity":
            update[key] = {"Label": value.strip().upper()}
        elif key == "VerificationState":
            update[key] = value.strip().upper()
        else:
            try:
                update[key] = int(value)
            except ValueError:
                raise SecurityHubError(f"--update-findings {pair!r}: expected a whole number 0-100") from None
            if not 0 <= update[key] <= 100:
                raise SecurityHubError(f"--update-findings {pair!r}: expected a whole number 0-100")
    if not update:
        raise SecurityHubError("--update-findings: nothing to update")
    probe = {"FindingIdentifiers": [{"Id": "x", "ProductArn": "x"}], **update}
    check_request("BatchUpdateFindings", probe, "--update-findings")
    return update


def _holds(finding: Finding, update: Mapping[str, Any]) -> bool:
    """Whether the finding already has every value of ``update``."""
    for key, value in update.items():
        if key == "Workflow" and finding.workflow_status != value["Status"]:
            return False
        if key == "Note" and _note(finding) != value["Text"]:
            return False
        if key == "Severity" and finding.severity_label != value["Label"]:
            return False
        if key in ("VerificationState", "Confidence", "Criticality") and getattr(finding, key, None) != value:
            return False
    return True


def _note(finding: Finding) -> Any:
    """The finding's note: ASFF's Note, or a v2 finding's comment."""
    if finding.in_security_hub_v2:
        return finding.ocsf.get("comment")
    return (finding.Note or {}).get("Text")


def v2_update(update: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A BatchUpdateFindings update as BatchUpdateFindingsV2 fields, and why it cannot be one."""
    lacking = [key for key in update if key in ("VerificationState", "Confidence", "Criticality")]
    if lacking:
        return {}, f"BatchUpdateFindingsV2 has no {', '.join(lacking)} (it takes StatusId, SeverityId, Comment)"
    fields: dict[str, Any] = {}
    if "Workflow" in update:
        fields["StatusId"] = V2_STATUS[update["Workflow"]["Status"]]
    if "Severity" in update:
        fields["SeverityId"] = V2_SEVERITY[update["Severity"]["Label"]]
    if "Note" in update:
        fields["Comment"] = update["Note"]["Text"]
    if "UserDefinedFields" in update:
        fields["Comment"] = update["UserDefinedFields"]
    return fields, None


def summary_comment(resource: AffectedResource, limit: int = MAX_NOTE) -> str:
    """The context of :func:`context_fields` as one comment of at most ``limit`` characters, most
    important first; what does not fit is cut, and counted at the end ("+12 more in metahub's
    outputs")."""
    parts = [f"{key.removeprefix(PREFIX)}={value}" for key, value in context_fields(resource)]
    text, shown = "metahub:", 0
    for part in parts:
        left = len(parts) - shown - 1
        tail = f" (+{left} more in metahub's outputs)" if left else ""
        if len(f"{text} {part};") + len(tail) > limit:
            break
        text, shown = f"{text} {part};", shown + 1
    if shown == len(parts):
        return text.rstrip(";")
    tail = f" (+{len(parts) - shown} more in metahub's outputs)"
    return f"{text} {parts[shown]}"[: limit - len(tail) - 1] + "…" + tail


def context_fields(resource: AffectedResource) -> list[tuple[str, str]]:
    """The resource's context as ``(key, value)`` text pairs, most important first."""
    checks = resource.metachecks or {}
    fields: list[tuple[str, str]] = []
    if resource.impact is not None:  # what to fix first leads
        decided = {k: p["value"] for k, p in resource.impact["properties"].items() if p["value"]}
        fields.append((f"{PREFIX}impact", _text({"score": resource.impact["score"], **decided})))
    if resource.combinations:
        top = resource.combinations[0]
        path = " -> ".join(hop["arn"] for hop in top["path"])
        fields.append((f"{PREFIX}combination", f"{top['severity']} {top['title']}: {path}"))
    fields += [
        (f"{PREFIX}{name}", _check_text(resource, name, checks.get(name)))
        for name in ROLLUPS
        if name in checks
    ]
    for name, found in sorted((resource.detected or {}).items()):
        if found:
            fields.append((f"{PREFIX}{name}", _text(found.get("value"))))
    for section, label in ((resource.metaaccount, "account"), (resource.metatrails, "trail")):
        for name, value in sorted((section or {}).items()):
            if value is not None:
                fields.append((f"{PREFIX}{label}.{name}", _text(value)))
    if resource.metatags is not None:
        fields.extend(
            (f"{PREFIX}tag.{key}", _text(value)) for key, value in sorted(resource.metatags.items())
        )
    fields.extend(  # context that could not be fetched at all, with why
        (f"{PREFIX}unknown.{name}", _text(reason))
        for name, reason in sorted(resource.unknown.items())
        if name not in checks
    )
    rest = [name for name in sorted(checks) if name not in ROLLUPS]

    def rank(name: str) -> int:
        value = checks[name]
        return 2 if value is False or value in ([], {}, "") else 1 if value is None else 0

    fields.extend(
        (f"{PREFIX}{name}", _check_text(resource, name, checks[name])) for name in sorted(rest, key=rank)
    )
    return fields


def _check_text(resource: AffectedResource, name: str, value: Any) -> str:
    if value is None:
        if name in resource.unknown:
            return f"unknown: {resource.unknown[name]}"
        if name in resource.evidence:
            return f"n/a: {resource.evidence[name]}"
        return "unknown"
    if value is False and name in resource.evidence:
        return f"False: {resource.evidence[name]}"
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value if value.strip() else json.dumps(value)  # Security Hub refuses blank values
    if isinstance(value, bool) or value is None:
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def fit_fields(fields: list[tuple[str, str]], budget: int = MAX_FIELDS) -> dict[str, str]:
    """At most ``budget`` fields within the key and value limits; when anything is cut, the last
    field is ``metahub.truncated``, naming what was dropped and what was shortened."""
    fitted = [(_fit_key(key), _fit_value(value)) for key, value in fields]
    shortened = [
        key for (key, value), (_, original) in zip(fitted, fields, strict=True) if len(value) < len(original)
    ]
    if len(fitted) <= budget and not shortened:
        return dict(fitted)
    kept, dropped = fitted[: budget - 1], fitted[budget - 1 :]
    parts = []
    if dropped:
        parts.append(f"dropped {len(dropped)} of {len(fitted)} fields: {', '.join(k for k, _ in dropped)}")
    shortened = [key for key in shortened if key in dict(kept)]
    if shortened:
        parts.append(f"shortened to {MAX_VALUE} characters: {', '.join(shortened)}")
    note = "; ".join(parts) or "nothing"
    return {**dict(kept), TRUNCATED_KEY: _fit_value(note)}


def _fit_key(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]  # keeps two long keys apart
    return f"{key[: MAX_KEY - 9]}~{digest}"


def _fit_value(value: str) -> str:
    if len(value) <= MAX_VALUE:
        return value
    cut = len(value) - MAX_VALUE
    while True:  # the suffix's length depends on the number it carries: settle both
        suffix = f"…[+{cut} chars]"
        needed = len(value) - (MAX_VALUE - len(suffix))
        if needed == cut:
            return value[: MAX_VALUE - len(suffix)] + suffix
        cut = needed


# --- planning ------------------------------------------------------------------------------------


@dataclass
class Batch:
    region: str
    update: dict[str, Any]
    findings: list[Finding]
    api: str = V1_API
    """BatchUpdateFindings, or BatchUpdateFindingsV2 for findings of the new Security Hub."""

    def request(self) -> dict[str, Any]:
        if self.api == V2_API:
            ids = [
                {"CloudAccountUid": f.AwsAccountId, "FindingInfoUid": f.Id,
                 "MetadataProductUid": str(f.ocsf.get("metadata.product.uid") or f.ProductArn)}
                for f in self.findings
            ]  # fmt: skip
            return {"FindingIdentifiers": ids, **self.update}
        return {"FindingIdentifiers": [{"Id": f.Id, "ProductArn": f.ProductArn} for f in self.findings], **self.update}


@dataclass
class Plan:
    action: str
    batches: list[Batch] = field(default_factory=list)
    up_to_date: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    """Findings that cannot be written, each ``{"Id", "ProductArn", "reason"}``."""
    muted: int = 0
    """Findings a mutelist muted: accepted risk, left as they are."""

    @property
    def findings(self) -> int:
        return sum(len(b.findings) for b in self.batches)

    def describe(self) -> str:
        regions: dict[str, int] = {}
        for batch in self.batches:
            regions[batch.region] = regions.get(batch.region, 0) + len(batch.findings)
        where = ", ".join(f"{region}: {count}" for region, count in sorted(regions.items())) or "none"
        calls = " and ".join(
            f"{sum(b.api == api for b in self.batches)} {api}" for api in (V1_API, V2_API)
            if any(b.api == api for b in self.batches)
        ) or f"0 {V1_API}"  # fmt: skip
        line = (
            f"{self.action}: {self.findings} finding(s) to change in {calls} "
            f"call(s) ({where}); {self.up_to_date} already up to date"
        )
        if self.muted:
            line += f"; {self.muted} muted, left alone"
        if self.skipped:
            line += f"; {len(self.skipped)} cannot be written"
        if self.action == "update-findings" and self.batches:
            line += f"; sets {_flatten(self.batches[0].update)}"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "up_to_date": self.up_to_date,
            "muted": self.muted,
            "skipped": self.skipped,
            "requests": [{"region": b.region, "api": b.api, **b.request()} for b in self.batches],
        }


def _flatten(update: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for key, value in update.items():
        if isinstance(value, dict):
            parts.extend(f"{key}.{k}={v!r}" for k, v in value.items() if k != "UpdatedBy")
        else:
            parts.append(f"{key}={value!r}")
    return ", ".join(parts)


def finding_region(finding: Finding, fallback: str | None = None) -> str | None:
    """Where Security Hub holds the finding: the region of its ProductArn."""
    arn = finding.ProductArn or ""
    parts = arn.split(":")
    if len(parts) > 3 and parts[2] == "securityhub" and parts[3]:
        return parts[3]
    return finding.Region or fallback


def plan_update(
    resources: Mapping[str, AffectedResource], update: Mapping[str, Any], *, region: str | None = None
) -> Plan:
    """One update for every finding of ``resources``."""
    plan = Plan("update-findings")
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    fields, lacking = v2_update(update)
    keys = {V1_API: json.dumps(update, sort_keys=True), V2_API: json.dumps(fields, sort_keys=True)}
    for resource in resources.values():
        for finding in resource.findings:
            where = _target(finding, resource, region, plan)
            if where is None:
                continue
            api = V2_API if finding.in_security_hub_v2 else V1_API
            if api == V2_API and lacking:
                plan.skipped.append(_skip(finding, lacking))
                continue
            if _holds(finding, update):
                plan.up_to_date += 1
                continue
            groups.setdefault((where, api, keys[api]), []).append(finding)
    _batch(plan, groups)
    return plan


def plan_enrichment(resources: Mapping[str, AffectedResource], *, region: str | None = None) -> Plan:
    """The resource's context into the ``UserDefinedFields`` of each of its findings."""
    plan = Plan("enrich-findings")
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for resource in resources.values():
        fields = context_fields(resource)
        comment: str | None = None
        for finding in resource.findings:
            where = _target(finding, resource, region, plan)
            if where is None:
                continue
            if finding.in_security_hub_v2:  # no user-defined fields in v2: the comment holds the context
                comment = comment or summary_comment(resource)
                if finding.ocsf.get("comment") == comment:
                    plan.up_to_date += 1
                else:
                    groups.setdefault((where, V2_API, json.dumps({"Comment": comment})), []).append(finding)
                continue
            existing = finding.UserDefinedFields or {}
            foreign = {k: v for k, v in existing.items() if not k.startswith(PREFIX)}
            budget = MAX_FIELDS - len(foreign)
            if budget < 2:
                plan.skipped.append(_skip(finding, f"it has {len(foreign)} user-defined fields of its own"))
                continue
            wanted = {**foreign, **fit_fields(fields, budget)}
            if wanted == existing:
                plan.up_to_date += 1
                continue
            groups.setdefault((where, V1_API, json.dumps(wanted, sort_keys=True)), []).append(finding)
    _batch(plan, groups)
    return plan


def plan_actions(
    resources: Mapping[str, AffectedResource],
    *,
    update: Mapping[str, Any] | None = None,
    enrich: bool = False,
    region: str | None = None,
) -> list[Plan]:
    """The plans for ``--update-findings`` (when ``update``) and ``--enrich-findings``, in that order."""
    plans = [plan_update(resources, update, region=region)] if update else []
    return plans + ([plan_enrichment(resources, region=region)] if enrich else [])


def _target(finding: Finding, resource: AffectedResource, region: str | None, plan: Plan) -> str | None:
    """Where the finding is written (its region), or None when it is not: muted, or not writable."""
    if finding.muted:
        plan.muted += 1
        return None
    if not finding.ProductArn:
        plan.skipped.append(_skip(finding, "no ProductArn: not a Security Hub finding"))
        return None
    where = region or finding_region(finding, resource.region)
    if where is None:
        plan.skipped.append(_skip(finding, "no region in its ProductArn; give --sh-region"))
    return where


def _skip(finding: Finding, reason: str) -> dict[str, str]:
    return {"Id": finding.Id, "ProductArn": finding.ProductArn or "", "reason": reason}


def _batch(plan: Plan, groups: Mapping[tuple[str, str, str], list[Finding]]) -> None:
    for (region, api, key), findings in sorted(groups.items(), key=lambda item: item[0]):
        update = json.loads(key)
        if plan.action == "enrich-findings" and api == V1_API:
            update = {"UserDefinedFields": update}
        for start in range(0, len(findings), BATCH_SIZE):  # both APIs take at most 100 findings
            plan.batches.append(Batch(region, update, findings[start : start + BATCH_SIZE], api))


# --- carrying out --------------------------------------------------------------------------------


@dataclass
class ActionResult:
    action: str
    calls: int = 0
    processed: int = 0
    unprocessed: list[dict[str, str]] = field(default_factory=list)
    """Each ``{"Id", "ProductArn", "ErrorCode", "ErrorMessage"}``, as Security Hub or the call said."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "calls": self.calls,
            "processed": self.processed,
            "unprocessed": self.unprocessed,
        }


def apply(
    plan: Plan,
    client_for: Callable[[str], Any],
    *,
    max_workers: int = 4,
    rate: float = UPDATE_RATE,
    max_throttled: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = False,
) -> ActionResult:
    """Send every batch of ``plan``: ``client_for(region)`` gives the Security Hub client. Throttling
    is waited out; a batch that still fails marks each of its findings unprocessed with the reason."""
    result = ActionResult(plan.action)
    limiters: dict[str, RateLimiter] = {}
    lock = threading.Lock()
    done = [0]

    def send(batch: Batch) -> None:
        with lock:
            limiter = limiters.setdefault(batch.region, RateLimiter(rate, sleep=sleep))
        request = batch.request()
        try:
            response = paced_call(
                lambda: getattr(client_for(batch.region), xform_name(batch.api))(**request),
                limiter,
                throttle_codes=_THROTTLED,
                max_throttled=max_throttled,
                sleep=sleep,
            )
        except Exception as exc:  # every finding of the batch, with the reason
            processed, failed = 0, _batch_failed(batch, exc)
        else:
            processed, failed = _outcome(response)
        with lock:
            result.processed += processed
            result.unprocessed.extend(failed)
            done[0] += 1
            batches.update(done[0])

    with (
        bar(f"{plan.action} in Security Hub", "batch", len(plan.batches), quiet=not progress) as batches,
        ThreadPoolExecutor(
            max(1, min(max_workers, len(plan.batches))), thread_name_prefix="metahub-sh"
        ) as pool,
    ):
        list(pool.map(send, plan.batches))
    result.calls = sum(limiter.acquired for limiter in limiters.values())
    return result


def _batch_failed(batch: Batch, exc: Exception) -> list[dict[str, Any]]:
    """A call that failed as a whole: each of its findings unprocessed, with the reason."""
    reason = describe_error(exc, f"securityhub:{batch.api}")
    code = error_code(exc) or type(exc).__name__
    return [
        {"Id": f.Id, "ProductArn": f.ProductArn or "", "ErrorCode": code, "ErrorMessage": reason}
        for f in batch.findings
    ]


def _outcome(response: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """BatchUpdateFindings' (or V2's) answer: how many it processed, and those it did not, with
    why; a v2 finding is named as a v1 one (Id, ProductArn) so that reports read alike."""
    failed = [
        {
            **_named(item.get("FindingIdentifier") or {"Id": item.get("MetadataUid", "")}),
            "ErrorCode": item.get("ErrorCode", ""),
            "ErrorMessage": item.get("ErrorMessage", ""),
        }
        for item in response.get("UnprocessedFindings", [])
    ]
    return len(response.get("ProcessedFindings", [])), failed


def _named(identifier: Mapping[str, Any]) -> dict[str, Any]:
    if "FindingInfoUid" in identifier:
        return {"Id": identifier["FindingInfoUid"], "ProductArn": identifier.get("MetadataProductUid", "")}
    return dict(identifier)
