"""Pydantic models of ASFF findings and of the resources they affect.

Only the fields metahub reads are declared; every other ASFF field is kept as an extra
(``extra="allow"``) so that a finding written back out is the finding that came in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import cached_property
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from metahub.arn import Arn, parse_arn

SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL")
OUTCOMES = ("FAILED", "PASSED", "OTHER")
PALETTE = {
    "CRITICAL": "#B71C1C", "HIGH": "#E65100", "MEDIUM": "#F9A825", "LOW": "#5C7A99", "INFORMATIONAL": "#90A4AE",
    "UNRATED": "#78909C", "PASSED": "#2E7D32", "OTHER": "#9E9E9E",
}  # fmt: skip
"""One palette for the HTML report, the XLSX sheet and notebooks: failed severities, then passed and other;
CSS colours, as matplotlib and pandas' Styler take them."""
VERDICTS = ("true", "false", "unknown", "n/a")
ROLLUPS = ("is_public", "is_encrypted", "is_attached", "is_unrestricted")
"""The checks every resource type answers, where it applies: the rollups."""
"""A check in one word: true (true, or the data that makes it true), false, unknown (not decided:
``resource.unknown`` says why), n/a (the check does not apply to the resource's type)."""


def unknown_kind(reason: str) -> str:
    """An unknown reason with its accounts, ARNs, ids and regions taken out, so that 2,444 snapshots
    of one account and 80 of another make one kind of unknown, not two."""
    reason = re.sub(r"owned by account \d{12}, not \d{12}", "owned by another account", reason)
    reason = re.sub(r"arn:[^\s'\"]+", "<arn>", reason)
    reason = re.sub(r"'[^']*'", "<id>", reason)
    reason = re.sub(r"\b[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d\b", "<region>", reason)
    return re.sub(r"\b\d{12}\b", "<account>", reason)


def severity_style(value: Any) -> str:
    """CSS for a severity, outcome or worst-failed-severity cell, in the report's colours:
    ``run.to_dataframe().style.map(metahub.severity_style, subset=["Severity"])``."""
    colour = PALETTE.get(str(value).upper()) if value is not None else None
    return f"background-color: {colour}; color: white" if colour else ""


def _cell(value: Any, limit: int = 200) -> str:
    text = "" if value is None else str(value)
    return html.escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _badge(label: str | None) -> str:
    style = severity_style(label)
    return (
        f'<span style="{style}; padding: 0 4px; border-radius: 3px">{_cell(label)}</span>'
        if style
        else _cell(label)
    )


def _table(rows: list[tuple[str, str]]) -> str:
    """Rows of (field, already escaped HTML) as a compact table for notebooks."""
    body = "".join(
        f'<tr><th style="text-align:left">{_cell(k)}</th><td style="text-align:left">{v}</td></tr>'
        for k, v in rows
    )
    return f"<table>{body}</table>"


def _assume_utc(value: datetime) -> datetime:
    """ASFF times carry an offset; a scanner that forgets it means UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


Timestamp = Annotated[datetime, AfterValidator(_assume_utc)]


class AsffModel(BaseModel):
    model_config = ConfigDict(extra="allow")


def label_from_normalized(normalized: int) -> str:
    """Security Hub's own mapping of Severity.Normalized to a label."""
    if normalized >= 90:
        return "CRITICAL"
    if normalized >= 70:
        return "HIGH"
    if normalized >= 40:
        return "MEDIUM"
    if normalized >= 1:
        return "LOW"
    return "INFORMATIONAL"


class SeverityInfo(AsffModel):
    Label: str | None = None
    Normalized: int | None = None
    Original: str | None = None
    Product: float | None = None

    @field_validator("Label")
    @classmethod
    def _known_label(cls, value: str | None) -> str | None:
        if value is None:
            return None
        label = value.upper()
        if label not in SEVERITY_ORDER:
            raise ValueError(f"unknown severity label {value!r}; expected one of {', '.join(SEVERITY_ORDER)}")
        return label


class ComplianceInfo(AsffModel):
    Status: str | None = None
    RelatedRequirements: list[str] | None = None
    SecurityControlId: str | None = None
    AssociatedStandards: list[dict[str, Any]] | None = None

    @property
    def standards(self) -> list[str]:
        return [str(s["StandardsId"]) for s in self.AssociatedStandards or [] if s.get("StandardsId")]


