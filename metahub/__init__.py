"""metahub: context for cloud security findings.

>>> import metahub
>>> run = metahub.load("prowler.asff.json")
>>> run.resources   # ARN -> AffectedResource with its findings

The names below load on first use (PEP 562), so that ``import metahub.cli`` starts the command
line before boto3 and pydantic are imported: a Ctrl-C in that second ends it as cleanly as later.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from metahub.version import __version__

if TYPE_CHECKING:
    from metahub.ingest import IngestReport, Problem
    from metahub.models import PALETTE, VERDICTS, AffectedResource, Finding, severity_style
    from metahub.run import ContextUnreachable, ContextWarning, Run, from_output, load, load_split, merge
    from metahub.shards import ShardError
    from metahub.snapshot import Snapshot, SnapshotError

_HOMES = {
    "IngestReport": "metahub.ingest",
    "Problem": "metahub.ingest",
    "PALETTE": "metahub.models",
    "VERDICTS": "metahub.models",
    "AffectedResource": "metahub.models",
    "Finding": "metahub.models",
    "severity_style": "metahub.models",
    "ContextUnreachable": "metahub.run",
    "ContextWarning": "metahub.run",
    "Run": "metahub.run",
    "load": "metahub.run",
    "from_output": "metahub.run",
    "load_split": "metahub.run",
    "merge": "metahub.run",
    "ShardError": "metahub.shards",
    "Snapshot": "metahub.snapshot",
    "SnapshotError": "metahub.snapshot",
}

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
    "ShardError",
    "Snapshot",
    "SnapshotError",
    "__version__",
    "from_output",
    "load",
    "load_split",
    "merge",
    "severity_style",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'metahub' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value  # once: later uses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
