"""Context snapshots: collect once (``--save-context``), evaluate again offline (``--replay-context``)
with no AWS call, and the same outputs as the live run that collected them."""

from __future__ import annotations

import gzip
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.session import Session

import metahub
from metahub.aws import Aws
from metahub.snapshot import REDACTED, Snapshot, SnapshotError, params_key

from .conftest import make_finding, metahub_cli, write

CONTEXTS = ("config", "tags", "account", "cloudtrail")
NOWHERE = "http://127.0.0.1:9"  # the discard port: a request sent there fails


def _full(folder: Path) -> bytes:
    (path,) = folder.glob("metahub-full-*.json")
    return path.read_bytes()


def test_the_lab_replayed_from_its_snapshot_writes_what_the_live_run_wrote(
    lab_endpoint: str, asff_fixture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.perf_counter()
    live = metahub.load(asff_fixture)
    live.enrich(contexts=CONTEXTS, progress=False, save_context=tmp_path / "ctx.jsonl.gz")
    live_seconds = time.perf_counter() - started
    assert live.enrichment is not None and live.enrichment.total_calls > 100
    live.write(["json-full"], tmp_path / "live", "t")

    monkeypatch.setenv("AWS_ENDPOINT_URL", NOWHERE)  # any request would fail: none is sent
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    started = time.perf_counter()
    replayed = metahub.load(asff_fixture)
    report = replayed.enrich(contexts=CONTEXTS, progress=False, replay=tmp_path / "ctx.jsonl.gz")
    replay_seconds = time.perf_counter() - started
    assert report.total_calls == 0 and not report.unreachable
    replayed.write(["json-full"], tmp_path / "replayed", "t")
    assert _full(tmp_path / "replayed") == _full(tmp_path / "live")
    print(f"live {live_seconds:.2f} s, replay {replay_seconds:.2f} s")  # the benchmark holds the ratio


def test_what_the_snapshot_does_not_hold_is_unknown_saying_so(
    lab_endpoint: str, asff_findings: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Collected for the S3 findings only, replayed for the instances too: their checks are unknown,
    naming the snapshot, and the buckets' are decided as live."""
    buckets = [f for f in asff_findings if f["Resources"][0]["Type"] == "AwsS3Bucket"]
    instances = [f for f in asff_findings if f["Resources"][0]["Type"] == "AwsEc2Instance"]
    assert buckets and instances
    live = metahub.load(write(tmp_path / "buckets.json", buckets))
    live.enrich(progress=False, save_context=tmp_path / "ctx.jsonl.gz")
    both = metahub.load(write(tmp_path / "both.json", buckets + instances))
    both.enrich(progress=False, replay=Snapshot.load(tmp_path / "ctx.jsonl.gz"))
    for arn, resource in live.resources.items():
        assert both.resources[arn].metachecks == resource.metachecks
    instance = next(r for r in both.resources.values() if r.type == "AwsEc2Instance")
    assert instance.metachecks is None or not any(v is not None for v in instance.metachecks.values())
    assert "is not in the snapshot" in json.dumps(instance.unknown) and str(tmp_path / "ctx.jsonl.gz") in json.dumps(
        instance.unknown
    )


def test_an_account_the_collecting_run_could_not_enter_replays_with_its_reason(
    lab_endpoint: str, tmp_path: Path
) -> None:
    """The lab's credentials enter its own account only: the other account's reason is kept."""
    other = make_finding("elsewhere", arn="arn:aws:s3:::data-elsewhere", AwsAccountId="210987654321")
    ours = make_finding("ours", arn="arn:aws:s3:::data-ours")
    findings = write(tmp_path / "f.json", [other, ours])
    live = metahub.load(findings)
    with pytest.warns(metahub.ContextWarning):
        live.enrich(progress=False, save_context=tmp_path / "ctx.jsonl.gz")
    snapshot = Snapshot.load(tmp_path / "ctx.jsonl.gz")
    assert snapshot.accounts["210987654321"] and snapshot.caller in snapshot.accounts
    replayed = metahub.load(findings)
    with pytest.warns(metahub.ContextWarning):
        replayed.enrich(progress=False, replay=snapshot)
    assert replayed.enrichment is not None and live.enrichment is not None
    assert replayed.enrichment.unreachable == live.enrichment.unreachable


def _service(name: str) -> Any:
    return Session().get_service_model(name)


def test_secrets_are_left_out_and_types_come_back_from_the_model(tmp_path: Path) -> None:
    """User data, environment values (names kept) and a code URL are not written; times and
    binary values come back typed as botocore parses them."""
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    snapshot = Snapshot()
    template = ("111122223333", "us-east-1", "ec2:DescribeLaunchTemplateVersions", params_key({}))
    snapshot.record(template, 200, {"LaunchTemplateVersions": [{"CreateTime": created, "LaunchTemplateData": {
        "UserData": "c2VjcmV0PWh1bnRlcjI=", "ImageId": "ami-1"}}], "ResponseMetadata": {"RequestId": "x"}})  # fmt: skip
    functions = ("111122223333", "us-east-1", "lambda:ListFunctions", params_key({}))
    snapshot.record(functions, 200, {"Functions": [{"FunctionName": "f", "Environment": {
        "Variables": {"DB_PASSWORD": "hunter2"}}, "LastModified": "2026-01-02"}]})  # fmt: skip
    key = ("111122223333", "us-east-1", "kms:GenerateRandom", params_key({"NumberOfBytes": 2}))
    snapshot.record(key, 200, {"Plaintext": b"\x00\xff"})
    missing = ("111122223333", "us-east-1", "lambda:GetPolicy", params_key({"FunctionName": "f"}))
    snapshot.record(missing, 404, {"Error": {"Code": "ResourceNotFoundException", "Message": "none"}})
    path = snapshot.save(tmp_path / "ctx.jsonl.gz")
    text = gzip.decompress(path.read_bytes()).decode()
    assert "hunter2" not in text and "c2VjcmV0" not in text and "DB_PASSWORD" in text and REDACTED in text
    assert "RequestId" not in text

    again = Snapshot.load(path)
    ec2 = _service("ec2").operation_model("DescribeLaunchTemplateVersions").output_shape
    _, answer = again.answer(template, ec2)
    assert answer["LaunchTemplateVersions"][0]["CreateTime"] == created
    kms = _service("kms").operation_model("GenerateRandom").output_shape
    assert again.answer(key, kms)[1]["Plaintext"] == b"\x00\xff"
    error = {"Code": "ResourceNotFoundException", "Message": "none"}
    assert again.answer(missing, None) == (404, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 404}})


