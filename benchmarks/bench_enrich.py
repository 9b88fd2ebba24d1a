"""Enrichment benchmark: AWS calls and wall time, behind a proxy that adds real-world latency.

    python benchmarks/bench_enrich.py                 # lab fixture, 50 ms per call, baseline, 1x vs 4x
    python benchmarks/bench_enrich.py --no-baseline   # skip the slow per-resource baseline

A moto server holds the lab account (``shared/lab/seed_account.py``); ``shared/lab/awsproxy.py``
sits in front of it, adds the latency and counts calls by service:action.

1. The real Prowler scan's FAILED findings (2,929 on 2,683 resources), enriched by metahub, and
   by a per-resource baseline measured in the same run: one describe call per resource plus its
   detail calls, one after another (what a tool that asks AWS per finding does).
   Targets (issue 3): <= 150 calls and <= 5 s wall for metahub. Then MetaTags for the same
   resources, with the findings' tags and with none (issue 4 target: <= 30 calls). Then the four
   contexts of the command line's --context config tags account cloudtrail together: the calls in
   sequence (the most calls of the run that ran one after another, none overlapping: the waits
   that more workers cannot shorten, plus any that too few workers made; issue 24 target: <= 30)
   and the wall time against that floor (calls in sequence x latency); their context snapshot
   (--save-context): its size, and the time to replay it with no call against the live run; and
   a run with --context-cache, then the same run again (calls and wall).
2. Calls per operation for the account at --scale 2 (1x) and 8 (4x), with one finding per
   resource: batched calls stay flat; only per-item detail calls (APIs AWS cannot batch:
   bucket policies, queue attributes, key policies) grow with the resources.
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
import urllib.request
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
SHARED = Path(os.environ.get("METAHUB_SHARED", HERE.parents[2] / "shared"))
FIXTURE = SHARED / "fixtures" / "prowler-5.46-lab1.asff.json.gz"
LAB = SHARED / "lab"
sys.path.insert(0, str(HERE.parents[1]))

import metahub  # noqa: E402
from metahub.actions import plan_enrichment, plan_update  # noqa: E402
from metahub.aws import Aws  # noqa: E402
from metahub.enrich import demand_for, plan  # noqa: E402
from metahub.resources.fetch import Fetcher  # noqa: E402
from metahub.resources.spec import spec_for_type  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def lab(scale: int, latency_ms: float):
    """A seeded moto server (its own process, as AWS is not in ours) and the latency proxy in
    front of it; yields (proxy, direct) endpoints."""
    port, proxy_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    direct = f"http://127.0.0.1:{port}"
    wait_for(f"{direct}/moto-api/data.json")
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=direct,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    for action in ("reset", "seed?a=42"):  # moto servers in one process share their state
        urllib.request.urlopen(urllib.request.Request(f"{direct}/moto-api/{action}", method="POST")).close()
    seeded = subprocess.run(
        [sys.executable, str(LAB / "seed_account.py"), "--scale", str(scale)],
        env=env,
        capture_output=True,
        text=True,
    )
    if seeded.returncode:
        raise RuntimeError(f"seeding the lab failed: {seeded.stderr[-2000:]}")
    proxy = subprocess.Popen(
        [
            sys.executable,
            str(LAB / "awsproxy.py"),
            "--listen",
            str(proxy_port),
            "--upstream",
            direct,
            "--latency-ms",
            str(latency_ms),
        ]
    )
    endpoint = f"http://127.0.0.1:{proxy_port}"
    wait_for(f"{endpoint}/__stats")
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")}, AWS_ENDPOINT_URL=endpoint)
    try:
        yield endpoint, direct
    finally:
        proxy.terminate()
        server.terminate()


def wait_for(url: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(url).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def proxy_stats(endpoint: str, reset: bool = False) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{endpoint}/{'__reset' if reset else '__stats'}", method="POST" if reset else "GET"
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def run_metahub(run: metahub.Run, endpoint: str) -> tuple[float, dict[str, Any]]:
    proxy_stats(endpoint, reset=True)
    started = time.perf_counter()
    run.enrich(Aws())
    return time.perf_counter() - started, proxy_stats(endpoint)


class TimedAws(Aws):
    """The client factory, noting when each call starts and ends (botocore's before-call and
    after-call events, retries inside one call)."""

    def __init__(self) -> None:
        super().__init__(record=True)
        self.spans: list[tuple[float, float]] = []

    def _new_client(self, *args: Any, **kwargs: Any) -> Any:
        client = super()._new_client(*args, **kwargs)

        def before(context: dict[str, Any], **_: Any) -> None:
            context["bench_started"] = time.perf_counter()

        def after(context: dict[str, Any], **_: Any) -> None:
            self.spans.append((context.get("bench_started", 0.0), time.perf_counter()))

        client.meta.events.register("before-call", before)
        client.meta.events.register("after-call", after)
        client.meta.events.register("after-call-error", after)
        return client


def in_sequence(spans: list[tuple[float, float]]) -> int:
    """The most calls that follow one another with no overlap (earliest end first, greedily)."""
    count, free_at = 0, float("-inf")
    for start, end in sorted(spans, key=lambda span: span[1]):
        if start >= free_at:
            count, free_at = count + 1, end
    return count


def run_baseline(run: metahub.Run, endpoint: str) -> tuple[float, dict[str, Any]]:
    """One describe call per resource and each of its detail calls, sequentially, nothing shared."""
    proxy_stats(endpoint, reset=True)
    started = time.perf_counter()
    wanted, _ = plan(run.resources.values())
    aws = Aws()
    demand = demand_for({key[2] for key in wanted})
    for group, ids in wanted.items():
        spec = spec_for_type(group[2])
        assert spec is not None
        for item_id in sorted(ids):
            fetcher = Fetcher(aws, demand, max_workers=1)  # a fresh one each time: nothing memoised
            items = fetcher._fetch_group(group, [item_id]) or []
            for item in items:
                fetcher.inventory.items.setdefault(group, {})[item_id] = item
                for detail in sorted(demand[group[2]].details) if group[2] in demand else []:
                    fetcher._fetch_detail(group, spec, item_id, detail)
    return time.perf_counter() - started, proxy_stats(endpoint)


def _untagged(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The findings without Resources[].Tags: every tag must come from AWS."""
    return [
        {**f, "Resources": [{k: v for k, v in r.items() if k != "Tags"} for r in f["Resources"]]}
        for f in findings
    ]


