"""End to end: the real Prowler scan of the lab account, enriched from the emulated account."""

from __future__ import annotations

import re
from typing import Any

import pytest

import metahub

from .least_privilege import not_allowed

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def enriched(enriched_lab: metahub.Run) -> metahub.Run:
    return enriched_lab


def _by(run: metahub.Run, type_: str, contains: str = "") -> dict[str, Any]:
    return {arn: r for arn, r in run.resources.items() if r.type == type_ and contains in arn}


def test_findings_in_equal_findings_out(enriched: metahub.Run) -> None:
    assert sum(len(r.findings) for r in enriched.resources.values()) == 6073
    assert len(enriched.resources) == 2704


def test_instances_public_and_private(enriched: metahub.Run) -> None:
    instances = _by(enriched, "AwsEc2Instance")
    public = {arn for arn, r in instances.items() if r.metachecks["is_public"]}
    assert len(instances) == 8 and len(public) == 4
    for arn, resource in instances.items():
        checks = resource.metachecks
        if arn in public:
            evidence = checks["is_public"]
            path = next(p for p in evidence["reachable"] if p.startswith("tcp/22 "))
            assert f"from 0.0.0.0/0 over IPv4 to {checks['it_has_public_ip']} via sg-" in path
            assert re.search(r", acl-\w+ rule 100 \(replies: rule 100\), rtb-\w+ -> igw-\w+$", path)
            assert checks["is_instance_metadata_v2"] is False
            assert checks["its_associated_with_iam_roles_unrestricted"] == [
                f"arn:aws:iam::{ACCOUNT}:role/app-admin-role"
            ]
        else:
            assert checks["is_public"] is False and "is_public" in resource.evidence
            assert checks["is_instance_metadata_v2"] is True


def test_unencrypted_attached_volumes(enriched: metahub.Run) -> None:
    volumes = {arn: r for arn, r in _by(enriched, "AwsEc2Volume", ":volume/").items()}
    attached_plain = [
        r for r in volumes.values() if r.metachecks["is_attached"] and not r.metachecks["is_encrypted"]
    ]
    assert attached_plain, "the lab attaches an unencrypted volume to each public instance"
    for resource in attached_plain:
        assert resource.metachecks["is_encrypted"] is False
        assert resource.evidence["is_encrypted"] == "not encrypted at rest"
    # Each public instance carries one of them, and says so.
    public = [r for r in _by(enriched, "AwsEc2Instance").values() if r.metachecks["is_public"]]
    assert all(r.metachecks["its_associated_with_ebs_unencrypted"] for r in public)


def test_snapshots_typed_as_volumes_get_snapshot_checks(enriched: metahub.Run) -> None:
    snapshots = _by(enriched, "AwsEc2Volume", ":snapshot/")
    assert len(snapshots) == 2592
    sample = next(iter(snapshots.values()))
    assert set(sample.metachecks) == {
        "is_encrypted",
        "is_public",
        "it_has_volume",
        "is_attached",
        "is_unrestricted",
    }
    assert sample.metachecks["is_attached"] is None
    assert sample.evidence["is_attached"] == "does not apply to AwsEc2Snapshot"
    # moto's AMI snapshots belong to other accounts (moto ignores OwnerIds=self, so Prowler saw
    # them): metahub does not guess whom that account shares them with.
    for resource in snapshots.values():
        assert resource.metachecks["is_public"] is None
        assert re.match(r"owned by account \d{12}, not 123456789012: ", resource.unknown["is_public"])


def test_buckets(enriched: metahub.Run) -> None:
    for arn, bucket in _by(enriched, "AwsS3Bucket").items():
        checks = bucket.metachecks
        if "public-assets-" in arn:
            grant = checks["is_public"]["policy_statements"][0]
            assert grant["statement"].startswith("bucket policy statement 1")
            assert grant["actions"] == "s3:GetObject"
            assert checks["its_shared_with_external_principals"] == ["anyone (public)"]
        else:
            assert "private-data-" in arn
            assert checks["is_public"] is False
            assert checks["is_encrypted"] == "aws:kms"
            assert checks["it_has_public_access_block_enabled"] == [
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            ]


