"""``metahub diff`` and ``Run.diff``: an account changed between two runs (a bucket made public, a
security group fixed, an instance gone, a bucket new), and each kind of change found."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import metahub
from metahub.aws import Aws
from metahub.diff import diff, read_output, tallied

from .conftest import make_finding, metahub_cli, own_moto_server, write

REGION = "us-east-1"
AMI = "ami-12c6146b"


def _embedded(html: str) -> str:
    """The data a report embeds (the page's JSON script, escaped for HTML)."""
    start = html.index('<script type="application/json" id="metahub-data">') + len('<script type="application/json" id="metahub-data">')
    return html[start : html.index("</script>", start)]


def _full(run: metahub.Run, folder: Path) -> Path:
    (path,) = run.write(["json-full"], folder, "t")
    return path


def _finding(finding_id: str, arn: str, type_: str, generator: str, status: str = "FAILED", **more: Any) -> dict[str, Any]:
    return make_finding(finding_id, arn=arn, GeneratorId=generator, Title=generator.replace("_", " "),
                        Compliance={"Status": status}, Resources=[{"Type": type_, "Id": arn, "Region": REGION}],
                        **more)  # fmt: skip


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[metahub.Run, metahub.Run, dict[str, str]]]:
    """The same account enriched twice, changed in between as the docstring of this module says."""
    folder = tmp_path_factory.mktemp("diff")
    with own_moto_server():
        s3, ec2 = boto3.client("s3", region_name=REGION), boto3.client("ec2", region_name=REGION)
        s3.create_bucket(Bucket="reports")
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip
        instance = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        arns = {
            "reports": "arn:aws:s3:::reports",
            "group": f"arn:aws:ec2:{REGION}:123456789012:security-group/{group}",
            "instance": f"arn:aws:ec2:{REGION}:123456789012:instance/{instance}",
            "fresh": "arn:aws:s3:::fresh",
        }
        before = [
            _finding("r-1", arns["reports"], "AwsS3Bucket", "s3_bucket_default_encryption"),
            _finding("g-1", arns["group"], "AwsEc2SecurityGroup", "ec2_securitygroup_allow_ingress_22"),
            _finding("i-1", arns["instance"], "AwsEc2Instance", "ec2_instance_imdsv2_enabled"),
        ]
        first = metahub.load(write(folder / "before.json", before))
        first.enrich(Aws(), progress=False)

        s3.put_bucket_policy(Bucket="reports", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}]}))  # fmt: skip
        ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip
        ec2.terminate_instances(InstanceIds=[instance])
        s3.create_bucket(Bucket="fresh")
        after = [
            # the scanner issued the same check a new id: still failing, not new
            _finding("r-1-rescan", arns["reports"], "AwsS3Bucket", "s3_bucket_default_encryption"),
            _finding("r-2", arns["reports"], "AwsS3Bucket", "s3_bucket_public_access"),
            _finding("g-1", arns["group"], "AwsEc2SecurityGroup", "ec2_securitygroup_allow_ingress_22", "PASSED"),
            _finding("f-1", arns["fresh"], "AwsS3Bucket", "=HYPERLINK(\"http://x\")"),
        ]
        second = metahub.load(write(folder / "after.json", after))
        second.enrich(Aws(), progress=False)
    yield first, second, arns


