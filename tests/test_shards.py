"""A run split by resource (``--shard K/N``) and merged (``metahub merge``) writes what one process
writes, byte for byte: order, statistics' ties, and toxic combinations that cross shards."""

from __future__ import annotations

import json
import random
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.aws import Aws
from metahub.json_outputs import statistics_of, tally
from metahub.shards import Shard, ShardError

from .conftest import make_finding, metahub_cli, write

COMPARED = ["json-short", "json-full", "json-inventory", "json-statistics", "json-combinations"]
REBUILT = ["csv", "sqlite", "html"]


def _files(folder: Path) -> dict[str, bytes]:
    """Each output's bytes by view (``short``, ``full`` ...), the stamp left out of the name."""
    return {path.name.split("-")[1]: path.read_bytes() for path in sorted(folder.glob("metahub-*.json"))}


def test_every_arn_lands_in_exactly_one_shard_and_always_the_same() -> None:
    arns = [f"arn:aws:s3:::bucket-{i}" for i in range(2000)] + ["arn:aws:iam::1:role/é\udcff"]
    for of in (1, 2, 4, 7):
        owners = [[k for k in range(1, of + 1) if Shard(k, of).owns(arn)] for arn in arns]
        assert all(len(owner) == 1 for owner in owners)
        sizes = [sum(owner == [k] for owner in owners) for k in range(1, of + 1)]
        assert min(sizes) > len(arns) / of * 0.8  # spread, not one shard holding all
    # The hash is BLAKE2b of the ARN, not Python's hash(): another process, machine or release
    # (PYTHONHASHSEED) puts an ARN in the same shard; this value is the algorithm's, fixed.
    assert [k for k in range(1, 5) if Shard(k, 4).owns("arn:aws:s3:::bucket-0")] == [4]


@pytest.mark.parametrize("text", ["0/4", "5/4", "4", "a/b", "2/0", "-1/4", ""])
def test_a_shard_is_k_of_n(text: str) -> None:
    with pytest.raises(ValueError, match="K/N"):
        Shard.parse(text)


def test_tallies_of_parts_add_up_to_the_statistics_of_the_whole(asff_fixture: Path) -> None:
    """Counter.most_common orders ties by first appearance: parts dealt at random keep that order."""
    run = metahub.load(asff_fixture)
    run.score_impact()
    numbered = list(enumerate(run.findings))
    resources = list(run.resources.items())
    rng = random.Random(7)
    parts: list[tuple[list[Any], dict[str, Any]]] = [([], {}) for _ in range(3)]
    for item in numbered:
        rng.choice(parts)[0].append(item)
    for arn, resource in resources:
        rng.choice(parts)[1][arn] = resource
    whole = run.statistics()
    merged = statistics_of(json.loads(json.dumps([tally(f, r) for f, r in parts])))
    assert json.dumps(merged) == json.dumps(whole)


def _shards(source: Path, of: int, work: Path) -> Iterator[metahub.Run]:
    """The N shard runs of ``source``, each read on its own (``--shard K/N``)."""
    return (metahub.load(source, shard=f"{k}/{of}") for k in range(1, of + 1))


def _split(source: Path, of: int, work: Path) -> Iterator[metahub.Run]:
    """The N shard runs of ``source`` from one reading, one after another (``--split N``)."""
    return metahub.load_split(source, parts=of, directory=work)


