"""No secret in any log at any level (issue 15, part 4), and metahub's own lines worth reading."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from metahub.logs import MASK, redact

from .conftest import emulator_environment, make_finding, write

SECRET = "plantedSecretAccessKeyValue0123456789"
TOKEN = "plantedSessionTokenValue/abcdefghijklmnopqrstuvwxyz=="
KEY_ID = "ASIAPLANTEDKEYID0123"


@pytest.mark.parametrize(
    "text",
    [
        f"<SecretAccessKey>{SECRET}</SecretAccessKey><SessionToken>{TOKEN}</SessionToken>",
        f'{{"SecretAccessKey": "{SECRET}", "SessionToken": "{TOKEN}"}}',
        f"{{'X-Amz-Security-Token': b'{TOKEN}', 'secret_key': '{SECRET}'}}",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIA/20261124/us-east-1/s3/aws4_request, Signature=0123abcd",
        # botocore's own debug line (auth.py: logger.debug('Signature:\n%s', signature))
        "Signature:\n0123abcd4567ef890123abcd4567ef890123abcd4567ef890123abcd4567ef89",
        # a presigned URL's query string
        f"https://b.s3.amazonaws.com/k?X-Amz-Credential={KEY_ID}%2F20261124&X-Amz-Signature=0123abcd"
        f"&X-Amz-Security-Token={TOKEN}",
    ],
)
def test_redact(text: str) -> None:
    masked = redact(text)
    assert SECRET not in masked and TOKEN not in masked and "0123abcd" not in masked and MASK in masked
    assert KEY_ID not in masked


def test_debug_logs_of_a_whole_run_hold_no_credential(lab_endpoint: str, tmp_path: Path) -> None:
    source = write(
        tmp_path / "in.json",
        [make_finding(Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::public-assets-us-east-1-0"}])],
    )
    log_file = tmp_path / "metahub.log"
    with emulator_environment(lab_endpoint):
        env = {**os.environ, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN}
        result = subprocess.run(
            [sys.executable, "-m", "metahub", "--input-asff", str(source), "--context", "config",
             "--mh-assume-role", "metahub-read", "--log-level", "DEBUG", "--log-wire", "--log-file", str(log_file),
             "--output-dir", str(tmp_path / "out")],
            capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    everything = (
        result.stderr + log_file.read_text() + "".join(p.read_text() for p in (tmp_path / "out").iterdir())
    )
    assert SECRET not in everything and TOKEN not in everything
    assert not re.search(r"Signature\s*[=:]\s*[0-9a-f]{16}", everything)  # SigV4 signatures, every form
    assert not re.search(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", everything)  # access key ids
    assert "Signature:\n***" in everything  # botocore did log them: masked
    assert (
        "<SecretAccessKey>" in everything or "SecretAccessKey" in everything
    )  # the STS body was logged, masked
    assert "botocore" in everything  # --log-wire: the wire lines are there
    assert "metahub.enrich: plan: 1 resource(s)" in everything  # metahub's own DEBUG lines
    assert "metahub.resources.fetch: fetched AwsS3Bucket in 123456789012/" in everything


def test_without_log_wire_no_aws_wire_lines(tmp_path: Path) -> None:
    source = write(tmp_path / "in.json", [make_finding()])
    result = subprocess.run(
        [sys.executable, "-m", "metahub", "--input-asff", str(source), "--log-level", "DEBUG", "--output-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0 and " botocore" not in result.stderr
