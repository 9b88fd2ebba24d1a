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
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

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
    kinds = filter_kinds()
    filters: dict[str, list[dict[str, Any]]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise SecurityHubError(f"--sh-filters {pair!r}: expected KEY=VALUE")
        kind = kinds.get(name)
        if kind is None:
            close = difflib.get_close_matches(name, kinds, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SecurityHubError(f"--sh-filters {pair!r}: Security Hub has no filter {name!r}{hint}")
        try:
            filters.setdefault(name, []).append(_typed(kind, value))
        except ValueError as exc:
            raise SecurityHubError(f"--sh-filters {pair!r}: {exc}") from None
    return filters


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
    """Filters from a YAML or JSON file: the ``Filters`` object of GetFindings, at the top level or
    under one key of any name (``Filters``, or MetaHub's templates' ``Default:``). Checked against
    Security Hub's model; errors name the file and the key."""
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
        if name not in filter_kinds() and isinstance(inner, dict):
            document = inner
    if not isinstance(document, dict) or not document:
        raise SecurityHubError(f"{path}: expected a mapping of filter names to lists of filters")
    check_filters(document, where=str(path))
    return document


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
    :data:`READ_RATE` pages a second.

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
        filters: dict[str, list[dict[str, Any]]],
        *,
        account: str | None = None,
        progress: bool = True,
        checkpoint: Path | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.aws, self.region, self.filters = aws, region, filters
        self.account = account
        self.progress = progress
        self.checkpoint = checkpoint
        self.limiter = limiter or RateLimiter(READ_RATE)
        self.name = f"securityhub:{account or 'caller'}:{region}"
        self.pages = 0

    def records(self) -> Iterator[tuple[str, Any] | Problem]:
        # GetFindings says how many findings match only by returning them all: a count, no total.
        log.info(
            "%s: GetFindings allows %g pages of %d findings a second: %s findings a minute at most",
            self.name, READ_RATE, PAGE_SIZE, f"{READ_RATE * PAGE_SIZE * 60:,.0f}",
        )  # fmt: skip
        with bar(f"reading {self.name}", "finding", quiet=not self.progress) as findings:
            yield from self._pages(findings)

    def _header(self) -> dict[str, Any]:
        return {
            "metahub_checkpoint": CHECKPOINT_FORMAT,
            "metahub": __version__,
            "source": self.name,
            "filters": self.filters,
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
        pages, read = iter(kept), 0
        try:
            client = clients(self.aws, self.account)(self.region)
            while True:
                page = next(pages, None)
                if page is None:
                    page = paced_call(lambda: client.get_findings(**params), self.limiter)
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
            reason = describe_error(exc, "securityhub:GetFindings")
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
