"""The one IAM policy evaluator: who a policy lets in, and what it lets a principal do. Pure, no AWS.

It follows AWS's documented semantics:

- *Policy evaluation logic* (IAM User Guide): an explicit ``Deny`` in any policy wins over any
  ``Allow``; without an ``Allow`` a request is implicitly denied; a permissions boundary caps what
  identity policies grant (both must allow).
- *Policy elements*: ``Principal`` / ``NotPrincipal``, ``Action`` / ``NotAction`` (case-insensitive,
  ``*`` and ``?`` wildcards), ``Resource`` / ``NotResource`` (case-sensitive wildcards).
- *Condition operators*: every family (String, Numeric, Date, Bool, Binary, IpAddress, Arn, Null),
  ``...IfExists``, ``ForAllValues:`` (true when the key is absent) and ``ForAnyValue:`` (false when
  it is absent); a key missing from the request makes a condition false, except for the negated
  operators (``StringNotEquals``, ``NotIpAddress``, ``ArnNotLike`` ...), where it makes it true;
  several values of one key are ORed (NORed for negated operators); keys and operators are ANDed.
- *S3 "The meaning of public"*: a grant to ``*`` is not public when its conditions pin the caller to
  fixed values (no wildcard, no policy variable) of the keys that identify a caller or its network:
  ``aws:SourceIp`` ranges short of the whole internet, ``aws:SourceVpc(e)``, ``aws:SourceArn`` /
  ``Account`` / ``Owner``, ``aws:PrincipalOrgID`` / ``Account`` / ``Arn``, ``aws:userid`` ...

Conditions are evaluated against a *class* of requests, not one request: "anyone on the internet,
or any principal of another account" for exposure, "the principal itself" for its own permissions.
Each clause says for how much of that class it holds (:class:`Reach`), and the statement's reach
is the meet of its principal and its clauses. What cannot be decided is UNKNOWN with the statement
and the condition named, never a guess.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import IntEnum
from functools import cached_property, lru_cache
from typing import Any, Literal

# --------------------------------------------------------------------------------------------
# Documents and statements


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class PolicyError(ValueError):
    """The document is not a policy metahub can read (the message says where)."""


@dataclass(frozen=True)
class Patterns:
    """``Action`` / ``NotAction`` or ``Resource`` / ``NotResource``: wildcard patterns, maybe negated."""

    values: tuple[str, ...]
    negated: bool = False
    ignore_case: bool = False

    def _norm(self, text: str) -> str:
        return text.lower() if self.ignore_case else text

    @cached_property
    def _index(self) -> tuple[frozenset[str], dict[str, list[str]]]:
        """Exact values, and wildcard patterns by their literal prefix (what comes before the first
        ``*`` or ``?``). A pattern can match or cover a value only when its literal prefix begins
        the value's, so a lookup costs the length of the value, not the number of patterns (3,000
        actions on each side of a Deny would otherwise be 9,000,000 comparisons)."""
        exact: set[str] = set()
        wild: dict[str, list[str]] = {}
        for value in map(self._norm, self.values):
            prefix = _literal_prefix(value)
            if prefix == value:
                exact.add(value)
            else:
                wild.setdefault(prefix, []).append(value)
        return frozenset(exact), wild

    def _candidates(self, value: str) -> list[str]:
        wild = self._index[1]
        prefix = _literal_prefix(value)
        return [p for k in range(len(prefix) + 1) for p in wild.get(prefix[:k], ())]

    def _covers_one(self, value: str) -> bool:
        """Some pattern of this set (not negated) matches every string ``value`` matches."""
        value = self._norm(value)
        if value in self._index[0]:
            return True
        return any(_covers(pattern, value) for pattern in self._candidates(value))

    def matches(self, value: str) -> bool:
        value = self._norm(value)
        hit = value in self._index[0] or any(_wild_match(p, value) for p in self._candidates(value))
        return hit != self.negated

    def covers(self, other: Patterns) -> bool:
        """Every value ``other`` matches, this matches too (sound: a False may be a missed yes)."""
        if not self.negated and not other.negated:
            return all(self._covers_one(b) for b in other.values)
        if not self.negated and other.negated:  # only a pattern matching everything covers "all but"
            return self._covers_one("*")
        if self.negated and not other.negated:  # none of other's values may touch what self leaves out
            return not any(_overlap(self._norm(a), self._norm(b)) for a in self.values for b in other.values)
        # all but A covers all but B when every a in A is inside B
        return all(other._covers_one(a) for a in self.values)

    def matches_nothing(self) -> bool:
        """``NotResource: "*"`` and the like: all but everything."""
        return self.negated and self._covers_one("*")

    def __str__(self) -> str:
        return ("not " if self.negated else "") + ", ".join(self.values)


EVERYTHING = Patterns(("*",))


@dataclass(frozen=True)
class Clause:
    """One (operator, key, values) of a ``Condition`` block."""

    operator: str
    key: str
    values: tuple[str, ...]
    variables: bool = True
    """Whether ``${...}`` is a policy variable: only under ``"Version": "2012-10-17"`` (IAM JSON
    policy elements, Version: "If you do not include a Version element, the value defaults to
    2008-10-17 ... variables such as ${aws:username} aren't recognized as variables and are instead
    treated as literal strings")."""

    @property
    def qualifier(self) -> str:
        head, sep, _ = self.operator.partition(":")
        return head.lower() if sep else ""

    @property
    def if_exists(self) -> bool:
        return (
            self.base_operator_raw.lower().endswith("ifexists") and self.base_operator_raw.lower() != "null"
        )

    @property
    def base_operator_raw(self) -> str:
        return self.operator.partition(":")[2] if ":" in self.operator else self.operator

    @property
    def base(self) -> str:
        """The operator without qualifier and IfExists, lower case (``stringequals``)."""
        raw = self.base_operator_raw.lower()
        return raw[: -len("ifexists")] if raw.endswith("ifexists") else raw

    @property
    def key_lower(self) -> str:
        return self.key.lower()

    def __str__(self) -> str:
        shown = self.values[0] if len(self.values) == 1 else list(self.values)
        return f"{self.operator} {self.key} {shown}"


@dataclass(frozen=True)
class Statement:
    source: str
    index: int
    sid: str
    effect: str
    principal: Any
    not_principal: Any
    actions: Patterns
    resources: Patterns
    conditions: tuple[Clause, ...]
    raw: dict[str, Any] = field(compare=False, hash=False)

    @property
    def allow(self) -> bool:
        return self.effect == "Allow"

    @property
    def label(self) -> str:
        name = f"statement {self.index + 1}" + (f" ({self.sid})" if self.sid else "")
        return f"{self.source} {name}" if self.source else name


def parse(document: Any, source: str = "") -> list[Statement]:
    """The statements of a policy document (a dict, or None for no policy).

    Raises :class:`PolicyError` for a document AWS would not hold: checks turn it into unknown.
    """
    if document is None:
        return []
    if not isinstance(document, dict):
        raise PolicyError(f"{source or 'policy'} is not a JSON object")
    _check_size(document, source or "policy")
    variables = document.get("Version") == "2012-10-17"
    found = []
    for index, raw in enumerate(as_list(document.get("Statement"))):
        where = f"{source + ' ' if source else ''}statement {index + 1}"
        if not isinstance(raw, dict):
            raise PolicyError(f"{where} is not an object")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{where} has Effect {effect!r}, not Allow or Deny")
        found.append(
            Statement(
                source=source,
                index=index,
                sid=str(raw.get("Sid") or ""),
                effect=effect,
                principal=raw.get("Principal"),
                not_principal=raw.get("NotPrincipal"),
                actions=_patterns(raw, "Action", where, ignore_case=True),
                resources=_patterns(raw, "Resource", where, ignore_case=False),
                conditions=_clauses(raw.get("Condition"), where, variables),
                raw=raw,
            )
        )
    return found


MAX_POLICY_CHARACTERS = 32_768
"""No policy AWS holds is longer: the largest limit is a KMS key policy's, "32 kilobytes (32,768
bytes)" (AWS KMS quotas); an IAM managed policy holds 6,144 characters, a role's inline policies
10,240 together (IAM and AWS STS quotas), a bucket policy 20 KB (S3). A longer document did not come
from AWS as a policy and is not evaluated."""
MAX_POLICY_DEPTH = 12
"""A policy nests at most six levels (document, Statement list, statement, Condition, operator,
key, value list); twice that is not a policy."""


def _check_size(document: Any, where: str) -> None:
    """Refuse what no AWS policy can be, walking the document without recursion (a document
    nested 3,000 deep must not raise RecursionError)."""
    characters, stack = 0, [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_POLICY_DEPTH:
            raise PolicyError(f"{where} nests deeper than {MAX_POLICY_DEPTH} levels: not a policy")
        if isinstance(node, dict):
            characters += sum(len(str(k)) + 3 for k in node)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            characters += len(node) + 1
            stack.extend((v, depth + 1) for v in node)
        else:
            characters += len(str(node)) + 2
        if characters > MAX_POLICY_CHARACTERS:
            raise PolicyError(
                f"{where} is longer than {MAX_POLICY_CHARACTERS:,} characters, more than any policy AWS holds"
            )


def load(text: str, where: str) -> Any:
    """A policy document from its JSON text (SQS, SNS and OpenSearch return text): refused, with
    the reason, when it is no JSON or larger or deeper than any policy AWS holds."""
    if len(text) > 4 * MAX_POLICY_CHARACTERS:
        raise PolicyError(f"{where} is {len(text):,} characters, more than any policy AWS holds")
    try:
        return json.loads(text)
    except RecursionError:
        raise PolicyError(f"{where} nests deeper than {MAX_POLICY_DEPTH} levels: not a policy") from None
    except ValueError as exc:
        raise PolicyError(f"{where} is not valid JSON: {exc}") from None


def _patterns(raw: dict[str, Any], name: str, where: str, ignore_case: bool) -> Patterns:
    if name in raw and f"Not{name}" in raw:
        raise PolicyError(f"{where} has both {name} and Not{name}")
    for key in (name, f"Not{name}"):
        if key in raw and not all(isinstance(v, str) for v in as_list(raw[key])):
            raise PolicyError(f"{where} {key} holds something that is not a string")
    if f"Not{name}" in raw:
        return Patterns(tuple(as_list(raw[f"Not{name}"])), True, ignore_case)
    if name in raw:
        return Patterns(tuple(as_list(raw[name])), False, ignore_case)
    # Trust policies and some resource policies omit Resource: the resource the policy is on.
    return Patterns(("*",), False, ignore_case)


def _clauses(condition: Any, where: str, variables: bool) -> tuple[Clause, ...]:
    if condition is None:
        return ()
    if not isinstance(condition, dict):
        raise PolicyError(f"{where} has a Condition that is not an object")
    found = []
    for operator, pairs in condition.items():
        if not isinstance(pairs, dict):
            raise PolicyError(f"{where} condition {operator} is not an object")
        for key, values in pairs.items():
            if not all(isinstance(v, str | int | float | bool) for v in as_list(values)):
                raise PolicyError(f"{where} condition {operator} {key} holds a value that is not a string")
            found.append(Clause(str(operator), str(key), tuple(_text(v) for v in as_list(values)), variables))
    return tuple(found)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def statements(document: Any) -> list[dict[str, Any]]:
    """The raw statement objects of a document (empty for anything that is not a policy)."""
    if not isinstance(document, dict):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


# --------------------------------------------------------------------------------------------
# Wildcards


# No input may crash or stall the evaluator: matching is iterative (no recursion on a pattern's
# length) and quadratic at worst in the two strings compared, and a comparison larger than
# _MAX_CELLS is undecidable (PolicyError, so unknown), never minutes of work.
_MAX_CELLS = 4_000_000


def _literal_prefix(pattern: str) -> str:
    """What a pattern fixes before its first wildcard."""
    cut = min((i for i in (pattern.find("*"), pattern.find("?")) if i >= 0), default=len(pattern))
    return pattern[:cut]


@lru_cache(maxsize=65536)
def _wild_match(pattern: str, text: str) -> bool:
    """``text`` matches ``pattern`` (``*`` any run, ``?`` one character): greedy, backtracking only
    to the last ``*``, with no regular expression that could take exponential time."""
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] in ("?", text[t]):
            p, t = p + 1, t + 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark, p = p, t, p + 1
        elif star != -1:
            mark += 1
            p, t = star + 1, mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _bounded(a: str, b: str) -> None:
    if (len(a) + 1) * (len(b) + 1) > _MAX_CELLS:
        raise PolicyError(f"patterns of {len(a):,} and {len(b):,} characters are too long to compare")


@lru_cache(maxsize=65536)
def _covers(general: str, specific: str) -> bool:
    """Every string ``specific`` matches, ``general`` matches too (a table filled from the end)."""
    if general == specific or general == "*":
        return True
    _bounded(general, specific)
    m = len(specific)
    after = [j == m for j in range(m + 1)]  # general[i+1:] covers specific[j:]
    for g in reversed(general):
        here = [False] * (m + 1)
        for j in range(m, -1, -1):
            if g == "*":
                here[j] = after[j] or (j < m and here[j + 1])
            elif j < m:
                s = specific[j]
                here[j] = (s != "*" if g == "?" else s not in "*?" and g == s) and after[j + 1]
        after = here
    return after[0]


@lru_cache(maxsize=65536)
def _overlap(a: str, b: str) -> bool:
    """Some string matches both patterns (a table filled from the end)."""
    _bounded(a, b)
    n, m = len(a), len(b)
    table = [[False] * (m + 1) for _ in range(n + 1)]
    table[n][m] = True
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if i == n and j == m:
                continue
            if i < n and a[i] == "*":
                table[i][j] = table[i + 1][j] or (j < m and table[i][j + 1])
            elif j < m and b[j] == "*":
                table[i][j] = table[i][j + 1] or (i < n and table[i + 1][j])
            elif i < n and j < m:
                table[i][j] = (a[i] == "?" or b[j] == "?" or a[i] == b[j]) and table[i + 1][j + 1]
    return table[0][0]


# What a condition value matches, by its operator (IAM JSON policy elements: Condition operators):
# "StringEquals: Exact matching, case sensitive" - * and ? are literal characters there; "StringLike:
# ... The values can include multi-character match wildcards (*) and single-character match
# wildcards (?) anywhere in the string"; "ArnEquals, ArnLike: Case-sensitive matching of the ARN.
# Each of the six colon-delimited components of the ARN is checked separately and each can include
# multi-character match wildcards (*) or single-character match wildcards (?)" - the two behave
# identically. Policy variables (``${...}``) are replaced by the request's values in string and ARN
# operators, under Version 2012-10-17 only.
_LIKE = frozenset({"stringlike", "stringnotlike", "arnlike", "arnnotlike", "arnequals", "arnnotequals"})
_ARN_VALUED = frozenset({
    "aws:principalarn", "aws:sourcearn", "aws:sourcevpcarn", "s3:dataaccesspointarn",
})  # fmt: skip


def _open_at(clause: Clause, value: str) -> int:
    """Where the first character that does not stand for itself is (a wildcard the operator honours,
    or a policy variable the version honours); -1 when the value is fixed."""
    marks = []
    if clause.base in _LIKE:
        marks += [value.find("*"), value.find("?")]
    if clause.variables:
        marks.append(value.find("${"))
    found = [m for m in marks if m >= 0]
    return min(found) if found else -1


def _matches_everything(clause: Clause, value: str) -> bool:
    if clause.base not in _LIKE:
        return False
    if clause.base.startswith("arn") and value.count(":") == 5:
        return all(part.strip("*") == "" for part in value.split(":"))
    return value.strip("*") == ""


def _pins(clause: Clause, value: str) -> bool:
    """Whether one value of an identifying key names callers an outsider cannot be: S3's "fixed
    values (values that don't contain a wildcard or an AWS Identity and Access Management Policy
    Variable)", read by the operator's own matching. A pattern still pins when what it leaves open
    cannot change the owner: an ARN whose account component is fixed (``arn:aws:iam::<account>:role/*``:
    that account's roles), an organization path whose organization is fixed (``o-a1b2/*``), every
    session of one role (``aws:userid`` ``AROA...:*``, which S3 names)."""
    cut = _open_at(clause, value)
    if cut == -1:
        return True
    key = clause.key_lower
    if key in _ARN_VALUED:
        parts = value.split(":", 5)
        if clause.base.startswith("arn") and len(parts) == 6:  # component by component
            account = parts[4]
            return bool(re.fullmatch(r"\d{12}", account)) and _open_at(clause, account) == -1
        fixed = value[:cut].split(":")  # a string pattern: * may cross colons, so the prefix decides
        return len(fixed) > 5 and bool(re.fullmatch(r"\d{12}", fixed[4]))
    if key in ("aws:principalorgpaths", "aws:sourceorgpaths", "aws:vpceorgpaths"):
        return re.match(r"o-[a-z0-9]{10,32}/", value[:cut]) is not None
    return _role_sessions(key, value)


# --------------------------------------------------------------------------------------------
# Reach: for how much of a class of requests a clause or statement holds


class Reach(IntEnum):
    NONE = 0
    """For no request of the class."""
    BOUNDED = 1
    """Only for requests carrying fixed values the policy names (a VPC endpoint, an account ...)."""
    UNKNOWN = 2
    SOME = 3
    """For requests the caller can choose to make (TLS, a user agent, no VPC endpoint ...)."""
    ALL = 4
    """For every request of the class (bar, at most, the fixed values a negated condition names)."""


@dataclass(frozen=True)
class Scope:
    reach: Reach
    why: tuple[str, ...] = ()


def meet(scopes: Iterable[Scope]) -> Scope:
    """Statement = principal AND every clause: NONE wins, then BOUNDED, then UNKNOWN, then SOME."""
    scopes = list(scopes)
    for reach in (Reach.NONE, Reach.BOUNDED, Reach.UNKNOWN, Reach.SOME, Reach.ALL):
        hits = [s for s in scopes if s.reach == reach]
        if hits:
            return Scope(reach, tuple(w for s in hits for w in s.why))
    return Scope(Reach.ALL)


_NEGATED = {
    "stringnotequals", "stringnotequalsignorecase", "stringnotlike", "numericnotequals", "datenotequals",
    "notipaddress", "arnnotequals", "arnnotlike",
}  # fmt: skip
_FAMILIES = {
    "string": ("stringequals", "stringnotequals", "stringequalsignorecase", "stringnotequalsignorecase",
               "stringlike", "stringnotlike"),
    "numeric": ("numericequals", "numericnotequals", "numericlessthan", "numericlessthanequals",
                "numericgreaterthan", "numericgreaterthanequals"),
    "date": ("dateequals", "datenotequals", "datelessthan", "datelessthanequals", "dategreaterthan",
             "dategreaterthanequals"),
    "bool": ("bool",),
    "binary": ("binaryequals",),
    "ip": ("ipaddress", "notipaddress"),
    "arn": ("arnequals", "arnlike", "arnnotequals", "arnnotlike"),
    "null": ("null",),
}  # fmt: skip
_FAMILY_OF = {op: family for family, ops in _FAMILIES.items() for op in ops}


def family(clause: Clause) -> str | None:
    return _FAMILY_OF.get(clause.base)


# Keys whose value identifies the caller or its network, which an outsider cannot choose: fixed
# values of them make a grant to "*" non-public (S3 "The meaning of public"; Access Analyzer's
# list adds the organization, VPC endpoint owner and EC2 source keys).
_IDENTIFYING = frozenset({
    "aws:sourceip", "aws:sourcearn", "aws:sourceaccount", "aws:sourceowner", "aws:sourceorgid",
    "aws:sourceorgpaths", "aws:sourcevpc", "aws:sourcevpce", "aws:sourcevpcarn",
    "aws:vpceaccount", "aws:vpceorgid", "aws:vpceorgpaths", "aws:principalorgid", "aws:principalorgpaths",
    "aws:principalaccount", "aws:principalarn", "aws:principalservicename", "aws:principalservicenameslist",
    "aws:userid", "aws:ec2instancesourcevpc",
    "s3:dataaccesspointarn", "s3:dataaccesspointaccount", "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "kms:calleraccount", "lambda:eventsourcetoken",
})  # fmt: skip
_SHARED_NAMES = frozenset({"aws:username", "aws:vpcsourceip", "aws:ec2instancesourceprivateipv4"})
"""Keys whose values are not unique to a caller: any account may have a user named ``alice``, and
private addresses repeat in every VPC. A fixed value of them pins no one."""
_TIME = frozenset({"aws:currenttime", "aws:epochtime", "aws:tokenissuetime"})
_SESSION_TIME = "aws:tokenissuetime"
"""When the request's temporary credentials were issued: a new session's is now, so a condition
that wants it before a past date cannot hold (the longest session lasts 36 hours); long-term access
keys carry no session token, so the key is absent for them."""
_CALLER_CHOSEN = frozenset({
    "aws:securetransport", "aws:useragent", "aws:referer", "aws:requestedregion", "aws:tagkeys",
    "aws:multifactorauthpresent", "aws:multifactorauthage", "aws:tokenissuetime", "aws:sourceidentity",
    "aws:viaawsservice", "aws:calledvia", "aws:calledviafirst", "aws:calledvialast", "aws:principaltype",
    "aws:federatedprovider", "aws:rolesessionname", "aws:assumedroot",
})  # fmt: skip
_CALLER_CHOSEN_PREFIXES = ("aws:requesttag/", "aws:principaltag/")
_RESOURCE_FACTS = ("aws:resourcetag/", "aws:resourceorgid", "aws:resourceorgpaths")
_PUBLIC_OIDC_AUDIENCE = "sts.amazonaws.com"
"""The audience every GitHub Actions (and EKS) token carries: it binds a trust to nothing."""


def _is_federation_key(key: str) -> bool:
    host, sep, name = key.rpartition(":")
    return bool(sep) and not host.startswith("aws") and name in ("sub", "aud", "oaud", "amr")


@dataclass(frozen=True)
class Caller:
    """The class of requests a statement is read against."""

    kind: Literal["outsider", "self"]
    """``outsider``: anyone on the internet or any principal of another account. ``self``: the
    principal whose own policies these are, choosing its requests."""
    account: str
    now: datetime
    trust: bool = False
    """Reading a role's trust policy: a service principal there assumes the role only when someone
    in the account passes it (``iam:PassRole``), so it acts for no other account."""


def clause_scope(clause: Clause, caller: Caller) -> Scope:
    """For how much of the caller class one condition clause holds."""
    fam = family(clause)
    shown = str(clause)
    if fam is None:
        return Scope(Reach.UNKNOWN, (f"unknown condition operator {clause.operator!r} in {shown}",))
    if clause.qualifier not in ("", "forallvalues", "foranyvalue"):
        return Scope(Reach.UNKNOWN, (f"unknown set operator {clause.qualifier!r} in {shown}",))
    key = clause.key_lower
    if key in _TIME:
        return _time_scope(clause, caller, fam)
    if caller.kind == "self":
        return Scope(Reach.SOME, (shown,))  # the principal picks its requests to meet (or dodge) it
    if key == "aws:principalisawsservice" and fam == "bool":
        held = "false" in [v.lower() for v in clause.values]  # an outsider is not an AWS service
        return Scope(Reach.ALL if held else Reach.NONE, (shown,))
    if key == "aws:resourceaccount" and fam == "string":
        positive = clause.base not in _NEGATED
        hit = any(_string_match(_positive(clause.base), caller.account, v) for v in clause.values)
        return Scope(Reach.ALL if hit == positive else Reach.NONE, (shown,))
    if key.startswith(_RESOURCE_FACTS):
        return Scope(Reach.UNKNOWN, (f"{shown}: the resource's tags and organization are not evaluated",))
    if key in _IDENTIFYING or _is_federation_key(key):
        return _identifying_scope(clause, fam)
    if key in _SHARED_NAMES:
        return Scope(Reach.SOME, (f"{shown} (any account can have that name or address)",))
    if key in _CALLER_CHOSEN or key.startswith(_CALLER_CHOSEN_PREFIXES) or not key.startswith("aws:"):
        # Request parameters (s3:prefix, kms:EncryptionContext ...) and what a caller says about
        # itself: an outsider can meet or dodge the condition.
        return Scope(Reach.SOME, (shown,))
    return Scope(Reach.UNKNOWN, (f"{shown}: condition key {clause.key} is not modelled",))


def _positive(base: str) -> str:
    return {
        "stringnotequals": "stringequals",
        "stringnotequalsignorecase": "stringequalsignorecase",
        "stringnotlike": "stringlike",
        "arnnotequals": "arnequals",
        "arnnotlike": "arnlike",
        "notipaddress": "ipaddress",
        "numericnotequals": "numericequals",
        "datenotequals": "dateequals",
    }.get(base, base)


def _identifying_scope(clause: Clause, fam: str) -> Scope:
    """A key the outsider cannot set: in a request it carries the outsider's own value (never one
    of the owner's fixed values), and an outsider can leave it out (no VPC endpoint, no service in
    between, anonymous; even ``aws:SourceIp`` is absent through a VPC endpoint of its own)."""
    shown = str(clause)
    if fam == "null":
        return Scope(Reach.SOME, (shown,))  # present or absent, as the outsider likes
    if fam not in ("string", "arn", "ip"):
        return Scope(Reach.UNKNOWN, (f"{shown}: operator does not fit key {clause.key}",))
    negated = clause.base in _NEGATED
    if fam == "ip":
        ranges = _ip_ranges(clause.values)
        if ranges is None:
            return Scope(Reach.UNKNOWN, (f"{shown}: not an IP range",))
        everything = _ip_cover(ranges) == {4, 6}
        # S3, "The meaning of public": aws:SourceIp values "broader than /8" for IPv4 (broader than
        # /32 for IPv6) are not fixed values: a grant to such a range is public.
        present = Reach.SOME if any(_too_broad(net) for net in ranges) else Reach.BOUNDED
    else:
        everything = any(_matches_everything(clause, v) for v in clause.values)
        unbounded = any(not _pins(clause, v) or v.lower() == _PUBLIC_OIDC_AUDIENCE for v in clause.values)
        present = Reach.SOME if everything or unbounded else Reach.BOUNDED
    # ``present``: how much of the callers that send the key the positive form lets through.
    if negated:
        present = Reach.NONE if everything else Reach.ALL if present == Reach.BOUNDED else Reach.SOME
    absent_holds = (negated or clause.qualifier == "forallvalues" or clause.if_exists) and (
        clause.qualifier != "foranyvalue"
    )
    if absent_holds:
        # Every caller that leaves the key out gets through, and those that send it as above.
        reach = Reach.ALL if present == Reach.ALL else Reach.SOME
        why = (shown if present == Reach.ALL else f"{shown} (holds when the key is absent)",)
        return Scope(reach, why)
    reach = Reach.SOME if present == Reach.ALL else present  # those that omit the key are out
    restriction = f"{clause.key} {'not ' if negated else ''}in {list(clause.values)}"
    return Scope(reach, (restriction if reach == Reach.BOUNDED else shown,))


def _role_sessions(key: str, value: str) -> bool:
    """``aws:userid`` ``AROLEID:*``: every session of one role, which S3 counts as a fixed value."""
    return key == "aws:userid" and re.fullmatch(r"AROA[A-Z0-9]+:\*", value) is not None


def _ip_ranges(values: Sequence[str]) -> list[Any] | None:
    """The CIDR ranges of a condition, or None when one is not a range."""
    try:
        return [ipaddress.ip_network(value.strip(), strict=False) for value in values]
    except ValueError:
        return None


def _too_broad(net: Any) -> bool:
    return bool(net.prefixlen < (8 if net.version == 4 else 32))


def _ip_cover(ranges: Sequence[Any]) -> set[int]:
    """The address families (4, 6) the ranges cover entirely; empty when they cover neither."""
    nets: dict[int, list[Any]] = {4: [], 6: []}
    for net in ranges:
        nets[net.version].append(net)
    whole = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}
    return {v for v, found in nets.items() if found and _covers_whole(found, whole[v])}


