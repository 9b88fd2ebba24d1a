"""AWS's exposure verdict beside metahub's own: Security Hub's exposure finding on a resource
against metahub's ``is_public`` and its evidence. Pure.

Security Hub (v2) makes at most one exposure finding per resource, from the traits of the findings
that contribute to it: Reachability ("open network paths to a resource"), Misconfiguration,
Vulnerability, Sensitive Data, Assumability (Security Hub user guide, *Supported trait types*). Its
Reachability trait is the claim metahub can hold against its own reading of the account, so:

========================  =================  ==================
metahub's ``is_public``   AWS: Reachability  AWS: none
========================  =================  ==================
true                      agree              metahub-only
false                     aws-only           agree
n/a (no such check)       aws-only           agree
unknown, or not read      unknown            unknown
========================  =================  ==================

``unknown`` names what metahub could not read: a guess either way would be the worst answer. An
exposure finding that is resolved, suppressed or archived no longer claims anything.
"""

from __future__ import annotations

from typing import Any

from metahub.models import AffectedResource, Finding

AGREEMENTS = ("agree", "aws-only", "metahub-only", "unknown")
REACHABILITY = "Reachability"


def verdict(resource: AffectedResource) -> dict[str, Any] | None:
    """``{"aws", "metahub", "verdict_agreement", "why"}`` for a resource with an exposure finding."""
    exposures = [f for f in resource.findings if f.exposure is not None]
    if not exposures:
        return None
    active = [f for f in exposures if f.outcome == "FAILED"]
    reachable = [f for f in active if REACHABILITY in (f.exposure_categories or ())]
    aws = _aws_side(exposures, active, reachable)
    ours = _metahub_side(resource)
    says_public = bool(reachable)
    if ours["verdict"] == "true":
        agreement = "agree" if says_public else "metahub-only"
    elif ours["verdict"] in ("false", "n/a"):
        agreement = "aws-only" if says_public else "agree"
    else:
        agreement = "unknown"
    why = f"AWS: {aws['why']}; metahub: is_public {ours['verdict']}" + (f" ({ours['why']})" if ours["why"] else "")
    return {"aws": aws, "metahub": ours, "verdict_agreement": agreement, "why": why}


def _aws_side(exposures: list[Finding], active: list[Finding], reachable: list[Finding]) -> dict[str, Any]:
    shown = (active or exposures)[0]
    traits: dict[str, list[str]] = {}
    for finding in active:
        for trait in (finding.exposure or {}).get("traits") or []:
            values = traits.setdefault(str(trait.get("category")), [])
            values.extend(v for v in trait.get("values") or [] if v not in values)
    if reachable:
        paths = [
            f"{', '.join(t.get('values') or []) or REACHABILITY} ({t.get('title') or t.get('finding')})"
            for f in reachable for t in (f.exposure or {}).get("traits") or [] if t.get("category") == REACHABILITY
        ]  # fmt: skip
        why = "reachable: " + "; ".join(paths)
    elif active:
        why = f"exposed without a Reachability trait ({', '.join(traits) or 'no traits'})"
    else:
        why = f"its exposure finding is {(shown.workflow_status or 'closed').lower()}"
    return {
        "verdict": "reachable" if reachable else "not reachable",
        "finding": shown.Id,
        "title": shown.Title,
        "severity": shown.severity_label,
        "traits": traits,
        "why": why,
    }


def _metahub_side(resource: AffectedResource) -> dict[str, Any]:
    if resource.metachecks is None:
        return {"verdict": "not read", "why": "no context was read for it (give --context config)"}
    answer = resource.verdict("is_public")
    if answer == "n/a":
        why = resource.evidence.get("is_public") or f"metahub has no is_public check for {resource.type}"
    elif answer == "unknown":
        why = resource.unknown.get("is_public") or "is_public could not be decided"
    elif answer == "false":
        why = resource.evidence.get("is_public", "")
    else:
        value = (resource.metachecks or {}).get("is_public")
        why = value if isinstance(value, str) else _short(value)
    return {"verdict": answer, "why": why}


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 300 else text[:299] + "…"


def summary(resources: Any) -> dict[str, int]:
    """How many resources' verdicts agree, are AWS's only, metahub's only, or unknown."""
    counts = dict.fromkeys(AGREEMENTS, 0)
    for resource in resources:
        if resource.aws_exposure:
            counts[resource.aws_exposure["verdict_agreement"]] += 1
    return counts
