"""The new Security Hub (issue 26): what reading its OCSF findings costs beside the same findings in
ASFF, and what an export job's objects cost read as they stream, each in its own process, in this run.

    python benchmarks/bench_ocsf.py                    # 100,000 findings
    python benchmarks/bench_ocsf.py --size 300000

The findings are copies of tests/fixtures/securityhub_v2's samples (AWS's published shapes), each
with its own id, resource and account among 100; the ASFF file holds the very same findings as
metahub maps them (``metahub.ocsf.to_asff``), so both runs end with the same models. Three children:

- ``metahub.load`` of the ASFF JSON lines: the baseline;
- ``metahub.load`` of the OCSF JSON lines: the baseline plus the mapping;
- the export path: the OCSF lines gzip'd in two objects, read through ``ExportSource``'s line reader
  (``securityhub._lines``, chunk by chunk, as from S3) into ``metahub.load``.

It prints wall and peak RSS of each, and the ratios to the baseline.
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
SAMPLES = HERE.parents[1] / "tests" / "fixtures" / "securityhub_v2" / "findings.json"
ACCOUNTS = 100

LOAD = """
import sys, metahub
run = metahub.load(sys.argv[1])
print(len(run.findings), len(run.resources))
"""
EXPORTED = """
import sys, metahub
from metahub.securityhub import EXPORT_CHUNK, _lines

class Objects:  # the export's objects, read as ExportSource reads them from S3
    name = "export"
    def records(self):
        for path in sys.argv[1:]:
            with open(path, "rb") as fh:
                lines = _lines(iter(lambda: fh.read(EXPORT_CHUNK), b""), True)
                for number, line in enumerate(lines, 1):
                    if line.strip():
                        yield f"{path}, line {number}", __import__("json").loads(line)

run = metahub.load(Objects())
print(len(run.findings), len(run.resources))
"""


def findings(count: int) -> list[dict[str, Any]]:
    base = [{k: v for k, v in f.items() if k != "_source"} for f in json.loads(SAMPLES.read_text())]
    made = []
    for index in range(count):
        copy, template = divmod(index, len(base))
        account = f"{100000000000 + copy % ACCOUNTS:012d}"
        text = json.dumps(base[template]).replace("123456789012", account)
        text = text.replace("us-east-1-0", f"us-east-1-{copy}").replace("application-function", f"function-{copy}")
        finding = json.loads(text)
        finding["finding_info"]["uid"] = f"{finding['finding_info']['uid']}-{copy}"
        made.append(finding)
    return made


def run_child(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB and the printed counts of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    assert child.stdout is not None and child.stderr is not None
    out, err = child.stdout.read().decode(), child.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[:3]} failed: {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parents[1]))
    from metahub.ocsf import to_asff

    made = findings(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        ocsf, asff = Path(tmp) / "ocsf.jsonl", Path(tmp) / "asff.jsonl"
        ocsf.write_text("".join(json.dumps(f) + "\n" for f in made))
        asff.write_text("".join(json.dumps(to_asff(f)) + "\n" for f in made))
        half = len(made) // 2
        objects = [Path(tmp) / "findings-0001.jsonl.gz", Path(tmp) / "findings-0002.jsonl.gz"]
        for path, part in zip(objects, (made[:half], made[half:]), strict=True):
            path.write_bytes(gzip.compress("".join(json.dumps(f) + "\n" for f in part).encode()))
        del made
        print(f"{args.size:,} findings: OCSF {ocsf.stat().st_size / 2**20:,.0f} MiB, "
              f"ASFF {asff.stat().st_size / 2**20:,.0f} MiB, export objects "
              f"{sum(p.stat().st_size for p in objects) / 2**20:,.0f} MiB gzip'd")  # fmt: skip
        base_wall, base_rss, base_out = run_child([sys.executable, "-c", LOAD, str(asff)])
        print(f"  metahub.load ASFF       {base_wall:6.1f} s  peak RSS {base_rss:7,.0f} MiB  ({base_out})")
        for label, argv in (
            ("metahub.load OCSF      ", [sys.executable, "-c", LOAD, str(ocsf)]),
            ("export objects, OCSF   ", [sys.executable, "-c", EXPORTED, *map(str, objects)]),
        ):
            wall, rss, out = run_child(argv)
            assert out == base_out, (label, out, base_out)
            print(f"  {label} {wall:6.1f} s  peak RSS {rss:7,.0f} MiB  "
                  f"({wall / base_wall:.2f}x time, {rss / base_rss:.2f}x RSS)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