def _covers_whole(nets: list[Any], whole: Any) -> bool:
    merged = list(ipaddress.collapse_addresses(nets))
    return len(merged) == 1 and merged[0] == whole


def _time_scope(clause: Clause, caller: Caller, fam: str) -> Scope:
    """Time conditions are decided as of ``caller.now``: the verdict is for now."""
    shown = str(clause)
    session = clause.key_lower == _SESSION_TIME
    if fam == "null":
        if session:  # present for sessions, absent for long-term keys: either can be had
            return Scope(Reach.SOME, (shown,))
        wants_absent = [v.lower() for v in clause.values] == ["true"]
        return Scope(Reach.NONE if wants_absent else Reach.ALL, (shown,))
    if fam not in ("date", "numeric"):
        return Scope(Reach.UNKNOWN, (f"{shown}: operator does not fit a time key",))
    now = caller.now.timestamp()
    try:
        limits = [_seconds(v) for v in clause.values]
    except ValueError:
        return Scope(Reach.UNKNOWN, (f"{shown}: not a date",))
    op = _positive(clause.base)[len(fam) :]
    hit = any(_compare(op, now, limit) for limit in limits)
    held = (not hit) if clause.base in _NEGATED else hit
    why = (f"{shown} (as of {caller.now:%Y-%m-%dT%H:%MZ})",)
    if session and (clause.if_exists or clause.base in _NEGATED):
        return Scope(Reach.ALL if held else Reach.SOME, why)  # long-term keys carry no session time
    return Scope(Reach.ALL if held else Reach.NONE, why)


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _compare(op: str, left: float, right: float) -> bool:
    return {
        "equals": left == right,
        "lessthan": left < right,
        "lessthanequals": left <= right,
        "greaterthan": left > right,
        "greaterthanequals": left >= right,
    }[op]


