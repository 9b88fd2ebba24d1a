"""Map OCSF findings (Prowler ``json-ocsf``, Detection Finding class 2004) onto ASFF field names.

The result is plain ASFF data, validated afterwards by the same :class:`~metahub.models.Finding`
model as every other input, so OCSF and ASFF findings group and report identically. A field of
the wrong type (``resources: 5``, ``severity_id: [1]``) rejects the finding with its path.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, TypeVar

_COMPLIANCE = {"PASS": "PASSED", "FAIL": "FAILED", "MANUAL": "WARNING"}
_WORKFLOW = {"new": "NEW", "in progress": "NOTIFIED", "suppressed": "SUPPRESSED", "resolved": "RESOLVED"}
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
    product_uid = str(_get(data, "metadata.product.uid", _SCALAR) or product_name or "unknown").lower()
    resources, partition = _resources(data, region)
    finding: dict[str, Any] = {
        "SchemaVersion": "2018-10-08",
        "Id": _get(data, "finding_info.uid", str),
        "ProductArn": f"arn:{partition}:securityhub:{region or 'us-east-1'}::product/{vendor}/{product_uid}",
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
        "Workflow": {"Status": _WORKFLOW.get(str(_get(data, "status", _SCALAR) or "new").lower(), "NEW")},
        "RecordState": "ACTIVE",
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
    finding.update(_times(data))
    return finding


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
    walked = where
    for key in path.split("."):
        if not isinstance(value, dict):
            raise ValueError(f"{walked}: expected an object, got {_type_name(value)}")
        value = value.get(key)
        walked = f"{walked}.{key}" if walked else key
        if value is None:
            return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{walked}: expected {_KIND_NAMES.get(kind, kind)}, got {_type_name(value)}")
    return value


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
    status = _COMPLIANCE.get(str(_get(data, "status_code", _SCALAR) or "").upper(), "NOT_AVAILABLE")
    compliance: dict[str, Any] = {"Status": status}
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
    value = _get(data, path, (int, float))
    if value is None:
        return None
    seconds = value / 1000 if value > _MS_EPOCH_THRESHOLD else value
    if not 0 <= seconds <= _LATEST:
        raise ValueError(f"{path}: {value!r} is not a time (seconds or milliseconds since 1970)")
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")
