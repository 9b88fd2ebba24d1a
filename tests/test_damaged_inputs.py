"""Damage costs at most what it touches: one row per kind of damage, each built at test time from
the bundled demo sample (its first 30 findings), asserting that every finding is read (by id),
the warning that names the damage, and that a repair is exit 1 ("read, with damage"), not 2."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.cli import main
from metahub.demo import demo_findings


def _sample() -> list[dict[str, Any]]:
    raw = Path(demo_findings()).read_bytes()
    data = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    return list(data["Findings"] if isinstance(data, dict) else data)[:30]


SAMPLE = _sample()
ARRAY = json.dumps(SAMPLE, indent=1).encode()
LINES = [json.dumps(f).encode() for f in SAMPLE]
TITLE = b'"Title": "'

DAMAGE: list[tuple[str, Callable[[], bytes], str]] = [
    # (id, the damaged file, what the warning says)
    ("raw-nul-in-a-title", lambda: ARRAY.replace(TITLE, TITLE + b"\x00", 1), "raw control character(s) inside strings (first: 0x00)"),
    ("raw-tab-in-a-title", lambda: ARRAY.replace(TITLE, TITLE + b"\t", 1), "raw control character(s) inside strings (first: 0x09)"),
    ("raw-controls-in-json-lines", lambda: b"\n".join(line.replace(b'"Title": "', b'"Title": "\x01') for line in LINES), "first: 0x01"),
    ("bom-on-every-line", lambda: b"".join(b"\xef\xbb\xbf" + line + b"\n" for line in LINES), ""),
    ("nul-padding-of-a-preallocated-file", lambda: ARRAY + b"\x00" * (3 << 20), "NUL padding from byte"),
    ("a-little-nul-padding", lambda: ARRAY + b"\x00" * 100, "NUL padding from byte"),
    ("invalid-utf8-in-a-title", lambda: ARRAY.replace(TITLE, TITLE + b"\xff", 1), "not UTF-8: byte 0xff"),
    ("json-lines-then-a-pretty-array", lambda: b"\n".join(LINES[:15]) + b"\n" + json.dumps(SAMPLE[15:], indent=2).encode(), ""),
    ("block-comments-between-findings", lambda: ARRAY.replace(b"\n },\n {", b"\n },\n /* note */\n {", 3), "3 comment(s)"),
    ("line-comments-between-findings", lambda: ARRAY.replace(b"\n },\n {", b"\n },\n // note\n {", 2), "2 comment(s)"),
    ("hash-comment-line-in-json-lines", lambda: b"\n".join(LINES[:10]) + b"\n# exported by hand\n" + b"\n".join(LINES[10:]), "a comment line"),
    ("trailing-comma-closing-the-array", lambda: ARRAY[: ARRAY.rindex(b"}") + 1] + b",\n]", "1 trailing comma(s) (first at line"),
    ("trailing-comma-closing-a-finding", lambda: ARRAY.replace(b"\n }\n", b",\n }\n", 1), "1 trailing comma(s)"),
    ("extra-commas-between-findings", lambda: ARRAY.replace(b"\n },\n {", b"\n },,\n {", 2), "2 extra comma(s)"),
    ("extra-comma-beside-other-damage", lambda: ARRAY.replace(b"\n },\n {", b"\n },,\n {", 1).replace(b"\n },\n {", b"\n },\n /* x */ {", 1), "which JSON does not allow: skipped"),
    ("json-lines-each-ending-in-a-comma", lambda: b",\n".join(LINES) + b",\n", "30 comma(s) between documents"),
    ("two-arrays-each-with-a-bom", lambda: b"\xef\xbb\xbf" + json.dumps(SAMPLE[:15]).encode() + b"\n\xef\xbb\xbf" + json.dumps(SAMPLE[15:]).encode(), ""),
]  # fmt: skip


def test_a_character_cut_at_the_end_is_no_internal_error(tmp_path: Path, capsys: Any) -> None:
    """A file cut inside a multi-byte character (and so inside its array): every complete finding
    is read, the cut is named, and the status is 2 (the array is not closed), never 70."""
    path = tmp_path / "cut.json"
    path.write_bytes(ARRAY.replace(TITLE, TITLE + "é".encode(), 1)[:-1] + "é".encode()[:1])
    run = metahub.load(str(path))
    assert {f.Id for f in run.findings} == {f["Id"] for f in SAMPLE}
    assert any("unexpected end of data" in str(p) for p in run.report.repaired)
    assert main(["--no-banners", "--input-asff", str(path), "--output-modes"]) == 2
    assert "internal error" not in capsys.readouterr().err


@pytest.mark.parametrize(("damaged", "said"), [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_damage_costs_no_finding(damaged: Callable[[], bytes], said: str, tmp_path: Path) -> None:
    path = tmp_path / "damaged.json"
    path.write_bytes(damaged())
    run = metahub.load(str(path))
    assert {f.Id for f in run.findings} == {f["Id"] for f in SAMPLE}
    assert run.report.unreadable == [] and run.report.rejected == []
    assert all(said in str(p) for p in run.report.repaired) and bool(run.report.repaired) == bool(said)


def test_a_comma_inside_a_string_is_kept() -> None:
    """Only commas that close an array or object go: a title holding ``,]`` stays as it was."""
    title = SAMPLE[0]["Title"]
    damaged = json.dumps([{**SAMPLE[0], "Title": title + ",]"}, *SAMPLE[1:]], indent=1).encode()
    findings = metahub.load(io.BytesIO(damaged.replace(b"\n }\n", b",\n }\n", 1))).findings
    assert findings[0].Title == title + ",]" and len(findings) == len(SAMPLE)


def test_a_repair_is_exit_1_and_every_output_holds_the_value(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "damaged.json"
    path.write_bytes(ARRAY.replace(TITLE, TITLE + b"\x00", 1))
    modes = ["json-short", "json-full", "csv", "xlsx", "sqlite", "html"]
    status = main(["--no-banners", "--input-asff", str(path), "--output-modes", *modes, "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 1, err
    assert "could not write" not in err
    assert len(list((tmp_path / "out").iterdir())) == len(modes)


OPTIONAL: list[tuple[str, dict[str, Any], bool, str]] = [
    # (id, fields changed on one sample finding, kept?, what is said) - ASFF: the times are optional
    ("an-optional-time-that-is-no-time", {"FirstObservedAt": "T122:29"}, True, "FirstObservedAt 'T122:29' is not a time: dropped"),
    ("two-optional-times", {"FirstObservedAt": "T1", "LastObservedAt": "x"}, True, "is not a time: dropped"),
    ("an-optional-time-of-the-wrong-type", {"CreatedAt": [1]}, False, "CreatedAt: Input should be a valid datetime"),
    ("a-required-field-beside-a-bad-time", {"FirstObservedAt": "T1", "AwsAccountId": "x"}, False, "AwsAccountId"),
]  # fmt: skip


@pytest.mark.parametrize(("changed", "kept", "said"), [o[1:] for o in OPTIONAL], ids=[o[0] for o in OPTIONAL])
def test_optional_fields_stay_optional(changed: dict[str, Any], kept: bool, said: str, tmp_path: Path) -> None:
    damaged = [{**SAMPLE[0], **changed}, *SAMPLE[1:]]
    path = tmp_path / "findings.json"
    path.write_text(json.dumps(damaged))
    run = metahub.load(str(path))
    expected = {f["Id"] for f in SAMPLE} - (set() if kept else {SAMPLE[0]["Id"]})
    assert {f.Id for f in run.findings} == expected
    said_where = run.report.repaired if kept else run.report.rejected
    assert len(said_where) >= 1 and all(said in str(p) for p in said_where)
    if kept:
        (first,) = [f for f in run.findings if f.Id == SAMPLE[0]["Id"]]
        assert all(getattr(first, name) is None for name in changed)


def test_a_named_pipe_nobody_writes_to_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A FIFO with no writer held the run for ever; now it is waited for PIPE_WAIT seconds, named
    as a problem, and the other inputs are read. A writer that comes in time is read as a file."""
    import os
    import threading

    from metahub import ingest

    monkeypatch.setattr(ingest, "PIPE_WAIT", 0.5)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    other = tmp_path / "other.json"
    other.write_bytes(ARRAY)
    run = metahub.load(str(fifo), str(other))
    assert {f.Id for f in run.findings} == {f["Id"] for f in SAMPLE}
    assert [str(p) for p in run.report.unreadable] == [f"{fifo}: cannot open: a named pipe nothing was written to in 0.5 s"]

    def late_writer() -> None:
        with open(fifo, "wb") as pipe:
            pipe.write(ARRAY)

    threading.Timer(0.1, late_writer).start()
    monkeypatch.setattr(ingest, "PIPE_WAIT", 10.0)
    assert {f.Id for f in metahub.load(str(fifo)).findings} == {f["Id"] for f in SAMPLE}


