"""The command line as a package of commands: the default command's flags come from one table,
named commands dispatch, and no function in it grows past what a reader takes in at once."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from metahub.cli import COMMANDS, build_parser, main
from metahub.cli.flags import RUN

CLI = Path(__file__).resolve().parent.parent / "metahub" / "cli"


def test_the_default_parser_is_the_flag_table() -> None:
    table = {name for group in RUN for one in group.flags for name in one.names}
    parsed = {o for action in build_parser()._actions for o in action.option_strings}
    negations = {f"--no-{name[2:]}" for name in table}  # --banners / --no-banners: one table row
    assert parsed - table - negations == {"-h", "--help", "--version"}
    assert table <= parsed
    titles = [g.title for g in build_parser()._action_groups][2:]
    assert titles == [g.title for g in RUN]


def test_list_checks_is_a_command_and_the_old_flag_alike(capsys: Any) -> None:
    assert "list-checks" in COMMANDS
    assert main(["list-checks", "--json"]) == 0
    as_command = json.loads(capsys.readouterr().out)
    assert main(["--list-meta-checks", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == as_command
    assert "is_public" in as_command["AwsS3Bucket"]
    assert main(["list-checks"]) == 0
    assert capsys.readouterr().out.startswith("Aws")


def test_a_command_reports_usage_errors_as_the_default_does(tmp_path: Path, capsys: Any) -> None:
    assert main(["list-checks", "--checks-dir", str(tmp_path / "nowhere")]) == 2
    assert "metahub: error: cannot load checks:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:  # argparse's own exit, as for the default command
        main(["list-checks", "--jsn"])
    assert stopped.value.code == 2
    assert "did you mean --json" in capsys.readouterr().err


def test_no_function_of_the_command_line_is_long() -> None:
    long = [
        f"{path.name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in sorted(CLI.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 50
    ]
    assert long == []
