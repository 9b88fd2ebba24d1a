"""Local evaluation beside IAM Access Analyzer's: what AWS found, and where the two disagree.

Pure: it reads what :mod:`metahub.resources.access_analyzer` fetched and the resource's own
``is_public``. An unknown local answer is not a disagreement.
"""

from __future__ import annotations

from typing import Any

FINDINGS, DISAGREEMENT = "its_access_analyzer_findings", "it_has_access_analyzer_disagreement"
POLICY_CHECKS, POLICY_DISAGREEMENT = (
    "its_access_analyzer_policy_checks",
    "it_has_access_analyzer_policy_disagreement",
)


def compare(
    arn: str, region: str, analyzed: dict[str, Any], local_public: Any, local_evidence: str | None
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """(checks, unknown reasons, evidence for no) for one resource."""
    if "error" in analyzed:
        reason = f"IAM Access Analyzer could not be read: {analyzed['error']}"
        return {FINDINGS: None, DISAGREEMENT: None}, {FINDINGS: reason, DISAGREEMENT: reason}, {}
    if analyzed["analyzer"] is None:
        why = f"no active IAM Access Analyzer for external access in {region}"
        return {FINDINGS: False, DISAGREEMENT: False}, {}, {FINDINGS: why, DISAGREEMENT: why}
    findings = analyzed["findings"].get(arn, [])
    theirs = any(f.get("isPublic") for f in findings)
    checks: dict[str, Any] = {FINDINGS: findings or False}
    evidence: dict[str, str] = {}
    if not findings:
        evidence[FINDINGS] = (
            f"no active finding of analyzer {analyzed['analyzer']} (zone of trust: {analyzed['zone']})"
        )
    if local_public is None:
        checks[DISAGREEMENT] = False
        evidence[DISAGREEMENT] = "metahub's is_public is unknown: nothing to compare"
    elif bool(local_public) == theirs:
        checks[DISAGREEMENT] = False
        evidence[DISAGREEMENT] = f"both say {'public' if theirs else 'not public'}"
    else:
        ours = "public" if local_public else f"not public ({local_evidence or 'no reason given'})"
        aa = (
            "public: " + ", ".join(f["id"] for f in findings if f.get("isPublic"))
            if theirs
            else "no active public finding"
        )
        checks[DISAGREEMENT] = f"metahub: {ours}; IAM Access Analyzer: {aa}"
    return checks, {}, evidence


def compare_policy_checks(
    results: list[dict[str, Any]], local: dict[str, Any], evidence: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """AWS's formal verdict on each policy beside metahub's (checks, unknown reasons, evidence).

    ``results``: one per policy document, ``{"check", "policy", "local_check", "result",
    "reasons"}`` or ``{"check", "policy", "error"}``. CheckNoPublicAccess FAIL means AWS finds the
    policy can grant public access; it is held against metahub's verdict on the same document
    (``local_check``). CheckAccessNotGranted on identity policies is AWS's answer to "can it
    write permissions" and is kept as evidence: it checks single actions, metahub paths."""
    errors = [f"{r['policy']}: {r['error']}" for r in results if "error" in r]
    shown = [{k: v for k, v in r.items() if k != "local_check" and v not in (None, [], "")} for r in results]
    checks: dict[str, Any] = {POLICY_CHECKS: shown if results else False}
    unknown: dict[str, str] = {}
    why: dict[str, str] = {}
    if not results:
        why[POLICY_CHECKS] = "no policy IAM Access Analyzer can check"
    disagreements = []
    for result in results:
        name = result.get("local_check")
        if result["check"] != "CheckNoPublicAccess" or "error" in result or name is None:
            continue
        ours = local.get(name)
        theirs = result["result"] == "FAIL"
        if ours is None:
            continue  # metahub could not decide: nothing to disagree with
        if bool(ours) != theirs:
            side = "public" if ours else f"not public ({evidence.get(name) or 'no reason given'})"
            aws = (
                f"can grant public access ({'; '.join(result['reasons']) or result['message']})"
                if theirs
                else "no public access"
            )
            disagreements.append(f"{result['policy']}: metahub: {side}; IAM Access Analyzer: {aws}")
    if disagreements:
        checks[POLICY_DISAGREEMENT] = disagreements
    elif errors:
        checks[POLICY_DISAGREEMENT] = None
        unknown[POLICY_DISAGREEMENT] = "; ".join(errors)
    else:
        checks[POLICY_DISAGREEMENT] = False
        why[POLICY_DISAGREEMENT] = "IAM Access Analyzer agrees, or has no public-access verdict to compare"
    if errors and not any("error" not in r for r in results):
        checks[POLICY_CHECKS] = None
        unknown[POLICY_CHECKS] = "; ".join(errors)
    return checks, unknown, why
