"""AWS conventions (botocore resolves region, endpoints, retries and credentials) and bounded time.

The AWS SDKs and Tools Reference Guide ("Environment variables", "AWS Region", "Service-specific
endpoints", "Retry behavior") sets what each variable means: ``AWS_REGION`` names the region and,
as in the AWS CLI, wins over ``AWS_DEFAULT_REGION``; ``AWS_ENDPOINT_URL_<SERVICE>`` wins over
``AWS_ENDPOINT_URL``, and both over a profile's ``endpoint_url``; ``AWS_MAX_ATTEMPTS`` /
``AWS_RETRY_MODE`` (or the profile's ``max_attempts`` / ``retry_mode``) set the retries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.aws import Aws, CredentialsError

from .conftest import ACCOUNT, make_finding, metahub_cli, write

_IDENTITY = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    f"<Arn>arn:aws:iam::{ACCOUNT}:user/tester</Arn><UserId>AIDAEXAMPLE</UserId><Account>{ACCOUNT}</Account>"
    "</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
    "</GetCallerIdentityResponse>"
).encode()


class _Hanging:
    """An endpoint that accepts every request and never answers, except STS when ``answer_sts``."""

    def __init__(self, answer_sts: bool) -> None:
        stop = self.stop = threading.Event()
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                requests.append(body.decode(errors="replace")[:60])
                if answer_sts and b"GetCallerIdentity" in body:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(_IDENTITY)))
                    self.end_headers()
                    self.wfile.write(_IDENTITY)
                    return
                stop.wait(120)

            do_GET = do_POST

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Dummy credentials and no stray configuration from the machine running the tests."""
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_MAX_ATTEMPTS",
                 "AWS_RETRY_MODE", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_EC2"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.fixture()
def hanging() -> Iterator[_Hanging]:
    server = _Hanging(answer_sts=False)
    yield server
    server.close()


@pytest.fixture()
def hanging_but_sts() -> Iterator[_Hanging]:
    server = _Hanging(answer_sts=True)
    yield server
    server.close()