@pytest.mark.parametrize("made", [_shards, _split])
def test_shards_of_the_enriched_lab_merge_into_one_process_byte_for_byte(
    made: Any, lab_endpoint: str, asff_fixture: Path, tmp_path: Path
) -> None:
    # The one process is enriched here, beside its shards, not taken from the session's fixture:
    # a test before this one may have registered more checks (--checks-dir), and both must see them.
    whole = metahub.load(asff_fixture)
    whole.enrich(Aws(), progress=False)
    assert whole.enrichment is not None
    one = tmp_path / "one"
    whole.write(COMPARED, one, "t")
    crossing = [c for c in whole.combinations if len({_owner(hop["arn"], 4) for hop in c["path"]}) > 1]
    assert crossing, "the lab's toxic combinations should cross shards, or this test proves less"
    shards = tmp_path / "shards"
    counted = 0
    calls = 0
    (tmp_path / "work").mkdir()
    for k, part in enumerate(made(asff_fixture, 4, tmp_path / "work"), 1):
        assert part.shard == Shard(k, 4)
        calls += part.enrich(Aws(), progress=False).total_calls
        counted += len(part.resources)
        part.write(["shard"], shards, f"s{k}")
    assert not list((tmp_path / "work").iterdir()), "each part file is removed once read"
    assert counted == len(whole.resources)
    written, failures = metahub.merge([shards], COMPARED, tmp_path / "merged", "t")
    assert not failures and len(written) == len(COMPARED)
    expected, got = _files(one), _files(tmp_path / "merged")
    assert list(got) == list(expected)
    for view in expected:
        assert got[view] == expected[view], (view, _first_difference(expected[view], got[view]))
    # The tables and the report, from the run the merge rebuilds, are one process's too.
    whole.write(REBUILT, one, "t", report_title="Lab", report_customer="Example")
    written, failures = metahub.merge([shards], REBUILT, tmp_path / "merged", "t", report_title="Lab",
                                      report_customer="Example")  # fmt: skip
    assert not failures and len(written) == len(REBUILT)
    for name in ("metahub-t.csv", "metahub-t.html"):
        a, b = ((folder / name).read_text() for folder in (one, tmp_path / "merged"))
        a, b = (re.sub(r'"generated": ?"[^"]*"', "", text) for text in (a, b))  # the minute it was written
        # and what was read: four shards list each type four times, and the report says so
        b = b.replace(f"({calls:,} AWS calls)", f"({whole.enrichment.total_calls:,} AWS calls)")
        assert a == b, (name, _first_difference(a.encode(), b.encode()))
    dumps = []
    for folder in (one, tmp_path / "merged"):
        with closing(sqlite3.connect(folder / "metahub-t.sqlite")) as db:
            dumps.append(list(db.iterdump()))
    assert dumps[0] == dumps[1] and len(dumps[0]) > 1000


def _first_difference(expected: bytes, got: bytes) -> str:
    """Where two outputs part: the line numbers and the lines around it."""
    a, b = expected.decode().splitlines(), got.decode().splitlines()
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"line {at + 1}: expected {a[max(0, at - 3) : at + 2]}, got {b[max(0, at - 3) : at + 2]}"