def _string_match(base: str, value: str, pattern: str) -> bool:
    """One value against one pattern, by the operator's documented matching (see ``_LIKE``)."""
    if base in ("arnlike", "arnequals"):
        parts, wanted = value.split(":", 5), pattern.split(":", 5)
        return len(parts) == len(wanted) == 6 and all(
            _wild_match(w, p) for p, w in zip(parts, wanted, strict=True)
        )
    if base == "stringlike":
        return _wild_match(pattern, value)
    if base == "stringequalsignorecase":
        return value.lower() == pattern.lower()
    return value == pattern


# --------------------------------------------------------------------------------------------
# Principals


@dataclass(frozen=True)
class PrincipalScope:
    scope: Scope
    external: tuple[str, ...] = ()
    """Who outside the account the principal names (accounts, roles, federations, services)."""


def _principal_values(principal: Any) -> dict[str, list[str]]:
    if principal == "*":
        return {"AWS": ["*"]}
    if isinstance(principal, dict):
        return {str(k): [str(v) for v in as_list(values)] for k, values in principal.items()}
    return {"AWS": [str(v) for v in as_list(principal)]}


def account_of(principal: str) -> str | None:
    """The account a principal ARN or account id belongs to."""
    if re.fullmatch(r"\d{12}", principal):
        return principal
    parts = principal.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and re.fullmatch(r"\d{12}", parts[4]):
        return parts[4]
    return None


