"""Policy evaluator benchmark: work grows near-linearly with a document's size, and hostile documents
are refused at once (issue 21: "bounded work per document ... a benchmark with 10k-action policies
and 1,000-deep documents").

    python benchmarks/bench_policy.py

Each line is one kind of document at two sizes, timed in this run; the ratio of the time per action
at the larger size to that at the smaller says how the work grows (1.0: linear; 10: quadratic at
10x the size). Targets: every ratio <= 2, and every hostile document answered (a PolicyError, so
unknown with the reason) in under 0.1 s.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from metahub.checks import policy
from metahub.checks.policy import PolicyError, exposure

ME = "123456789012"
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def allow_deny(count: int, wildcard: bool) -> dict[str, Any]:
    """``count`` actions allowed to anyone, and as many denied (every other one a pattern)."""
    actions = [f"sqs:A{i:04d}" for i in range(count)]
    denied = [a[:-1] + "*" if wildcard and i % 2 else a for i, a in enumerate(reversed(actions))]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": actions, "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": denied, "Resource": "*"},
        ],
    }


def conditions(count: int) -> dict[str, Any]:
    """One grant to anyone with ``count`` condition keys."""
    keys = {f"aws:PrincipalTag/t{i}": f"v{i}" for i in range(count)}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
             "Condition": {"StringEquals": {**keys, "aws:SourceVpce": "vpce-1a2b3c4d"}}}
        ],
    }  # fmt: skip


def nested(depth: int) -> dict[str, Any]:
    value: Any = "x"
    for _ in range(depth):
        value = {"k": value}
    return {"Version": "2012-10-17", "Statement": [value]}


def timed(document: Any, repeat: int = 3) -> tuple[float, str]:
    best, outcome = float("inf"), ""
    for _ in range(repeat):
        for cached in (policy._covers, policy._overlap, policy._wild_match):
            cached.cache_clear()  # each run from cold: no comparison is remembered from the last
        started = time.perf_counter()
        try:
            outcome = f"public={exposure(document, ME, NOW).is_public}"
        except PolicyError as exc:
            outcome = f"unknown: {str(exc)[:60]}"
        best = min(best, time.perf_counter() - started)
    return best, outcome


def main() -> None:
    print("growth (time per item, larger size over smaller; 1.0 is linear):")
    for name, build, small, large in [
        ("exact actions on both sides of a Deny", lambda n: allow_deny(n, False), 100, 1000),
        ("half the Deny's actions patterns", lambda n: allow_deny(n, True), 100, 1000),
        ("condition keys on one grant", conditions, 100, 1000),
    ]:
        t_small, _ = timed(build(small))
        t_large, outcome = timed(build(large))
        ratio = (t_large / large) / (t_small / small)
        print(f"  {name:40s} {small:>5} -> {large:>5}: {t_small * 1000:7.2f} ms -> {t_large * 1000:7.2f} ms, "
              f"ratio {ratio:4.2f}  ({outcome})")  # fmt: skip
    print("hostile documents (answered at once, unknown with the reason):")
    for name, document in [
        ("10,000 actions on each side", allow_deny(10_000, False)),
        ("1,000 levels deep", nested(1000)),
        ("3,000 levels deep", nested(3000)),
        ("500-wildcard action pattern", allow_deny(1, False) | {"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:" + "*a" * 500 + "*", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:" + "*a" * 499 + "*", "Resource": "*"}]}),
    ]:  # fmt: skip
        seconds, outcome = timed(document)
        print(f"  {name:40s} {seconds * 1000:8.2f} ms  {outcome}")


if __name__ == "__main__":
    main()