def test_the_command_line_shards_and_merges(asff_fixture: Path, tmp_path: Path) -> None:
    modes = ["--output-modes", "json-short", "json-full", "json-statistics"]
    one = metahub_cli("--input-asff", str(asff_fixture), *modes, "--output-dir", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr
    for k in (1, 2, 3):
        part = metahub_cli(
            "--input-asff", str(asff_fixture), "--shard", f"{k}/3", *modes, "--output-dir", str(tmp_path / f"s{k}")
        )
        assert part.returncode == 0, part.stderr
        assert "shard" in part.stderr and f"{k}/3" in part.stderr
    merged = metahub_cli(
        "merge", *(str(tmp_path / f"s{k}") for k in (1, 2, 3)), *modes, "--output-dir", str(tmp_path / "merged")
    )
    assert merged.returncode == 0, merged.stderr
    assert "merged 3 shard files" in merged.stderr
    assert _files(tmp_path / "merged") == _files(tmp_path / "one")
    # each shard's own outputs hold its part only
    part_short = json.loads(next((tmp_path / "s1").glob("metahub-short-*.json")).read_text())
    assert part_short and all(Shard(1, 3).owns(arn) for arn in part_short)


def test_the_command_line_splits_a_run_in_one_process(asff_fixture: Path, tmp_path: Path) -> None:
    """``--split N``: read once, N shards in turn, merged: one run's files, the CSV and SQLite too,
    and the closing lines of one run; nothing of the work left beside the outputs."""
    modes = ["--output-modes", "json-short", "json-full", "json-statistics", "json-inventory", "csv", "sqlite"]
    one = metahub_cli("--input-asff", str(asff_fixture), *modes, "--output-dir", str(tmp_path / "one"))
    split = metahub_cli("--input-asff", str(asff_fixture), "--split", "3", *modes, "--output-dir", str(tmp_path / "s"))
    assert one.returncode == split.returncode == 0, split.stderr
    assert _files(tmp_path / "s") == _files(tmp_path / "one")
    tables = {folder: [p.read_bytes() for p in sorted((tmp_path / folder).glob("metahub-*.csv"))] for folder in ("one", "s")}
    assert tables["s"] == tables["one"] and tables["one"]
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "s").iterdir()) == ["metahub"] * 6
    assert [f"shard {k}/3:" in split.stderr for k in (1, 2, 3)] == [True] * 3
    found = [line for line in one.stderr.splitlines() if line.startswith("metahub: found")]
    assert found and found[0] in split.stderr
    summary = next(line for line in one.stderr.splitlines() if "findings read" in line)
    assert summary.rsplit(",", 1)[0] in split.stderr  # all but the seconds


@pytest.mark.parametrize(
    ("flags", "refused"),
    [
        (["--shard", "1/2"], "give one of them"),
        (["--mh-filters-findings", "severity=HIGH"], "--split with filters"),
        (["--list-findings"], "--list-findings need the whole run"),
        (["--output-tag-columns", "Owner"], "--output-tag-columns need the whole run"),
        (["--split", "0"], "not between 1 and"),
    ],
)
def test_the_command_line_refuses_what_a_split_run_cannot_do(
    flags: list[str], refused: str, asff_fixture: Path, tmp_path: Path
) -> None:
    result = metahub_cli("--input-asff", str(asff_fixture), "--split", "2", *flags, "--output-dir", str(tmp_path))
    assert result.returncode == 2 and refused in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_a_split_of_a_damaged_input_reports_each_problem_where_it_is(tmp_path: Path) -> None:
    """Positions and reasons are the input's, not the part files': the problems of one run."""
    good = [make_finding(f"f{i}", arn=f"arn:aws:s3:::b{i}") for i in range(8)]
    source = tmp_path / "in.jsonl"
    lines = [json.dumps(f) for f in good[:3]] + ["{not json", json.dumps({"Id": "x"})] + [json.dumps(f) for f in good[3:]]
    source.write_text("\n".join(lines) + "\n")
    one = metahub_cli("--input-asff", str(source), "--output-dir", str(tmp_path / "one"))
    split = metahub_cli("--input-asff", str(source), "--split", "4", "--output-dir", str(tmp_path / "s"))
    assert one.returncode == split.returncode != 0
    problems = [line for line in one.stderr.splitlines() if "in.jsonl" in line]
    assert len(problems) >= 2 and all(line in split.stderr.splitlines() for line in problems)
    assert _files(tmp_path / "s") == _files(tmp_path / "one")


def test_a_finding_on_resources_of_two_shards_is_counted_once(tmp_path: Path) -> None:
    arns = [f"arn:aws:s3:::bucket-{i}" for i in range(8)]
    both = make_finding("both", Resources=[{"Type": "AwsS3Bucket", "Id": arn} for arn in arns])
    source = tmp_path / "in.json"
    source.write_text(json.dumps([both, make_finding("one", arn=arns[0])]))
    for k in (1, 2):
        metahub.load(source, shard=f"{k}/2").write(["shard"], tmp_path / "shards", f"s{k}")
    metahub.merge([tmp_path / "shards"], ["json-statistics", "json-full"], tmp_path / "m", "t")
    whole = metahub.load(source)
    whole.write(["json-statistics", "json-full"], tmp_path / "w", "t")
    assert _files(tmp_path / "m") == _files(tmp_path / "w")
    assert json.loads(_files(tmp_path / "m")["statistics"])["totals"] == {"findings": 2, "resources": 8}


