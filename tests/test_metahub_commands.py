"""MetaHub muscle memory: every command line of MetaHub's README (v1 and v2), as typed, against an
emulated Security Hub holding the lab's findings. The table in docs/metahub-commands.md is the
expectation; this test keeps it true."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from metahub.cli import main

from .conftest import HUB_REGION, emulator_environment, make_finding, write

TABLE = Path(__file__).resolve().parent.parent / "docs" / "metahub-commands.md"
ROW = re.compile(r"^\| (v1|v2) \| `(.+)` \| (identical|equivalent|refused) \| (.*) \|$")
ROWS = [m.groups() for line in TABLE.read_text().splitlines() if (m := ROW.match(line))]
# MetaHub v2's own template file, as in its repository's templates/default.yml
TEMPLATE = """Default:
  WorkflowStatus:
    - Value: "NEW"
      Comparison: EQUALS
  RecordState:
    - Value: "ACTIVE"
      Comparison: EQUALS
  ProductName:
    - Value: "Security Hub"
      Comparison: EQUALS
"""


def test_the_table_holds_both_readmes() -> None:
    assert sum(1 for r in ROWS if r[0] == "v1") >= 15 and sum(1 for r in ROWS if r[0] == "v2") >= 24
    assert len(ROWS) == sum(1 for line in TABLE.read_text().splitlines() if line.startswith("| v"))


@pytest.mark.parametrize(
    ("readme", "command", "verdict", "note"), ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)]
)
def test_a_metahub_command_line(
    readme: str,
    command: str,
    verdict: str,
    note: str,
    lab_endpoint: str,
    in_hub: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    write(tmp_path / "file.json.asff", [make_finding("a")])
    write(tmp_path / "file2.json.asff", [make_finding("b", arn="arn:aws:s3:::bucket-b")])
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.yml").write_text(TEMPLATE)
    monkeypatch.chdir(tmp_path)
    argv = [word.replace("path/to/the/", "") for word in shlex.split(command)[1:]]
    with emulator_environment(lab_endpoint):
        monkeypatch.setenv("AWS_DEFAULT_REGION", HUB_REGION)
        try:
            status = main(argv)
        except SystemExit as exit_:  # --help, and argparse's own errors
            status = exit_.code
    out, err = capsys.readouterr()
    # (moto's in-process server prints its own tracebacks for APIs it lacks, such as LookupEvents)
    assert not re.search(r'File "[^"]*/metahub/[^"]*\.py"', err), err
    if verdict == "refused":
        assert status == 2 and "error" in err, err
        return
    writes = "--update-findings" in argv or "--enrich-findings" in argv
    if writes:  # asks first; no terminal here, so nothing is written
        assert status == 2 and "needs confirmation and stdin is not a terminal" in err, err
        assert "findings read" in err
        return
    assert status == 0, err
    if "-h" in argv or "--help" in argv or "--list-metachecks" in argv:
        assert "is_public" in out or "usage: metahub" in out
    else:
        assert re.search(r"\d+ findings read, 0 rejected", err), err
    if "--list-findings" in argv:
        assert out.lstrip().startswith("{")
