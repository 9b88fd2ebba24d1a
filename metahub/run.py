"""The notebook and library entry point: ``metahub.load(...)`` returns a :class:`Run`."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metahub import json_outputs
from metahub.grouping import group_by_resource
from metahub.ingest import IngestReport, Source, gc_paused, read_findings
from metahub.models import SEVERITY_ORDER, AffectedResource, Finding

if TYPE_CHECKING:
    import pandas as pd

    from metahub.aws import Aws
    from metahub.enrich import EnrichReport


class Run:
    """Findings read in one go, grouped by resource, with what went wrong while reading."""

    def __init__(self, findings: list[Finding], report: IngestReport | None = None, seconds: float = 0.0):
        self.findings = findings
        self.report = report or IngestReport()
        with gc_paused():
            self.resources: dict[str, AffectedResource] = group_by_resource(findings)
        self.seconds = seconds
        self.enrichment: EnrichReport | None = None

    def enrich(self, aws: Aws | None = None, *, max_workers: int = 16, progress: Any = None) -> EnrichReport:
        """Fetch what the MetaChecks need from the accounts the resources live in, and run them.

        ``aws`` carries credentials and roles (default: the standard credential chain). AWS
        trouble never raises: affected checks are null and ``resource.unknown`` says why.
        """
        from metahub.enrich import enrich

        self.enrichment = enrich(self.resources, aws, max_workers=max_workers, progress=progress)
        return self.enrichment

    @classmethod
    def from_findings(cls, findings: Iterable[Finding | Mapping[str, Any]]) -> Run:
        """A run over findings already in memory (ASFF dicts or :class:`Finding` objects)."""
        return cls([f if isinstance(f, Finding) else Finding.model_validate(f) for f in findings])

    # --- views -------------------------------------------------------------------------------

    def short(self) -> dict[str, Any]:
        return json_outputs.short(self.resources)

    def full(self) -> dict[str, Any]:
        return json_outputs.full(self.resources)

    def inventory(self) -> list[str]:
        return json_outputs.inventory(self.resources)

    def statistics(self) -> dict[str, Any]:
        return json_outputs.statistics(self.findings, self.resources)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per (finding, affected resource), with the resource's columns beside the finding's."""
        import pandas as pd

        rows = []
        for resource in self.resources.values():
            for finding in resource.findings:
                rows.append(
                    {
                        "ResourceArn": resource.arn,
                        "ResourceType": resource.type,
                        "ResourceAccount": resource.account,
                        "ResourceRegion": resource.region,
                        "ResourceConcrete": resource.concrete,
                        "Id": finding.Id,
                        "Title": finding.Title,
                        "GeneratorId": finding.GeneratorId,
                        "Severity": finding.severity_label,
                        "ComplianceStatus": finding.compliance_status,
                        "WorkflowStatus": finding.workflow_status,
                        "RecordState": finding.RecordState,
                        "ProductName": finding.product_name,
                        "AwsAccountId": finding.AwsAccountId,
                        "Region": finding.Region,
                        "CreatedAt": finding.CreatedAt,
                        "UpdatedAt": finding.UpdatedAt,
                        "Tags": resource.tags,
                    }
                )
        frame = pd.DataFrame(rows, columns=_FINDING_COLUMNS)
        return _typed(frame)

    def resources_dataframe(self) -> pd.DataFrame:
        """One row per resource: counts of findings by severity, and its context when enriched."""
        import pandas as pd

        rows = []
        for resource in self.resources.values():
            row: dict[str, Any] = {
                "ResourceArn": resource.arn,
                "ResourceType": resource.type,
                "ResourceAccount": resource.account,
                "ResourceRegion": resource.region,
                "ResourceConcrete": resource.concrete,
                "Findings": len(resource.findings),
                "HighestSeverity": resource.highest_severity,
                **{label.title(): count for label, count in resource.severity_counts.items()},
                "Tags": resource.tags,
            }
            for section, values in resource.context().items():
                if isinstance(values, dict) and section not in ("unknown", "evidence"):
                    row.update({f"{section}.{key}": value for key, value in values.items()})
            rows.append(row)
        frame = pd.DataFrame(rows)
        if frame.empty:
            frame = pd.DataFrame(columns=["ResourceArn", "ResourceType", "Findings", "HighestSeverity"])
        if "HighestSeverity" in frame:
            frame["HighestSeverity"] = _severity_dtype(frame["HighestSeverity"])
        return frame

    # --- files -------------------------------------------------------------------------------

    def write(
        self, modes: Iterable[str], output_dir: str | Path = "outputs", stamp: str | None = None
    ) -> list[Path]:
        """Write ``metahub-<view>-<stamp>.json`` for each JSON mode; returns the paths written."""
        stamp = stamp or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        directory = Path(output_dir)
        views = {
            "json-short": self.short,
            "json-full": self.full,
            "json-inventory": self.inventory,
            "json-statistics": self.statistics,
        }
        written = []
        for mode in modes:
            if mode not in views:
                raise ValueError(f"unknown output mode {mode!r}; expected one of {', '.join(views)}")
            name = mode.removeprefix("json-")
            written.append(json_outputs.write_json(directory / f"metahub-{name}-{stamp}.json", views[mode]()))
        return written

    # --- summaries ---------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        return {
            "sources": len(self.report.sources),
            "findings_read": self.report.read,
            "rejected": len(self.report.rejected),
            "unreadable": len(self.report.unreadable),
            "duplicates": self.report.duplicates,
            "filtered_out": self.report.filtered_out,
            "findings": len(self.findings),
            "resources": len(self.resources),
            "seconds": round(self.seconds, 2),
            **(
                {
                    "aws_calls": self.enrichment.total_calls,
                    "enrich_seconds": round(self.enrichment.seconds, 2),
                }
                if self.enrichment
                else {}
            ),
        }

    def __repr__(self) -> str:
        s = self.summary()
        return f"<metahub.Run {s['findings']} findings on {s['resources']} resources from {s['sources']} source(s)>"

    def _repr_html_(self) -> str:
        counts = {label: 0 for label in SEVERITY_ORDER}
        for finding in self.findings:
            if finding.severity_label:
                counts[finding.severity_label] += 1
        cells = "".join(f"<td>{escape(label.title())}: {count}</td>" for label, count in counts.items())
        return (
            f"<p><b>metahub run</b>: {len(self.findings)} findings on {len(self.resources)} resources, "
            f"{len(self.report.problems)} problem(s)</p><table><tr>{cells}</tr></table>"
        )


