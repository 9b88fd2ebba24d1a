"""Map OCSF findings onto ASFF field names: Prowler's ``json-ocsf`` and the new Security Hub's
(``GetFindingsV2``, its export jobs), Detection, Compliance and Vulnerability Findings alike.

The result is plain ASFF data, validated afterwards by the same :class:`~metahub.models.Finding`
model as every other input, so OCSF and ASFF findings group and report identically. A field of
the wrong type (``resources: 5``, ``severity_id: [1]``) rejects the finding with its path.

What has no ASFF place is kept, not dropped: under ``Ocsf`` (the finding's ``metadata.uid``, its
product uid, which Security Hub's writes name it by, and the fields listed in :data:`KEPT`), and
an exposure finding's traits under ``Exposure`` (:func:`exposure_of`).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import cache
from typing import Any, TypeVar

_COMPLIANCE = {"PASS": "PASSED", "FAIL": "FAILED", "MANUAL": "WARNING", "WARNING": "WARNING"}
_WORKFLOW = {"new": "NEW", "in progress": "NOTIFIED", "suppressed": "SUPPRESSED", "resolved": "RESOLVED",
             "archived": "RESOLVED", "deleted": "RESOLVED"}  # fmt: skip
_STATUS_BY_ID = {1: "new", 2: "in progress", 3: "suppressed", 4: "resolved", 5: "archived", 6: "deleted"}
"""OCSF's finding ``status_id`` (1.1 and later), for a finding that gives only the number."""
_COMPLIANCE_BY_ID = {1: "PASSED", 2: "WARNING", 3: "FAILED"}
"""OCSF's ``compliance.status_id``: 1 Pass, 2 Warning, 3 Fail."""
EXPOSURE_FEATURE = "security-hub/Exposure"
"""``metadata.product.feature.uid`` of Security Hub's exposure findings ("You can filter all exposure
findings with the metadata.product.feature.uid field with the security-hub/Exposure value", Security
Hub user guide, exposure-findings-review-details)."""
KEPT = ("cloud.account.name", "confidence_score", "comment", "vendor_attributes", "evidences", "impact",
        "likelihood", "finding_info.src_url", "finding_info.analytic")  # fmt: skip
"""OCSF fields with no ASFF place, kept under ``Ocsf`` when a finding has them."""
_SEVERITY_BY_ID = {1: "INFORMATIONAL", 2: "LOW", 3: "MEDIUM", 4: "HIGH", 5: "CRITICAL", 6: "CRITICAL"}
_MS_EPOCH_THRESHOLD = 10**11  # OCSF says milliseconds; Prowler writes seconds. Tell them apart.
_LATEST = datetime(9999, 12, 31, tzinfo=timezone.utc).timestamp()
_SCALAR = (str, int, float)
_KIND_NAMES = {dict: "an object", list: "an array", str: "a string", _SCALAR: "a string or number"}

T = TypeVar("T")


def is_ocsf(data: dict[str, Any]) -> bool:
    return "finding_info" in data and ("class_uid" in data or "resources" in data)


