"""Map OCSF findings (Prowler ``json-ocsf``, Detection Finding class 2004) onto ASFF field names.

The result is plain ASFF data, validated afterwards by the same :class:`~metahub.models.Finding`
model as every other input, so OCSF and ASFF findings group and report identically.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

_COMPLIANCE = {"PASS": "PASSED", "FAIL": "FAILED", "MANUAL": "WARNING"}
_WORKFLOW = {"new": "NEW", "in progress": "NOTIFIED", "suppressed": "SUPPRESSED", "resolved": "RESOLVED"}
_SEVERITY_BY_ID = {1: "INFORMATIONAL", 2: "LOW", 3: "MEDIUM", 4: "HIGH", 5: "CRITICAL", 6: "CRITICAL"}
_MS_EPOCH_THRESHOLD = 10**11  # OCSF says milliseconds; Prowler writes seconds. Tell them apart.


def is_ocsf(data: dict[str, Any]) -> bool:
    return "finding_info" in data and ("class_uid" in data or "resources" in data)


def to_asff(data: dict[str, Any]) -> dict[str, Any]:
    """ASFF data for one OCSF finding; ValueError naming the missing field when it cannot be mapped."""
    info = _dict(data, "finding_info")
    cloud = _dict(data, "cloud")
    account = _dict(cloud, "account").get("uid")
    region = cloud.get("region")
    product = _dict(_dict(data, "metadata"), "product")
    vendor = str(product.get("vendor_name") or product.get("name") or "unknown").lower()
    product_uid = str(product.get("uid") or product.get("name") or "unknown").lower()
    partition = "aws"
    resources = []
    for resource in data.get("resources") or []:
        if not isinstance(resource, dict):
            continue
        partition = resource.get("cloud_partition") or partition
        asff_resource: dict[str, Any] = {
            "Type": resource.get("type") or "Other",
            "Id": resource.get("uid") or resource.get("name"),
            "Partition": resource.get("cloud_partition") or "aws",
            "Region": resource.get("region") or region,
        }
        tags = _tags(resource)
        if tags:
            asff_resource["Tags"] = tags
        resources.append(asff_resource)

    finding: dict[str, Any] = {
        "SchemaVersion": "2018-10-08",
        "Id": info.get("uid"),
        "ProductArn": f"arn:{partition}:securityhub:{region or 'us-east-1'}::product/{vendor}/{product_uid}",
        "ProductName": product.get("name"),
        "CompanyName": product.get("vendor_name"),
        "GeneratorId": _dict(info, "analytic").get("uid") or _dict(data, "metadata").get("event_code"),
        "AwsAccountId": account,
        "Region": region,
        "Types": info.get("types") or [],
        "Title": info.get("title"),
        "Description": data.get("status_detail") or data.get("message") or info.get("desc"),
        "Severity": {"Label": _severity(data), "Original": data.get("severity")},
        "Compliance": _compliance(data),
        "Workflow": {"Status": _WORKFLOW.get(str(data.get("status", "new")).lower(), "NEW")},
        "RecordState": "ACTIVE",
        "Resources": resources,
        "ProductFields": {
            "ProviderName": str(product.get("name") or ""),
            "ProviderVersion": str(product.get("version") or ""),
            "OcsfClassName": str(data.get("class_name") or ""),
            "OcsfEventCode": str(_dict(data, "metadata").get("event_code") or ""),
        },
    }
    remediation = _dict(data, "remediation")
    if remediation:
        references = remediation.get("references") or []
        finding["Remediation"] = {
            "Recommendation": {"Text": remediation.get("desc"), "Url": references[0] if references else None}
        }
    created = _time(info.get("created_time") or data.get("time"))
    updated = _time(info.get("modified_time") or data.get("time"))
    first_seen = _time(info.get("first_seen_time")) or created
    last_seen = _time(info.get("last_seen_time"))
    for key, value in (
        ("CreatedAt", created),
        ("UpdatedAt", updated),
        ("FirstObservedAt", first_seen),
        ("LastObservedAt", last_seen),
    ):
        if value is not None:
            finding[key] = value
    return finding


def _dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _severity(data: dict[str, Any]) -> str | None:
    text = data.get("severity")
    if isinstance(text, str) and text.upper() in {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}:
        return text.upper()
    if isinstance(text, str) and text.lower() == "fatal":
        return "CRITICAL"
    return _SEVERITY_BY_ID.get(data.get("severity_id"))  # type: ignore[arg-type]


def _compliance(data: dict[str, Any]) -> dict[str, Any]:
    status = _COMPLIANCE.get(str(data.get("status_code", "")).upper(), "NOT_AVAILABLE")
    compliance: dict[str, Any] = {"Status": status}
    frameworks = _dict(data, "unmapped").get("compliance")
    if isinstance(frameworks, dict) and frameworks:
        compliance["RelatedRequirements"] = [
            f"{framework} {requirement}"
            for framework, requirements in frameworks.items()
            for requirement in (requirements if isinstance(requirements, list) else [requirements])
        ]
        compliance["AssociatedStandards"] = [{"StandardsId": framework} for framework in frameworks]
    return compliance


def _tags(resource: dict[str, Any]) -> dict[str, str]:
    """Tags from Prowler's ``data.metadata.tags`` (exact), else from ``labels`` (``key:value``)."""
    metadata = _dict(_dict(resource, "data"), "metadata")
    raw = metadata.get("tags")
    tags: dict[str, str] = {}
    if isinstance(raw, dict):
        raw = [raw]
    if isinstance(raw, list):
        for entry in raw:
            if isinstance(entry, dict) and set(entry) >= {"Key", "Value"}:
                tags[str(entry["Key"])] = str(entry["Value"])
            elif isinstance(entry, dict):
                tags.update({str(k): str(v) for k, v in entry.items()})
    if tags:
        return tags
    for label in resource.get("labels") or []:
        if isinstance(label, str) and ":" in label:
            key, value = label.split(":", 1)
            tags[key] = value
    return tags


def _time(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = value / 1000 if value > _MS_EPOCH_THRESHOLD else value
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")
