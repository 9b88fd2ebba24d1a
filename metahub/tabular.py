"""Tabular outputs: CSV and XLSX (one row per finding and resource), SQLite (resources, findings,
accounts).

Finding and tag text is attacker-controlled (a tag value is whatever someone typed): a cell that a
spreadsheet would run as a formula is neutralised with a leading apostrophe, in CSV and XLSX alike.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from itertools import islice
from pathlib import Path
from typing import Any

from metahub.detection import owner_of
from metahub.files import atomic
from metahub.impact import VALUES as IMPACT_VALUES
from metahub.models import PALETTE, ROLLUPS, SEVERITY_ORDER, AffectedResource, Finding

IMPACT_PROPERTIES = tuple(IMPACT_VALUES)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
FINDING_COLUMNS = (
    "ResourceArn",
    "ResourceType",
    "AwsAccountId",
    "Region",
    "ResourceWorstFailedSeverity",
    "ResourceImpactScore",
    "Severity",
    "Outcome",
    "Title",
    "GeneratorId",
    "ComplianceStatus",
    "WorkflowStatus",
    "RecordState",
    "ProductName",
    "FindingId",
    "CreatedAt",
    "UpdatedAt",
)


OWNER_COLUMNS = ("Owner", "OwnerSource")
"""Who a resource goes to and which rule said so (:mod:`metahub.detection`): columns of an enriched run."""
VERDICT_COLUMNS = ("AwsExposure", "VerdictAgreement")
"""AWS's exposure verdict and whether metahub's agrees (:mod:`metahub.exposure`): columns of a run
that read exposure findings."""


def neutralise(value: Any) -> Any:
    """A text cell that would run as a formula becomes inert text (OWASP's CSV injection advice)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""Control characters but TAB, LF and CR: a workbook's XML cannot hold them, and spreadsheet
programs stop reading a CSV at a NUL."""


def cell(value: Any) -> Any:
    """A context value as one cell: data as compact JSON, null as empty, text neutralised, control
    characters (but TAB and line breaks) as U+FFFD."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict | list):
        value = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    text = str(value)
    if not text.isprintable():  # rare, and the regular expression costs ten times the test
        text = _CONTROL.sub("\ufffd", text)
    return neutralise(text)


def default_check_columns(resources: Iterable[AffectedResource]) -> list[str]:
    """The rollups, when anything was enriched."""
    return rollup_columns(any(r.metachecks for r in resources))


def rollup_columns(enriched: bool) -> list[str]:
    """The check columns of a table whose resources were (or were not) enriched."""
    return list(ROLLUPS) if enriched else []


def rows(
    resources: Mapping[str, AffectedResource],
    tag_columns: Sequence[str] = (),
    check_columns: Sequence[str] | None = None,
    account_columns: Sequence[str] = (),
) -> tuple[list[str], Iterator[list[Any]]]:
    """Header and rows, one per (finding, resource), cells ready for a sheet; the rows are made
    while they are read."""
    checks = default_check_columns(resources.values()) if check_columns is None else list(check_columns)
    scored = any(r.impact for r in resources.values())
    verdicts = any(r.aws_exposure for r in resources.values())
    muted = any(f.muted for r in resources.values() for f in r.findings)
    owners = any(r.detected is not None for r in resources.values())
    return streamed_rows(resources.items(), checks, scored, tag_columns, account_columns, verdicts, muted, owners)


def streamed_rows(
    resources: Iterable[tuple[str, AffectedResource]],
    checks: Sequence[str],
    scored: bool,
    tag_columns: Sequence[str] = (),
    account_columns: Sequence[str] = (),
    verdicts: bool = False,
    muted: bool = False,
    owners: bool = False,
) -> tuple[list[str], Iterator[list[Any]]]:
    """:func:`rows` of resources that come one at a time (a merge of shards), their check columns,
    whether they were scored (an impact column each), had exposure verdicts, muted findings (the
    ``Muted`` column: the mutelist entry) and owners (enriched: ``Owner``, ``OwnerSource``) known
    beforehand."""
    impact = [f"Impact:{name}" for name in IMPACT_PROPERTIES] if scored else []
    header = [
        *FINDING_COLUMNS,
        *impact,
        *(VERDICT_COLUMNS if verdicts else ()),
        *(OWNER_COLUMNS if owners else ()),
        *(f"Tag:{t}" for t in tag_columns),
        *(f"Account:{key}" for key in account_columns),
        *checks,
        *(["Muted"] if muted else []),
    ]
    return header, _body(resources, impact, tag_columns, account_columns, checks, verdicts, muted, owners)


def _body(
    resources: Iterable[tuple[str, AffectedResource]],
    impact: Sequence[str],
    tag_columns: Sequence[str],
    account_columns: Sequence[str],
    checks: Sequence[str],
    verdicts: bool = False,
    muted: bool = False,
    owners: bool = False,
) -> Iterator[list[Any]]:
    for arn, resource in resources:
        tags = resource.effective_tags
        context = resource.metachecks or {}
        properties = (resource.impact or {}).get("properties", {})
        exposure = resource.aws_exposure or {}
        extra = [
            *((properties.get(name) or {}).get("value") for name in IMPACT_PROPERTIES if impact),
            *((exposure.get("aws", {}).get("verdict"), exposure.get("verdict_agreement")) if verdicts else ()),
            *(owner_of(resource) if owners else ()),
            *(tags.get(t) for t in tag_columns),
            *((resource.metaaccount or {}).get(key) for key in account_columns),
            *(context.get(c) for c in checks),
        ]
        # The resource's own cells once, not once per finding: worst_failed_severity reads every
        # finding, which made a resource with 20,000 findings take minutes (quadratic).
        own = [arn, resource.type, resource.account, resource.region, resource.worst_failed_severity,
               (resource.impact or {}).get("score")]  # fmt: skip
        own, extra = [cell(v) for v in own], [cell(v) for v in extra]
        for finding in resource.findings:
            values = [
                finding.severity_label,
                finding.outcome,
                finding.Title,
                finding.GeneratorId,
                finding.compliance_status,
                finding.workflow_status,
                finding.RecordState,
                finding.product_name,
                finding.Id,
                finding.CreatedAt.isoformat() if finding.CreatedAt else None,
                finding.UpdatedAt.isoformat() if finding.UpdatedAt else None,
            ]
            row = [*own, *(cell(v) for v in values), *extra]
            if muted:
                row.append(cell((finding.muted or {}).get("entry")))
            yield row


def write_csv(path: Path, header: list[str], body: Iterable[list[Any]]) -> Path:
    with (
        atomic(path) as part,
        part.open("w", newline="", encoding="utf-8-sig") as fh,
    ):  # BOM: Excel reads UTF-8
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(body)
    return path


def write_xlsx(path: Path, header: list[str], rows: Iterable[list[Any]]) -> Path:
    """Frozen header, autofilter, widths from the content, severity colours; every text cell is
    written as a string, never as a formula."""
    body = list(rows)  # the workbook is held whole in memory anyway
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    sheet = book.active
    sheet.title = "findings"
    sheet.append(header)
    for cell_ in sheet[1]:
        cell_.font = Font(bold=True)
    severity_column, outcome_column = header.index("Severity") + 1, header.index("Outcome") + 1
    worst_column = header.index("ResourceWorstFailedSeverity") + 1
    fills = {label: PatternFill("solid", fgColor=colour.lstrip("#")) for label, colour in PALETTE.items()}
    for row_number, values in enumerate(body, start=2):
        for column, value in enumerate(values, start=1):
            target = sheet.cell(row=row_number, column=column)
            target.value = value  # cells come from cell(): no control character XML cannot hold
            if isinstance(value, str):
                target.data_type = "s"  # openpyxl would otherwise take "=..." for a formula
        # A passed finding's severity is the check's, not a risk: drawn as passed, never red.
        outcome = values[outcome_column - 1]
        colour = values[severity_column - 1] if outcome == "FAILED" else outcome
        if colour in fills:
            sheet.cell(row=row_number, column=severity_column).fill = fills[colour]
        if values[worst_column - 1] in fills:
            sheet.cell(row=row_number, column=worst_column).fill = fills[values[worst_column - 1]]
    for column, name in enumerate(header, start=1):
        longest = max([len(name), *(len(str(r[column - 1])) for r in body[:2000])])
        sheet.column_dimensions[get_column_letter(column)].width = min(max(10, longest + 2), 60)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(body) + 1}"
    with atomic(path) as part:
        book.save(part)
    return path


