"""Hostile and broken input: one clear line naming the file and position; the rest still read."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

import metahub

from .conftest import make_finding, metahub_cli, write


def _problems(run: metahub.Run) -> list[str]:
    return [str(p) for p in run.report.problems]


def test_missing_file_does_not_stop_the_others(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", [make_finding("1")])
    run = metahub.load(tmp_path / "missing.json", good)
    assert [f.Id for f in run.findings] == ["1"]
    assert _problems(run) == [f"{tmp_path / 'missing.json'}: cannot open: No such file or directory"]


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("<html>not json</html>")
    (problem,) = metahub.load(path).report.unreadable
    assert (
        problem.source == str(path)
        and "not valid JSON" in problem.reason
        and "line 1 column 1" in problem.reason
    )


def test_truncated_array_keeps_complete_findings(tmp_path: Path) -> None:
    text = json.dumps([make_finding(str(i)) for i in range(4)], indent=2)
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('"Id": "3"') + 4])
    run = metahub.load(path)
    assert [f.Id for f in run.findings] == ["0", "1", "2"]
    (problem,) = run.report.unreadable
    assert "inside [3]" in problem.reason and "line " in problem.reason
    assert "3 complete finding(s)" in problem.reason


def test_truncated_security_hub_shape(tmp_path: Path) -> None:
    text = json.dumps({"Findings": [make_finding("a"), make_finding("b")]})
    path = tmp_path / "cut.json"
    path.write_text(text[:-30])
    run = metahub.load(path)
    assert [f.Id for f in run.findings] == ["a"]
    assert "inside .Findings[1]" in run.report.unreadable[0].reason


def test_truncated_gzip_keeps_what_was_decompressed(tmp_path: Path) -> None:
    data = gzip.compress(json.dumps([make_finding(str(i)) for i in range(200)]).encode())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    run = metahub.load(path)
    reasons = [p.reason for p in run.report.unreadable]
    assert any("corrupt gzip stream" in r for r in reasons)
    assert 0 < len(run.findings) < 200
    assert [f.Id for f in run.findings] == [str(i) for i in range(len(run.findings))]


def test_wrong_top_level_shape(tmp_path: Path) -> None:
    for content, expected in (("42", "got a number"), ('"x"', "got a string"), ('{"foo": 1}', "keys: 'foo'")):
        path = tmp_path / "shape.json"
        path.write_text(content)
        run = metahub.load(path)
        assert run.findings == []
        assert len(run.report.problems) == 1 and expected in str(run.report.problems[0]), content


def test_findings_missing_required_fields(tmp_path: Path) -> None:
    no_id = make_finding()
    del no_id["Id"]
    no_resources = make_finding("r")
    no_resources["Resources"] = []
    no_account = make_finding("a")
    del no_account["AwsAccountId"]
    bad_account = make_finding("b", AwsAccountId="../../etc")
    path = write(tmp_path / "a.json", [no_id, make_finding("ok"), no_resources, no_account, bad_account, 7])
    run = metahub.load(path)
    assert [f.Id for f in run.findings] == ["ok"]
    assert run.report.read == 6
    problems = _problems(run)
    assert problems[0] == f"{path}: [0]: Id: Field required"
    assert problems[1].startswith(f"{path}: [2] (Id 'r'): Resources: List should have at least 1 item")
    assert problems[2] == f"{path}: [3] (Id 'a'): AwsAccountId: Field required"
    assert "AwsAccountId: String should match pattern" in problems[3]
    assert problems[4] == f"{path}: [5]: expected a finding object, got a number"


def test_bad_dates_and_severity(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.json",
        [make_finding("d", UpdatedAt="yesterday"), make_finding("s", Severity={"Label": "SEVERE"})],
    )
    run = metahub.load(path)
    problems = _problems(run)
    # an optional time that is no time costs the field, not the finding (issue 23)
    assert problems[0] == f"{path}: [0] (Id 'd'): UpdatedAt 'yesterday' is not a time: dropped, the finding kept"
    assert [f.Id for f in run.findings] == ["d"]
    assert "unknown severity label 'SEVERE'" in problems[1]


def test_non_utf8(tmp_path: Path) -> None:
    good = json.dumps(make_finding("1")).encode()
    path = tmp_path / "latin1.json"
    path.write_bytes(b"[" + good + b',\n{"Id": "caf\xe9"}]')
    run = metahub.load(path)
    assert [f.Id for f in run.findings] == ["1"]
    # read as U+FFFD, not cut there: damage repaired (exit 1), not an unreadable input (exit 2)
    assert "not UTF-8: byte 0xe9" in run.report.repaired[0].reason and not run.report.unreadable
    assert run.report.repaired[0].where == "line 2"
    lines = tmp_path / "latin1.jsonl"
    lines.write_bytes(good + b'\n{"Id": "caf\xe9"}\n' + good.replace(b'"1"', b'"2"') + b"\n")
    run = metahub.load(lines)
    assert [f.Id for f in run.findings] == ["1", "2"]
    # the line is read with U+FFFD too, and then rejected for what it is: not a finding
    assert str(run.report.repaired[0]).startswith(f"{lines}: line 2: not UTF-8: byte 0xe9")
    assert run.report.rejected[0].where == "line 2 (Id 'caf\ufffd')"


def test_empty_and_blank_files(tmp_path: Path) -> None:
    for content in ("", "\n  \n"):
        path = tmp_path / "empty.json"
        path.write_text(content)
        assert _problems(metahub.load(path)) == [f"{path}: empty file: no JSON in it"]


def test_json_lines_with_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text(
        "\n".join(
            [
                '{"broken": ',
                json.dumps(make_finding("1")),
                json.dumps(make_finding("2", AwsAccountId="x")),
                json.dumps(make_finding("3")),
            ]
        )
    )
    run = metahub.load(path)
    assert [f.Id for f in run.findings] == ["1", "3"]
    problems = _problems(run)
    assert problems[0].startswith(f"{path}: line 1: not valid JSON: EOF while parsing")
    assert problems[1].startswith(f"{path}: line 3 (Id '2'): AwsAccountId")


def test_hostile_ids_are_quoted_in_messages(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", [make_finding("\x1b[31mred\x1b[0m", AwsAccountId="1")])
    (problem,) = _problems(metahub.load(path))
    assert "\x1b" not in problem and "\\x1b[31mred" in problem


def test_cli_exit_codes_and_no_tracebacks(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", [make_finding("1")])
    rejected = write(tmp_path / "rejected.json", [make_finding("2"), make_finding("3", AwsAccountId="x")])
    broken = tmp_path / "broken.json"
    broken.write_text("[{")

    ok = metahub_cli("--input-asff", str(good), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "1 findings read, 0 rejected" in ok.stderr

    some = metahub_cli("--input-asff", str(good), str(rejected), cwd=tmp_path)
    assert some.returncode == 1
    assert f"{rejected}: [1] (Id '3'): AwsAccountId" in some.stderr

    bad = metahub_cli("--input-asff", str(broken), str(good), "--output-dir", "out", cwd=tmp_path)
    assert bad.returncode == 2
    assert f"metahub: {broken}: not valid JSON" in bad.stderr
    short = json.loads(next((tmp_path / "out").glob("metahub-short-*.json")).read_text())
    assert list(short) == ["arn:aws:s3:::bucket-a"]  # the good file's findings were still written

    usage = metahub_cli(cwd=tmp_path)
    # no file named: Security Hub, as in MetaHub; without credentials, one line that says so
    assert usage.returncode == 2 and "--input-asff FILE" in usage.stderr
    wrong_flag = metahub_cli("--output-modes", "pdf", cwd=tmp_path)
    assert wrong_flag.returncode == 2
    for result in (ok, some, bad, usage, wrong_flag):
        assert "Traceback" not in result.stderr


def test_cli_caps_problem_lines_and_writes_them_all(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", [make_finding(str(i), AwsAccountId="x") for i in range(30)])
    result = metahub_cli("--input-asff", str(path), "--output-dir", "out", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("AwsAccountId: String should match") == 20
    assert "... and 10 more problem(s); all are in" in result.stderr
    problems = json.loads(next((tmp_path / "out").glob("metahub-problems-*.json")).read_text())
    assert len(problems) == 30 and problems[29]["where"] == "[29] (Id '29')"


def test_concatenated_documents_lose_nothing(tmp_path: Path) -> None:
    first = json.dumps([make_finding(f"a-{i}") for i in range(3)], indent=2)
    second = json.dumps({"Findings": [make_finding(f"b-{i}") for i in range(2)]}, indent=2)
    path = tmp_path / "cat.json"
    path.write_text(first + "\n" + second + "\n")  # cat a.json b.json
    run = metahub.load(path)
    assert len(run.findings) == 5 and not run.report.problems


def test_a_stray_line_costs_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "stray.json"
    document = json.dumps([make_finding(f"a-{i}") for i in range(4)], indent=2)
    path.write_text(document + "\nSome note somebody typed\n")
    run = metahub.load(path)
    assert len(run.findings) == 4  # before: 0 of 4, and a problem for every line
    (problem,) = run.report.problems
    assert problem.where == f"line {document.count(chr(10)) + 2}" and "not valid JSON" in problem.reason


def test_an_invalid_utf8_byte_costs_nothing_after_it(tmp_path: Path) -> None:
    findings = [make_finding(f"a-{i}", Title=f"title {i}") for i in range(5)]
    data = json.dumps(findings, indent=2).encode().replace(b"title 1", b"title \xff1")
    path = tmp_path / "bad-byte.json"
    path.write_bytes(data)
    run = metahub.load(path)
    assert len(run.findings) == 5  # before: every finding after the byte was lost
    assert "\ufffd" in next(f.Title for f in run.findings if f.Id == "a-1")
    (problem,) = run.report.problems
    assert "not UTF-8: byte 0xff" in problem.reason and problem.where.startswith("line ")


def test_a_closed_pipe_loses_no_output_file(tmp_path: Path) -> None:
    """`metahub --list-findings full | head -1`: the reader leaves early; the files are still written."""
    import subprocess
    import sys

    source = write(
        tmp_path / "f.json", [make_finding(f"f-{i}", arn=f"arn:aws:s3:::b-{i}") for i in range(3000)]
    )
    command = [sys.executable, "-m", "metahub", "--no-banners", "--input-asff", str(source),
               "--list-findings", "full", "--output-modes", "json-short", "--output-dir", str(tmp_path / "out")]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read().decode()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert len(json.loads(next((tmp_path / "out").glob("metahub-short-*.json")).read_text())) == 3000


def test_an_internal_error_is_one_line_and_its_own_exit_status(
    tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    from metahub import cli
    from metahub.cli import outputs

    def broken(*_: Any, **__: Any) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(outputs, "write", broken)
    source = write(tmp_path / "f.json", [make_finding()])
    assert cli.main(["--input-asff", str(source), "--output-modes"]) == cli.EXIT_INTERNAL == 70
    err = capsys.readouterr().err
    assert "metahub: internal error, please report it" in err and "KeyError: 'a bug'" in err
    assert "Traceback" not in err


def test_ctrl_d_at_the_confirmation_means_no(monkeypatch: Any) -> None:
    from metahub.cli import hub

    def eof(_: str) -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", eof)
    monkeypatch.setattr(hub.sys.stdin, "isatty", lambda: True)
    assert hub.confirmed("write these changes to Security Hub?") is False


def test_a_mistyped_flag_gets_the_closest_ones_not_the_usage(capsys: Any) -> None:
    from metahub.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--input-asff", "x.json", "--output-directory", "out"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--output-directory: did you mean --output-dir" in err
    assert len(err.splitlines()) == 3  # the error, the hint, where to look; no usage dump


def test_a_checks_folder_that_is_not_there_is_an_error(tmp_path: Path) -> None:
    source = write(tmp_path / "f.json", [make_finding()])
    (tmp_path / "empty").mkdir()
    for folder, message in ((tmp_path / "missing", "no such directory"), (tmp_path / "empty", "no *.py files")):
        result = metahub_cli("--input-asff", str(source), "--checks-dir", str(folder), "--output-modes")
        assert result.returncode == 2 and f"cannot load checks: {folder}: {message}" in result.stderr