def test_a_time_among_the_parameters_is_when_the_call_was_sent() -> None:
    """CloudTrail's lookback starts at 'now minus N days': the replay's 'now' is another, the call the same."""
    one = params_key({"StartTime": datetime(2026, 1, 1, tzinfo=timezone.utc), "MaxResults": 50})
    other = params_key({"MaxResults": 50, "StartTime": datetime(2026, 3, 1, tzinfo=timezone.utc)})
    assert one == other


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"not gzip at all", "Not a gzipped file"),
        (gzip.compress(b'{"metahub": "shard"}\n'), "line 1: not a metahub context snapshot"),
        (gzip.compress(b'{"metahub": "context", "format": 0, "version": "0.0.1"}\n'),
         r"snapshot format 0 \(metahub 0.0.1\); metahub .* replays format 1: collect the context again"),
        (gzip.compress(b'{"metahub": "context", "format": 1, "version": "0.1.0", "created": "x", "contexts": [], '
                       b'"caller": null, "accounts": {}}\n{"account": "1"}\n'), "line 2: not a recorded call"),
        (gzip.compress(b'{"metahub": "context", "format": 1, "version": "0.1.0", "created": "x", "contexts": [], '
                       b'"caller": null, "accounts": {}}\n{oops\n'), "line 2: not JSON"),
    ],
)  # fmt: skip
def test_a_snapshot_that_cannot_be_replayed_says_where_and_why(content: bytes, said: str, tmp_path: Path) -> None:
    path = tmp_path / "ctx.jsonl.gz"
    path.write_bytes(content)
    with pytest.raises(SnapshotError, match=f"{path}: .*{said}"):
        Snapshot.load(path)


def test_a_replay_sends_no_request_even_for_what_it_was_not_asked() -> None:
    aws = Aws(replay=Snapshot(caller="111122223333", accounts={"111122223333": None}))
    client = aws.client("s3", "111122223333", "us-east-1")
    with pytest.raises(Exception, match="ListBuckets in account 111122223333 us-east-1 is not in the snapshot"):
        client.list_buckets()
    assert aws.total_calls == 0
    with pytest.raises(metahub.aws.AccountUnavailable, match="account 999999999999 is not in the snapshot"):
        aws.client("s3", "999999999999", "us-east-1")