def principal_scope(statement: Statement, caller: Caller) -> PrincipalScope:
    if statement.not_principal is not None:
        listed = [v for vs in _principal_values(statement.not_principal).values() for v in vs]
        return PrincipalScope(Scope(Reach.ALL, (f"every principal except {', '.join(listed)}",)))
    if statement.principal is None:
        return PrincipalScope(Scope(Reach.NONE, ("the statement names no principal",)))
    best = Scope(Reach.NONE, ("names no principal outside the account",))
    external: list[str] = []
    for kind, values in _principal_values(statement.principal).items():
        for value in values:
            scope, outside = _one_principal(kind, value, statement, caller)
            external.extend(outside)
            if scope.reach > best.reach:
                best = scope
    return PrincipalScope(best, tuple(dict.fromkeys(external)))


def _one_principal(kind: str, value: str, statement: Statement, caller: Caller) -> tuple[Scope, list[str]]:
    if kind == "AWS" and value == "*":
        return Scope(Reach.ALL, ("Principal *",)), []
    if kind == "AWS":
        account = account_of(value)
        if account is None and re.fullmatch(r"A[A-Z0-9]{15,}", value):
            # IAM shows a deleted principal by its unique id: nobody can act as it any more.
            return Scope(Reach.NONE, (f"deleted principal {value}",)), []
        if account is None:
            return Scope(Reach.UNKNOWN, (f"principal {value!r} is not an account or ARN",)), []
        if account == caller.account:
            return Scope(Reach.NONE, (f"{value} is in the account",)), []
        return Scope(Reach.BOUNDED, (f"principal {value}",)), [value]
    if kind == "Service":
        outside = [] if caller.trust else _service_external(value, statement, caller)
        return Scope(Reach.NONE, (f"service {value}",)), outside
    if kind == "CanonicalUser":
        return Scope(Reach.BOUNDED, (f"canonical user {value}",)), [f"canonical user {value}"]
    if kind == "Federated":
        return _federated(value, statement)
    return Scope(Reach.UNKNOWN, (f"principal type {kind!r} is not modelled",)), []