_FINDING_COLUMNS = [
    "ResourceArn",
    "ResourceType",
    "ResourceAccount",
    "ResourceRegion",
    "ResourceConcrete",
    "Id",
    "Title",
    "GeneratorId",
    "Severity",
    "ComplianceStatus",
    "WorkflowStatus",
    "RecordState",
    "ProductName",
    "AwsAccountId",
    "Region",
    "CreatedAt",
    "UpdatedAt",
    "Tags",
]


def _severity_dtype(series: pd.Series) -> pd.Series:
    import pandas as pd

    ordered = list(reversed(SEVERITY_ORDER))  # INFORMATIONAL < ... < CRITICAL
    return series.astype(pd.CategoricalDtype(categories=ordered, ordered=True))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    frame["Severity"] = _severity_dtype(frame["Severity"])
    for column in (
        "ResourceType",
        "ResourceAccount",
        "ResourceRegion",
        "ComplianceStatus",
        "WorkflowStatus",
        "RecordState",
        "ProductName",
        "AwsAccountId",
        "Region",
    ):
        frame[column] = frame[column].astype("category")
    for column in ("CreatedAt", "UpdatedAt"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def load(*sources: Source, only_failed: bool = False, only_active: bool = False) -> Run:
    """Read findings from files (``.json``, ``.jsonl``, ``.gz``; ``"-"`` for stdin) or binary streams.

    Problems do not raise: they are in ``run.report.problems``, each naming its source and position.
    """
    started = time.perf_counter()
    report = IngestReport()
    findings = read_findings(sources, report, only_failed=only_failed, only_active=only_active)
    run = Run(findings, report)
    run.seconds = time.perf_counter() - started
    return run
