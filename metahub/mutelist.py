"""Mutelists: Prowler's format as it is, with metahub's attestations (``reason``, ``expires``,
``approved_by``) on each entry. Pure: a file read, findings marked.

The format (Prowler's ``Mutelist`` or older ``Mute List``)::

    Mutelist:
      Accounts:
        "123456789012":                 # or "*"
          Checks:
            "s3_bucket_public_access":  # a regular expression; "*" is every check
              Regions: ["*"]
              Resources: ["public-assets-.*"]
              Tags: ["Environment=dev"]
              Exceptions: {Accounts: [], Regions: [], Resources: [], Tags: []}
              Description: "..."
              reason: "static website, reviewed"     # metahub
              expires: 2027-03-01                    # metahub: after that day the entry is not applied
              approved_by: "alice@example.com"       # metahub

Matching follows Prowler's rules: an account key is the account or ``*``; a check key matches when
it is ``*``, the check itself, or a regular expression found in it (``re.search``; Prowler's
``lambda`` prefix is read as ``awslambda``, its checks' names); ``Regions``, ``Resources`` and
``Tags`` are lists of regular expressions, ``*`` meaning any, each list matched when one of its
expressions is found in the finding's region, resource, or tags written ``key=value`` and joined by
`` | ``; an entry without ``Tags`` matches any tags. ``Exceptions`` unmute: a finding is excepted
when every exception list that is given matches it. A finding is muted by the first entry that
matches it and is not excepted.

What a finding's check is: Prowler's check id (its ``GeneratorId`` without ``prowler-``), Security
Hub's control id (``Compliance.SecurityControlId``), or the ``GeneratorId`` itself, whichever an
entry matches. Its resource: the resource's ARN, and its name (what follows the last ``/`` or
``:``), as Prowler's ``resource_id`` is for most types.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from metahub.files import parse_yaml
from metahub.models import AffectedResource, Finding

_LISTS = ("Regions", "Resources", "Tags")
_EXCEPTIONS = ("Accounts", "Regions", "Resources", "Tags")
_OURS = ("reason", "expires", "approved_by", "Description")


class MutelistError(ValueError):
    """A mutelist that cannot be used: the message names the file, the line and the entry."""


@dataclass(frozen=True)
class Entry:
    account: str
    check: str
    regions: tuple[str, ...]
    resources: tuple[str, ...]
    tags: tuple[str, ...]
    exceptions: Mapping[str, tuple[str, ...]]
    line: int
    reason: str | None = None
    expires: date | None = None
    approved_by: str | None = None
    description: str | None = None

    @property
    def name(self) -> str:
        return f"Accounts.{self.account}.Checks.{self.check}"

    def record(self, source: str) -> dict[str, Any]:
        """What a muted finding carries: the entry that muted it and its attestation."""
        found = {"entry": self.name, "mutelist": f"{source}:{self.line}"}
        for key in ("reason", "approved_by", "description"):
            if getattr(self, key):
                found[key] = getattr(self, key)
        if self.expires is not None:
            found["expires"] = self.expires.isoformat()
        return found


@dataclass
class Mutelist:
    source: str
    entries: list[Entry]

    def active(self, today: date) -> tuple[list[Entry], list[Entry]]:
        """The entries applied on ``today``, and those expired (reported, never applied)."""
        live = [e for e in self.entries if e.expires is None or e.expires >= today]
        return live, [e for e in self.entries if e not in live]


@dataclass
class MuteReport:
    """What a mutelist did to a run: findings muted per entry, and the entries not applied."""

    source: str
    muted: Counter[str] = field(default_factory=Counter)
    expired: list[dict[str, Any]] = field(default_factory=list)

    @property
    def findings(self) -> int:
        return sum(self.muted.values())

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "muted": dict(self.muted), "expired": self.expired}

    def add(self, other: MuteReport) -> MuteReport:
        """This report and another of the same mutelist over other resources (the shards of a run)."""
        return MuteReport(self.source, self.muted + other.muted, self.expired or other.expired)


def load(path: str | Path) -> Mutelist:
    """A mutelist file; :class:`MutelistError` naming the file, line and entry for anything wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MutelistError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse(text, str(path))


def parse(text: str, path: str) -> Mutelist:
    """A mutelist from its text; ``path`` names where it came from in messages and records."""
    document, places = parse_yaml(text, path, MutelistError)

    def fail(keys: tuple[Any, ...], message: str) -> MutelistError:
        return MutelistError(f"{places.place(keys)}: {message}")

    top = next((k for k in ("Mutelist", "Mute List") if isinstance(document, dict) and k in document), None)
    if top is None:
        raise fail((), "expected a 'Mutelist:' mapping (Prowler's format)")
    accounts = document[top].get("Accounts") if isinstance(document[top], dict) else None
    if not isinstance(accounts, dict):
        raise fail((top,), "expected 'Accounts:', a mapping of account ids (or '*') to their checks")
    entries = []
    for account, body in accounts.items():
        checks = body.get("Checks") if isinstance(body, dict) else None
        if not isinstance(checks, dict):
            raise fail((top, "Accounts", account), "expected 'Checks:', a mapping of check names to entries")
        for check, rule in checks.items():
            keys = (top, "Accounts", account, "Checks", check)
            entries.append(_entry(str(account), str(check), rule, keys, fail, places.line(keys)))
    return Mutelist(path, entries)


