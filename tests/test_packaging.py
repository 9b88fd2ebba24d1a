"""What a wheel carries: every data file the package reads at run time, and the demo's extra."""

from __future__ import annotations

import configparser
import subprocess
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

import metahub.demo
from metahub.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _setup() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def test_every_data_file_is_in_the_wheel() -> None:
    """A file missing from package_data works from a checkout and breaks from a wheel (impact.yaml did)."""
    patterns = [p.strip() for p in _setup()["options.package_data"]["metahub"].split(",")]
    tracked = subprocess.run(
        ["git", "ls-files", "metahub"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    data = [Path(f).relative_to("metahub").as_posix() for f in tracked if not f.endswith(".py")]
    assert data, "git ls-files found the package's data files"
    assert [f for f in data if not any(fnmatch(f, p) for p in patterns)] == []


def test_the_demo_has_its_own_extra() -> None:
    extras = _setup()["options.extras_require"]
    assert "moto[server]==5.2.5" in extras["demo"].split()


def test_the_demo_without_moto_says_which_extra(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr(metahub.demo.importlib.util, "find_spec", lambda name: None)
    assert main(["--demo", "--output-modes"]) == 2
    err = capsys.readouterr().err
    assert "needs moto: pip install 'metahub[demo]'" in err and "Traceback" not in err
