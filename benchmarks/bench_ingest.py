"""Ingest benchmark: metahub load + validate + group against plain ``json.load`` of the same file.

    python benchmarks/bench_ingest.py                    # 100,000 findings, JSON array
    python benchmarks/bench_ingest.py --jsonl 1000000    # also JSON lines with 1,000,000 findings

Each measurement runs in its own process, so peak RSS (``ru_maxrss``) is that step's alone.
Targets (issue 2): time <= 1.5x and peak RSS <= 1.2x of ``json.load``; JSON lines load in memory
that does not grow with the file beyond the grouped result (peak RSS ~ RSS held at the end).
Issue 14: scoring the impact of every resource (pure: no AWS call) costs under 10% of the ingest.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
FIXTURE = (
    Path(os.environ.get("METAHUB_SHARED", HERE.parents[2] / "shared"))
    / "fixtures"
    / "prowler-5.46-lab1.asff.json.gz"
)
BUNDLED = HERE.parents[1] / "metahub" / "demo" / "prowler-lab.asff.json.gz"


def synthetic(count: int, offset: int = 0) -> list[dict]:
    """Prowler-shaped findings: copies of the lab scan, each copy on its own set of resources.

    Like the real scan, that is about 2.2 findings per resource.
    """
    source = FIXTURE if FIXTURE.exists() else BUNDLED
    with gzip.open(source) as fh:
        templates = json.load(fh)
    out = []
    for index in range(offset, offset + count):
        finding = dict(templates[index % len(templates)])
        finding["Id"] = f"{finding['Id']}-{index}"
        resource_ = dict(finding["Resources"][0])
        resource_["Id"] = f"{resource_['Id']}-{index // len(templates)}"
        finding["Resources"] = [resource_]
        out.append(finding)
    return out


def write_array(path: Path, count: int) -> None:
    findings = synthetic(count)
    with open(path, "w") as fh:
        json.dump(findings, fh)


def write_lines(path: Path, count: int) -> None:
    batch = 50_000
    with open(path, "w") as fh:
        for start in range(0, count, batch):
            for finding in synthetic(min(batch, count - start), start):
                fh.write(json.dumps(finding))
                fh.write("\n")


def rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(mode: str, path: str) -> None:
    started = time.perf_counter()
    if mode == "json":
        with open(path) as fh:
            data = json.load(fh)
        count, groups = len(data), 0
    else:
        import metahub

        run = metahub.load(path)
        count, groups = len(run.findings), len(run.resources)
        assert not run.report.problems, run.report.problems[:3]
    seconds = time.perf_counter() - started
    impact_seconds = 0.0
    if mode != "json":
        import metahub.impact  # the command line imports it at start, before any input

        scored = time.perf_counter()
        run.score_impact()
        impact_seconds = time.perf_counter() - scored
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "impact_seconds": impact_seconds,
                "peak_mb": peak,
                "end_mb": rss_now_mb(),
                "findings": count,
                "resources": groups,
            }
        )
    )


def measure(mode: str, path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, str(HERE), "--child", mode, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument(
        "--jsonl", type=int, default=0, help="also measure JSON lines with this many findings"
    )
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        array = Path(tmp) / "findings.json"
        write_array(array, args.findings)
        size = array.stat().st_size / 2**20
        base = measure("json", array)
        ours = measure("metahub", array)
        time_ratio = ours["seconds"] / base["seconds"]
        rss_ratio = ours["peak_mb"] / base["peak_mb"]
        print(f"JSON array, {args.findings:,} findings, {size:,.0f} MiB, {ours['resources']:,} resources")
        print(f"  json.load:                 {base['seconds']:6.2f} s  peak RSS {base['peak_mb']:7.0f} MiB")
        print(f"  metahub load+validate+group {ours['seconds']:6.2f} s  peak RSS {ours['peak_mb']:7.0f} MiB")
        print(f"  time ratio {time_ratio:.2f}x (target <= 1.5x: {'ok' if time_ratio <= 1.5 else 'MISSED'})")
        print(f"  RSS ratio  {rss_ratio:.2f}x (target <= 1.2x: {'ok' if rss_ratio <= 1.2 else 'MISSED'})")
        share = ours["impact_seconds"] / ours["seconds"]
        print(
            f"  impact scoring {ours['impact_seconds']:.2f} s, {share:.1%} of the ingest "
            f"(target < 10%: {'ok' if share < 0.10 else 'MISSED'}; no AWS call)"
        )
        if args.jsonl:
            array.unlink()
            lines = Path(tmp) / "findings.jsonl"
            write_lines(lines, args.jsonl)
            size = lines.stat().st_size / 2**20
            ours = measure("metahub", lines)
            over = ours["peak_mb"] - ours["end_mb"]
            print(f"JSON lines, {args.jsonl:,} findings, {size:,.0f} MiB file")
            print(
                f"  metahub: {ours['seconds']:.1f} s, peak RSS {ours['peak_mb']:,.0f} MiB, held at the end "
                f"{ours['end_mb']:,.0f} MiB ({ours['end_mb'] * 1024 / args.jsonl:.1f} KiB per finding)"
            )
            print(f"  peak above the grouped result: {over:,.0f} MiB ({over / size:.1%} of the file)")


if __name__ == "__main__":
    main()