def _service_external(service: str, statement: Statement, caller: Caller) -> list[str]:
    """A service principal acts on behalf of whichever account calls it unless the statement pins
    the source account or resource (the confused-deputy conditions)."""
    pinned = [
        c
        for c in statement.conditions
        if c.key_lower in ("aws:sourceaccount", "aws:sourcearn", "aws:sourceowner", "aws:sourceorgid")
        and c.base not in _NEGATED
        and family(c) in ("string", "arn")
        and not c.if_exists
        and all(_pins(c, v) or account_of(v) is not None for v in c.values)
    ]
    if not pinned:
        return [f"{service} on behalf of any account"]
    others = [v for c in pinned for v in c.values if (account_of(v) or caller.account) != caller.account]
    return [f"{service} on behalf of {v}" for v in others]


def _federated(provider: str, statement: Statement) -> tuple[Scope, list[str]]:
    """Web identity and SAML trust: who may present a token.

    A SAML provider or an EKS cluster's OIDC provider is one identity provider the account set up:
    its users are *shared* with. A public issuer (Cognito, GitHub Actions, Google ...) signs tokens
    for anyone: without a condition pinning the audience or subject, anyone may assume the role.
    """
    host = provider.split("oidc-provider/", 1)[-1] if "oidc-provider/" in provider else provider
    if ":saml-provider/" in provider or host.startswith("oidc.eks."):
        return Scope(Reach.BOUNDED, (f"federated {provider}",)), [f"federated {provider}"]
    bound = []
    for clause in statement.conditions:
        name = clause.key_lower.rpartition(":")[2]
        if clause.key_lower.rpartition(":")[0] != host.lower() or clause.base not in (
            "stringequals",
            "stringlike",
            "stringequalsignorecase",
        ):
            continue
        if clause.qualifier == "forallvalues" or clause.if_exists:
            continue
        if name == "sub" and all(_bounded_subject(v, _open_at(clause, v)) for v in clause.values):
            bound.append(str(clause))
        if name == "aud" and all(
            _open_at(clause, v) == -1 and v.lower() != _PUBLIC_OIDC_AUDIENCE for v in clause.values
        ):
            bound.append(str(clause))
    if bound:
        return Scope(Reach.BOUNDED, tuple(bound)), [f"federated {host} where {'; '.join(bound)}"]
    return Scope(Reach.ALL, (f"federated {host} with no audience or subject condition",)), []