def write_sqlite(path: Path, resources: Iterable[tuple[str, AffectedResource]]) -> Path:
    """``resources``, ``findings`` and ``accounts`` tables from (ARN, resource) pairs, read once
    and one at a time; context columns hold JSON text, which SQLite's and DuckDB's JSON functions
    read (``json_extract(metachecks, '$.is_public')``)."""
    with atomic(path) as part:
        _fill_sqlite(part, resources)
    return path


_SQLITE_SCHEMA = """
CREATE TABLE resources (
    arn TEXT PRIMARY KEY, type TEXT, account TEXT, region TEXT, partition TEXT,
    concrete INTEGER, findings INTEGER, highest_severity TEXT, worst_failed_severity TEXT,
    impact_score REAL, impact TEXT,
    is_public TEXT, is_encrypted TEXT, is_attached TEXT, is_unrestricted TEXT,
    tags TEXT, metachecks TEXT, metatags TEXT, metatrails TEXT, metaaccount TEXT,
    unknown TEXT, evidence TEXT, verdict_agreement TEXT, aws_exposure TEXT, owner TEXT, owner_source TEXT);
CREATE TABLE findings (
    id TEXT, product_arn TEXT, resource_arn TEXT REFERENCES resources(arn),
    severity TEXT, severity_rank INTEGER, outcome TEXT, title TEXT, generator_id TEXT,
    compliance_status TEXT, workflow_status TEXT, record_state TEXT, product_name TEXT,
    account TEXT, region TEXT, created_at TEXT, updated_at TEXT, asff TEXT);
CREATE TABLE accounts (
    account TEXT PRIMARY KEY, resources INTEGER, findings INTEGER, metaaccount TEXT);
"""
_SQLITE_INDEXES = "CREATE INDEX findings_resource ON findings(resource_arn);"
"""Made once the rows are in: building an index whole is faster than keeping it while inserting."""


