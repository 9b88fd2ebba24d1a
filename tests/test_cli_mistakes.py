"""Every mistake a person can make on the command line or in the environment is exit 2 with one
line naming it, never 70 ("a bug") and never a write: one row per mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from metahub.aws_lambda import VARIABLES
from metahub.cli import main
from metahub.cli.default import LAMBDA_ONLY

from .conftest import make_finding, metahub_cli, write


def _broken_plugin(tmp: Path) -> str:
    folder = tmp / "plugins"
    folder.mkdir()
    (folder / "broken.py").write_text("raise ValueError('the plug-in is broken')\n")
    return str(folder)


MISTAKES: list[tuple[str, Any, str]] = [
    # (id, extra arguments given the temporary folder, what the one line says)
    ("log-file-in-missing-folder", lambda t: ["--log-file", str(t / "nowhere" / "x.log")], "--log-file"),
    ("log-file-is-a-folder", lambda t: ["--log-file", str(t)], "--log-file"),
    ("plug-in-raises-on-import", lambda t: ["--checks-dir", _broken_plugin(t)], "ValueError: the plug-in is broken"),
    ("confirmation-both-ways", lambda t: ["--actions-confirmation", "--no-actions-confirmation"], "contradict"),
    ("banners-both-ways", lambda t: ["--banners", "--no-banners"], "contradict"),
    ("tags-all-without-tags", lambda t: ["--mh-filters-tags-all"], "no --mh-filters-tags was given"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "said"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_a_mistake_is_exit_2_with_one_line(extra: Any, said: str, tmp_path: Path, capsys: Any) -> None:
    source = write(tmp_path / "in.json", [make_finding()])
    argv = ["--input-asff", str(source), "--output-dir", str(tmp_path / "out"), *extra(tmp_path)]
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own refusal
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert said in err and "Traceback" not in err and "internal error" not in err
    assert not (tmp_path / "out").exists()  # nothing written


def test_an_incomplete_filter_never_reaches_security_hub(tmp_path: Path) -> None:
    """The campaign's case: with every write flag set, a modifier without its filter is refused
    before Security Hub is even asked (here there is none: a call would be another error)."""
    result = metahub_cli(
        "--inputs", "securityhub", "--mh-filters-tags-all", "--update-findings", "Workflow=NOTIFIED",
        "--no-actions-confirmation", "--sh-region", "eu-west-1", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "no --mh-filters-tags was given" in result.stderr and "Security Hub" not in result.stderr


def test_list_findings_with_stdout_closed(tmp_path: Path) -> None:
    source = write(tmp_path / "in.json", [make_finding()])
    result = subprocess.run(
        [sys.executable, "-m", "metahub", "--input-asff", str(source), "--list-findings", "short"],
        stdout=None, stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=120, close_fds=True,
        preexec_fn=lambda: __import__("os").close(1),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "stdout is closed" in result.stderr


def test_the_environments_dry_run_is_honoured(tmp_path: Path, lab_endpoint: str) -> None:
    """METAHUB_DRY_RUN (the Lambda's) means the same to the command line: plan, write nothing."""
    source = write(tmp_path / "in.json", [make_finding()])
    result = metahub_cli(
        "--input-asff", str(source), "--update-findings", "Workflow=NOTIFIED", "--sh-region", "eu-west-1",
        "--no-actions-confirmation", "--output-dir", "out", cwd=tmp_path, endpoint=lab_endpoint,
        env={"METAHUB_DRY_RUN": "true"},
    )  # fmt: skip
    assert "dry run, nothing written to Security Hub" in result.stderr, result.stderr
    refused = metahub_cli("--input-asff", str(source), cwd=tmp_path, env={"METAHUB_DRY_RUN": "ture"})
    assert refused.returncode == 2 and "METAHUB_DRY_RUN" in refused.stderr


@pytest.mark.parametrize("name", sorted(LAMBDA_ONLY))
def test_a_lambda_variable_the_cli_does_not_read_is_refused(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """What the Lambda honours from the environment the CLI honours too, or refuses: an ignored
    METAHUB_FILTERS_CHECKS would silently widen an update to every resource."""
    source = write(tmp_path / "in.json", [make_finding()])
    monkeypatch.setenv(name, "is_public=True")
    status = main(["--input-asff", str(source), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and name in err and LAMBDA_ONLY[name] in err, err
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv(name, " ")  # set but empty says nothing: the run goes on
    assert main(["--input-asff", str(source), "--output-dir", str(tmp_path / "out")]) == 0


def test_every_lambda_variable_is_honoured_or_refused_by_the_cli() -> None:
    assert set(VARIABLES) == {*LAMBDA_ONLY, "METAHUB_DRY_RUN"}


@pytest.mark.parametrize(("signal_name", "status"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_while_writing_leaves_only_complete_files(
    signal_name: str, status: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The signal lands while the CSV is written: the JSON written before it stays whole, the CSV
    and the HTML that were claimed leave nothing behind, and the status is 128 + the signal."""
    import os
    import signal

    from metahub import tabular

    def interrupted(*_: Any, **__: Any) -> None:
        os.kill(os.getpid(), getattr(signal, signal_name))

    monkeypatch.setattr(tabular, "write_csv", interrupted)
    source = write(tmp_path / "in.json", [make_finding()])
    out = tmp_path / "out"
    argv = ["--no-banners", "--input-asff", str(source), "--output-modes", "json-short", "csv", "html", "--output-dir", str(out)]
    assert main(argv) == status
    left = sorted(p.name for p in out.iterdir())
    assert len(left) == 1 and left[0].startswith("metahub-short-") and (out / left[0]).stat().st_size > 0
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # main put back what it found
    assert "Traceback" not in capsys.readouterr().err


def test_ctrl_c_while_the_command_line_loads_is_one_line_and_130() -> None:
    """Ctrl-C in the half second the modules take to load (boto3, pydantic): Python raises
    KeyboardInterrupt inside whichever import runs; here the import of boto3 raises it, as the
    signal would, and the command line still ends with one line and 130, no traceback."""
    import subprocess
    import sys

    interrupt_on_boto3 = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'boto3':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "import runpy\n"
        "runpy.run_module('metahub', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", interrupt_on_boto3, "--help"], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (130, "\nmetahub: interrupted\n")


def test_importing_the_package_loads_nothing_heavy() -> None:
    """``import metahub`` (and so ``import metahub.cli``'s first step) imports neither pandas nor
    boto3; the public names load on first use and keep their types."""
    import subprocess
    import sys

    probe = "import sys, metahub; print(sorted({'pandas', 'boto3'} & set(sys.modules))); print(metahub.load.__module__)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "metahub.run"]
    import metahub

    assert set(metahub.__all__) == {*metahub._HOMES, "__version__"}  # every public name has a home
