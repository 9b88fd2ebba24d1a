"""Organisation scale (issue 24): the command line over JSON lines spread across 100 accounts,
beside ``json.loads`` of the same lines into a list, each in its own process, in this run.

    python benchmarks/bench_scale.py                         # 100,000 and 300,000 findings
    python benchmarks/bench_scale.py --sizes 100000 300000 1000000
    python benchmarks/bench_scale.py --modes json-short json-full csv sqlite
    python benchmarks/bench_scale.py --shards 4               # also: 4 shard runs in turn, then merge
    python benchmarks/bench_scale.py --sizes 1000000 --split 8  # also: one process, --split 8

The findings are the lab scan's FAILED findings (the shared fixture when it is beside the
repository, else the demo's bundled copy), each copy with its own ids and its own account among
100. The command is ``metahub --input-asff FILE --output-modes MODE`` (no context: no AWS call).
For each size it prints wall and peak RSS (``ru_maxrss`` of the child) of both, and the ratios.
Targets (issue 24): wall <= 1.0x and peak RSS <= 1.5 GB at 1M; the outputs stream, each written in
less than half the ingest time (a load-only child gives the ingest time). With ``--shards N``,
the same input is also run as N shards one after another (``--shard K/N``, shard files only), then
``metahub merge`` writes the same modes: the largest shard's peak RSS is what one machine needs
(the merge streams every output but XLSX and the HTML report). With ``--split N``, one process
does the same after reading the input once (``metahub --split N``): its peak RSS is the target's.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
SHARED = Path(os.environ.get("METAHUB_SHARED", HERE.parents[2] / "shared"))
FIXTURE = SHARED / "fixtures" / "prowler-5.46-lab1.asff.json.gz"
BUNDLED = HERE.parents[1] / "metahub" / "demo" / "prowler-lab.asff.json.gz"
ACCOUNTS = 100


def templates() -> list[dict[str, Any]]:
    with gzip.open(FIXTURE if FIXTURE.exists() else BUNDLED) as fh:
        found = json.load(fh)
    return [f for f in found if (f.get("Compliance") or {}).get("Status") == "FAILED"]


def write_lines(path: Path, count: int) -> None:
    """``count`` findings: copy k of the templates lives in account k % 100 with its own ids."""
    base = templates()
    with open(path, "w") as fh:
        for index in range(count):
            copy, template = divmod(index, len(base))
            account = f"{100000000000 + copy % ACCOUNTS:012d}"
            text = json.dumps(base[template]).replace(base[template]["AwsAccountId"], account)
            finding = json.loads(text)
            finding["Id"] = f"{finding['Id']}-{copy}"
            fh.write(json.dumps(finding))
            fh.write("\n")


BASELINE = """
import json, sys
with open(sys.argv[1], encoding="utf-8") as fh:
    kept = [json.loads(line) for line in fh]
print(len(kept))
"""
READ_ONLY = """
import sys, metahub
run = metahub.load(sys.argv[1])
print(len(run.findings), len(run.resources))
"""


def measure(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB and standard error of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{argv[:3]} failed: {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, err


def shards(
    metahub: list[str], lines: Path, tmp: Path, count: int, modes: list[str], base_wall: float, base_rss: float
) -> None:
    """N shard runs in turn (shard files only), then the merge into ``modes``."""
    folder, walls, peaks = tmp / "shards", [], []
    for k in range(1, count + 1):
        wall, rss, _ = measure(
            [*metahub, "--input-asff", str(lines), "--shard", f"{k}/{count}", "--output-modes", "--output-dir", str(folder)]
        )
        walls.append(wall)
        peaks.append(rss)
    merged = tmp / "merged"
    wall, rss, _ = measure([*metahub[:3], "merge", str(folder), "--output-modes", *modes, "--output-dir", str(merged)])
    print(
        f"  {count} shards in turn {sum(walls):7.1f} s  peak RSS {max(peaks):7,.0f} MiB  "
        f"({max(peaks) / base_rss:.2f}x RSS; each shard {min(walls):.1f}-{max(walls):.1f} s)"
    )
    print(f"  merge {' '.join(modes)}  {wall:7.1f} s  peak RSS {rss:7,.0f} MiB  ({rss / base_rss:.2f}x RSS)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--modes", nargs="+", default=["json-short"])
    parser.add_argument("--shards", type=int, default=0, help="also run the input as N shards, then merge")
    parser.add_argument("--split", type=int, nargs="*", default=[], metavar="N",
                        help="also run the command line with --split N (the modes together, one process)")
    args = parser.parse_args()
    metahub = [sys.executable, "-m", "metahub", "--no-banners"]
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            lines = Path(tmp) / "findings.jsonl"
            write_lines(lines, size)
            mib = lines.stat().st_size / 2**20
            base_wall, base_rss, _ = measure([sys.executable, "-c", BASELINE, str(lines)])
            print(f"{size:,} findings, {mib:,.0f} MiB of JSON lines, {ACCOUNTS} accounts")
            read_wall, read_rss, _ = measure([sys.executable, "-c", READ_ONLY, str(lines)])
            print(f"  json.loads          {base_wall:7.1f} s  peak RSS {base_rss:7,.0f} MiB")
            print(f"  metahub.load        {read_wall:7.1f} s  peak RSS {read_rss:7,.0f} MiB  (read, validate, group)")
            for mode in args.modes:
                out = Path(tmp) / mode
                wall, rss, _ = measure(
                    [*metahub, "--input-asff", str(lines), "--output-modes", mode, "--output-dir", str(out)]
                )
                written = sum(p.stat().st_size for p in out.iterdir()) / 2**20
                print(
                    f"  metahub {mode:11} {wall:7.1f} s  peak RSS {rss:7,.0f} MiB  "
                    f"({wall / base_wall:.2f}x time, {rss / base_rss:.2f}x RSS; wrote {written:,.0f} MiB "
                    f"in about {max(0.0, wall - read_wall):.1f} s beyond the read)"
                )
            if args.shards:
                shards(metahub, lines, Path(tmp), args.shards, args.modes, base_wall, base_rss)
            for count in args.split:
                out = Path(tmp) / f"split-{count}"
                wall, rss, _ = measure(
                    [*metahub, "--input-asff", str(lines), "--split", str(count), "--output-modes", *args.modes,
                     "--output-dir", str(out)]
                )  # fmt: skip
                print(
                    f"  --split {count:<3} {' '.join(args.modes)}  {wall:7.1f} s  peak RSS {rss:7,.0f} MiB  "
                    f"({wall / base_wall:.2f}x time, {rss / base_rss:.2f}x RSS; one process, one read)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
