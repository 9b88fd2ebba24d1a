"""Mutelists in Prowler's format, with metahub's attestations. Each matching row quotes the rule it
holds (Prowler's mutelist, ``prowler/lib/mutelist/mutelist.py``: ``is_muted``, ``is_muted_in_check``,
``is_excepted``, ``__is_item_matched__``)."""

from __future__ import annotations

import csv
import json
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.demo import demo_findings
from metahub.mutelist import MutelistError, load, matching

from .conftest import make_finding, metahub_cli

BUCKET = "arn:aws:s3:::public-assets-eu-west-1-0"


def _mutelist(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "mutelist.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def _resource(**overrides: Any) -> Any:
    given = {"GeneratorId": "prowler-s3_bucket_object_lock", "Region": "eu-west-1", **overrides}
    finding = make_finding("f-1", arn=BUCKET, **given)
    finding["Resources"][0]["Tags"] = {"Environment": "prod", "Owner": "web-team"}
    [resource] = metahub.Run.from_findings([finding]).resources.values()
    return resource


@pytest.mark.parametrize(
    ("entry", "muted"),
    [
        # "if account == audited_account or account == '*'"
        ({"account": "*"}, True),
        ({"account": "123456789012"}, True),
        ({"account": "111122223333"}, False),
        # "'*' == muted_check or check == muted_check or re.search(muted_check, check)"
        ({"check": "s3_bucket_object_lock"}, True),
        ({"check": "s3_bucket_.*"}, True),
        ({"check": "ec2_.*"}, False),
        # regions, resources, tags: "if item == '*': item = '.*'" and "re.search(item, finding_items)"
        ({"regions": "['eu-west-1']"}, True),
        ({"regions": "['us-.*']"}, False),
        ({"resources": "['public-assets-.*']"}, True),  # the name, as Prowler's resource_id
        ({"resources": "['arn:aws:s3:::public-assets-eu-west-1-0']"}, True),  # or the ARN
        ({"resources": "['private-data']"}, False),
        ({"tags": "['Environment=prod']"}, True),
        ({"tags": "['Environment=dev']"}, False),
        # "is_excepted": every exception list given must match
        ({"exceptions": "{Regions: ['eu-west-1']}"}, False),
        ({"exceptions": "{Regions: ['eu-west-1'], Tags: ['Environment=dev']}"}, True),
        ({"exceptions": "{Accounts: ['123456789012'], Resources: ['public-assets']}"}, False),
    ],
)
def test_entries_match_as_prowler_matches_them(tmp_path: Path, entry: dict[str, str], muted: bool) -> None:
    given = {"account": "*", "check": "*", "regions": "['*']", "resources": "['*']", **entry}
    lines = ["Mutelist:", "  Accounts:", f'    "{given["account"]}":', "      Checks:", f'        "{given["check"]}":',
             f"          Regions: {given['regions']}", f"          Resources: {given['resources']}"]  # fmt: skip
    lines += [f"          {key.title()}: {given[key]}" for key in ("tags", "exceptions") if key in given]
    path = _mutelist(tmp_path, "\n".join(lines) + "\n")
    resource = _resource()
    assert (matching(load(path).entries, resource.findings[0], resource) is not None) is muted


def test_a_security_hub_control_id_is_a_check_name(tmp_path: Path) -> None:
    path = _mutelist(tmp_path, """\
        Mutelist:
          Accounts:
            "*":
              Checks:
                "S3.8": {Regions: ["*"], Resources: ["*"]}
        """)
    resource = _resource(GeneratorId="security-control/S3.8", Compliance={"Status": "FAILED", "SecurityControlId": "S3.8"})
    assert matching(load(path).entries, resource.findings[0], resource) is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mutelist:\n  Accounts:\n    '*':\n      Checks:\n        x: {Regions: ['*']}\n", ":5: Mutelist.Accounts.*.Checks.x: needs Resources"),
        ("Mutelist:\n  Accounts:\n    '*':\n      Checks:\n        x:\n          Regions: ['*']\n          Resources: ['(']\n",
         ":7: Mutelist.Accounts.*.Checks.x.Resources: '(' is not a regular expression"),
        ("Mutelist:\n  Accounts:\n    '*':\n      Checks:\n        x:\n          Regions: ['*']\n          Resources: ['*']\n"
         "          expires: next spring\n", ":8: Mutelist.Accounts.*.Checks.x.expires: 'next spring' is not a date"),
        ("Mutelist:\n  Accounts:\n    '*':\n      Checks:\n        x:\n          Regions: ['*']\n          Resources: ['*']\n"
         "          Reason: typo\n", ":5: Mutelist.Accounts.*.Checks.x: unknown key 'Reason'"),
        ("Mutelist:\n  Accounts: [1, 2\n", ":3: not valid YAML"),
        ("Allowlist: {}\n", ":1: the file: expected a 'Mutelist:' mapping"),
    ],
)
def test_a_bad_mutelist_names_the_file_line_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = _mutelist(tmp_path, text)
    with pytest.raises(MutelistError) as caught:
        load(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value), caught.value


