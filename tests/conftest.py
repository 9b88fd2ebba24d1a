from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from metahub.demo import demo_findings, seed_lab_account

# Everything the suite reads is in the repository: the lab scan's ASFF is the demo's own sample
# (metahub/demo/), its OCSF twin and what seeding the lab account must give are in tests/fixtures/lab/.
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lab"
ASFF_FIXTURE = demo_findings()
OCSF_FIXTURE = FIXTURES / "prowler-5.46-lab1.ocsf.json.gz"


@pytest.fixture(scope="session")
def asff_fixture() -> Path:
    return ASFF_FIXTURE


@pytest.fixture(scope="session")
def ocsf_fixture() -> Path:
    return OCSF_FIXTURE


@pytest.fixture(scope="session")
def asff_findings(asff_fixture: Path) -> list[dict[str, Any]]:
    with gzip.open(asff_fixture) as fh:
        return json.load(fh)


def make_finding(
    finding_id: str = "f-1", arn: str = "arn:aws:s3:::bucket-a", **overrides: Any
) -> dict[str, Any]:
    """A small valid ASFF finding; keyword arguments replace top-level fields."""
    finding: dict[str, Any] = {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id,
        "ProductArn": "arn:aws:securityhub:us-east-1::product/prowler/prowler",
        "GeneratorId": "prowler-s3_bucket_public",
        "AwsAccountId": "123456789012",
        "Region": "us-east-1",
        "Types": ["Software and Configuration Checks"],
        "Title": "Bucket is public",
        "Description": "Bucket bucket-a is public.",
        "Severity": {"Label": "HIGH"},
        "Compliance": {"Status": "FAILED"},
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
        "CreatedAt": "2026-01-01T00:00:00Z",
        "UpdatedAt": "2026-01-01T00:00:00Z",
        "Resources": [{"Type": "AwsS3Bucket", "Id": arn, "Partition": "aws", "Region": "us-east-1"}],
    }
    finding.update(overrides)
    return finding


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


@contextmanager
def emulator_environment(endpoint: str) -> Iterator[None]:
    """boto3 pointed at an emulator, with dummy credentials, until the block ends."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield


ACCOUNT = "123456789012"


@pytest.fixture()
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An :class:`~metahub.aws.Aws` for stubbed clients: dummy credentials, no endpoint, and the
    caller known without STS (the account the findings name)."""
    from metahub.aws import Aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws = Aws()
    aws._caller = ACCOUNT
    return aws


def metahub_cli(
    *args: str,
    endpoint: str | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    umask: int = -1,
) -> subprocess.CompletedProcess[str]:
    """The command line in a subprocess (no terminal), against ``endpoint`` when given; without
    one, with no AWS configuration at all, so that no test can reach a real account."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    environ.update(AWS_EC2_METADATA_DISABLED="true")
    if endpoint:
        with emulator_environment(endpoint):
            environ.update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})
    environ.update(env or {})
    from metahub.cli import COMMANDS

    quiet = [] if args and args[0] in COMMANDS else ["--no-banners"]  # a command's name comes first
    return subprocess.run(
        [sys.executable, "-m", "metahub", *quiet, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        timeout=600,
        umask=umask,
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def lab_endpoint() -> Any:
    """A moto server holding the lab account, rebuilt by the demo's seeder (moto seeded with 42)
    call for call as the account that Prowler scanned.

    Tests read it and never change it; boto3 reaches it through AWS_ENDPOINT_URL.
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        with emulator_environment(endpoint):
            urllib.request.urlopen(
                urllib.request.Request(f"{endpoint}/moto-api/seed?a=42", method="POST")
            ).close()
            summary = seed_lab_account()
            expected = json.loads((FIXTURES / "lab1-seed-summary.json").read_text())
            assert summary == expected, (
                "the lab account's ids differ from the fixture's: is moto 5.2.5 installed?"
            )
            yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="session")
def enriched_lab(lab_endpoint: str, asff_fixture: Path) -> Any:
    """The whole lab scan, enriched from the lab account. Tests read it and never change it."""
    import metahub
    from metahub.aws import Aws

    run = metahub.load(asff_fixture)  # every finding: PASSED ones name the well-configured resources
    run.enrich(Aws())
    return run


HUB_REGION = "ca-central-1"


@pytest.fixture(scope="session")
def in_hub(lab_endpoint: str, asff_findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lab's FAILED findings on S3 buckets and EC2 instances, imported into the lab's moto
    Security Hub in a region of their own (the moto server is shared by every test).
    Tests read them and never change them."""
    chosen = [
        f
        for f in asff_findings
        if f["Compliance"]["Status"] == "FAILED"
        and f["Resources"][0]["Type"] in ("AwsS3Bucket", "AwsEc2Instance")
    ]
    with emulator_environment(lab_endpoint):
        import boto3

        client = boto3.client("securityhub", region_name=HUB_REGION)
        for start in range(0, len(chosen), 100):
            answer = client.batch_import_findings(Findings=chosen[start : start + 100])
            assert answer["FailedCount"] == 0
    return chosen


@contextmanager
def own_moto_server() -> Iterator[str]:
    """A moto server in a process of its own (in-process servers share state with the lab's), with
    the environment pointing at it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.1)
    try:
        with emulator_environment(url):
            yield url
    finally:
        server.terminate()
        server.wait(10)