def _pipe_with(written: bytes) -> tuple[str, int]:
    """A pipe whose writer wrote ``written`` and stays there, silent: its path (as the shell's
    ``<(command)`` gives one) and the writer's descriptor, to close."""
    import os

    read_end, write_end = os.pipe()
    os.write(write_end, written)
    return f"/proc/self/fd/{read_end}", write_end


def _whole_findings_in(written: bytes) -> list[dict[str, Any]]:
    """The findings of SAMPLE written whole in ``written``: every line, or the array's elements
    that end before the cut."""
    if written.startswith(b"["):
        return max(
            (SAMPLE[:k] for k in range(1, len(SAMPLE) + 1)
             if written.startswith(json.dumps(SAMPLE[:k], indent=1).encode()[:-2])),
            key=len, default=[],
        )  # fmt: skip
    return [f for f, line in zip(SAMPLE, LINES, strict=True) if line + b"\n" in written]


@pytest.mark.parametrize("written", [b"", b"".join(line + b"\n" for line in LINES[:10]), ARRAY[: len(ARRAY) // 2]])
def test_the_deadline_ends_a_silent_pipe_keeping_what_came(written: bytes) -> None:
    """A writer that is there but silent is waited for, as cat would; --deadline ends the wait,
    the findings that came before it are read (whole lines, or the complete findings of a cut
    array) and the input is named as a problem."""
    import os

    path, writer = _pipe_with(written)
    try:
        run = metahub.load(path, deadline=1)
    finally:
        os.close(writer)
    assert [f.Id for f in run.findings] == [f["Id"] for f in _whole_findings_in(written)]
    assert any("the run's deadline (--deadline) passed" in str(p) for p in run.report.unreadable)


def test_a_silent_writer_is_said_while_waited_for(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    import os

    from metahub import ingest

    monkeypatch.setattr(ingest, "SILENCE_NOTE", 0.2)
    path, writer = _pipe_with(b"")
    try:
        metahub.load(path, deadline=1)
    finally:
        os.close(writer)
    assert [r.getMessage() for r in caplog.records if "still waiting" in r.getMessage()] == [
        f"{path}: nothing came for 0.2 s; still waiting (--deadline bounds the wait)"
    ]


def test_a_file_growing_while_read_is_read_as_it_was(tmp_path: Path) -> None:
    """A writer appending for ever (a scanner still working) does not hold the read: the file is
    read up to the size it had when opened."""
    import threading

    path = tmp_path / "growing.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    stop = threading.Event()

    def append() -> None:
        with path.open("ab") as out:
            while not stop.is_set():
                out.write(LINES[0] + b"\n")
                out.flush()

    writer = threading.Thread(target=append)
    writer.start()
    try:
        run = metahub.load(str(path))
        assert writer.is_alive()  # the read ended while the file still grew
    finally:
        stop.set()
        writer.join()
    assert {f.Id for f in run.findings} == {f["Id"] for f in SAMPLE}


def test_the_cli_deadline_ends_a_silent_standard_input(tmp_path: Path) -> None:
    """`slow-scanner | metahub --input-asff - --deadline 2`: the lines that came are written, the
    status is 2 (an input not wholly read), and the run does not wait for the writer."""
    import subprocess
    import sys

    with subprocess.Popen(
        [sys.executable, "-m", "metahub", "--no-banners", "--input-asff", "-", "--deadline", "2",
         "--output-modes", "json-short", "--output-dir", str(tmp_path)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as run:  # fmt: skip
        assert run.stdin is not None and run.stderr is not None
        run.stdin.write(LINES[0].decode() + "\n")
        run.stdin.flush()
        status = run.wait(timeout=120)  # the pipe is still open: only the deadline ends the read
        err = run.stderr.read()
        run.stdin.close()
    assert status == 2, err
    assert "<stdin>: the run's deadline (--deadline) passed" in err
    (short,) = tmp_path.glob("metahub-short-*.json")
    assert SAMPLE[0]["Title"] in short.read_text()


def test_every_output_stores_control_characters(tmp_path: Path, capsys: Any) -> None:
    """A NUL and a BEL in a resource ARN and a title: JSON and SQLite keep them (JSON escaped),
    CSV and XLSX write U+FFFD (a workbook's XML cannot hold them; spreadsheet programs stop at a
    NUL), the HTML report holds them escaped; no output fails."""
    import csv
    import sqlite3

    from openpyxl import load_workbook

    arn, title = "arn:aws:s3:::bucket\x00x", "t\x00\x07itle"
    damaged = {**SAMPLE[0], "Title": title, "Resources": [{**SAMPLE[0]["Resources"][0], "Id": arn}]}
    source = tmp_path / "in.json"
    source.write_text(json.dumps([damaged, *SAMPLE[1:]]))
    out = tmp_path / "out"
    modes = ["json-full", "csv", "xlsx", "sqlite", "html"]
    assert main(["--no-banners", "--input-asff", str(source), "--output-modes", *modes, "--output-dir", str(out)]) == 0
    assert "could not write" not in capsys.readouterr().err
    (full,) = out.glob("metahub-full-*.json")
    assert arn in json.loads(full.read_text()) and "\\u0000" in full.read_text()
    (table,) = out.glob("*.csv")
    rows = list(csv.reader(table.open(encoding="utf-8")))
    assert any("arn:aws:s3:::bucket\ufffdx" in row and "t\ufffd\ufffditle" in row for row in rows)
    (book,) = out.glob("*.xlsx")
    values = {c.value for row in load_workbook(book).active.iter_rows() for c in row}
    assert "arn:aws:s3:::bucket\ufffdx" in values and "t\ufffd\ufffditle" in values
    (db,) = out.glob("*.sqlite")
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT title FROM findings WHERE resource_arn = ?", (arn,)).fetchone() == (title,)
    (page,) = out.glob("*.html")
    assert "\x00" not in page.read_text() and "\\u0000" in page.read_text()