def _lab_mutelist(tmp_path: Path) -> Path:
    return _mutelist(tmp_path, """\
        Mutelist:
          Accounts:
            "123456789012":
              Checks:
                "s3_bucket_object_lock":
                  Regions: ["*"]
                  Resources: ["public-assets-.*"]
                  Tags: ["Environment=prod"]
                  reason: "static website assets, object lock not needed"
                  approved_by: "alice@example.com"
                  expires: 2099-03-01
                "ec2_.*":
                  Regions: ["*"]
                  Resources: ["*"]
                  reason: "old exception"
                  expires: 2020-01-01
        """)


def test_muted_findings_stay_marked_and_impact_is_given_with_and_without_them(tmp_path: Path) -> None:
    run = metahub.load(demo_findings())
    report = run.mute(_lab_mutelist(tmp_path), today=date(2026, 12, 6))
    assert report.muted == {"Accounts.123456789012.Checks.s3_bucket_object_lock": 2}  # the two prod website buckets
    assert report.expired == [{"entry": "Accounts.123456789012.Checks.ec2_.*", "line": 12, "expires": "2020-01-01",
                               "reason": "old exception"}]  # fmt: skip
    run.score_impact()
    resource = run.resources[BUCKET]
    [muted] = [f for f in resource.findings if f.muted]
    assert (muted.outcome, muted.unmuted_outcome) == ("OTHER", "FAILED")
    assert muted.muted == {"entry": "Accounts.123456789012.Checks.s3_bucket_object_lock", "mutelist": f"{tmp_path / 'mutelist.yaml'}:5",
                           "reason": "static website assets, object lock not needed", "approved_by": "alice@example.com",
                           "expires": "2099-03-01"}  # fmt: skip
    assert json.loads(muted.to_asff_json())["Muted"]["entry"].endswith("s3_bucket_object_lock")
    assert resource.muted is not None and resource.muted["findings"] == [muted.Id]
    assert resource.impact is not None and resource.muted["impact_score_with_muted"] >= resource.impact["score"]
    assert muted.Id not in resource.impact["failed_findings"]
    # an expired entry is not applied: every EC2 finding keeps its outcome
    assert not any(f.muted for r in run.resources.values() if r.type == "AwsEc2Instance" for f in r.findings)