def _bounded_subject(value: str, cut: int) -> bool:
    """A subject pins an owner when nothing, or only what follows an owner's ``/``, is left open at
    ``cut`` (``repo:org/app:ref:refs/heads/main``, ``repo:org/*``; not ``*`` or ``repo:*``)."""
    return cut == -1 or "/" in value[:cut]


# --------------------------------------------------------------------------------------------
# Exposure of a resource policy (and a role's trust policy)


@dataclass
class Exposure:
    """Who outside the account a resource (or trust) policy lets in, and for what."""

    public: list[dict[str, Any]] = field(default_factory=list)
    """Grants anyone may use: statement, actions, and the conditions they take."""
    shared: list[str] = field(default_factory=list)
    """Principals outside the account it names (accounts, organizations, federations, services)."""
    restricted: list[str] = field(default_factory=list)
    """Why grants to ``*`` are not public: the conditions or Deny statements that bound them."""
    unknown: list[str] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    """The Allow statements behind ``public``, in the same order."""

    @property
    def is_public(self) -> bool | None:
        if self.public:
            return True
        return None if self.unknown else False


@dataclass(frozen=True)
class _Read:
    """One statement read against outsiders."""

    statement: Statement
    principal: PrincipalScope
    conditions: Scope

    @property
    def scope(self) -> Scope:
        return meet([self.principal.scope, self.conditions])


def exposure(
    document: Any, account: str, now: datetime | None = None, source: str = "", trust: bool = False
) -> Exposure:
    """Read a resource or trust policy against every outsider: the public grants left after Deny
    statements that no outsider can dodge, the principals outside the account it shares with, and
    what is undecidable. A document that is not a policy raises :class:`PolicyError`. ``trust``: the
    document is a role's trust policy."""
    caller = Caller("outsider", account, now or datetime.now(timezone.utc), trust)
    found = Exposure()
    read = [
        _Read(s, principal_scope(s, caller), meet(clause_scope(c, caller) for c in s.conditions))
        for s in parse(document, source)
    ]
    blanket = [r for r in read if not r.statement.allow and r.scope.reach == Reach.ALL]
    undecided = [r for r in read if not r.statement.allow and r.scope.reach == Reach.UNKNOWN]
    for r in read:
        statement, scope = r.statement, r.scope
        if not statement.allow:
            continue
        if scope.reach == Reach.UNKNOWN:
            found.unknown.append(f"{statement.label}: {'; '.join(scope.why)}")
            continue
        denied = _removed(statement, blanket)
        if r.conditions.reach != Reach.NONE and denied is None:
            found.shared.extend(r.principal.external)
        if scope.reach == Reach.NONE:
            continue
        if scope.reach == Reach.BOUNDED:
            if denied is None:
                found.shared.extend(_bounded_outsiders(statement, account))
                found.restricted.append(f"{statement.label}: only {'; '.join(scope.why)}")
            continue
        if denied is not None:
            found.restricted.append(f"{statement.label} is cut off by {denied}")
            continue
        maybe = [d for d in undecided if _deny_covers(d.statement, statement)]
        if maybe:
            found.unknown.extend(
                f"{statement.label} may be cut off by {d.statement.label}: {'; '.join(d.scope.why)}"
                for d in maybe
            )
            continue
        found.statements.append(statement)
        found.public.append(
            {
                "statement": statement.label,
                "actions": str(statement.actions),
                **({"resources": str(statement.resources)} if statement.resources != EVERYTHING else {}),
                **({"when": list(r.conditions.why)} if scope.reach == Reach.SOME else {}),
            }
        )
    found.shared = list(dict.fromkeys(found.shared))
    return found


def _removed(statement: Statement, denies: Sequence[_Read]) -> str | None:
    """The Deny statements no outsider dodges that take away every action of an Allow statement."""
    by = [d for d in denies if _deny_covers(d.statement, statement)]
    if not by and not statement.actions.negated and len(statement.actions.values) > 1:
        for action in statement.actions.values:
            one = [
                d
                for d in denies
                if d.statement.actions.covers(Patterns((action,), False, True))
                and d.statement.resources.covers(statement.resources)
            ]
            if not one:
                return None
            by.extend(one)
    if not by:
        return None
    return ", ".join(
        dict.fromkeys(
            d.statement.label
            + (f" (Deny when {'; '.join(d.conditions.why)})" if d.statement.conditions else "")
            for d in by
        )
    )


def _deny_covers(deny: Statement, allow: Statement) -> bool:
    return deny.actions.covers(allow.actions) and deny.resources.covers(allow.resources)


def _bounded_outsiders(statement: Statement, account: str) -> list[str]:
    """Outsiders a grant to ``*`` is pinned to by its conditions (other accounts, organizations)."""
    found = []
    for clause in statement.conditions:
        if clause.base in _NEGATED or family(clause) not in ("string", "arn"):
            continue
        key = clause.key_lower
        for value in clause.values:
            if key in ("aws:principalorgid", "aws:sourceorgid"):
                found.append(f"organization {value}")
            elif key == "aws:principalorgpaths":
                found.append(f"organization path {value}")
            elif key in (
                "aws:principalaccount",
                "aws:sourceaccount",
                "aws:sourceowner",
                "kms:calleraccount",
                "aws:principalarn",
                "aws:sourcearn",
                "s3:dataaccesspointaccount",
            ):
                other = account_of(value)
                if other is not None and other != account:
                    found.append(value)
    return found


