"""Read findings from AWS Security Hub: ``--sh-filters``, ``--sh-template``, paginated GetFindings.

Every filter name and its type come from botocore's model of ``AwsSecurityFindingFilters``, so a
name Security Hub adds is usable as soon as botocore knows it, and a typo is caught before any call.

``--sh-filters KEY=VALUE`` is typed by the filter's kind:

- string (``SeverityLabel=HIGH``): EQUALS; a key given twice means any of its values;
- number (``SeverityNormalized=70``, ``Criticality=40..100``): ``Eq``, or ``Gte``/``Lte`` for a range;
- date (``UpdatedAt=7d``, ``CreatedAt=2026-01-01..2026-02-01``, either end optional): a range of days
  back from now, or ``Start``/``End``;
- map (``ResourceTags=Environment=prod``): the first ``=`` after the name separates the map key;
- boolean (``Sample=false``), IP (``NetworkSourceIpV4=10.0.0.0/8``), keyword.

A template (YAML or JSON) holds the filters as the API takes them, with any comparison.

The new Security Hub (``--inputs securityhub-v2``) reads OCSF findings through GetFindingsV2; its
filters name OCSF fields (``severity=High``, ``resources.type=AwsS3Bucket``,
``finding_info.modified_time_dt=7d``, ``severity_id=4..6``), typed the same way
from the v2 filter model (:func:`parse_filters_v2`); ``--sh-scope`` narrows an organisation's
delegated administrator to the organisation or OUs (:func:`parse_scopes`), and ``--sh-export``
has an export job write them to S3 instead of paging (:class:`ExportSource`).
"""

from __future__ import annotations

import difflib
import ipaddress
import itertools
import json
import logging
import re
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from botocore import xform_name
from botocore.exceptions import ParamValidationError
from botocore.model import ServiceModel
from botocore.session import get_session
from botocore.validate import validate_parameters

from metahub.aws import Aws, RateLimiter, describe_error, paced_call
from metahub.ingest import Problem
from metahub.progress import Bar, bar
from metahub.version import __version__

