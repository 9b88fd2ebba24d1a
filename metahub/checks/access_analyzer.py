"""Local evaluation beside IAM Access Analyzer's: what AWS found, and where the two disagree.

Pure: it reads what :mod:`metahub.resources.access_analyzer` fetched and the resource's own
``is_public``. An unknown local answer is not a disagreement.
"""

from __future__ import annotations

from typing import Any

FINDINGS, DISAGREEMENT = "its_access_analyzer_findings", "it_has_access_analyzer_disagreement"


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