class WorkflowInfo(AsffModel):
    Status: str | None = None


class Resource(AsffModel):
    Type: str = Field(min_length=1)
    Id: str = Field(min_length=1)
    Partition: str | None = None
    Region: str | None = None
    Tags: dict[str, str] | None = None
    Details: dict[str, Any] | None = None


class Finding(AsffModel):
    """One ASFF finding. ``Id``, ``AwsAccountId`` and at least one resource are required."""

    SchemaVersion: str | None = None
    Id: str = Field(min_length=1)
    ProductArn: str | None = None
    ProductName: str | None = None
    CompanyName: str | None = None
    GeneratorId: str | None = None
    AwsAccountId: str = Field(pattern=r"^\d{12}$")
    Region: str | None = None
    Types: list[str] | None = None
    Title: str | None = None
    Description: str | None = None
    Severity: SeverityInfo | None = None
    Compliance: ComplianceInfo | None = None
    Workflow: WorkflowInfo | None = None
    WorkflowState: str | None = None
    RecordState: str | None = None
    Resources: list[Resource] = Field(min_length=1)
    ProductFields: dict[str, str] | None = None
    UserDefinedFields: dict[str, str] | None = None
    Remediation: dict[str, Any] | None = None
    Note: dict[str, Any] | None = None
    FirstObservedAt: Timestamp | None = None
    LastObservedAt: Timestamp | None = None
    CreatedAt: Timestamp | None = None
    UpdatedAt: Timestamp | None = None

    def model_post_init(self, context: Any, /) -> None:
        # Decided once, while the finding is fresh in memory: every output reads them, and read
        # later from 100,000 scattered findings they cost ten times as much (cache misses).
        _ = (self.severity_label, self.outcome, self.kind)

    @cached_property
    def severity_label(self) -> str | None:
        """The label, derived from ``Normalized`` when a scanner gave only the number."""
        sev = self.Severity
        if sev is None:
            return None
        if sev.Label:
            return sev.Label
        return label_from_normalized(sev.Normalized) if sev.Normalized is not None else None

    @property
    def compliance_status(self) -> str | None:
        return self.Compliance.Status if self.Compliance else None

    @property
    def workflow_status(self) -> str | None:
        if self.Workflow and self.Workflow.Status:
            return self.Workflow.Status
        return self.WorkflowState

    @cached_property
    def kind(self) -> tuple[Any, ...]:
        """What kind of finding it is, whatever resource it is on: product, generator, types,
        title, exposure traits. Scans repeat a few kinds over many resources (rules decide once
        per kind)."""
        provider = (self.ProductFields or {}).get("ProviderName")
        return (
            self.ProductName,
            self.ProductArn,
            provider,
            self.GeneratorId,
            tuple(self.Types or ()),
            self.Title,
            self.exposure_categories,
        )

    @property
    def exposure(self) -> dict[str, Any] | None:
        """A Security Hub exposure finding's traits, as :func:`metahub.ocsf.exposure_of` kept them
        (``{"feature", "traits": [{"category", "values", "title", "finding", ...}]}``); None for
        any other finding."""
        kept = (self.model_extra or {}).get("Exposure")
        return kept if isinstance(kept, dict) else None

    @property
    def exposure_categories(self) -> tuple[str, ...] | None:
        """The trait categories of an exposure finding (``Reachability``, ``Vulnerability`` ...),
        each once, in order; None for any other finding."""
        exposure = self.exposure
        if exposure is None:
            return None
        found = (t.get("category") for t in exposure.get("traits") or [] if isinstance(t, dict))
        return tuple(dict.fromkeys(str(c) for c in found if c))

    @property
    def ocsf(self) -> dict[str, Any]:
        """What an OCSF finding had with no ASFF place (``metadata.uid``, ``metadata.product.uid``
        ...), as :mod:`metahub.ocsf` kept it; empty for an ASFF finding."""
        kept = (self.model_extra or {}).get("Ocsf")
        return kept if isinstance(kept, dict) else {}

    @property
    def in_security_hub_v2(self) -> bool:
        """A finding of the new Security Hub: its product is named by a ``productv2`` ARN, and
        Security Hub takes updates of it through BatchUpdateFindingsV2 only."""
        return ":productv2/" in (self.ProductArn or "")

    @cached_property
    def outcome(self) -> str:
        """``FAILED``, ``PASSED`` or ``OTHER``: what the finding says of its resource now, muted
        findings (a mutelist's accepted risk, :mod:`metahub.mutelist`) set aside as OTHER."""
        return "OTHER" if self.muted else self.unmuted_outcome

    @property
    def muted(self) -> dict[str, Any] | None:
        """The mutelist entry that muted the finding, with its attestation; None when not muted."""
        kept = (self.model_extra or {}).get("Muted")
        return kept if isinstance(kept, dict) else None

    def mute(self, record: dict[str, Any] | None) -> None:
        """Mark the finding muted by ``record`` (None: not muted); its outcome follows."""
        extra = self.__pydantic_extra__
        if extra is not None:  # an extra field, so that every output writes it with the finding
            if record is None:
                extra.pop("Muted", None)
                self.__pydantic_fields_set__.discard("Muted")
            else:
                extra["Muted"] = record
                self.__pydantic_fields_set__.add("Muted")
        self.__dict__.pop("outcome", None)

    @cached_property
    def unmuted_outcome(self) -> str:
        """The outcome whatever a mutelist says.

        PASSED is the compliance status. OTHER is a finding set aside (workflow SUPPRESSED or
        RESOLVED, record ARCHIVED) or undecided (WARNING, NOT_AVAILABLE). Everything else states a
        problem: FAILED, and findings with no compliance status at all (a threat, a vulnerability).
        """
        compliance = self.Compliance
        status = (compliance.Status or "").upper() if compliance is not None else ""
        if status == "PASSED":
            return "PASSED"
        if status in ("WARNING", "NOT_AVAILABLE"):
            return "OTHER"
        workflow = self.workflow_status
        if workflow and workflow.upper() in ("SUPPRESSED", "RESOLVED"):
            return "OTHER"
        record = self.RecordState
        return "OTHER" if record and record.upper() == "ARCHIVED" else "FAILED"

    @property
    def product_name(self) -> str | None:
        """``ProductName``, else the name Security Hub recorded in ``ProductFields`` (older findings,
        GuardDuty's and Inspector's published samples), else the product part of ``ProductArn``
        (``arn:aws:securityhub:us-east-1::product/aws/guardduty``)."""
        if self.ProductName:
            return self.ProductName
        recorded = (self.ProductFields or {}).get("aws/securityhub/ProductName")
        if recorded:
            return recorded
        if self.ProductArn and ":product/" in self.ProductArn:
            return self.ProductArn.rsplit("/", 1)[-1]
        return None

    def to_asff(self) -> dict[str, Any]:
        """The finding as ASFF JSON data, with only the fields it was given."""
        return self.model_dump(mode="json", exclude_unset=True)

    def to_asff_json(self) -> str:
        """:meth:`to_asff` as compact JSON text, encoded by pydantic (2.5x faster than ``json.dumps``)."""
        return self.model_dump_json(exclude_unset=True)

    def __repr__(self) -> str:
        resources = ", ".join(r.Id for r in self.Resources[:2]) + (" ..." if len(self.Resources) > 2 else "")
        return (
            f"Finding(Id={self.Id!r}, Title={self.Title!r}, Severity={self.severity_label!r}, "
            f"Outcome={self.outcome!r}, Resources=[{resources}])"
        )

    def _repr_html_(self) -> str:
        """A notebook shows a finding as a short table, every value escaped (findings are hostile data)."""
        return _table(
            [
                ("Title", _cell(self.Title)),
                ("Severity", _badge(self.severity_label)),
                ("Outcome", _badge(self.outcome)),
                ("Resources", "<br>".join(f"{_cell(r.Type)} {_cell(r.Id)}" for r in self.Resources)),
                ("Account / region", f"{_cell(self.AwsAccountId)} / {_cell(self.Region)}"),
                ("Product", _cell(self.product_name)),
                ("Generator", _cell(self.GeneratorId)),
                ("Updated", _cell(self.UpdatedAt)),
                ("Id", _cell(self.Id)),
            ]
        )


