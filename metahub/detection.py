"""Environment, owner and application of a resource, from its tags and account, by rules that
users edit without touching code (``metahub/config/detection.json`` is the default)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from metahub.models import AffectedResource


def load_rules(path: str | Path | None = None) -> dict[str, Any]:
    if path is None:
        text = resources.files("metahub").joinpath("config/detection.json").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    rules: dict[str, Any] = json.loads(text)
    for section in ("environment", "owner", "application"):
        if section not in rules:
            raise ValueError(f"detection rules {path or 'default'}: no {section!r} section")
    return rules


def _tag(tags: dict[str, str], keys: list[str]) -> tuple[str, str] | None:
    lowered = {k.lower(): (k, v) for k, v in tags.items()}
    for key in keys:
        if key.lower() in lowered and lowered[key.lower()][1]:
            return lowered[key.lower()]
    return None


def detect(resource: AffectedResource, rules: dict[str, Any]) -> dict[str, Any]:
    """``{"environment": {"value", "source"}, "owner": ..., "application": ...}``; a part nothing
    decides is null."""
    tags = resource.effective_tags
    found: dict[str, Any] = {"environment": None, "owner": None, "application": None}
    environment = rules["environment"]
    hit = _tag(tags, environment["tag_keys"])
    if hit:
        key, value = hit
        for name, values in environment["values"].items():
            if value.lower() in [v.lower() for v in values]:
                found["environment"] = {"value": name, "source": f"tag {key}={value}"}
                break
        else:
            found["environment"] = {"value": value, "source": f"tag {key}={value} (matches no rule)"}
    if found["environment"] is None and resource.account in environment.get("accounts", {}):
        found["environment"] = {"value": environment["accounts"][resource.account], "source": "account id"}
    alias = (resource.metaaccount or {}).get("Alias") or ""
    if found["environment"] is None and alias:
        for name, parts in environment.get("account_alias_contains", {}).items():
            if any(part.lower() in alias.lower() for part in parts):
                found["environment"] = {"value": name, "source": f"account alias {alias}"}
                break
    for section in ("owner", "application"):
        hit = _tag(tags, rules[section]["tag_keys"])
        if hit:
            found[section] = {"value": hit[1], "source": f"tag {hit[0]}"}
    if found["owner"] is None and resource.metatrails:
        creators = [
            e.get("Username")
            for e in resource.metatrails.values()
            if isinstance(e, dict) and e.get("Username")
        ]
        if creators:
            found["owner"] = {"value": creators[0], "source": "CloudTrail"}
    return found
