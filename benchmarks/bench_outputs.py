"""Outputs are linear in findings, however they are spread (issue 23: "CSV is quadratic in findings
per resource ... 20,000 take 149 s"; "a benchmark row of 20,000 findings on one resource").

    python benchmarks/bench_outputs.py

Each line writes the same 20,000 findings two ways, timed in this run: on 20,000 resources (one
each) and on one resource. Target: the ratio (one resource / spread) <= 2 for every output.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import metahub

N = 20_000


def finding(index: int, resource: str) -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": f"finding-{index}",
        "ProductArn": "arn:aws:securityhub:eu-west-1::product/prowler/prowler",
        "GeneratorId": f"check-{index % 50}",
        "AwsAccountId": "123456789012",
        "Types": ["Software and Configuration Checks"],
        "CreatedAt": "2026-12-01T00:00:00Z",
        "UpdatedAt": "2026-12-01T00:00:00Z",
        "Severity": {"Label": ("LOW", "MEDIUM", "HIGH")[index % 3]},
        "Title": f"Check {index % 50}",
        "Description": "A benchmark finding.",
        "Compliance": {"Status": "FAILED"},
        "Resources": [{"Type": "AwsS3Bucket", "Id": resource, "Region": "eu-west-1"}],
    }


def timed(findings: list[dict[str, Any]], mode: str, folder: Path) -> float:
    source = folder / "in.json"
    source.write_text(json.dumps(findings))
    run = metahub.load(str(source))
    started = time.perf_counter()
    run.write([mode], folder / "out")
    return time.perf_counter() - started


def main() -> int:
    spread = [finding(i, f"arn:aws:s3:::bucket-{i}") for i in range(N)]
    one = [finding(i, "arn:aws:s3:::one-bucket") for i in range(N)]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("csv", "json-full", "sqlite"):
            a, b = timed(spread, mode, Path(tmp)), timed(one, mode, Path(tmp))
            worst = max(worst, b / a)
            print(f"{mode:10} {N:,} findings: on {N:,} resources {a:6.2f} s, on one resource {b:6.2f} s, ratio {b / a:.2f}")
    print(f"worst ratio {worst:.2f} (target <= 2)")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
