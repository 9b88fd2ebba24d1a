"""Impact: how much a resource's failed findings matter, from what metahub knows of the resource.

MetaHub-compatible: the properties ``exposure``, ``access``, ``encryption``, ``status``,
``environment``, ``application`` and ``owner`` take MetaHub's values, each decided from metahub's
own checks and detection, with the evidence that decided it; the score is MetaHub's formula with
the weights of an ``impact.yaml`` of MetaHub's shape (``metahub/config/impact.yaml`` by default).
Pure: it reads what enrichment left on the resource, and calls nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from metahub.models import AffectedResource, Finding

SEVERITY_VALUE = {"CRITICAL": 4, "HIGH": 3, "MEDIUM": 1, "LOW": 0.5, "INFORMATIONAL": 0}
"""MetaHub's severity values: a finding adds its value over the highest (4) to the findings score."""

VALUES = {
    "exposure": ("effectively-public", "restricted-public", "unrestricted-private", "launch-public", "restricted"),
    "access": ("unrestricted", "unrestricted-principal", "dangerous-actions", "cross-account-principal", "restricted"),
    "encryption": ("unencrypted", "encrypted"),
    "status": ("running", "attached", "enabled", "not-running", "unattached", "not-enabled"),
    "environment": ("production", "staging", "development"),
    "application": ("unidentified", "identified"),
    "owner": ("unidentified", "identified"),
}  # fmt: skip
"""Every value metahub gives each property (what an impact.yaml may score)."""

LAUNCH_TYPES = frozenset({"AwsEc2LaunchTemplate", "AwsAutoScalingLaunchConfiguration", "AwsEc2Subnet"})
"""Types that are not reachable themselves, but make what they launch public (MetaHub's launch-public)."""
_ENTRY_POINTS = (
    "it_has_public_ip", "it_has_public_ipv6", "is_internet_facing", "is_publicly_accessible",
    "it_has_public_endpoint", "it_has_function_url_public",
)  # fmt: skip
"""Checks that say a resource has a door to the internet, whether or not anything gets through it."""


class ImpactConfigError(ValueError):
    """An impact.yaml that cannot score: the message names the file and the key."""


Config = dict[str, dict[str, Any]]
"""``{property: {"weight": float, "values": {value: score}}}``"""