def test_security_groups(enriched: metahub.Run) -> None:
    # From the lab summary: per region and unit, an open-ssh-* group then an internal-* one.
    open_ssh = {
        "sg-e06453eea14b87206",
        "sg-e9737a4fd5ba7fdb2",
        "sg-6fd29e66541c67b78",
        "sg-d95e70ab6394d1433",
    }
    internal = {
        "sg-a53570598c4fc7a39",
        "sg-41620dcc9db38ffe9",
        "sg-be6d7eaa748cccfc2",
        "sg-959de18a087f6f24a",
    }
    groups = {arn.rsplit("/", 1)[-1]: r for arn, r in _by(enriched, "AwsEc2SecurityGroup").items()}
    assert open_ssh <= set(groups) and internal <= set(groups)
    for group in open_ssh:
        checks = groups[group].metachecks
        assert checks["is_unrestricted"] == [
            f"tcp/22 from 0.0.0.0/0 via {group} (IPv4)",
            f"tcp/3389 from 0.0.0.0/0 via {group} (IPv4)",
        ]
        assert checks["is_attached"] and checks["is_public"]["reachable"]
    for group in internal:
        checks = groups[group].metachecks
        assert checks["is_unrestricted"] is False and checks["is_public"] is False
        assert checks["its_associated_with_ec2_instances"]  # used by the private instance


def test_queues_policies_and_principals(enriched: metahub.Run) -> None:
    for queue in _by(enriched, "AwsSqsQueue", ":orders-").values():
        assert queue.metachecks["is_public"]["policy_statements"][0]["actions"] == "sqs:SendMessage"
    admin = enriched.resources[f"arn:aws:iam::{ACCOUNT}:policy/admin-star"]
    assert admin.metachecks["is_unrestricted"] == {"granted_by": ["statement 1"]}
    assert admin.metachecks["it_has_unrestricted_statements"] == ["statement 1"]
    assert f"arn:aws:iam::{ACCOUNT}:role/vendor-access" in admin.metachecks["is_attached"]
    read = enriched.resources.get(f"arn:aws:iam::{ACCOUNT}:policy/read-data")
    if read is not None:
        assert read.metachecks["is_unrestricted"] is False
    ci_bot = enriched.resources[f"arn:aws:iam::{ACCOUNT}:user/ci-bot"]
    assert ci_bot.metachecks["is_unrestricted"] == {"granted_by": ["inline policy inline-star statement 1"]}


def test_unknowns_say_why(enriched: metahub.Run) -> None:
    # Prowler named the automated RDS snapshots by the time of the scan; the rebuilt account has
    # newer ones, so those two are gone "since the scan", exactly as in a real account.
    snapshots = _by(enriched, "AwsRdsDbSnapshot")
    for resource in snapshots.values():
        if resource.metachecks["is_public"] is None:
            assert "not found in account" in resource.unknown["is_public"]
    # A resource not found keeps what does not apply to its type as n/a, not as unknown: a managed
    # policy AWS owns is not in the account's listing, and "is it encrypted" means nothing for it.
    missing = [r for r in _by(enriched, "AwsIamPolicy").values() if "is_unrestricted" in r.unknown]
    assert missing
    for resource in missing:
        assert resource.verdict("is_unrestricted") == "unknown"
        assert resource.verdict("is_encrypted") == resource.verdict("is_public") == "n/a"
    pseudo = enriched.resources[f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume"]
    assert pseudo.metachecks is None and "pseudo-ARN" in pseudo.unknown["metachecks"]


def test_calls_are_few_and_counted(enriched: metahub.Run) -> None:
    report = enriched.enrichment
    assert report is not None
    assert report.total_calls <= 160
    assert report.calls["ec2:DescribeInstances"] == 2  # one per region, for 8 instances
    assert report.calls["iam:GetAccountAuthorizationDetails"] == 1
    assert report.calls["ec2:DescribeSecurityGroups"] <= 4


def test_json_short_carries_the_context(enriched: metahub.Run) -> None:
    short = enriched.short()
    entry = short["arn:aws:s3:::public-assets-us-east-1-0"]
    assert entry["metachecks"]["is_public"]
    assert entry["evidence"]["is_encrypted"] == "no default encryption configured"
    stats = enriched.statistics()
    assert stats["resources"]["metachecks.is_public"]["true"] >= 4 + 4 + 1


def test_every_call_on_the_lab_is_allowed_by_the_shipped_read_only_policy(enriched: metahub.Run) -> None:
    assert enriched.enrichment is not None
    assert not_allowed(enriched.enrichment.calls) == set()