def to_asff(data: dict[str, Any]) -> dict[str, Any]:
    """ASFF data for one OCSF finding; ValueError naming the field when one has the wrong type."""
    region = _get(data, "cloud.region", str)
    vendor_name = _get(data, "metadata.product.vendor_name", str)
    product_name = _get(data, "metadata.product.name", str)
    event_code = _get(data, "metadata.event_code", _SCALAR)
    vendor = (vendor_name or product_name or "unknown").lower()
    given_uid = _text(_get(data, "metadata.product.uid", _SCALAR))
    product_uid = (given_uid or product_name or "unknown").lower()
    resources, partition = _resources(data, region)
    product_arn = (  # Security Hub's own findings name their product by its ARN (``productv2/...``)
        given_uid
        if given_uid and given_uid.startswith("arn:")
        else f"arn:{partition}:securityhub:{region or 'us-east-1'}::product/{vendor}/{product_uid}"
    )
    finding: dict[str, Any] = {
        "SchemaVersion": "2018-10-08",
        "Id": _get(data, "finding_info.uid", str),
        "ProductArn": product_arn,
        "ProductName": product_name,
        "CompanyName": vendor_name,
        "GeneratorId": _get(data, "finding_info.analytic.uid", str) or _text(event_code),
        "AwsAccountId": _get(data, "cloud.account.uid", str),
        "Region": region,
        "Types": _get(data, "finding_info.types", list) or [],
        "Title": _get(data, "finding_info.title", str),
        "Description": _get(data, "status_detail", str)
        or _get(data, "message", str)
        or _get(data, "finding_info.desc", str),
        "Severity": {"Label": _severity(data), "Original": _text(_get(data, "severity", _SCALAR))},
        "Compliance": _compliance(data),
        "Workflow": {"Status": _WORKFLOW.get(_status(data), "NEW")},
        "RecordState": "ARCHIVED" if _status(data) in ("archived", "deleted") else "ACTIVE",
        "Resources": resources,
        "ProductFields": {
            "ProviderName": product_name or "",
            "ProviderVersion": _text(_get(data, "metadata.product.version", _SCALAR)) or "",
            "OcsfClassName": _get(data, "class_name", str) or "",
            "OcsfEventCode": _text(event_code) or "",
        },
    }
    remediation = _remediation(data)
    if remediation:
        finding["Remediation"] = remediation
    vulnerabilities = _vulnerabilities(data)
    if vulnerabilities:
        finding["Vulnerabilities"] = vulnerabilities
    kept = _kept(data)
    if kept:
        finding["Ocsf"] = kept
    exposure = exposure_of(data)
    if exposure is not None:
        finding["Exposure"] = exposure
    finding.update(_times(data))
    return finding


def _status(data: dict[str, Any]) -> str:
    """The finding's status in lower case (``new``, ``in progress`` ...), from its text or its id."""
    text = _get(data, "status", _SCALAR)
    if text is not None:
        return str(text).lower()
    return _STATUS_BY_ID.get(_get(data, "status_id", int), "new")


def _kept(data: dict[str, Any]) -> dict[str, Any]:
    """What Security Hub's writes need to name the finding, and the fields of :data:`KEPT`."""
    kept: dict[str, Any] = {}
    for path in ("metadata.uid", "metadata.product.uid", "metadata.product.feature.uid", *KEPT):
        value: Any = data
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            kept[path] = value
    return kept


def is_exposure(data: dict[str, Any]) -> bool:
    """An exposure finding of Security Hub: its feature says so; the published sample, made before
    the feature field, says it by its product (``securityhub-risk``) and analytic (``Exposure``)."""
    if _get(data, "metadata.product.feature.uid", str) == EXPOSURE_FEATURE:
        return True
    product = _get(data, "metadata.product.uid", _SCALAR)
    return str(product or "").endswith("/securityhub-risk") and _get(data, "finding_info.analytic.name", str) == "Exposure"


def exposure_of(data: dict[str, Any]) -> dict[str, Any] | None:
    """An exposure finding's traits: one entry per trait of each contributing finding
    (``finding_info.related_events``), ``{"category", "values", "title", "finding", "product",
    "resources"}``; None for any other finding.

    A related event names its traits in ``traits`` (OCSF 1.5: ``category`` and ``name``, which
    GetFindingsV2 filters as ``finding_info.related_events.traits.category``) or, in the sample
    AWS published first, in ``tags`` (``name`` the category, ``values`` the titles): both are read."""
    if not is_exposure(data):
        return None
    traits: list[dict[str, Any]] = []
    for index, event in enumerate(_get(data, "finding_info.related_events", list) or []):
        where = f"finding_info.related_events[{index}]"
        if not isinstance(event, dict):
            raise ValueError(f"{where}: expected an object, got {_type_name(event)}")
        common = {
            "title": _get(event, "title", str, where),
            "finding": _get(event, "uid", str, where),
            "product": _text(_get(event, "product.uid", _SCALAR, where)),
            "resources": [
                str(o["value"]) for o in _get(event, "observables", list, where) or []
                if isinstance(o, dict) and o.get("value") is not None
            ],
        }  # fmt: skip
        for key, category_key, values_key in (("traits", "category", "name"), ("tags", "name", "values")):
            for number, trait in enumerate(_get(event, key, list, where) or []):
                if not isinstance(trait, dict):
                    raise ValueError(f"{where}.{key}[{number}]: expected an object, got {_type_name(trait)}")
                category = _get(trait, category_key, str, f"{where}.{key}[{number}]")
                values = trait.get(values_key)
                values = [str(v) for v in values] if isinstance(values, list) else [str(values)] if values else []
                if category:
                    traits.append({"category": category, "values": values, **common})
    return {"feature": EXPOSURE_FEATURE, "traits": traits}