DEFAULT_FILTERS = ("RecordState=ACTIVE", "WorkflowStatus=NEW")
PAGE_SIZE = 100  # GetFindings' maximum
READ_RATE = 3.0
"""GetFindings per second: "GetFindings - RateLimit of 3 requests per second. BurstLimit of 6
requests per second." (Security Hub API reference, throttling limits). Paging faster only earns
throttling errors and their back-off."""
CHECKPOINT_FORMAT = 1
log = logging.getLogger("metahub.securityhub")
_KINDS = {
    "StringFilterList": "string",
    "NumberFilterList": "number",
    "DateFilterList": "date",
    "MapFilterList": "map",
    "BooleanFilterList": "boolean",
    "IpFilterList": "ip",
    "KeywordFilterList": "keyword",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAYS = re.compile(r"^(\d+)\s*d(ays?)?$", re.IGNORECASE)


V2_DEFAULT_FILTERS = ("status=New",)
"""The v2 twin of :data:`DEFAULT_FILTERS`: OCSF findings have a status (New, In Progress,
Suppressed, Resolved ...) and no record state."""
EXPOSURE_FILTER = "metadata.product.feature.uid=security-hub/Exposure"
DOCUMENTED_V2_FIELDS = {"metadata.product.feature.uid": "string"}
"""Fields the user guide filters on that botocore's model does not list yet: "You can filter all
exposure findings with the metadata.product.feature.uid field with the security-hub/Exposure value"
(Security Hub user guide, *Reviewing details for exposure findings*)."""
V1_TO_V2 = {
    "WorkflowStatus": ("status", {"NEW": "New", "NOTIFIED": "In Progress", "SUPPRESSED": "Suppressed",
                                  "RESOLVED": "Resolved"}),
    "SeverityLabel": ("severity", {"INFORMATIONAL": "Informational", "LOW": "Low", "MEDIUM": "Medium",
                                   "HIGH": "High", "CRITICAL": "Critical"}),
    "ComplianceStatus": ("compliance.status", {"PASSED": "Pass", "FAILED": "Fail", "WARNING": "Warning"}),
    "AwsAccountId": ("cloud.account.uid", None),
    "Region": ("cloud.region", None),
    "ResourceType": ("resources.type", None),
    "ResourceId": ("resources.uid", None),
    "Title": ("finding_info.title", None),
    "ProductName": ("metadata.product.name", None),
    "ResourceTags": ("resources.tags", None),
}  # fmt: skip
"""The ASFF filters that mean the same of an OCSF finding, and how their values are written there:
with ``--inputs securityhub securityhub-v2`` one ``--sh-filters`` serves both APIs."""
V1_ONLY_IN_V2 = {"RecordState": "ACTIVE"}
"""ASFF filters with no OCSF twin that v2 findings meet anyway (an OCSF finding has no record state;
an archived one has the status Archived, which ``status=New`` already leaves out)."""


class SecurityHubError(ValueError):
    """A filter, template or update that Security Hub would refuse; says which and why."""


@cache
def service_model() -> ServiceModel:
    return get_session().get_service_model("securityhub")


@cache
def filter_kinds() -> dict[str, str]:
    """Every GetFindings filter name and its kind (string, number, date, map, boolean, ip, keyword)."""
    members = service_model().shape_for("AwsSecurityFindingFilters").members
    return {name: _KINDS.get(shape.name, "string") for name, shape in members.items()}


def parse_filters(pairs: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """``KEY=VALUE`` pairs to GetFindings ``Filters``; a repeated key means any of its values."""
    filters: dict[str, list[dict[str, Any]]] = {}
    for name, typed in _typed_pairs(pairs, filter_kinds(), "KEY", "Security Hub has no filter"):
        filters.setdefault(name, []).append(typed)
    return filters


def _typed_pairs(
    pairs: Iterable[str], kinds: Mapping[str, str], key: str, unknown: str,
    renamed: Callable[[str, str], tuple[str, str]] = lambda name, value: (name, value),
) -> Iterator[tuple[str, dict[str, Any]]]:  # fmt: skip
    """Each ``NAME=VALUE`` as (name, filter typed by the name's kind); SecurityHubError naming the
    pair, with the closest names for an unknown one."""
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise SecurityHubError(f"--sh-filters {pair!r}: expected {key}=VALUE")
        name, value = renamed(name, value)
        kind = kinds.get(name)
        if kind is None:
            close = difflib.get_close_matches(name, kinds, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SecurityHubError(f"--sh-filters {pair!r}: {unknown} {name!r}{hint}")
        try:
            yield name, _typed(kind, value)
        except ValueError as exc:
            raise SecurityHubError(f"--sh-filters {pair!r}: {exc}") from None


_V2_LISTS = {
    "OcsfStringField": "string", "OcsfDateField": "date", "OcsfBooleanField": "boolean",
    "OcsfNumberField": "number", "OcsfMapField": "map", "OcsfIpField": "ip",
}  # fmt: skip


@cache
def v2_filter_kinds() -> dict[str, tuple[str, str]]:
    """Every GetFindingsV2 filter field: ``{field: (filter list, kind)}``, e.g.
    ``{"severity": ("StringFilters", "string")}``, from botocore's model of ``CompositeFilter``."""
    fields: dict[str, tuple[str, str]] = {}
    for list_name, shape in service_model().shape_for("CompositeFilterList").member.members.items():
        if shape.type_name != "list" or "FieldName" not in getattr(shape.member, "members", {}):
            continue
        field = shape.member.members["FieldName"]
        for name in field.enum:
            fields[name] = (list_name, _V2_LISTS.get(field.name, "string"))
    for name, kind in DOCUMENTED_V2_FIELDS.items():
        fields.setdefault(name, ("StringFilters", kind))
    return fields


def parse_filters_v2(pairs: Iterable[str]) -> dict[str, Any]:
    """``field=VALUE`` pairs to GetFindingsV2 ``Filters``: one composite filter per field, its values
    joined by OR (a field given twice means any of its values), the fields joined by AND. ASFF
    names of :data:`V1_TO_V2` are taken in their OCSF meaning."""
    fields = v2_filter_kinds()

    def ocsf(name: str, value: str) -> tuple[str, str]:
        if name not in V1_TO_V2:
            return name, value
        twin, values = V1_TO_V2[name]
        return twin, (values or {}).get(value.upper(), value)

    by_field: dict[str, list[dict[str, Any]]] = {}
    kinds = {name: kind for name, (_, kind) in fields.items()}
    for name, typed in _typed_pairs(pairs, kinds, "FIELD", "GetFindingsV2 has no filter field", ocsf):
        by_field.setdefault(name, []).append({"FieldName": name, "Filter": typed})
    composites = [{fields[name][0]: entries, "Operator": "OR"} for name, entries in by_field.items()]
    return {"CompositeFilters": composites, "CompositeOperator": "AND"} if composites else {}


def split_filters(pairs: Iterable[str], v1: bool, v2: bool) -> tuple[list[str], list[str]]:
    """``--sh-filters`` for each API read: every pair goes to the API whose filter it names, and to
    both when it has an OCSF twin (:data:`V1_TO_V2`). Reading both, a pair one of them cannot take
    is refused, naming it: quietly reading more from one hub than asked is how a report lies."""
    v1_names, v2_names = filter_kinds(), v2_filter_kinds()
    first: list[str] = []
    second: list[str] = []
    for pair in pairs:
        name, _, value = (part.strip() for part in pair.partition("="))
        to_v1, to_v2 = name in v1_names, name in v2_names or name in V1_TO_V2
        met = V1_ONLY_IN_V2.get(name) == value.upper()  # every v2 finding read meets it
        if v1 and v2 and to_v1 != (to_v2 or met):
            lacking = "GetFindingsV2" if to_v1 else "GetFindings (Security Hub CSPM)"
            raise SecurityHubError(
                f"--sh-filters {pair!r}: {lacking} has no such filter and both Security Hubs are read; read "
                "one of them, or filter by a field both have (SeverityLabel, WorkflowStatus, ResourceType ...)"
            )
        if v1 and (to_v1 or not to_v2):  # a name neither knows: parse_filters names the mistake
            first.append(pair)
        if v2 and not met and (to_v2 or not v1):
            second.append(pair)
    return first, second


def parse_scopes(values: Iterable[str], organization: Callable[[], str]) -> tuple[dict[str, Any], list[str]]:
    """``--sh-scope`` to GetFindingsV2 ``Scopes`` and the filters it implies: ``organization``
    (``organization()`` gives its id), ``organization=o-...``, ``ou=ou-...``, or ``account=ID``,
    which Scopes cannot say (it names organisations and OUs only) and becomes a
    ``cloud.account.uid`` filter. Scopes are joined by OR, as Security Hub joins them."""
    scopes: list[dict[str, str]] = []
    accounts: list[str] = []
    for value in values:
        kind, _, given = value.partition("=")
        kind, given = kind.strip().lower(), given.strip()
        if kind == "organization":
            scopes.append({"OrganizationId": given or organization()})
        elif kind == "ou" and given:
            scopes.append({"OrganizationalUnitId": given})
        elif kind == "account" and re.fullmatch(r"\d{12}", given):
            accounts.append(f"cloud.account.uid={given}")
        else:
            raise SecurityHubError(
                f"--sh-scope {value!r}: expected organization, organization=o-ID, ou=ou-ID or account=ACCOUNT_ID"
            )
    if scopes and accounts:
        raise SecurityHubError("--sh-scope: accounts and organisations cannot be mixed (Security Hub "
                               "joins scopes by OR and filters by AND): give one kind")  # fmt: skip
    return ({"AwsOrganizations": scopes} if scopes else {}), accounts


def _typed(kind: str, value: str) -> dict[str, Any]:
    if kind == "string":
        return {"Value": value, "Comparison": "EQUALS"}
    if kind == "keyword":
        return {"Value": value}
    if kind == "ip":
        try:
            return {"Cidr": str(ipaddress.ip_network(value, strict=False))}
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IP address or CIDR block (10.0.0.1, 10.0.0.0/8, 2001:db8::/32)"
            ) from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ValueError("expected true or false")
        return {"Value": value.lower() == "true"}
    if kind == "map":
        key, sep, mapped = value.partition("=")
        if not sep or not key or not mapped:
            raise ValueError("a map filter takes KEY=MAPKEY=VALUE (e.g. ResourceTags=Environment=prod)")
        return {"Key": key, "Value": mapped, "Comparison": "EQUALS"}
    if kind == "number":
        low, dots, high = value.partition("..")
        if not dots:
            return {"Eq": _number(value)}
        limits: dict[str, float] = {}
        if low:
            limits["Gte"] = _number(low)
        if high:
            limits["Lte"] = _number(high)
        if not limits:
            raise ValueError("a range needs at least one end (LOW..HIGH, LOW.., ..HIGH)")
        return limits
    # date
    days = _DAYS.match(value)
    if days:
        return {"DateRange": {"Value": int(days.group(1)), "Unit": "DAYS"}}
    start, dots, end = value.partition("..")
    if not dots or not (start or end):
        raise ValueError(
            "a date filter takes Nd (the last N days) or START..END (ISO 8601, either end optional)"
        )
    bounds: dict[str, str | None] = {
        "Start": _timestamp(start, "00:00:00"),
        "End": _timestamp(end, "23:59:59"),
    }
    return {key: stamp for key, stamp in bounds.items() if stamp}


def _timestamp(text: str, day_time: str) -> str:
    """A date alone covers its whole day: Security Hub takes full timestamps only."""
    return f"{text}T{day_time}Z" if _DATE.match(text) else text


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def load_template(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Filters from a YAML or JSON file: the ``Filters`` object of GetFindings, or of GetFindingsV2
    (``CompositeFilters``), at the top level or under one key of any name (``Filters``, or MetaHub's
    templates' ``Default:``). Checked against Security Hub's model; errors name the file and the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SecurityHubError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".json":
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise SecurityHubError(f"{path}: not valid JSON: {exc}") from None
    else:
        import yaml

        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise SecurityHubError(f"{path}: not valid YAML{where}: {problem}") from None
    if isinstance(document, dict) and len(document) == 1:
        ((name, inner),) = document.items()
        if name not in filter_kinds() and name != "CompositeFilters" and isinstance(inner, dict):
            document = inner
    if not isinstance(document, dict) or not document:
        raise SecurityHubError(f"{path}: expected a mapping of filter names to lists of filters")
    if is_v2_filters(document):
        check_request("GetFindingsV2", {"Filters": document}, str(path))
    else:
        check_filters(document, where=str(path))
    return document


def is_v2_filters(filters: dict[str, Any]) -> bool:
    """Filters of GetFindingsV2 (OCSF, composite), not of GetFindings."""
    return "CompositeFilters" in filters or "CompositeOperator" in filters


def check_filters(filters: dict[str, Any], where: str) -> None:
    """Raise :class:`SecurityHubError` unless GetFindings would accept ``filters``."""
    kinds = filter_kinds()
    for name in filters:
        if name not in kinds:
            close = difflib.get_close_matches(str(name), kinds, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SecurityHubError(f"{where}: Security Hub has no filter {name!r}{hint}")
    check_request("GetFindings", {"Filters": filters}, where)


def check_request(operation: str, params: dict[str, Any], where: str) -> None:
    """Raise :class:`SecurityHubError` unless ``params`` fit the operation's model, enums included
    (botocore's own validation leaves enums to the service)."""
    shape = service_model().operation_model(operation).input_shape
    try:
        validate_parameters(params, shape)
    except ParamValidationError as exc:
        report = str(exc.kwargs.get("report", exc)).strip()
        raise SecurityHubError(f"{where}: {report}") from None
    problem = _enum_problem(params, shape, "")
    if problem:
        raise SecurityHubError(f"{where}: {problem}")


def _enum_problem(value: Any, shape: Any, path: str) -> str | None:
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            problem = _enum_problem(item, shape.members[key], f"{path}.{key}" if path else key)
            if problem:
                return problem
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            problem = _enum_problem(item, shape.member, f"{path}[{index}]")
            if problem:
                return problem
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            problem = _enum_problem(item, shape.value, f"{path}.{key}")
            if problem:
                return problem
    elif getattr(shape, "enum", None) and value not in shape.enum:
        return f"{path}: {value!r} is not one of {', '.join(shape.enum)}"
    return None


def clients(aws: Aws, account: str | None = None) -> Callable[[str], Any]:
    """``region -> Security Hub client`` in ``account`` (default: the caller's)."""
    return lambda region: aws.client("securityhub", account or aws.caller_account(), region)


class SecurityHubSource:
    """Findings from one Security Hub (account, region), read page by page as ingest asks, at
    :data:`READ_RATE` pages a second: ASFF through GetFindings, or, with ``v2``, OCSF through
    GetFindingsV2 (``filters`` from :func:`parse_filters_v2`, ``scopes`` from :func:`parse_scopes`),
    which ingest maps onto the same model (:mod:`metahub.ocsf`).

    An AWS error ends the reading with a :class:`Problem`; the findings already read are kept.
    With a ``checkpoint`` file, every page read is appended to it as it comes (JSON lines), so a
    run that dies after 40 minutes of paging starts again where it was: the pages in the file are
    read from it, and paging goes on from the last page's NextToken. The file is removed once the
    last page is read.
    """

    def __init__(
        self,
        aws: Aws,
        region: str,
        filters: dict[str, Any],
        *,
        account: str | None = None,
        progress: bool = True,
        checkpoint: Path | None = None,
        limiter: RateLimiter | None = None,
        v2: bool = False,
        scopes: dict[str, Any] | None = None,
    ) -> None:
        self.aws, self.region, self.filters = aws, region, filters
        self.account = account
        self.progress = progress
        self.checkpoint = checkpoint
        self.limiter = limiter or RateLimiter(READ_RATE)
        # GetFindingsV2 shares GetFindings' IAM action; its own rate is not published: GetFindings' is kept
        self.operation = "GetFindingsV2" if v2 else "GetFindings"
        self.scopes = scopes or {}
        self.name = f"securityhub{'-v2' if v2 else ''}:{account or 'caller'}:{region}"
        self.pages = 0

    def records(self) -> Iterator[tuple[str, Any] | Problem]:
        # GetFindings says how many findings match only by returning them all: a count, no total.
        log.info(
            "%s: %s allows %g pages of %d findings a second: %s findings a minute at most",
            self.name, self.operation, READ_RATE, PAGE_SIZE, f"{READ_RATE * PAGE_SIZE * 60:,.0f}",
        )  # fmt: skip
        with bar(f"reading {self.name}", "finding", quiet=not self.progress) as findings:
            yield from self._pages(findings)

    def _header(self) -> dict[str, Any]:
        return {
            "metahub_checkpoint": CHECKPOINT_FORMAT,
            "metahub": __version__,
            "source": self.name,
            "filters": self.filters,
            **({"scopes": self.scopes} if self.scopes else {}),
            "page_size": PAGE_SIZE,
        }

    def _pages(self, progress: Bar) -> Iterator[tuple[str, Any] | Problem]:
        """The checkpoint's pages first, if any, then Security Hub's from the next one on."""
        keep, kept = None, []
        if self.checkpoint is not None:
            keep = _Checkpoint(self.checkpoint, self._header())
            try:
                kept = keep.open()
            except (OSError, ValueError) as exc:  # before any call: a checkpoint is never skipped silently
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                yield Problem(self.name, "", f"checkpoint {self.checkpoint}: {reason}")
                return
            if kept:
                log.warning("%s: %d page(s) read from %s; paging goes on from there", self.name, len(kept), self.checkpoint)
        params: dict[str, Any] = {"Filters": self.filters, "MaxResults": PAGE_SIZE}
        if self.scopes:
            params["Scopes"] = self.scopes
        pages, read = iter(kept), 0
        try:
            client = clients(self.aws, self.account)(self.region)
            call = getattr(client, xform_name(self.operation))
            while True:
                page = next(pages, None)
                if page is None:
                    page = paced_call(lambda: call(**params), self.limiter)
                    if keep is not None:
                        keep.save({"Findings": page.get("Findings", []), "NextToken": page.get("NextToken")})
                yield from self._findings(page)
                read += len(page.get("Findings", []))
                progress.update(read)
                if not (token := page.get("NextToken")):
                    if keep is not None:
                        keep.remove()
                    return
                params["NextToken"] = token
        except Exception as exc:  # AWS trouble: report it, keep what was read
            where = f"page {self.pages + 1}" if self.pages else ""
            reason = describe_error(exc, f"securityhub:{self.operation}")
            if keep is not None and self.pages:
                reason += f"; the pages read are in {self.checkpoint}: run again to go on from there"
                if self.pages == len(kept):  # the checkpoint's NextToken itself may be what failed
                    reason += " (if it fails again, remove it to read from the first page)"
            yield Problem(self.name, where, reason)
        finally:
            if keep is not None:
                keep.close()

    def _findings(self, page: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        self.pages += 1
        for index, finding in enumerate(page.get("Findings", [])):
            yield f"page {self.pages}, finding {index + 1}", finding


class _Checkpoint:
    """The pages of one reading, kept in a file as they come: JSON lines, a header naming the hub,
    the filters, the page size and metahub's version, then one line per page with its NextToken."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path, self.header = path, header
        self.file: BinaryIO | None = None

    def open(self) -> list[dict[str, Any]]:
        """The pages kept (none in a new file); the file is then open for the next ones. A line cut
        while written (the run stopped there) is dropped: that page is asked for again. ValueError
        says why the file cannot be used; OSError, that it cannot be read or written."""
        try:
            lines = self.path.read_bytes().splitlines(keepends=True)
        except FileNotFoundError:
            lines = []
        if lines and not lines[-1].endswith(b"\n"):
            lines.pop()
        pages = []
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except ValueError:
                raise ValueError(f"line {number} is not JSON") from None
            if number == 1 and record != self.header:
                raise ValueError(
                    "it was made for another Security Hub, other filters or another metahub version: "
                    "remove it to read from the first page"
                )
            if number > 1:
                pages.append(record)
        self.file = self.path.open("ab")
        self.file.truncate(sum(map(len, lines)))
        if not lines:
            self.save(self.header)
        return pages

    def save(self, record: dict[str, Any]) -> None:
        assert self.file is not None
        self.file.write(json.dumps(record, default=str).encode() + b"\n")
        self.file.flush()

    def remove(self) -> None:
        """Every page was read: the checkpoint has served."""
        self.close()
        self.path.unlink()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


EXPORT_POLL = 30.0
"""The longest wait between two GetExportJobV2 calls while an export job runs: the first comes after
a second, each next one waits twice as long, up to this (a small export ends in seconds)."""
EXPORT_TIMEOUT = 6 * 3600.0
"""How long an export job may run before metahub stops waiting (the job goes on; its id is said)."""
_GZIP = b"\x1f\x8b"


def parse_destination(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` to (bucket, prefix); SecurityHubError for anything else."""
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(.*))?", url.strip())
    if not match:
        raise SecurityHubError(f"--sh-export {url!r}: expected s3://BUCKET or s3://BUCKET/PREFIX")
    return match.group(1), (match.group(2) or "").strip("/")


class ExportSource:
    """Findings that a Security Hub export job writes to S3, read as they stream: for hundreds of
    thousands of findings, one job instead of thousands of GetFindingsV2 pages.

    StartExportJobV2 (OCSF JSON, the run's v2 filters and scopes) writes into a folder of its own
    under the prefix (``metahub-<id>/``), so that only this job's objects are read; GetExportJobV2
    is polled (at most :data:`EXPORT_POLL` seconds apart) until the job ends; each object is then read line
    by line ("OCSF_JSON produces newline-delimited JSON records", FindingsOutput), gzip'd or not.
    A job that fails or is cancelled ends the reading with a :class:`Problem` giving Security
    Hub's FailureCode and FailureMessage; a line that is no JSON is a problem of its own, naming
    the object and line, and the other lines are read.
    """

    def __init__(
        self,
        aws: Aws,
        region: str,
        filters: dict[str, Any],
        destination: str,
        kms_key: str,
        *,
        account: str | None = None,
        scopes: dict[str, Any] | None = None,
        progress: bool = True,
        poll: float = EXPORT_POLL,
        timeout: float = EXPORT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.aws, self.region, self.filters, self.account = aws, region, filters, account
        self.bucket, prefix = parse_destination(destination)
        self.token = uuid.uuid4().hex
        self.prefix = f"{prefix}/metahub-{self.token}/" if prefix else f"metahub-{self.token}/"
        self.kms_key, self.scopes = kms_key, scopes or {}
        self.progress, self.poll, self.timeout, self.sleep, self.clock = progress, poll, timeout, sleep, clock
        self.name = f"securityhub-v2-export:{account or 'caller'}:{region}"
        self.job_id: str | None = None

    def request(self, partition: str = "aws") -> dict[str, Any]:
        findings: dict[str, Any] = {"Format": "OCSF_JSON"}
        if self.filters:
            findings["Filters"] = self.filters
        request: dict[str, Any] = {
            "Name": f"metahub {self.token[:12]}",
            "Destination": {"S3": {"BucketArn": f"arn:{partition}:s3:::{self.bucket}", "KmsKeyArn": self.kms_key,
                                   "ObjectPrefix": self.prefix}},
            "OutputConfiguration": {"Findings": findings},
            "ClientToken": self.token,  # a retried start returns the same job
        }  # fmt: skip
        if self.scopes:
            request["Scopes"] = self.scopes
        return request

    def records(self) -> Iterator[tuple[str, Any] | Problem]:
        account = self.account or self.aws.caller_account()
        hub = clients(self.aws, self.account)(self.region)
        try:
            self.job_id = hub.start_export_job_v2(**self.request())["ExportJobId"]
            log.info("%s: export job %s writes to s3://%s/%s", self.name, self.job_id, self.bucket, self.prefix)
            job = self._wait(hub)
        except Exception as exc:
            yield Problem(self.name, f"export job {self.job_id}" if self.job_id else "",
                          describe_error(exc, "securityhub:StartExportJobV2" if self.job_id is None else "securityhub:GetExportJobV2"))  # fmt: skip
            return
        if job is None:
            yield Problem(self.name, f"export job {self.job_id}", f"still running after {self.timeout:,.0f} s; "
                          f"its findings will be in s3://{self.bucket}/{self.prefix} (read them with --input-asff)")  # fmt: skip
            return
        if job["Status"] != "SUCCEEDED":
            why = ": ".join(str(job[k]) for k in ("FailureCode", "FailureMessage") if job.get(k)) or "no reason given"
            yield Problem(self.name, f"export job {self.job_id}", f"{job['Status'].lower()}: {why}")
            return
        s3 = self.aws.client("s3", account, self.region)
        try:
            keys = [
                item["Key"]
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
                for item in page.get("Contents", [])
            ]
        except Exception as exc:
            yield Problem(self.name, f"s3://{self.bucket}/{self.prefix}", describe_error(exc, "s3:ListBucket"))
            return
        with bar(f"reading {self.name}", "finding", quiet=not self.progress) as read:
            count = 0
            for key in sorted(keys):
                for record in self._object(s3, key):
                    count += not isinstance(record, Problem)
                    read.update(count)
                    yield record

    def _wait(self, hub: Any) -> dict[str, Any] | None:
        """The job once it ended; None when it ran longer than the timeout."""
        started, wait = self.clock(), 1.0
        with bar(f"export job {self.job_id}", "s", quiet=not self.progress) as waited:
            while True:
                job: dict[str, Any] = hub.get_export_job_v2(ExportJobId=self.job_id)
                if job["Status"] != "RUNNING":
                    return job
                elapsed = self.clock() - started
                if elapsed >= self.timeout:
                    return None
                waited.update(int(elapsed))
                self.sleep(min(wait, self.poll))
                wait *= 2

    def _object(self, s3: Any, key: str) -> Iterator[tuple[str, Any] | Problem]:
        where = f"s3://{self.bucket}/{key}"
        try:
            body = s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            first = body.read(EXPORT_CHUNK)
            chunks = itertools.chain([first], iter(lambda: body.read(EXPORT_CHUNK), b""))
            for number, line in enumerate(_lines(chunks, key.endswith(".gz") or first[:2] == _GZIP), 1):
                if not line.strip():
                    continue
                try:
                    yield f"{where}, line {number}", json.loads(line)
                except ValueError as exc:
                    yield Problem(self.name, f"{where}, line {number}", f"not JSON: {exc}")
        except Exception as exc:
            yield Problem(self.name, where, describe_error(exc, "s3:GetObject"))


EXPORT_CHUNK = 1 << 20
"""Bytes read from an exported object at a time: an object is never held whole."""


def _lines(chunks: Iterable[bytes], compressed: bool) -> Iterator[bytes]:
    """The lines of a stream of chunks, gunzipped as they come when ``compressed`` (every member
    of a multi-member file)."""
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 16) if compressed else None
    rest = b""
    for chunk in chunks:
        while inflate is not None and chunk:
            rest += inflate.decompress(chunk)
            chunk = inflate.unused_data
            if chunk:
                inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
        if inflate is None:
            rest += chunk
        *lines, rest = rest.split(b"\n")
        yield from lines
    if rest:
        yield rest