# --------------------------------------------------------------------------------------------
# A principal's own permissions (identity policies, groups, boundary)


@dataclass(frozen=True)
class Source:
    """One policy of a principal: where it comes from, and its document."""

    label: str
    document: Any


@dataclass
class Decision:
    allowed: bool | None
    why: str
    by: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)


SELF_GRANT = (
    "iam:PutUserPolicy", "iam:PutRolePolicy", "iam:PutGroupPolicy", "iam:AttachUserPolicy",
    "iam:AttachRolePolicy", "iam:AttachGroupPolicy", "iam:CreatePolicyVersion",
)  # fmt: skip
"""The actions with which a principal writes permissions (IAM's "Permissions management" access
level): while one of them is left, whatever else it lacks it can grant itself (or a new principal,
which no Deny of its own follows)."""


@dataclass
class Admin(Decision):
    """A :class:`Decision` on "every action", with the actions it leaves out."""

    exceptions: list[str] = field(default_factory=list)


ALL_ACTIONS = Patterns(("*:*",), False, True)
"""Every action: each is ``service:name``."""


@dataclass
class _AllBut:
    """What the statements of one set of policies allow on (nearly) every resource: every action
    but ``excluded`` (``NotAction``; None when no statement allows all but a list), the actions
    ``positives`` allow by name, those ``denied`` by a Deny that always applies, and what cannot
    be decided (an Allow, or a Deny with the actions it would deny)."""

    excluded: list[str] | None = None
    positives: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    by: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    maybe_allow: list[str] = field(default_factory=list)
    maybe_deny: list[tuple[str, list[str]]] = field(default_factory=list)

    def reading(self, allow_unknown: bool, deny_unknown: bool) -> tuple[Patterns, Patterns, Patterns] | None:
        """(granted by name, left out of "all but", denied), or None when the Allows are not "all
        but a list"; the unknown statements read as granting everything / denying what they name."""
        given = Patterns(tuple(self.positives), False, True)
        excluded = [] if allow_unknown and self.maybe_allow else self.excluded
        if excluded is None:
            if not given.covers(ALL_ACTIONS):
                return None
            excluded = []
        denied = self.denied + [a for _, actions in self.maybe_deny for a in actions] * deny_unknown
        left = [e for e in excluded if not given.covers(Patterns((e,), False, True))]
        return given, Patterns(tuple(left), False, True), Patterns(tuple(denied), False, True)


def _everywhere(resources: Patterns) -> bool:
    """The statement reaches (nearly) every resource: ``*``, or all but some (``NotResource``)."""
    return not resources.matches_nothing() and (resources.negated or resources.covers(EVERYTHING))


def _all_but(sources: Sequence[Source], caller: Caller) -> _AllBut:
    found = _AllBut()
    for source in sources:
        for statement in parse(source.document, source.label):
            if not _everywhere(statement.resources):
                continue
            scope = meet(clause_scope(c, caller) for c in statement.conditions)
            if scope.reach == Reach.NONE or (not statement.allow and scope.reach == Reach.SOME):
                continue  # never holds; or a Deny the principal can step around (MFA, its network)
            values = [v.lower() for v in statement.actions.values]
            # a Deny of all but a list (NotAction) leaves no "all but": read it as denying everything
            denies = ["*"] if statement.actions.negated else values
            if scope.reach == Reach.UNKNOWN:
                why = f"{statement.label}: {'; '.join(scope.why)}"
                if statement.allow:
                    found.maybe_allow.append(why)
                else:
                    found.maybe_deny.append((why, denies))
                continue
            if not statement.allow:
                found.denied += denies
                continue
            found.by.append(statement.label)
            if scope.reach != Reach.ALL:
                found.conditions += scope.why
            if statement.actions.negated:
                found.excluded = values if found.excluded is None else _intersection(found.excluded, values)
            else:
                found.positives += values
    return found


def _intersection(a: list[str], b: list[str]) -> list[str]:
    """Patterns in both lists' reach: those of each that the other covers (a partial overlap is
    left out, so the allowed actions are read larger, never smaller)."""
    pa, pb = Patterns(tuple(a), False, True), Patterns(tuple(b), False, True)
    return list(dict.fromkeys([x for x in a if pb.covers(Patterns((x,), False, True))]
                              + [y for y in b if pa.covers(Patterns((y,), False, True))]))  # fmt: skip


def admin_equivalent(
    policies: Sequence[Source], account: str, boundary: Source | None = None, now: datetime | None = None
) -> Admin:
    """Admin-equivalent, by set reasoning over the statements (no probe list): on (nearly) every
    resource, every action of every service except a short list, where

    - each exception stays within one service (``iam:CreateUser``, ``aws-portal:*``; not ``*``), and
    - the exceptions leave at least one of :data:`SELF_GRANT`: what it lacks it can grant itself
      (AWS's PowerUserAccess, all but ``iam:*``, ``organizations:*`` and ``account:*``, is not).

    Policy evaluation logic: the identity policies' Allows together, less every Deny that always
    applies (one the principal can avoid, such as "deny without MFA", takes nothing away), capped
    by the permissions boundary (both must allow). The exceptions are in the evidence. What cannot
    be read is unknown only where it could change the answer: an undecidable Allow can only add,
    an undecidable Deny only take away."""
    caller = Caller("self", account, now or datetime.now(timezone.utc))
    parts = [(_all_but(policies, caller), "its policies allow")]
    if boundary is not None:
        parts.append(
            (_all_but([boundary], caller), f"outside the permissions boundary {boundary.label}: it allows")
        )
    # Undecidable statements are read both ways: an Allow as granting everything, a Deny as denying
    # everything. Where both readings agree, that is the answer.
    hopeful = _admin_verdict(parts, allow_unknown=True)
    fearful = _admin_verdict(parts, deny_unknown=True)
    if hopeful.allowed is False or fearful.allowed is True:
        return hopeful if hopeful.allowed is False else fearful
    undecided = [w for part, _ in parts for w in part.maybe_allow + [why for why, _ in part.maybe_deny]]
    return Admin(None, "; ".join(undecided))