def test_each_kind_of_change_is_found(two_runs: tuple[metahub.Run, metahub.Run, dict[str, str]]) -> None:
    first, second, arns = two_runs
    changes = second.diff(first)
    summary, resources = changes["summary"], changes["resources"]
    assert (summary["appeared"], summary["disappeared"], summary["changed"]) == (1, 1, 2)
    assert (summary["findings_new"], summary["findings_fixed"], summary["findings_still_failing"]) == (2, 1, 1)

    reports = resources[arns["reports"]]
    assert [f["id"] for f in reports["findings"]["new"]] == ["r-2"] and reports["findings"]["still_failing"] == 1
    public = reports["rollups"]["is_public"]  # S3: a policy granting "*" is public
    assert (public["old"], public["new"], public["regression"]) == ("false", "true", True)
    assert public["old_why"] and "reports" in json.dumps(public["new_why"])

    group = resources[arns["group"]]
    assert [f["id"] for f in group["findings"]["fixed"]] == ["g-1"]
    unrestricted = group["rollups"]["is_unrestricted"]
    assert (unrestricted["old"], unrestricted["new"], unrestricted["improvement"]) == ("true", "false", True)
    assert "0.0.0.0/0" in json.dumps(unrestricted["old_why"])

    gone = resources[arns["instance"]]
    assert gone["status"] == "disappeared" and gone["failing_before"] == 1 and not gone["findings"]["fixed"]
    fresh = resources[arns["fresh"]]
    assert fresh["status"] == "appeared" and len(fresh["findings"]["new"]) == 1
    assert summary["regressions"] == sum(r["regression"] for c in resources.values() for r in c["rollups"].values())
    # each side's counts, as each run alone counts them: the report's KPIs over time
    assert changes["totals"] == {"old": tallied(first.full()), "new": tallied(second.full())}
    assert (changes["totals"]["old"]["is_unrestricted"], changes["totals"]["new"]["is_public"]) == (1, 1)
    frame = changes.frame()  # the CSV's rows as they are: a title is data here, not a formula
    assert list(frame.columns)[:5] == ["resource", "type", "account", "region", "change"]
    assert frame.loc[frame["change"] == "regression", "subject"].tolist() == ["is_public"]
    assert frame["subject"].str.startswith("=HYPERLINK").any()