def _owner(arn: str, of: int) -> int:
    return next(k for k in range(1, of + 1) if Shard(k, of).owns(arn))


def _write_shards(source: Path, folder: Path, of: int, made: Any = _shards) -> None:
    for k, part in enumerate(made(source, of, folder), 1):
        part.write(["shard"], folder, f"{k}-{of}")


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (lambda src, d: _write_shards(src, d, 3) or next(d.glob("metahub-shard-2-*")).unlink(), "shard 2/3 missing"),
        (lambda src, d: _write_shards(src, d, 2) or _write_shards(src, d, 3), "different splits"),
        (lambda src, d: _write_shards(src, d, 2) or metahub.load(src, shard="1/2").write(["shard"], d, "again"), "twice"),
        (lambda src, d: d.mkdir() or (d / "metahub-shard-x.jsonl").write_text('{"Id": 1}\n'), "not a metahub shard"),
        (lambda src, d: d.mkdir(), "no shard file"),
    ],
)
def test_shards_that_are_not_one_split_are_refused(arrange: Any, reason: str, tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps([make_finding(f"f{i}", arn=f"arn:aws:s3:::b{i}") for i in range(6)]))
    folder = tmp_path / "shards"
    arrange(source, folder)
    with pytest.raises(ShardError, match=reason):
        metahub.merge([folder], ["json-short"], tmp_path / "m")
    result = metahub_cli("merge", str(folder), "--output-dir", str(tmp_path / "m"))
    assert result.returncode == 2 and reason in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "m").exists()


def test_a_shard_of_another_version_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps([make_finding(f"f{i}", arn=f"arn:aws:s3:::b{i}") for i in range(6)]))
    _write_shards(source, tmp_path / "s", 2)
    older = next((tmp_path / "s").glob("metahub-shard-2-*"))
    lines = older.read_bytes().split(b"\n", 1)
    header = json.loads(lines[0]) | {"version": "0.0.1"}
    older.write_bytes(json.dumps(header).encode() + b"\n" + lines[1])
    with pytest.raises(ShardError, match="different metahub versions"):
        metahub.merge([tmp_path / "s"], ["json-short"], tmp_path / "m")


def test_a_filtered_run_writes_no_shard_and_the_cli_refuses_filters_with_shard(
    asff_fixture: Path, tmp_path: Path
) -> None:
    part = metahub.load(asff_fixture, shard="1/2").filter(findings=["severity=HIGH"])
    with pytest.raises(ValueError, match="filtered"):
        part.write(["shard"], tmp_path)
    with pytest.raises(ValueError, match="shard="):
        metahub.load(asff_fixture).write(["shard"], tmp_path)
    result = metahub_cli("--input-asff", str(asff_fixture), "--shard", "1/2", "--mh-filters-findings", "severity=HIGH")
    assert result.returncode == 2 and "--shard" in result.stderr and "metahub merge" in result.stderr