def account_findings(direct: str) -> list[dict[str, Any]]:
    """One synthetic finding per resource of the seeded account (listed straight from moto)."""
    import boto3

    account = "123456789012"
    arns: list[tuple[str, str, str]] = []
    for region in ("us-east-1", "eu-west-1"):
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=direct)
        for reservation in ec2.describe_instances()["Reservations"]:
            for i in reservation["Instances"]:
                arns.append(
                    ("AwsEc2Instance", f"arn:aws:ec2:{region}:{account}:instance/{i['InstanceId']}", region)
                )
        for g in ec2.describe_security_groups()["SecurityGroups"]:
            arns.append(
                (
                    "AwsEc2SecurityGroup",
                    f"arn:aws:ec2:{region}:{account}:security-group/{g['GroupId']}",
                    region,
                )
            )
        for v in ec2.describe_volumes()["Volumes"]:
            arns.append(("AwsEc2Volume", f"arn:aws:ec2:{region}:{account}:volume/{v['VolumeId']}", region))
        for url in (
            boto3.client("sqs", region_name=region, endpoint_url=direct).list_queues().get("QueueUrls", [])
        ):
            arns.append(("AwsSqsQueue", f"arn:aws:sqs:{region}:{account}:{url.rsplit('/', 1)[-1]}", region))
        for t in boto3.client("sns", region_name=region, endpoint_url=direct).list_topics()["Topics"]:
            arns.append(("AwsSnsTopic", t["TopicArn"], region))
        for k in boto3.client("kms", region_name=region, endpoint_url=direct).list_keys()["Keys"]:
            arns.append(("AwsKmsKey", k["KeyArn"], region))
        for f in boto3.client("lambda", region_name=region, endpoint_url=direct).list_functions()[
            "Functions"
        ]:
            arns.append(("AwsLambdaFunction", f["FunctionArn"], region))
        for d in boto3.client("rds", region_name=region, endpoint_url=direct).describe_db_instances()[
            "DBInstances"
        ]:
            arns.append(("AwsRdsDbInstance", d["DBInstanceArn"], region))
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=direct)
    for b in s3.list_buckets()["Buckets"]:
        region = "us-east-1" if "us-east-1" in b["Name"] else "eu-west-1"
        arns.append(("AwsS3Bucket", f"arn:aws:s3:::{b['Name']}", region))
    return [
        {
            "SchemaVersion": "2018-10-08",
            "Id": f"bench-{n}",
            "ProductArn": "arn:aws:securityhub:::product/bench/bench",
            "AwsAccountId": account,
            "Title": "benchmark",
            "Severity": {"Label": "HIGH"},
            "Resources": [{"Type": type_, "Id": arn, "Region": region}],
        }
        for n, (type_, arn, region) in enumerate(arns)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()

    with gzip.open(FIXTURE) as fh:
        failed = [f for f in json.load(fh) if f["Compliance"]["Status"] == "FAILED"]
    print(f"1. lab fixture: {len(failed):,} FAILED findings, {args.latency_ms:.0f} ms per AWS call")
    with lab(2, args.latency_ms) as (endpoint, _):
        run = metahub.Run.from_findings(failed)
        seconds, stats = run_metahub(run, endpoint)
        unknown = sum(run.enrichment.unknown.values()) if run.enrichment else 0
        print(
            f"   metahub:  {stats['total']:5d} calls  {seconds:6.2f} s  ({len(run.resources):,} resources, "
            f"{unknown} checks unknown)"
        )
        assert run.enrichment is not None
        print("   by operation: " + ", ".join(f"{k} {v}" for k, v in sorted(run.enrichment.calls.items())))
        print(
            f"   targets:  calls <= 150: {'ok' if stats['total'] <= 150 else 'MISSED'}; "
            f"wall <= 5 s: {'ok' if seconds <= 5 else 'MISSED'}"
        )
        update = plan_update(run.resources, {"Workflow": {"Status": "NOTIFIED"}})
        back = plan_enrichment(run.resources)
        print(
            f"   write-back plans: --update-findings {update.findings:,} findings in {len(update.batches)} "
            f"BatchUpdateFindings calls ({len(update.batches) / len(failed):.3f}x one per finding); "
            f"--enrich-findings {back.findings:,} in {len(back.batches):,} calls "
            f"({len(back.batches) / len(failed):.3f}x; findings of a resource share one)"
        )
        for label, findings in (("tags from the findings", failed), ("tags all from AWS", _untagged(failed))):
            tagged = metahub.Run.from_findings(findings)
            proxy_stats(endpoint, reset=True)
            started = time.perf_counter()
            tagged.enrich(Aws(), contexts=["tags"])
            calls = proxy_stats(endpoint)["total"]
            print(
                f"   MetaTags, {label}: {calls} calls, {time.perf_counter() - started:.2f} s for "
                f"{len(tagged.resources):,} resources (target <= 30 calls; MetaHub: one per resource)"
            )
        timed, every = TimedAws(), metahub.Run.from_findings(failed)
        started = time.perf_counter()
        every.enrich(timed, contexts=["config", "tags", "account", "cloudtrail"], progress=False)
        wall, chain = time.perf_counter() - started, in_sequence(timed.spans)
        floor = chain * args.latency_ms / 1000
        print(
            f"   config, tags, account, cloudtrail together: {len(timed.spans)} calls, {wall:.2f} s; "
            f"{chain} calls in sequence (target <= 30), {wall / floor:.2f}x the floor of {floor:.2f} s"
        )
        with tempfile.TemporaryDirectory() as tmp:
            snapshot = timed.recorded().save(Path(tmp) / "context.jsonl.gz")
            again = metahub.Run.from_findings(failed)
            started = time.perf_counter()
            again.enrich(contexts=["config", "tags", "account", "cloudtrail"], progress=False, replay=snapshot)
            replay = time.perf_counter() - started
            print(
                f"   their snapshot (--save-context): {len(timed.recorded()):,} answers, "
                f"{snapshot.stat().st_size / 1024:,.0f} KiB; replayed with no call in {replay:.2f} s, "
                f"{replay / wall:.2f}x the live run (issue 25 target: <= 0.10x)"
            )
            cached = []
            for _ in range(2):  # --context-cache: the first run fills it, the second reuses it
                proxy_stats(endpoint, reset=True)
                started = time.perf_counter()
                metahub.Run.from_findings(failed).enrich(
                    contexts=["config", "tags", "account", "cloudtrail"], progress=False, context_cache=Path(tmp) / "cache"
                )
                cached.append((proxy_stats(endpoint)["total"], time.perf_counter() - started))
            print(
                f"   --context-cache: first run {cached[0][0]} calls {cached[0][1]:.2f} s, second run "
                f"{cached[1][0]} calls {cached[1][1]:.2f} s ({cached[1][1] / cached[0][1]:.2f}x)"
            )
        if not args.no_baseline:
            base_seconds, base = run_baseline(metahub.Run.from_findings(failed), endpoint)
            print(f"   baseline: {base['total']:5d} calls  {base_seconds:6.2f} s  (per resource, sequential)")
            print(
                f"   ratio:    {stats['total'] / base['total']:.3f}x calls, {seconds / base_seconds:.3f}x wall"
            )

    print("2. calls per operation, one finding per resource of the account, 1x vs 4x")
    per_scale: dict[int, tuple[int, Counter[str], float]] = {}
    for scale in (2, 8):
        with lab(scale, args.latency_ms) as (endpoint, direct):
            findings = account_findings(direct)
            run = metahub.Run.from_findings(findings)
            seconds, stats = run_metahub(run, endpoint)
            assert run.enrichment is not None and run.enrichment.total_calls == stats["total"]
            per_scale[scale] = (len(run.resources), Counter(run.enrichment.calls), seconds)
    (n1, c1, s1), (n4, c4, s4) = per_scale[2], per_scale[8]
    print(f"   {'operation':45} {'1x':>6} {'4x':>6}")
    for operation in sorted(set(c1) | set(c4)):
        grows = "  (per item: AWS has no batch API)" if c4[operation] > c1[operation] else ""
        print(f"   {operation:45} {c1[operation]:6d} {c4[operation]:6d}{grows}")
    print(
        f"   {'total':45} {sum(c1.values()):6d} {sum(c4.values()):6d}   resources {n1} -> {n4}, "
        f"wall {s1:.2f} s -> {s4:.2f} s"
    )


if __name__ == "__main__":
    main()