def test_the_command_line_marks_muted_findings_in_every_output(tmp_path: Path) -> None:
    mutelist = _lab_mutelist(tmp_path)
    result = metahub_cli("--demo", "--mutelist", str(mutelist), "--output-modes", "json-full", "csv", "html",
                         "--output-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"--mutelist {mutelist}:12: Accounts.123456789012.Checks.ec2_.* expired on 2020-01-01 (old exception): not applied" in result.stderr
    assert f"--mutelist {mutelist}: 2 finding(s) muted by 1 entry" in result.stderr
    assert "; 2 finding(s) muted" in result.stderr
    [full] = tmp_path.glob("metahub-full-*.json")
    entry = json.loads(full.read_text())[BUCKET]
    assert entry["muted"]["findings"] and [f for f in entry["findings"] if f.get("Muted")]
    [table] = tmp_path.glob("metahub-*.csv")
    rows = [r for r in csv.DictReader(table.open(encoding="utf-8-sig")) if r["Muted"]]
    assert len(rows) == 2 and {r["Outcome"] for r in rows} == {"OTHER"}
    [report] = tmp_path.glob("metahub-*.html")
    assert "muted by Accounts.123456789012.Checks.s3_bucket_object_lock" in report.read_text()


def test_a_bad_mutelist_stops_the_command_line_before_anything_is_written(tmp_path: Path) -> None:
    path = _mutelist(tmp_path, "Mutelist:\n  Accounts:\n    '*':\n      Checks:\n        x: {Regions: ['*']}\n")
    result = metahub_cli("--demo", "--mutelist", str(path), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 2 and f"--mutelist {path}:5:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_split_run_mutes_as_one_process_does(tmp_path: Path) -> None:
    """Each shard muted by the one mutelist read before anything else: the same files as one
    process (the Muted column too), the expired entry said once, the muted counted over every shard."""
    mutelist = _lab_mutelist(tmp_path)
    modes = ["--output-modes", "json-short", "json-full", "json-statistics", "csv", "sqlite"]
    outputs = {}
    for name, extra in (("one", []), ("split", ["--split", "3"])):
        result = metahub_cli("--input-asff", str(demo_findings()), "--mutelist", str(mutelist), *extra, *modes,
                             "--output-dir", str(tmp_path / name))  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stderr.count("expired on 2020-01-01") == 1 and "2 finding(s) muted by 1 entry" in result.stderr
        assert "; 2 finding(s) muted" in result.stderr
        outputs[name] = {p.name.split("-")[1] if p.suffix == ".json" else p.suffix: p.read_bytes()
                         for p in sorted((tmp_path / name).glob("metahub-*"))}  # fmt: skip
    assert outputs["split"] == outputs["one"] and set(outputs["one"]) == {"short", "full", "statistics", ".csv", ".sqlite"}
    header = outputs["one"][".csv"].decode("utf-8-sig").splitlines()[0]
    assert header.endswith(",Muted")
    for k in (1, 2):  # shards run apart, then merged
        shard = metahub_cli("--input-asff", str(demo_findings()), "--mutelist", str(mutelist), "--shard", f"{k}/2",
                            "--output-modes", "--output-dir", str(tmp_path / f"s{k}"))  # fmt: skip
        assert shard.returncode == 0, shard.stderr
    merged = metahub_cli("merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "--output-modes", "csv", "json-full",
                         "--output-dir", str(tmp_path / "merged"))  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    [table] = (tmp_path / "merged").glob("metahub-*.csv")
    [full] = (tmp_path / "merged").glob("metahub-full-*.json")
    assert table.read_bytes() == outputs["one"][".csv"] and full.read_bytes() == outputs["one"]["full"]


def test_writes_leave_muted_findings_alone(tmp_path: Path) -> None:
    from metahub.actions import plan_update

    run = metahub.load(demo_findings())
    run.mute(_lab_mutelist(tmp_path), today=date(2026, 12, 6))
    bucket = {BUCKET: run.resources[BUCKET]}
    plan = plan_update(bucket, {"Workflow": {"Status": "NOTIFIED"}})
    assert plan.muted == 1 and "1 muted, left alone" in plan.describe()
    assert all(not f.muted for batch in plan.batches for f in batch.findings)


def test_the_lambda_reads_its_mutelist_from_s3(lab_endpoint: str, tmp_path: Path) -> None:
    from metahub.aws import Aws
    from metahub.aws_lambda import Settings, process

    from .conftest import emulator_environment

    with emulator_environment(lab_endpoint):
        import boto3

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="metahub-config")
        s3.put_object(Bucket="metahub-config", Key="mutelist.yaml", Body=_lab_mutelist(tmp_path).read_bytes())
        findings = [f for f in json.loads(__import__("gzip").decompress(demo_findings().read_bytes()))
                    if f["Resources"][0]["Id"] == BUCKET]  # fmt: skip
        event = {"detail-type": "Security Hub Findings - Imported", "id": "e1", "region": "eu-west-1",
                 "detail": {"findings": findings}}  # fmt: skip
        settings = Settings.from_env({"METAHUB_CONTEXT": "", "METAHUB_ACTIONS": "update-findings",
                                      "METAHUB_UPDATE_FINDINGS": "Workflow=NOTIFIED", "METAHUB_DRY_RUN": "true",
                                      "METAHUB_MUTELIST": "s3://metahub-config/mutelist.yaml"})  # fmt: skip
        summary = process(event, settings, aws=Aws())
    assert summary["mutelist"]["muted"] == {"Accounts.123456789012.Checks.s3_bucket_object_lock": 1}
    [action] = summary["actions"]
    assert action["planned"] == len(findings) - 1  # every finding of the bucket but the muted one


def test_what_a_muted_finding_would_add_is_given_beside_the_impact(tmp_path: Path) -> None:
    """Rollups and impact with and without the muted: a muted finding's trait (here "reachability",
    by the trait rule on Prowler's ``*_publicly_accessible*`` checks) is left out of the traits and
    the score, and named with the score it would give."""
    exposed = make_finding("exposed", arn="arn:aws:rds:us-east-1:123456789012:db:orders", GeneratorId="prowler-rds_instance_no_public_access_publicly_accessible",
                           Severity={"Label": "CRITICAL"})  # fmt: skip
    exposed["Resources"][0]["Type"] = "AwsRdsDbInstance"
    other = make_finding("other", arn="arn:aws:rds:us-east-1:123456789012:db:orders", GeneratorId="prowler-rds_instance_backup_enabled", Severity={"Label": "LOW"})
    other["Resources"][0]["Type"] = "AwsRdsDbInstance"
    run = metahub.Run.from_findings([exposed, other])
    path = _mutelist(tmp_path, """\
        Mutelist:
          Accounts:
            "*":
              Checks:
                "rds_instance_no_public_access_publicly_accessible":
                  Regions: ["*"]
                  Resources: ["*"]
                  reason: "a test database"
        """)
    run.mute(path)
    run.score_impact()
    [resource] = run.resources.values()
    assert "reachability" not in (resource.traits or {})
    assert resource.muted is not None and resource.muted["traits_with_muted"] == ["reachability"]
    assert resource.impact is not None and resource.muted["impact_score_with_muted"] > resource.impact["score"]