def test_merge_writes_only_what_it_can_make_whole(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be merged"):
        metahub.merge([tmp_path], ["pdf"], tmp_path / "m")
    result = metahub_cli("merge", str(tmp_path), "--output-modes", "pdf")
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.parametrize("made", [_shards, _split])
@pytest.mark.parametrize("newest_first", [False, True])
def test_a_finding_updated_onto_a_resource_of_another_shard_is_kept_once(
    newest_first: bool, made: Any, tmp_path: Path
) -> None:
    """The latest UpdatedAt wins (as one process reads): a shard that owns only the older version's
    resource keeps nothing of it, whichever came first (a split's part file forgets the older)."""
    first = "arn:aws:s3:::bucket-0"
    other = next(f"arn:aws:s3:::bucket-{i}" for i in range(1, 50) if _owner(f"arn:aws:s3:::bucket-{i}", 2) != _owner(first, 2))
    older = make_finding("moved", arn=first, UpdatedAt="2026-01-01T00:00:00Z")
    newer = make_finding("moved", arn=other, UpdatedAt="2026-02-01T00:00:00Z")
    source = tmp_path / "in.json"
    source.write_text(json.dumps([newer, older] if newest_first else [older, newer]))
    (tmp_path / "shards").mkdir()
    _write_shards(source, tmp_path / "shards", 2, made)
    metahub.merge([tmp_path / "shards"], COMPARED, tmp_path / "m", "t")
    metahub.load(source).write(COMPARED, tmp_path / "w", "t")
    assert _files(tmp_path / "m") == _files(tmp_path / "w")
    assert json.loads(_files(tmp_path / "m")["inventory"]) == [other]


# --- named parts (one account's findings each: the organisation-wide run) ---------------------


def _parts_by_service(findings: list[dict[str, Any]], folder: Path) -> list[Path]:
    """The findings dealt into one file per service of their resource's ARN, named by service;
    returned in the order of the names (the order in which a merge reads named parts)."""
    parts: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        parts.setdefault(finding["Resources"][0]["Id"].split(":")[2], []).append(finding)
    folder.mkdir()
    return [write(folder / f"{name}.json", parts[name]) for name in sorted(parts)]


def test_named_parts_of_the_enriched_lab_merge_into_one_process_over_their_inputs(
    lab_endpoint: str, asff_findings: list[dict[str, Any]], tmp_path: Path
) -> None:
    """One process over the parts' inputs one after another (in the order of the parts' names)
    writes what the merge of the parts writes, byte for byte; here the parts are the lab's services
    (toxic combinations join an instance to its role), shuffled so that the parts' order is the merge's doing."""
    shuffled = list(asff_findings)
    random.Random(3).shuffle(shuffled)
    inputs = _parts_by_service(shuffled, tmp_path / "in")
    assert len(inputs) >= 3
    whole = metahub.load(*inputs)
    whole.enrich(Aws(), progress=False)
    whole.write(COMPARED, tmp_path / "one", "t")
    crossing = [c for c in whole.combinations if len({hop["arn"].split(":")[2] for hop in c["path"]}) > 1]
    assert crossing, "the lab's toxic combinations should cross parts, or this test proves less"
    for source in reversed(inputs):  # written in another order than their names'
        part = metahub.load(source, part=source.stem)
        part.enrich(Aws(), progress=False)
        part.write(["shard"], tmp_path / "parts", source.stem)
    written, failures = metahub.merge([tmp_path / "parts"], COMPARED, tmp_path / "merged", "t")
    assert not failures and len(written) == len(COMPARED)
    expected, got = _files(tmp_path / "one"), _files(tmp_path / "merged")
    for view in expected:
        assert got[view] == expected[view], (view, _first_difference(expected[view], got[view]))


def test_the_command_line_writes_and_merges_named_parts(tmp_path: Path) -> None:
    findings = [make_finding(f"f{i}", arn=f"arn:aws:s3:::b{i}", AwsAccountId=f"11111111111{i % 3}") for i in range(9)]
    modes = ["--output-modes", "json-full", "json-statistics"]
    inputs = []
    for account in sorted({f["AwsAccountId"] for f in findings}):
        source = write(tmp_path / f"{account}.json", [f for f in findings if f["AwsAccountId"] == account])
        inputs.append(str(source))
        result = metahub_cli("--input-asff", str(source), "--part", account, *modes, "--output-dir", str(tmp_path / "p"))
        assert result.returncode == 0, result.stderr
        assert f"part {account} of a larger run" in result.stderr
    merged = metahub_cli("merge", str(tmp_path / "p"), *modes, "--output-dir", str(tmp_path / "m"))
    assert merged.returncode == 0, merged.stderr
    one = metahub_cli("--input-asff", *inputs, *modes, "--output-dir", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr
    assert _files(tmp_path / "m") == _files(tmp_path / "one")
    both = metahub_cli("--input-asff", inputs[0], "--part", "a", "--shard", "1/2")
    assert both.returncode == 2 and "one of them" in both.stderr


def _named(folder: Path, name: str, *arns: str) -> None:
    source = write(folder.parent / f"{name}-{len(arns)}.json", [make_finding(f"{name}{a}", arn=a) for a in arns])
    metahub.load(source, part=name).write(["shard"], folder, f"{name}-{len(arns)}")


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (lambda d: _named(d, "a", "arn:aws:s3:::x", "arn:aws:s3:::y") or _named(d, "b", "arn:aws:s3:::y"),
         "arn:aws:s3:::y is also in"),
        (lambda d: _named(d, "a", "arn:aws:s3:::x") or _named(d, "a", "arn:aws:s3:::y", "arn:aws:s3:::z"),
         "part a twice"),
        (lambda d: _named(d, "a", "arn:aws:s3:::x") or metahub.load(
            write(d.parent / "s.json", [make_finding("s", arn="arn:aws:s3:::s")]), shard="1/1"
        ).write(["shard"], d, "split"), "merge one split or one set of parts"),
    ],
)  # fmt: skip
def test_named_parts_that_are_not_disjoint_are_refused(arrange: Any, reason: str, tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    arrange(folder)
    with pytest.raises(ShardError, match=reason):
        metahub.merge([folder], ["json-short"], tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("name", ["", " a", "a\nb"])
def test_a_part_has_a_name(name: str) -> None:
    with pytest.raises(ValueError, match="no part name"):
        metahub.load(part=name)


def test_a_split_run_enriched_lists_each_type_once_and_writes_one_runs_files(
    lab_endpoint: str, asff_fixture: Path, tmp_path: Path
) -> None:
    """Each shard is enriched in turn; what the first listed, the others reuse (a whole type in an
    account and region), so the calls stay near one process's, and the files are one process's."""
    modes = ["--context", "config", "--output-modes", "json-full"]
    one = metahub_cli("--input-asff", str(asff_fixture), *modes, "--output-dir", str(tmp_path / "one"),
                      endpoint=lab_endpoint)  # fmt: skip
    split = metahub_cli("--input-asff", str(asff_fixture), "--split", "3", *modes, "--output-dir", str(tmp_path / "s"),
                        endpoint=lab_endpoint)  # fmt: skip
    assert one.returncode == split.returncode, split.stderr
    assert _files(tmp_path / "s") == _files(tmp_path / "one")
    calls = [int(re.search(r"AWS calls: (\d+)", run.stderr)[1]) for run in (one, split)]  # type: ignore[index]
    assert calls[1] <= calls[0] * 1.5, calls


def test_the_demo_split_builds_its_account_once(tmp_path: Path) -> None:
    """moto's accounts live in the process: the emulated account is built once for every shard
    (a second build collided: EntityAlreadyExists), and the split finds what the whole run finds."""
    whole = metahub_cli("--demo", "--output-modes", "json-short", "--output-dir", str(tmp_path / "one"))
    split = metahub_cli("--demo", "--split", "2", "--output-modes", "json-short", "--output-dir", str(tmp_path / "s"))
    assert whole.returncode == split.returncode == 0, split.stderr
    assert split.stderr.count("starting the emulated demo account") == 1
    found = next(line for line in whole.stderr.splitlines() if line.startswith("metahub: found"))
    assert found in split.stderr
    assert _files(tmp_path / "s") == _files(tmp_path / "one")