def _entry(account: str, check: str, rule: Any, keys: tuple[Any, ...], fail: Any, line: int) -> Entry:
    if not isinstance(rule, dict):
        raise fail(keys, "expected a mapping with Regions and Resources")
    unknown = set(rule) - {*_LISTS, "Exceptions", *_OURS}
    if unknown:
        raise fail(keys, f"unknown key {sorted(unknown)[0]!r}; an entry takes Regions, Resources, Tags, "
                         "Exceptions, Description, reason, expires, approved_by")  # fmt: skip
    for required in ("Regions", "Resources"):
        if required not in rule:
            raise fail(keys, f"needs {required} (a list; ['*'] for any), as in Prowler's format")
    lists = {name: _patterns(rule.get(name) or [], (*keys, name), fail) for name in _LISTS}
    exceptions = rule.get("Exceptions") or {}
    if not isinstance(exceptions, dict) or set(exceptions) - set(_EXCEPTIONS):
        raise fail((*keys, "Exceptions"), f"expected a mapping of {', '.join(_EXCEPTIONS)} to lists")
    excepted = {name: _patterns(exceptions.get(name) or [], (*keys, "Exceptions", name), fail) for name in _EXCEPTIONS}
    _patterns([check], keys, fail)
    expires = rule.get("expires")
    if expires is not None and not isinstance(expires, date):
        try:
            expires = date.fromisoformat(str(expires))
        except ValueError:
            raise fail((*keys, "expires"), f"{expires!r} is not a date (YYYY-MM-DD)") from None
    return Entry(account, check, lists["Regions"], lists["Resources"], lists["Tags"], excepted, line,
                 _text(rule.get("reason")), expires, _text(rule.get("approved_by")), _text(rule.get("Description")))  # fmt: skip


def _patterns(values: Any, keys: tuple[Any, ...], fail: Any) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str | int) for v in values):
        raise fail(keys, "expected a list of regular expressions")
    for value in values:
        try:
            re.compile(_pattern(str(value)))
        except re.error as exc:
            raise fail(keys, f"{value!r} is not a regular expression: {exc}") from None
    return tuple(str(v) for v in values)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _pattern(item: str) -> str:
    return ".*" if item == "*" else item


def _found(patterns: Iterable[str], *values: str) -> bool:
    return any(re.search(_pattern(p), value) for p in patterns for value in values)


def checks_of(finding: Finding) -> tuple[str, ...]:
    """The names an entry's check may match: Prowler's check id, Security Hub's control id, the
    GeneratorId."""
    generator = finding.GeneratorId or ""
    control = finding.Compliance.SecurityControlId if finding.Compliance else None
    return tuple(dict.fromkeys(n for n in (generator.removeprefix("prowler-"), control, generator) if n))


def _tags(tags: Mapping[str, str]) -> str:
    return " | ".join(f"{key}={value}" for key, value in tags.items())


def _check_matches(entry: Entry, names: tuple[str, ...]) -> bool:
    check = re.sub("^lambda", "awslambda", entry.check)
    return check == "*" or any(check == name or re.search(check, name) for name in names)


def _excepted(entry: Entry, account: str, region: str, resources: tuple[str, ...], tags: str) -> bool:
    given = {name: patterns for name, patterns in entry.exceptions.items() if patterns}
    if not given:
        return False
    values = {"Accounts": (account,), "Regions": (region,), "Resources": resources, "Tags": (tags,)}
    return all(_found(patterns, *values[name]) for name, patterns in given.items())


def matching(entries: Iterable[Entry], finding: Finding, resource: AffectedResource) -> Entry | None:
    """The first entry that mutes ``finding`` on ``resource``, or None."""
    names = checks_of(finding)
    region = finding.Region or resource.region or ""
    name = re.split(r"[/:]", resource.arn)[-1]
    resources = (resource.arn, name) if name and name != resource.arn else (resource.arn,)
    tags = _tags(resource.effective_tags)
    for entry in entries:
        if entry.account not in ("*", resource.account) or not _check_matches(entry, names):
            continue
        if _excepted(entry, resource.account, region, resources, tags):
            continue
        if (_found(entry.regions, region) and _found(entry.resources, *resources)
                and (not entry.tags or _found(entry.tags, tags))):  # fmt: skip
            return entry
    return None