class AffectedResource(BaseModel):
    """A resource and every finding on it, with room for the context enrichment adds."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    arn: str
    type: str
    reported_types: list[str]
    account: str
    region: str | None
    partition: str
    concrete: bool
    """False for account-level pseudo-ARNs (``arn:aws:ec2:eu-west-1:123456789012:volume``)."""
    tags: dict[str, str]
    """Tags as the findings reported them (``Resources[].Tags``), merged."""
    findings: list[Finding]
    metachecks: dict[str, Any] | None = None
    metatags: dict[str, str] | None = None
    metatrails: dict[str, Any] | None = None
    metaaccount: dict[str, Any] | None = None
    detected: dict[str, Any] | None = None
    """Environment, owner and application, each ``{"value", "source"}`` or null (see detection)."""
    impact: dict[str, Any] | None = None
    """Impact properties, score and what was left out of it (see :mod:`metahub.impact`)."""
    traits: dict[str, dict[str, Any]] | None = None
    """What its failed findings say of it: reachable, vulnerable, sensitive data ... (see :mod:`metahub.traits`)."""
    combinations: list[dict[str, Any]] | None = None
    """Toxic combinations whose path starts here (see :mod:`metahub.combinations`)."""
    muted: dict[str, Any] | None = None
    """Its failed findings a mutelist muted, and what it would be had they not been:
    ``{"findings": [ids], "impact_score_with_muted": n, "traits_with_muted": [names]}`` (the
    traits only they give; see :meth:`metahub.Run.mute`)."""
    aws_exposure: dict[str, Any] | None = None
    """AWS's exposure verdict (Security Hub's exposure finding) beside metahub's ``is_public``, and
    whether they agree (see :mod:`metahub.exposure`); None without an exposure finding."""
    unknown: dict[str, str] = Field(default_factory=dict)
    """Why a piece of context could not be decided (its value is null): ``{name: reason}``."""
    evidence: dict[str, str] = Field(default_factory=dict)
    """Why a check said no, where it says (``is_public: "no public IP address"``)."""

    @cached_property
    def parsed_arn(self) -> Arn | None:
        """The ARN's parts (None when the id is no ARN), parsed once: grouping sets it, every later
        phase (fetch plan, tags, trails, filters) reads it."""
        return parse_arn(self.arn)

    @property
    def effective_tags(self) -> dict[str, str]:
        """The account's tags (MetaTags) when fetched, else those the findings reported."""
        return self.metatags if self.metatags is not None else self.tags

    @property
    def severity_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for finding in self.findings:
            label = finding.severity_label
            if label:
                counts[label] += 1
        return counts

    @property
    def highest_severity(self) -> str | None:
        counts = self.severity_counts
        return next((label for label in SEVERITY_ORDER if counts[label]), None)

    @property
    def outcome_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for finding in self.findings:
            counts[finding.outcome] += 1
        return counts

    @property
    def failed_severity_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for finding in self.findings:
            if finding.outcome == "FAILED" and finding.severity_label:
                counts[finding.severity_label] += 1
        return counts

    @property
    def worst_failed_severity(self) -> str | None:
        """The severity of its worst *failed* finding; ``PASSED`` when every finding passed; None
        when nothing failed but not all passed (set aside, undecided). A resource whose findings
        all passed is not at risk, however severe the checks it passed."""
        counts = self.failed_severity_counts
        worst = next((label for label in SEVERITY_ORDER if counts[label]), None)
        if worst:
            return worst
        outcomes = self.outcome_counts
        if outcomes["FAILED"]:
            return "UNRATED"  # failed findings without a severity
        return "PASSED" if self.findings and outcomes["PASSED"] == len(self.findings) else None

    @property
    def context_seen(self) -> bool | None:
        """Whether enrichment saw this resource: True when some check has a value, False when it
        has checks and every one is unknown (not found, another account's, AWS refused), None when
        it has no checks (not enriched, an account-level pseudo-ARN, a type without checks)."""
        if not self.metachecks:
            return None
        return any(value is not None for value in self.metachecks.values())

    def verdict(self, name: str) -> str:
        """A check of this resource in one of :data:`VERDICTS`."""
        return verdict_of(self.metachecks, self.evidence, name)

    def __repr__(self) -> str:
        return (
            f"AffectedResource(arn={self.arn!r}, type={self.type!r}, findings={len(self.findings)}, "
            f"worst_failed_severity={self.worst_failed_severity!r})"
        )

    def _repr_html_(self) -> str:
        """A notebook shows the resource, its rollups with their evidence or reason, and its findings."""
        rows = [
            ("Resource", _cell(self.arn)),
            ("Type / account / region", f"{_cell(self.type)} / {_cell(self.account)} / {_cell(self.region)}"),
            ("Worst failed severity", _badge(self.worst_failed_severity)),
        ]
        for name in ROLLUPS if self.metachecks is not None else ():
            verdict = self.verdict(name)
            why = self.unknown.get(name) or self.evidence.get(name) or ""
            rows.append((name, f"<b>{verdict}</b> {_cell(why)}"))
        if self.impact is not None:
            rows.append(("Impact score", _cell(self.impact.get("score"))))
        tags = self.effective_tags
        if tags:
            rows.append(("Tags", ", ".join(f"{_cell(k)}={_cell(v)}" for k, v in list(tags.items())[:20])))
        shown = "".join(
            f"<li>{_badge(f.severity_label)} {_badge(f.outcome)} {_cell(f.Title)}</li>"
            for f in self.findings[:20]
        )
        more = f"<li>... and {len(self.findings) - 20} more</li>" if len(self.findings) > 20 else ""
        rows.append((f"Findings ({len(self.findings)})", f"<ul>{shown}{more}</ul>"))
        return _table(rows)

    def context(self) -> dict[str, Any]:
        """The context keys that enrichment has filled, in MetaHub's names, with the reasons
        behind unknown values and the evidence behind noes."""
        keys = ("metachecks", "metatags", "metatrails", "metaaccount", "detected")
        context = {key: getattr(self, key) for key in keys if getattr(self, key) is not None}
        if self.impact is not None:
            context["impact"] = metahub_shape(self.impact)
            context["impact_score"] = self.impact["score"]
        if self.traits:
            context["traits"] = self.traits
        if self.combinations:
            context["combinations"] = self.combinations
        if self.muted:
            context["muted"] = self.muted
        if self.aws_exposure:
            context["aws_exposure"] = self.aws_exposure
        if self.unknown:
            context["unknown"] = dict(self.unknown)
        if self.evidence:
            context["evidence"] = dict(self.evidence)
        return context