def load_config(path: str | Path | None = None) -> Config:
    """The weights, validated: known properties and values, numeric weights, scores from 0 to 1."""
    where = str(path) if path is not None else "metahub/config/impact.yaml"
    try:
        text = (
            Path(path).read_text(encoding="utf-8")
            if path is not None
            else resources.files("metahub").joinpath("config/impact.yaml").read_text(encoding="utf-8")
        )
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when built in
    except (OSError, yaml.YAMLError) as exc:
        raise ImpactConfigError(f"{where}: {exc}") from exc
    if not isinstance(raw, dict) or not raw:
        raise ImpactConfigError(f"{where}: expected properties (exposure, access, ...) at the top level")
    config: Config = {}
    for name, body in raw.items():
        if name not in VALUES:
            raise ImpactConfigError(f"{where}: unknown property {name!r}{_closest(str(name), VALUES)}")
        if not isinstance(body, dict) or "weight" not in body or "values" not in body:
            raise ImpactConfigError(f"{where}: {name}: needs 'weight' and 'values'")
        weight = body["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ImpactConfigError(f"{where}: {name}.weight: {weight!r} is not a number of 0 or more")
        scores: dict[str, float] = {}
        for index, entry in enumerate(body["values"] or []):
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ImpactConfigError(
                    f"{where}: {name}.values[{index}]: expected '- value-name: {{score: N}}'"
                )
            ((value, spec),) = entry.items()
            if value not in VALUES[name]:
                raise ImpactConfigError(
                    f"{where}: {name}.values[{index}]: metahub never gives {name} the value {value!r}"
                    f"{_closest(str(value), VALUES[name])}"
                )
            score = spec.get("score") if isinstance(spec, dict) else None
            if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
                raise ImpactConfigError(
                    f"{where}: {name}.{value}.score: {score!r} is not a number from 0 to 1"
                )
            scores[str(value)] = float(score)
        config[str(name)] = {"weight": float(weight), "values": scores}
    return config


def _closest(word: str, choices: Any) -> str:
    close = get_close_matches(word, list(choices), n=2)
    return f"; did you mean {' or '.join(close)}?" if close else f"; expected one of {', '.join(choices)}"


@dataclass(frozen=True)
class Property:
    value: str | None
    """One of :data:`VALUES`, or None: unknown or not applicable (then left out of the score)."""
    evidence: str


def properties(resource: AffectedResource) -> dict[str, Property]:
    """Each property's value for one resource, with what decided it."""
    checks = resource.metachecks
    detected = resource.detected
    if detected is None:  # detection runs with enrichment
        unknown = Property(None, "no context: run with --context config")
        return {
            "exposure": _exposure(resource, checks), "access": _access(resource, checks),
            "encryption": _two_way(resource, checks, "is_encrypted", ("encrypted", "unencrypted")),
            "status": _status(resource, checks), "environment": unknown, "application": unknown, "owner": unknown,
        }  # fmt: skip
    found = {
        "exposure": _exposure(resource, checks),
        "access": _access(resource, checks),
        "encryption": _two_way(resource, checks, "is_encrypted", ("encrypted", "unencrypted")),
        "status": _status(resource, checks),
        "environment": _environment(detected.get("environment")),
        "application": _identified(detected.get("application"), "application"),
        "owner": _identified(detected.get("owner"), "owner"),
    }
    return found


def _not_decided(resource: AffectedResource, checks: dict[str, Any] | None, name: str) -> Property | None:
    if checks is None:
        return Property(None, "no context: run with --context config")
    if name not in checks or resource.evidence.get(name, "").startswith("does not apply"):
        return Property(None, f"{name} does not apply to {resource.type}")
    if checks[name] is None:
        return Property(None, f"{name} unknown: {resource.unknown.get(name, 'not decided')}")
    return None


def _summary(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= 300 else text[:297] + "..."


def _exposure(resource: AffectedResource, checks: dict[str, Any] | None) -> Property:
    missing = _not_decided(resource, checks, "is_public")
    if missing is not None or checks is None:
        claimed = (resource.traits or {}).get("reachability")
        if claimed and claimed["status"] == "claimed":  # the findings say so; nothing read refutes it
            return Property(
                "effectively-public", f"claimed by {', '.join(claimed['findings'][:3])}, not confirmed"
            )
        return missing or Property(None, "no context")
    if checks["is_public"]:
        value = "launch-public" if resource.type in LAUNCH_TYPES else "effectively-public"
        return Property(value, f"is_public: {_summary(checks['is_public'])}")
    door = next((name for name in _ENTRY_POINTS if checks.get(name)), None)
    if door:
        return Property(
            "restricted-public",
            f"{door}: {_summary(checks[door])}, but {resource.evidence.get('is_public', 'not public')}",
        )
    opened = [
        name
        for name, value in checks.items()
        if value
        and (
            name.endswith("_ingress_unrestricted")
            or (name.startswith("it_has_") and name.endswith("_public"))
        )
    ]
    if opened:
        return Property("unrestricted-private", f"{', '.join(opened)}, with no door to the internet")
    return Property("restricted", resource.evidence.get("is_public", "not public"))


_IDENTITIES = frozenset({"AwsIamRole", "AwsIamUser", "AwsIamGroup", "AwsIamPolicy"})


def _access(resource: AffectedResource, checks: dict[str, Any] | None) -> Property:
    """Who may do what through policies: identities, and types with a resource policy. A network
    rule open to the world is exposure, not access."""
    if checks is None:
        return Property(None, "no context: run with --context config")
    if resource.type not in _IDENTITIES and "its_shared_with_external_principals" not in checks:
        return Property(None, f"access (policies) does not apply to {resource.type}")
    unrestricted = checks.get("is_unrestricted")
    shared = checks.get("its_shared_with_external_principals") or []
    escalation = checks.get("it_has_privilege_escalation_actions") or []
    if unrestricted:
        return Property("unrestricted", f"is_unrestricted: {_summary(unrestricted)}")
    if "anyone (public)" in shared:
        return Property("unrestricted-principal", "a policy lets anyone in")
    if escalation:
        return Property("dangerous-actions", f"allowed on any resource: {', '.join(escalation[:5])}")
    if shared:
        return Property("cross-account-principal", f"shared with {', '.join(shared[:5])}")
    decided = [n for n in ("is_unrestricted", "its_shared_with_external_principals") if n in checks]
    if not decided:
        return Property(None, f"access does not apply to {resource.type}")
    if any(checks[n] is None for n in decided):
        name = next(n for n in decided if checks[n] is None)
        return Property(None, f"{name} unknown: {resource.unknown.get(name, 'not decided')}")
    return Property("restricted", resource.evidence.get("is_unrestricted", "nothing open"))


def _two_way(
    resource: AffectedResource, checks: dict[str, Any] | None, name: str, values: tuple[str, str]
) -> Property:
    missing = _not_decided(resource, checks, name)
    if missing is not None or checks is None:
        return missing or Property(None, "no context")
    yes, no = values
    return (
        Property(yes, f"{name}: {_summary(checks[name])}")
        if checks[name]
        else Property(no, resource.evidence.get(name, f"{name} false"))
    )


def _status(resource: AffectedResource, checks: dict[str, Any] | None) -> Property:
    for name, values in (
        ("is_running", ("running", "not-running")),
        ("is_attached", ("attached", "unattached")),
        ("is_enabled", ("enabled", "not-enabled")),
    ):
        if checks is not None and name in checks and _not_decided(resource, checks, name) is None:
            return _two_way(resource, checks, name, values)
    return _not_decided(resource, checks, "is_attached") or Property(
        None, f"status does not apply to {resource.type}"
    )


def _environment(detected: dict[str, Any] | None) -> Property:
    if not detected:
        return Property(None, "no tag or account rule names the environment")
    value = str(detected.get("value"))
    if value in VALUES["environment"]:
        return Property(value, str(detected.get("source")))
    return Property(
        None,
        f"environment {value!r} ({detected.get('source')}) is none of {', '.join(VALUES['environment'])}",
    )


def _identified(detected: dict[str, Any] | None, what: str) -> Property:
    if detected:
        return Property("identified", f"{what} {detected.get('value')} ({detected.get('source')})")
    return Property("unidentified", f"no tag names its {what}")


_TOP = max(SEVERITY_VALUE.values())


def findings_score(
    resource: AffectedResource, failed: list[Finding] | None = None
) -> tuple[float, dict[str, int]]:
    """MetaHub's findings score, from the *failed* findings only (passed ones are not risk), and
    the failed findings by severity (``failed``: the findings to count as failed, when the caller
    has them: muted ones too, for the score had they not been muted)."""
    counts: dict[str, int] = {}
    total = 0.0
    for finding in resource.findings if failed is None else failed:
        label = finding.severity_label
        if label and (failed is not None or finding.outcome == "FAILED"):
            counts[label] = counts.get(label, 0) + 1
            total += SEVERITY_VALUE[label]
    return min(1.0, total / _TOP), counts


_NO_CONTEXT = "no context: run with --context config"
_NO_CONTEXT_PROPERTIES = {name: {"value": None, "evidence": _NO_CONTEXT} for name in VALUES}
"""Shared, read-only, by every resource that was not enriched: most of an ingest-only run."""
_LEFT_OUT: dict[int, tuple[Config, dict[str, str]]] = {}


def _no_context_left_out(config: Config) -> dict[str, str]:
    """Shared, read-only, per config: every property of it, left out for want of context."""
    cached = _LEFT_OUT.get(id(config))
    if cached is None or cached[0] is not config:
        cached = _LEFT_OUT[id(config)] = (config, dict.fromkeys(config, _NO_CONTEXT))
    return cached[1]


def impact(resource: AffectedResource, config: Config, failed: list[Finding] | None = None) -> dict[str, Any]:
    """The properties (value and evidence), the findings score, the score from 0 to 100, and the
    properties left out of it (unknown, not applicable, or not in the config)."""
    if resource.metachecks is None and resource.detected is None and not resource.traits:
        fscore, counts = findings_score(resource, failed)
        return {
            "score": round(fscore * 100, 2),
            "findings_score": round(fscore, 4),
            "context_score": None,
            "properties": _NO_CONTEXT_PROPERTIES,
            "left_out": _no_context_left_out(config),
            "failed_findings": counts,
        }
    found = properties(resource)
    weighted = weights = 0.0
    left_out: dict[str, str] = {}
    for name, prop in found.items():
        spec = config.get(name)
        if spec is None:
            continue
        if prop.value is None or prop.value not in spec["values"]:
            left_out[name] = prop.evidence if prop.value is None else f"{prop.value} is not scored"
            continue
        weights += spec["weight"]
        weighted += spec["weight"] * spec["values"][prop.value]
    fscore, counts = findings_score(resource, failed)
    meta = weighted / weights if weights else None
    # No context: the findings alone. MetaHub counts a context score of 0 as 0.1.
    score = fscore * 100 if meta is None else fscore * (meta or 0.1) * 100
    return {
        "score": round(score, 2),
        "findings_score": round(fscore, 4),
        "context_score": None if meta is None else round(meta, 4),
        "properties": {name: {"value": p.value, "evidence": p.evidence} for name, p in found.items()},
        "left_out": left_out,
        "failed_findings": counts,
    }