def test_the_command_line_collects_once_then_replays_offline(lab_endpoint: str, tmp_path: Path) -> None:
    """Without --context, a replay evaluates the contexts the snapshot was collected with; with no
    AWS configuration at all."""
    findings = tmp_path / "f.json"
    (tmp_path / "f.json").write_bytes(gzip.decompress(Path(metahub.__file__).parent.joinpath(
        "demo", "prowler-lab.asff.json.gz").read_bytes()))  # fmt: skip
    snapshot = tmp_path / "ctx.jsonl.gz"
    live = metahub_cli("--input-asff", str(findings), "--context", "config", "tags", "--save-context", str(snapshot),
                       "--output-modes", "json-full", "--output-dir", str(tmp_path / "live"), endpoint=lab_endpoint)  # fmt: skip
    assert live.returncode in (0, 1), live.stderr
    assert f"wrote {snapshot} (context snapshot: " in live.stderr
    replayed = metahub_cli("--input-asff", str(findings), "--replay-context", str(snapshot),
                           "--output-modes", "json-full", "--output-dir", str(tmp_path / "replayed"))  # fmt: skip
    assert replayed.returncode == live.returncode, replayed.stderr
    assert _full(tmp_path / "replayed") == _full(tmp_path / "live")
    assert "AWS calls: 0," in replayed.stderr


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--save-context", "a.gz", "--replay-context", "b.gz"], "give one of them"),
        (["--save-context", "a.gz"], "--save-context keeps the answers of enrichment: give --context"),
        (["--replay-context", "missing.jsonl.gz"], "--replay-context missing.jsonl.gz: No such file"),
    ],
)
def test_snapshot_flags_that_cannot_work_are_refused(flags: list[str], said: str, tmp_path: Path) -> None:
    findings = write(tmp_path / "f.json", [make_finding("one")])
    done = metahub_cli("--input-asff", str(findings), *flags, "--output-modes", cwd=tmp_path)
    assert done.returncode == 2 and said in done.stderr, done.stderr


# --- the context cache: answers kept across runs ------------------------------------------------


def test_a_second_run_within_the_ttl_asks_aws_nothing_it_already_has(
    lab_endpoint: str, asff_fixture: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = metahub.load(asff_fixture)
    made = first.enrich(progress=False, context_cache=cache)
    assert made.total_calls > 50 and sorted(p.name for p in cache.iterdir())[0] == "123456789012-eu-west-1.jsonl.gz"
    second = metahub.load(asff_fixture)
    again = second.enrich(progress=False, context_cache=cache)
    assert set(again.calls) <= {"sts:GetCallerIdentity"}, again.calls  # entering the account is not cached
    first.write(["json-full"], tmp_path / "first", "t")
    second.write(["json-full"], tmp_path / "second", "t")
    assert _full(tmp_path / "second") == _full(tmp_path / "first")
    stale = metahub.load(asff_fixture).enrich(progress=False, context_cache=cache, cache_ttl=1e-6)
    assert stale.total_calls == made.total_calls


def test_refusals_throttles_and_server_errors_are_asked_again() -> None:
    """What the operator may fix or what passes is not kept; an item that does not exist is an answer."""
    from metahub.aws import _reusable

    assert _reusable(200, {}) and _reusable(404, {"Error": {"Code": "NoSuchBucketPolicy"}})
    for status, code in ((403, "AccessDenied"), (400, "ThrottlingException"), (503, "ServiceUnavailable")):
        assert not _reusable(status, {"Error": {"Code": code}})


@pytest.mark.parametrize(("account", "region"), [("../../etc", "passwd"), ("1/2", "x"), ("a" * 200, "r"), ("", "")])
def test_names_from_findings_never_leave_the_cache_folder(account: str, region: str, tmp_path: Path) -> None:
    from metahub.snapshot import ContextCache

    path = ContextCache(tmp_path, 3600).path(account, region)
    assert path.parent == tmp_path and path.name.endswith(".jsonl.gz") and "/" not in path.name


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--cache-ttl", "1h"], "--cache-ttl says how long --context-cache answers are reused"),
        (["--context-cache", "c"], "--context-cache keeps the answers of enrichment: give --context"),
        (["--context", "config", "--context-cache", "c", "--cache-ttl", "soon"], "'soon' is not a duration"),
        (["--context", "config", "--context-cache", "c", "--cache-ttl", "100d"], "100d is not between 1s and 90d"),
        (["--context-cache", "c", "--replay-context", "x.gz"], "--context-cache keeps what AWS answers"),
    ],
)
def test_cache_flags_that_cannot_work_are_refused(flags: list[str], said: str, tmp_path: Path) -> None:
    findings = write(tmp_path / "f.json", [make_finding("one")])
    done = metahub_cli("--input-asff", str(findings), *flags, "--output-modes", cwd=tmp_path)
    assert done.returncode == 2 and said in done.stderr, done.stderr