def verdict_of(metachecks: Mapping[str, Any] | None, evidence: Mapping[str, str], name: str) -> str:
    """A check in one of :data:`VERDICTS`, from a resource's checks and evidence (as a run holds
    them, or as json-full wrote them)."""
    checks = metachecks or {}
    if name not in checks or evidence.get(name, "").startswith("does not apply"):
        return "n/a"
    if checks[name] is None:
        return "unknown"
    return "true" if checks[name] else "false"


def scored_from(shaped: Mapping[str, Any]) -> dict[str, Any]:
    """The impact as scored, from the ``impact`` section an output wrote (:func:`metahub_shape`):
    what a run read back from its output needs (the weights it left out are not written)."""
    properties = {
        name: {"value": None if key == "unknown" else key, "evidence": evidence}
        for name, item in shaped.items() if name not in ("findings", "score")
        for key, evidence in item.items()
    }  # fmt: skip
    ((findings_score, findings),) = shaped["findings"].items()
    return {"score": float(next(iter(shaped["score"]))), "findings_score": float(findings_score),
            "context_score": None, "properties": properties, "left_out": {}, "failed_findings": findings["findings"]}  # fmt: skip


def metahub_shape(result: dict[str, Any]) -> dict[str, Any]:
    """The ``impact`` section as MetaHub writes it: ``{property: {value: evidence}}`` and the score."""
    shaped: dict[str, Any] = {
        name: ({prop["value"]: prop["evidence"]} if prop["value"] else {"unknown": prop["evidence"]})
        for name, prop in result["properties"].items()
    }
    shaped["findings"] = {str(result["findings_score"]): {"findings": result["failed_findings"]}}
    shaped["score"] = {str(result["score"]): {}}
    return shaped