def test_aws_region_wins_over_aws_default_region_and_the_profile(
    aws_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config").write_text("[default]\nregion = ap-south-1\n")
    assert Aws().region == "ap-south-1"
    aws_env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert Aws().region == "eu-west-1"
    aws_env.setenv("AWS_REGION", "eu-central-1")
    assert Aws().region == "eu-central-1"


def test_service_endpoint_wins_over_the_global_one(
    aws_env: pytest.MonkeyPatch, hanging_but_sts: _Hanging
) -> None:
    aws_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    aws_env.setenv("AWS_ENDPOINT_URL_STS", hanging_but_sts.url)
    aws = Aws()
    assert aws.caller_account() == ACCOUNT  # reached through AWS_ENDPOINT_URL_STS
    assert aws.client("ec2", ACCOUNT, "us-east-1").meta.endpoint_url == "http://127.0.0.1:9"


def test_a_profiles_endpoints_and_retries_are_used(aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config").write_text(
        "[profile lab]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:7\nservices = lab-services\n"
        "retry_mode = standard\nmax_attempts = 3\n\n"
        "[services lab-services]\nec2 =\n  endpoint_url = http://127.0.0.1:8\n"
    )
    aws = Aws(profile="lab")
    aws._caller = ACCOUNT  # no STS here: only how clients are made is looked at
    ec2, s3 = aws.client("ec2", ACCOUNT, "eu-west-1"), aws.client("s3", ACCOUNT, "eu-west-1")
    assert ec2.meta.endpoint_url == "http://127.0.0.1:8" and s3.meta.endpoint_url == "http://127.0.0.1:7"
    assert ec2.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_retry_variables_win_and_adaptive_is_only_the_default(aws_env: pytest.MonkeyPatch) -> None:
    def retries() -> Any:
        aws = Aws()
        aws._caller = ACCOUNT
        return aws.client("ec2", ACCOUNT, "us-east-1").meta.config.retries

    assert retries() == {"mode": "adaptive", "total_max_attempts": 7}
    aws_env.setenv("AWS_RETRY_MODE", "standard")
    aws_env.setenv("AWS_MAX_ATTEMPTS", "2")
    assert retries() == {"mode": "standard", "total_max_attempts": 2}


def test_a_missing_profile_is_one_clear_error(aws_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(CredentialsError, match="no AWS profile named 'nope'"):
        Aws(profile="nope")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--context", "config", "--mh-profile", "nope"], "no AWS profile named 'nope'"),
        (["--context", "config"], "no AWS credentials found"),
        (
            ["--inputs", "securityhub", "--sh-region", "eu-west-1", "--sh-profile", "nope"],
            "no AWS profile named",
        ),
        (["--max-workers", "0"], "--max-workers: 0 is not between 1 and 256"),
        (["--trail-lookback-days", "-3"], "--trail-lookback-days: -3 is not between 1 and 90"),
        (["--trail-lookback-days", "100000"], "is not between 1 and 90"),
        (["--deadline", "soon"], "--deadline: 'soon' is not a number"),
    ],
)
def test_bad_credentials_or_numbers_stop_before_any_work(
    aws_env: pytest.MonkeyPatch, tmp_path: Path, args: list[str], message: str
) -> None:
    aws_env.delenv("AWS_ACCESS_KEY_ID")
    aws_env.delenv("AWS_SECRET_ACCESS_KEY")
    source = write(tmp_path / "f.json", [make_finding()])
    result = metahub_cli("--input-asff", str(source), *args, "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def _resources() -> metahub.Run:
    arns = [
        (f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0{i}", "AwsEc2Instance") for i in range(5)
    ] + [(f"arn:aws:s3:::bucket-{i}", "AwsS3Bucket") for i in range(5)] + [
        (f"arn:aws:iam::{ACCOUNT}:role/role-{i}", "AwsIamRole") for i in range(5)
    ]  # fmt: skip
    return metahub.Run.from_findings(
        [
            make_finding(f"f-{i}", Resources=[{"Type": t, "Id": a, "Region": "us-east-1"}])
            for i, (a, t) in enumerate(arns)
        ]
    )


def test_a_hanging_sts_is_asked_once_and_everything_is_unknown(
    aws_env: pytest.MonkeyPatch, hanging: _Hanging
) -> None:
    """Before: a failed identity lookup was not remembered, so each queued thread waited again."""
    aws_env.setenv("AWS_ENDPOINT_URL", hanging.url)
    aws = Aws(read_timeout=1, max_attempts=0)
    run = _resources()
    started = time.monotonic()
    with pytest.raises(metahub.ContextUnreachable, match="timed out"):
        run.enrich(aws, contexts=["config", "tags"])
    assert time.monotonic() - started < 10
    assert aws.calls == {"sts:GetCallerIdentity": 1}
    for resource in run.resources.values():
        assert resource.unknown and all(
            "sts:GetCallerIdentity: timed out" in r for r in resource.unknown.values()
        )


def test_the_deadline_bounds_a_run_whose_every_call_hangs(
    aws_env: pytest.MonkeyPatch, hanging_but_sts: _Hanging, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "f.json", [f.model_dump(mode="json", exclude_none=True) for f in _resources().findings]
    )
    started = time.monotonic()
    result = metahub_cli("--input-asff", str(source), "--context", "config", "tags", "--deadline", "3",
                         "--read-timeout", "1", "--output-modes", "json-short", "--output-dir", str(tmp_path),
                         endpoint=hanging_but_sts.url, env={"AWS_MAX_ATTEMPTS": "4"})  # fmt: skip
    elapsed = time.monotonic() - started
    # Every call but STS timed out: the run saw nothing, says so first, and still writes its outputs.
    assert result.returncode == 5, result.stderr
    assert result.stderr.splitlines()[0].startswith("metahub: error: enrichment reached no AWS account")
    assert elapsed < 12, elapsed  # without the deadline: 17 s here, each group timing out 4 times
    short = next(tmp_path.glob("metahub-short-*.json")).read_text()
    assert "timed out" in short or "deadline" in short
    assert "Traceback" not in result.stderr