def _vulnerabilities(data: dict[str, Any]) -> list[dict[str, Any]]:
    """ASFF ``Vulnerabilities`` from OCSF ``vulnerabilities``: the CVE id, CVSS base scores, EPSS
    score, fix and exploit availability, affected packages."""
    found = []
    for index, vulnerability in enumerate(_get(data, "vulnerabilities", list) or []):
        where = f"vulnerabilities[{index}]"
        if not isinstance(vulnerability, dict):
            raise ValueError(f"{where}: expected an object, got {_type_name(vulnerability)}")
        entry: dict[str, Any] = {"Id": _get(vulnerability, "cve.uid", str, where) or _get(vulnerability, "title", str, where)}
        if not entry["Id"]:
            continue
        epss = _get(vulnerability, "cve.epss.score", (int, float, str), where)
        if epss is not None:
            entry["EpssScore"] = float(epss)
        scores = [
            {"BaseScore": c["base_score"], **({"Version": str(c["version"])} if c.get("version") else {})}
            for c in _get(vulnerability, "cve.cvss", list, where) or []
            if isinstance(c, dict) and isinstance(c.get("base_score"), int | float)
        ]
        if scores:
            entry["Cvss"] = scores
        for ocsf_key, asff_key in (("is_fix_available", "FixAvailable"), ("is_exploit_available", "ExploitAvailable")):
            flag = vulnerability.get(ocsf_key)
            if isinstance(flag, bool):
                entry[asff_key] = "YES" if flag else "NO"
        packages = [
            {"Name": str(p["name"]), **({"Version": str(p["version"])} if p.get("version") else {})}
            for p in _get(vulnerability, "affected_packages", list, where) or []
            if isinstance(p, dict) and p.get("name")
        ]
        if packages:
            entry["VulnerablePackages"] = packages
        found.append(entry)
    return found


def _resources(data: dict[str, Any], region: str | None) -> tuple[list[dict[str, Any]], str]:
    """ASFF ``Resources``, and the partition the last of them names (``aws`` when none does)."""
    partition = "aws"
    resources = []
    for index, resource in enumerate(_get(data, "resources", list) or []):
        where = f"resources[{index}]"
        if not isinstance(resource, dict):
            raise ValueError(f"{where}: expected an object, got {_type_name(resource)}")
        resource_partition = _get(resource, "cloud_partition", str, where)
        partition = resource_partition or partition
        asff_resource: dict[str, Any] = {
            "Type": _get(resource, "type", str, where) or "Other",
            "Id": _get(resource, "uid", str, where) or _get(resource, "name", str, where),
            "Partition": resource_partition or "aws",
            "Region": _get(resource, "region", str, where) or region,
        }
        tags = _tags(resource, where)
        if tags:
            asff_resource["Tags"] = tags
        resources.append(asff_resource)
    return resources, partition


def _remediation(data: dict[str, Any]) -> dict[str, Any] | None:
    if not _get(data, "remediation", dict):
        return None
    references = _get(data, "remediation.references", list) or []
    url = references[0] if references and isinstance(references[0], str) else None
    return {"Recommendation": {"Text": _get(data, "remediation.desc", str), "Url": url}}


def _times(data: dict[str, Any]) -> dict[str, Any]:
    """ASFF's times: created and updated default to the event's time, first seen to created."""
    event_time = _time(data, "time")
    created = _time(data, "finding_info.created_time") or event_time
    updated = _time(data, "finding_info.modified_time") or event_time
    times = {
        "CreatedAt": created,
        "UpdatedAt": updated,
        "FirstObservedAt": _time(data, "finding_info.first_seen_time") or created,
        "LastObservedAt": _time(data, "finding_info.last_seen_time"),
    }
    return {key: value for key, value in times.items() if value is not None}


def _get(data: dict[str, Any], path: str, kind: type[T] | tuple[type, ...], where: str = "") -> Any:
    """The value at a dotted ``path``, None when absent, ValueError when it (or an object on the way)
    has the wrong type: a finding that says ``resources: 5`` is not one to guess about."""
    value: Any = data
    keys = _keys(path)
    for depth, key in enumerate(keys):
        if value.__class__ is not dict and not isinstance(value, dict):
            raise ValueError(f"{_walked(where, keys[:depth])}: expected an object, got {_type_name(value)}")
        value = value.get(key)
        if value is None:
            return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{_walked(where, keys)}: expected {_KIND_NAMES.get(kind, kind)}, got {_type_name(value)}")
    return value