def _admin_verdict(
    parts: list[tuple[_AllBut, str]], allow_unknown: bool = False, deny_unknown: bool = False
) -> Admin:
    readings = []
    for part, name in parts:
        reading = part.reading(allow_unknown, deny_unknown)
        if reading is None:
            return Admin(False, f"{name} only some services, not every action on every resource")
        readings.append(reading)
    exceptions = list(dict.fromkeys(v for _, left, denied in readings for v in left.values + denied.values))
    wide = [
        e for e in exceptions if ":" not in e or _literal_prefix(e.partition(":")[0]) != e.partition(":")[0]
    ]
    if wide:
        return Admin(False, f"all actions but {', '.join(wide)}: not confined to one service")

    def allowed(action: str) -> bool:
        return all(
            not denied.matches(action) and (given.matches(action) or not left.matches(action))
            for given, left, denied in readings
        )

    if not any(allowed(action) for action in SELF_GRANT):
        return Admin(
            False, f"all actions but {', '.join(exceptions)}, which leaves it no way to write permissions"
        )
    why = "every action on every resource" + (f" except {', '.join(exceptions)}" if exceptions else "")
    conditions = list(dict.fromkeys(w for part, _ in parts for w in part.conditions))
    return Admin(True, why, parts[0][0].by, conditions, exceptions)


def decide(
    policies: Sequence[Source],
    action: str,
    resource: str,
    account: str,
    boundary: Source | None = None,
    now: datetime | None = None,
) -> Decision:
    """May the principal holding ``policies`` (capped by ``boundary``) do ``action`` on ``resource``?

    Conditions are read as the principal's own choice: an Allow with conditions still grants (they
    are listed), a Deny with conditions the principal can avoid does not take away. An explicit
    Deny that always applies wins, in the identity policies or in the boundary.
    """
    caller = Caller("self", account, now or datetime.now(timezone.utc))
    grant = _decide_in(policies, action, resource, caller)
    if grant.allowed is not True or boundary is None:
        return grant
    capped = _decide_in([boundary], action, resource, caller)
    if capped.allowed is False:
        return Decision(False, f"outside the permissions boundary {boundary.label}: {capped.why}")
    if capped.allowed is None:
        return Decision(None, f"the permissions boundary cannot be decided: {capped.why}")
    return Decision(True, grant.why, grant.by, grant.conditions + capped.conditions)


def _decide_in(
    policies: Sequence[Source],
    action: str,
    resource: str,
    caller: Caller,
    applies: Callable[[Statement], bool] = lambda statement: True,
) -> Decision:
    allows: list[tuple[Statement, Scope]] = []
    unknown: list[str] = []
    for source in policies:
        for statement in parse(source.document, source.label):
            if not (
                statement.actions.matches(action) and statement.resources.matches(resource) and applies(statement)
            ):
                continue
            scope = meet(clause_scope(c, caller) for c in statement.conditions)
            if not statement.allow and scope.reach == Reach.ALL:
                return Decision(False, f"{action} explicitly denied by {statement.label}", [statement.label])
            if not statement.allow and scope.reach == Reach.UNKNOWN:
                unknown.append(f"{statement.label} may deny {action}: {'; '.join(scope.why)}")
            if statement.allow and scope.reach == Reach.UNKNOWN:
                unknown.append(f"{statement.label} may allow {action}: {'; '.join(scope.why)}")
            if statement.allow and scope.reach in (Reach.ALL, Reach.SOME, Reach.BOUNDED):
                allows.append((statement, scope))
    # Unknown decided last: an undecidable Allow beside a certain one changes nothing; an
    # undecidable Deny beside a certain Allow does.
    if any(" may deny " in u for u in unknown) or (unknown and not allows):
        return Decision(None, "; ".join(unknown))
    if not allows:
        return Decision(False, f"no statement allows {action} on {resource}")
    unconditional = [s for s, scope in allows if scope.reach == Reach.ALL]
    chosen = unconditional or [s for s, _ in allows]
    conditions = [] if unconditional else [w for _, scope in allows for w in scope.why]
    return Decision(True, f"{action} allowed", [s.label for s in chosen], conditions)


# --------------------------------------------------------------------------------------------
# A role's trust policy: who may assume it


@dataclass
class Trust(Decision):
    """A :class:`Decision` on a role's trust policy, and whether it names the principal itself."""

    named: bool = False
    """True: the trust names the principal (or everyone), which grants without its own policies.
    False: it names the principal's account, which hands the decision to the principal's own
    (identity) policies."""


def trusts(document: Any, who: str, account: str, partition: str = "aws", source: str = "trust policy",
           now: datetime | None = None) -> Trust:  # fmt: skip
    """May principal ``who`` (a user or role ARN of ``account``) call ``sts:AssumeRole`` under this
    role trust policy? Same account only.

    IAM, *Policy evaluation logic*: "For most resources, you only need an explicit allow for the
    principal in either an identity-based policy or a resource-based policy to grant access. IAM
    role trust policies and KMS key policies are exceptions to this logic, because they must
    explicitly allow access for principals." A trust that names the principal's ARN (or ``*``)
    grants it; one that names its account (``123456789012`` or ``arn:aws:iam::123456789012:root``)
    delegates to the account, whose identities still need an identity policy allowing
    ``sts:AssumeRole`` on the role. Principal takes no wildcard but ``*``. A Deny that names the
    principal or its account wins. Conditions are the caller's to meet (``sts:ExternalId``, MFA),
    listed; time conditions are evaluated."""
    root = f"arn:{partition}:iam::{account}:root"

    def reach(statement: Statement) -> str | None:
        """``named``, ``account`` or None: how the statement's principal covers ``who``."""
        if statement.not_principal is not None:
            listed = {v for vs in _principal_values(statement.not_principal).values() for v in vs}
            return None if listed & {who, account, root} else "named"
        if statement.principal is None:
            return None
        values = _principal_values(statement.principal).get("AWS", [])
        if "*" in values or who in values:
            return "named"
        return "account" if account in values or root in values else None

    if not _may_name(document, {"*", who, account, root}):
        return Trust(False, f"{source} names neither {who} nor its account")
    caller = Caller("self", account, now or datetime.now(timezone.utc), trust=True)
    found = _decide_in([Source(source, document)], "sts:AssumeRole", "*", caller, lambda s: reach(s) is not None)
    if found.allowed is not True:
        return Trust(found.allowed, found.why, found.by, found.conditions)
    named = any(reach(s) == "named" for s in parse(document, source) if s.allow and s.label in found.by)
    why = f"{source} names {who if named else 'its account'}"
    return Trust(True, why, found.by, found.conditions, named)


def _may_name(document: Any, names: set[str]) -> bool:
    """A quick look before parsing (an account has many roles, each principal asks each): False
    only when no statement of a well-formed document has a NotPrincipal or an AWS principal among
    ``names``. Anything odd is left to the parser."""
    if not isinstance(document, dict):
        return True
    for raw in as_list(document.get("Statement")):
        if not isinstance(raw, dict) or "NotPrincipal" in raw:
            return True
        principal = raw.get("Principal")
        values = _principal_values(principal).get("AWS", []) if isinstance(principal, (dict, str, list)) else [principal]
        if any(not isinstance(v, str) or v in names for v in values):
            return True
    return False