def _as_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, ensure_ascii=False)


def _fill_sqlite(path: Path, resources: Iterable[tuple[str, AffectedResource]]) -> None:
    with closing(sqlite3.connect(path)) as db, db:  # commit, then close
        # The file is written aside and renamed when whole (files.atomic): a crash leaves no file
        # to recover, so neither a journal nor waiting for the disk buys anything.
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA page_size = 65536")
        db.executescript(_SQLITE_SCHEMA)
        accounts: dict[str, list[Any]] = {}
        pairs = iter(resources)
        while batch := list(islice(pairs, 1000)):  # a thousand resources at a time, their findings beside
            db.executemany(
                f"INSERT INTO resources VALUES ({','.join('?' * 26)})",
                (_resource_record(arn, r) for arn, r in batch),
            )
            db.executemany(
                f"INSERT INTO findings VALUES ({','.join('?' * 17)})",
                (_finding_record(arn, f) for arn, r in batch for f in r.findings),
            )
            for _, r in batch:
                account = accounts.setdefault(r.account, [0, 0, r.metaaccount])
                account[0] += 1
                account[1] += len(r.findings)
                account[2] = account[2] or r.metaaccount
        db.executescript(_SQLITE_INDEXES)
        db.executemany(
            "INSERT INTO accounts VALUES (?,?,?,?)",
            [(a, n, f, _as_json(meta)) for a, (n, f, meta) in sorted(accounts.items())],
        )


def _resource_record(arn: str, r: AffectedResource) -> tuple[Any, ...]:
    checks = r.metachecks or {}
    return (
        arn,
        r.type,
        r.account,
        r.region,
        r.partition,
        int(r.concrete),
        len(r.findings),
        r.highest_severity,
        r.worst_failed_severity,
        (r.impact or {}).get("score"),
        _as_json(r.impact),
        *(_as_json(checks.get(name)) for name in ROLLUPS),
        _as_json(r.tags),
        _as_json(r.metachecks),
        _as_json(r.metatags),
        _as_json(r.metatrails),
        _as_json(r.metaaccount),
        _as_json(r.unknown or None),
        _as_json(r.evidence or None),
        (r.aws_exposure or {}).get("verdict_agreement"),
        _as_json(r.aws_exposure),
        *owner_of(r),
    )


def _finding_record(arn: str, f: Finding) -> tuple[Any, ...]:
    return (
        f.Id,
        f.ProductArn,
        arn,
        f.severity_label,
        len(SEVERITY_ORDER) - SEVERITY_ORDER.index(f.severity_label) if f.severity_label else None,
        f.outcome,
        f.Title,
        f.GeneratorId,
        f.compliance_status,
        f.workflow_status,
        f.RecordState,
        f.product_name,
        f.AwsAccountId,
        f.Region,
        f.CreatedAt.isoformat() if f.CreatedAt else None,
        f.UpdatedAt.isoformat() if f.UpdatedAt else None,
        f.to_asff_json(),
    )
