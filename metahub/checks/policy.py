"""Reading IAM and resource policy documents: wildcards, public principals, restricting conditions."""

from __future__ import annotations

from typing import Any

# Condition keys that pin a "Principal: *" statement to known callers.
_RESTRICTING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourceip",
        "aws:userid",
        "aws:username",
        "kms:calleraccount",
        "kms:viaservice",
        "sns:endpoint",
        "s3:dataaccesspointaccount",
    }
)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def allows(statement: dict[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def unrestricted_statements(document: Any) -> list[dict[str, Any]]:
    """Allow statements granting every action on every resource (``*`` / ``*:*`` on ``*``)."""
    return [
        s
        for s in statements(document)
        if allows(s)
        and any(a in ("*", "*:*") for a in as_list(s.get("Action")))
        and "*" in as_list(s.get("Resource"))
    ]


def _principal_values(principal: Any) -> list[str]:
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return [str(v) for values in principal.values() for v in as_list(values)]
    return [str(v) for v in as_list(principal)]


def restricting_conditions(statement: dict[str, Any]) -> list[str]:
    """Condition keys of a statement that narrow who can use it."""
    found = []
    for _operator, clauses in (statement.get("Condition") or {}).items():
        if not isinstance(clauses, dict):
            continue
        for key, values in clauses.items():
            if key.lower() in _RESTRICTING_KEYS and "*" not in as_list(values):
                found.append(key)
    return found


def public_statements(document: Any) -> list[dict[str, Any]]:
    """Allow statements open to anyone (``Principal: *``) with no condition restricting the caller."""
    return [
        s
        for s in statements(document)
        if allows(s) and "*" in _principal_values(s.get("Principal")) and not restricting_conditions(s)
    ]


def external_principals(document: Any, account: str) -> list[str]:
    """AWS principals of other accounts that a policy allows (trust, cross-account access)."""
    found = []
    for statement in statements(document):
        if not allows(statement):
            continue
        principal = statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        for value in as_list(aws):
            value = str(value)
            other = value if value.isdigit() else (value.split(":")[4] if value.count(":") >= 5 else "")
            if other and other != account and value != "*":
                found.append(value)
    return found