def test_the_command_line_writes_the_diff_and_gates_on_it(
    two_runs: tuple[metahub.Run, metahub.Run, dict[str, str]], tmp_path: Path
) -> None:
    first, second, _ = two_runs
    old, new = _full(first, tmp_path / "old"), _full(second, tmp_path / "new")
    done = metahub_cli("diff", str(old), str(new), "--output-dir", str(tmp_path / "d"), "--fail-on", "regression")
    assert done.returncode == 1, done.stderr
    assert "2 resources changed, 1 appeared, 1 disappeared" in done.stderr and "regressions" in done.stderr
    (written,) = (tmp_path / "d").glob("metahub-diff-*.json")
    assert json.loads(written.read_text()) == json.loads(json.dumps(second.diff(old), default=str))
    (table,) = (tmp_path / "d").glob("metahub-diff-*.csv")
    rows = list(csv.DictReader(table.open(encoding="utf-8-sig")))
    assert {"regression", "improvement", "new finding", "fixed finding", "appeared", "disappeared"} <= {r["change"] for r in rows}
    assert any(r["subject"].startswith("'=HYPERLINK") for r in rows)  # a title is data, never a formula
    assert metahub_cli("diff", str(old), str(old), "--output-modes", "--fail-on", "any").returncode == 0
    assert metahub_cli("diff", str(old), str(new), "--output-modes", "--fail-on", "new").returncode == 1


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ('{"arn:aws:s3:::b": {"findings": ["Bucket is public"], "ResourceType": "AwsS3Bucket"}}',
         "json-short lists titles only"),
        ('{"arn:aws:s3:::b": {"findings": [{"Id": 5}]}}', "resource 'arn:aws:s3:::b': finding 1: not ASFF"),
        ('{"arn:aws:s3:::b": {"ResourceType": "AwsS3Bucket"}}', "resource 'arn:aws:s3:::b': no list of findings"),
        ('["arn:aws:s3:::b"]', "not a json-full output (an object of resources by ARN; this is a list)"),
        ('{"a": \n{', "line 2 column 2: not JSON"),
    ],
)
def test_what_is_not_a_json_full_output_is_refused_naming_it(content: str, said: str, tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(content)
    good = _full(metahub.load(write(tmp_path / "f.json", [make_finding()])), tmp_path / "good")
    done = metahub_cli("diff", str(path), str(good), "--output-modes")
    assert done.returncode == 2 and str(path) in done.stderr, done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_the_command_lines_report_opens_on_what_changed_since_its_baseline(
    two_runs: tuple[metahub.Run, metahub.Run, dict[str, str]], tmp_path: Path
) -> None:
    first, second, _ = two_runs
    (older,) = second.write(["sqlite"], tmp_path / "older", "t")
    old = _full(first, tmp_path / "old")
    findings = write(tmp_path / "f.json", [make_finding("new-1", arn="arn:aws:s3:::elsewhere")])
    done = metahub_cli("--input-asff", str(findings), "--baseline", str(older), str(old), "--output-modes", "html",
                       "--output-dir", str(tmp_path / "r"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    (report,) = (tmp_path / "r").glob("*.html")
    data = report.read_text()
    assert "What changed" in data and f'"baseline":"{old.name}"' in data.replace(": ", ":")
    assert [run["run"] for run in json.loads(_embedded(data))["changes"]["history"]] == [older.name, old.name, "this run"]
    refused = metahub_cli("--input-asff", str(findings), "--baseline", str(old), "--output-modes", "json-short")
    assert refused.returncode == 2 and "add html to --output-modes" in refused.stderr
    short = write(tmp_path / "short.json", {"arn:aws:s3:::b": {"findings": ["a title"]}})
    refused = metahub_cli("--input-asff", str(findings), "--baseline", str(short), "--output-modes", "html")
    assert refused.returncode == 2 and f"--baseline {short}" in refused.stderr and "json-short" in refused.stderr


def test_sqlite_outputs_compare_as_their_json_full_twins(
    two_runs: tuple[metahub.Run, metahub.Run, dict[str, str]], tmp_path: Path
) -> None:
    """A run's SQLite output holds what json-full does for a diff: either side may be either."""
    first, second, _ = two_runs
    old_full, old_db = first.write(["json-full", "sqlite"], tmp_path / "old", "t")
    new_full, new_db = second.write(["json-full", "sqlite"], tmp_path / "new", "t")
    expected = json.dumps(second.diff(old_full), sort_keys=True, default=str)
    for old, new in ((old_db, new_db), (old_full, new_db), (old_db, new_full)):
        got = diff(read_output(old), read_output(new))
        assert json.dumps(got, sort_keys=True, default=str) == expected, (old.name, new.name)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).executescript("CREATE TABLE t (x INTEGER);").close()
    done = metahub_cli("diff", str(other), str(new_db), "--output-modes")
    assert done.returncode == 2 and f"{other}: not a metahub SQLite output" in done.stderr, done.stderr


def test_a_run_read_back_from_its_output_is_the_run_that_wrote_it(
    two_runs: tuple[metahub.Run, metahub.Run, dict[str, str]], tmp_path: Path
) -> None:
    """What a diff's report is made from: json-full gives every entry back as written; SQLite the
    findings, checks and impact (it holds no detected owner, traits or combinations)."""
    _, second, _ = two_runs
    full, db = second.write(["json-full", "sqlite"], tmp_path, "t")
    again = metahub.from_output(full)
    assert json.dumps(again.full(), default=str) == json.dumps(second.full(), default=str)
    from_db = metahub.from_output(db)
    for arn, resource in second.resources.items():
        assert from_db.resources[arn].metachecks == resource.metachecks
        assert from_db.resources[arn].context().get("impact") == resource.context().get("impact")


def test_the_diff_writes_the_later_runs_report_opening_on_the_changes(
    two_runs: tuple[metahub.Run, metahub.Run, dict[str, str]], tmp_path: Path
) -> None:
    first, second, arns = two_runs
    old, new = _full(first, tmp_path / "old"), _full(second, tmp_path / "new")
    done = metahub_cli("diff", str(old), str(new), "--output-modes", "html", "--output-dir", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    (report,) = (tmp_path / "d").glob("metahub-diff-*.html")
    changes = json.loads(_embedded(report.read_text()))["changes"]
    assert changes["baseline"] == old.name and changes["summary"]["regressions"] == 1
    assert changes["resources"][0] == {"arn": arns["reports"], "type": "AwsS3Bucket", "kind": "regression",
                                       "what": "is_public: false -> true"}  # fmt: skip
