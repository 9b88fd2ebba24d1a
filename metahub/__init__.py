"""metahub: context for cloud security findings.

>>> import metahub
>>> run = metahub.load("prowler.asff.json")
>>> run.resources   # ARN -> AffectedResource with its findings
"""

from metahub.ingest import IngestReport, Problem
from metahub.models import PALETTE, VERDICTS, AffectedResource, Finding, severity_style
from metahub.run import ContextUnreachable, ContextWarning, Run, load
from metahub.version import __version__

__all__ = [
    "PALETTE",
    "VERDICTS",
    "AffectedResource",
    "ContextUnreachable",
    "ContextWarning",
    "Finding",
    "IngestReport",
    "Problem",
    "Run",
    "__version__",
    "load",
    "severity_style",
]
