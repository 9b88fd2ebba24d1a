"""What a newcomer meets in the first hour: a run that reached nothing says so first and exits 5,
a mistyped region or profile is named, usage errors are short, and a context source that the
endpoint does not implement costs one line and a few calls."""

from __future__ import annotations

from pathlib import Path

import pytest

import metahub
from metahub.aws import Aws

from .conftest import ACCOUNT, emulator_environment, free_port, make_finding, metahub_cli, write

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _findings(tmp_path: Path) -> Path:
    arn = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0"
    return write(tmp_path / "f.json", [make_finding(Resources=[{"Type": "AwsEc2Instance", "Id": arn}])])


def test_a_run_that_reached_no_account_says_so_first_and_exits_5(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**CREDENTIALS, "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint, "AWS_MAX_ATTEMPTS": "1"}
    result = metahub_cli("--input-asff", str(_findings(tmp_path)), "--context", "config",
                         "--output-modes", "json-short", "--output-dir", str(tmp_path), env=env)  # fmt: skip
    assert result.returncode == 5, result.stderr
    first = result.stderr.splitlines()[0]
    assert (
        first.startswith("metahub: error: enrichment reached no AWS account")
        and "endpoint unreachable" in first
    )
    assert "0 public" not in result.stderr and "no resource's context was seen" in result.stderr
    assert list(tmp_path.glob("metahub-short-*.json")), "the outputs are still written"


@pytest.mark.parametrize(
    ("env", "said"),
    [
        # botocore's partitions.json is the list of regions; the closest names are offered.
        ({"AWS_REGION": "us-eats-1"}, "AWS_REGION: 'us-eats-1' is no AWS region; did you mean us-east-1"),
        (
            {"AWS_DEFAULT_REGION": "eu-wset-1"},
            "AWS_DEFAULT_REGION: 'eu-wset-1' is no AWS region; did you mean eu-west-1",
        ),
        # The profile named is the one asked for, and where it came from.
        (
            {"AWS_PROFILE": "nope", "AWS_REGION": "us-east-1"},
            "no AWS profile named 'nope' (from AWS_PROFILE)",
        ),
    ],
    ids=["region", "default-region", "profile"],
)
def test_configuration_mistakes_are_one_line_before_anything_is_read(
    tmp_path: Path, env: dict[str, str], said: str
) -> None:
    result = metahub_cli("--input-asff", str(_findings(tmp_path)), "--context", "config", "--output-modes",
                         env={**CREDENTIALS, **env})  # fmt: skip
    assert result.returncode == 2
    assert said in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_wrong_security_hub_region_is_named(tmp_path: Path) -> None:
    result = metahub_cli("--inputs", "securityhub", "--sh-region", "ca-centrl-1", env={**CREDENTIALS})
    assert (
        result.returncode == 2
        and "--sh-region: 'ca-centrl-1' is no AWS region; did you mean ca-central-1" in result.stderr
    )


def test_a_usage_error_says_why_first_in_two_lines(tmp_path: Path) -> None:
    result = metahub_cli("--json")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert lines[0] == "metahub: error: --json goes with --list-meta-checks" and len(lines) <= 2, lines


def test_a_source_the_endpoint_lacks_is_one_line_and_few_calls(lab_endpoint: str) -> None:
    """moto has no CloudTrail LookupEvents: one call per (account, region), one retry, then every
    other event name of that group is not asked; the reason says what the endpoint answered."""
    arns = [f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-{n:017x}" for n in range(5)]
    arns += [f"arn:aws:ec2:eu-west-1:{ACCOUNT}:volume/vol-{n:017x}" for n in range(5)]
    run = metahub.Run.from_findings(
        make_finding(
            f"f-{n}",
            arn,
            Resources=[{"Type": "AwsEc2Instance" if "instance" in arn else "AwsEc2Volume", "Id": arn}],
        )
        for n, arn in enumerate(arns)
    )
    with emulator_environment(lab_endpoint):
        aws = Aws()
        with pytest.raises(metahub.ContextUnreachable):  # CloudTrail was all it asked for
            run.enrich(aws, contexts=["cloudtrail"])
    assert aws.calls["cloudtrail:LookupEvents"] == 2 * 2  # two regions, one retry each
    reasons = {reason for r in run.resources.values() for reason in r.unknown.values()}
    assert reasons == {
        "cloudtrail:LookupEvents: the endpoint answered HTTP 500 without an AWS error (does it implement this API?)"
    }


def test_a_tag_filter_that_matches_nothing_names_the_values_there(tmp_path: Path) -> None:
    findings = [
        make_finding(
            f"f-{n}",
            f"arn:aws:s3:::b-{n}",
            Resources=[{"Type": "AwsS3Bucket", "Id": f"arn:aws:s3:::b-{n}", "Tags": {"Environment": env}}],
        )
        for n, env in enumerate(["prod", "prod", "stg", "dev"])
    ]
    source = write(tmp_path / "f.json", findings)
    result = metahub_cli(
        "--input-asff", str(source), "--mh-filters-tags", "Environment=production", "--output-modes"
    )
    assert "metahub: Environment: production matched nothing; its values are prod (2), " in result.stderr


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        # STS AssumeRole: ExternalId is 2 to 1224 characters of [\w+=,.@:/-] (botocore's model);
        # 'X' was the README's own example, refused by STS once per account after the reading.
        ("--mh-external-id", "X", "'X': ExternalId takes 2 to 1224 characters"),
        ("--sh-external-id", "a b", "'a b': ExternalId takes only characters of"),
        ("--mh-role-session-name", "me/you", "'me/you': RoleSessionName takes only characters of"),
    ],
)
def test_assume_role_values_are_checked_before_anything_is_read(flag: str, value: str, said: str) -> None:
    result = metahub_cli("--demo", "--mh-assume-role", "R", "--sh-assume-role", "R", flag, value,
                         env={"AWS_PROFILE": "nope"})  # fmt: skip
    assert result.returncode == 2 and said in result.stderr, result.stderr