@cache
def _keys(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _walked(where: str, keys: tuple[str, ...]) -> str:
    """Where a value is, for a message: the path named only when something is wrong there."""
    return ".".join(part for part in (where, *keys) if part)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def _severity(data: dict[str, Any]) -> str | None:
    by_id = _get(data, "severity_id", int)  # held to its type even where the text decides
    text = _get(data, "severity", _SCALAR)
    if isinstance(text, str) and text.upper() in {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}:
        return text.upper()
    if isinstance(text, str) and text.lower() == "fatal":
        return "CRITICAL"
    return _SEVERITY_BY_ID.get(by_id)


def _compliance(data: dict[str, Any]) -> dict[str, Any]:
    """Prowler's ``status_code`` (PASS, FAIL, MANUAL), else OCSF's ``compliance.status`` (Pass,
    Warning, Fail) or its ``status_id``; the control and standards of Security Hub's findings.
    A finding with none of them has no compliance status (a threat, a vulnerability, an exposure)."""
    code = _get(data, "status_code", _SCALAR) or _get(data, "compliance.status", _SCALAR)
    by_id = _get(data, "compliance.status_id", int)
    compliance: dict[str, Any] = {}
    if code is not None or by_id is not None:
        compliance["Status"] = _COMPLIANCE.get(str(code or "").upper()) or _COMPLIANCE_BY_ID.get(by_id, "NOT_AVAILABLE")
    # else no compliance status at all: a threat, a vulnerability, an exposure states a problem
    control = _get(data, "compliance.control", str)
    if control:
        compliance["SecurityControlId"] = control
    standards = [s for s in _get(data, "compliance.standards", list) or [] if isinstance(s, str)]
    if standards:
        compliance["AssociatedStandards"] = [{"StandardsId": s} for s in standards]
    frameworks = _get(data, "unmapped.compliance", dict)
    if frameworks:
        compliance["RelatedRequirements"] = [
            f"{framework} {requirement}"
            for framework, requirements in frameworks.items()
            for requirement in (requirements if isinstance(requirements, list) else [requirements])
        ]
        compliance["AssociatedStandards"] = [{"StandardsId": framework} for framework in frameworks]
    return compliance


def _tags(resource: dict[str, Any], where: str) -> dict[str, str]:
    """Tags from Prowler's ``data.metadata.tags`` (exact), else from ``labels`` (``key:value``)."""
    raw = _get(resource, "data.metadata.tags", (dict, list), where)
    tags: dict[str, str] = {}
    for entry in _get(resource, "tags", list, where) or []:  # OCSF's key/value pairs (Security Hub's)
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            tags[entry["name"]] = _text(entry.get("value")) or ""
    if tags:
        return tags
    for entry in [raw] if isinstance(raw, dict) else raw or []:
        if isinstance(entry, dict) and set(entry) >= {"Key", "Value"}:
            tags[str(entry["Key"])] = str(entry["Value"])
        elif isinstance(entry, dict):
            tags.update({str(k): str(v) for k, v in entry.items()})
    if tags:
        return tags
    for label in _get(resource, "labels", list, where) or []:
        if isinstance(label, str) and ":" in label:
            key, value = label.split(":", 1)
            tags[key] = value
    return tags


def _time(data: dict[str, Any], path: str) -> str | None:
    """A time given as a number (``time``), else as OCSF's date-time sibling (``time_dt``)."""
    value = _get(data, path, (int, float))
    if value is None:
        text = _get(data, f"{path}_dt", str)
        return None if text is None else _datetime(text, f"{path}_dt")
    seconds = value / 1000 if value > _MS_EPOCH_THRESHOLD else value
    if not 0 <= seconds <= _LATEST:
        raise ValueError(f"{path}: {value!r} is not a time (seconds or milliseconds since 1970)")
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _datetime(text: str, path: str) -> str:
    """An RFC 3339 date-time as ASFF writes it; nanoseconds (Security Hub writes them) cut to
    microseconds, which is what Python and ASFF hold."""
    cut = re.sub(r"(\.\d{6})\d+", r"\1", text.strip())
    try:
        moment = datetime.fromisoformat(cut.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{path}: {text!r} is not a date-time (RFC 3339)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
