"""One progress mechanism (tqdm): drawn on a terminal, with a total known from the start."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

import metahub
import metahub.progress


def _on_a_terminal(*args: str, cwd: Path) -> str:
    """The command line with stdout and stderr on a pseudo-terminal 100 columns wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "metahub", "--no-banners", *args],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=cwd,
    )  # fmt: skip
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    process.wait(timeout=300)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode(errors="replace")).replace("\r", "\n")


def test_the_demo_draws_its_stages_on_a_terminal_and_nothing_when_quiet(tmp_path: Path) -> None:
    shown = _on_a_terminal("--demo", "--output-modes", cwd=tmp_path)
    assert re.search(r"metahub: building the demo account: 100%\|.*\| 3/3", shown), shown
    fetched = re.findall(r"metahub: fetching context: +\d+%\|.*?\| (\d+)/(\d+)", shown)
    assert fetched and fetched[-1][0] == fetched[-1][1]
    assert len({total for _, total in fetched}) == 1  # the total never grows
    quiet = _on_a_terminal("--demo", "--output-modes", "--quiet", cwd=tmp_path)
    assert "%|" not in quiet


def test_enrichment_reports_groups_against_a_fixed_total(
    lab_endpoint: str, asff_fixture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int | None]] = []

    class Recording(metahub.progress.Bar):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "enabled": False})

        def update(self, done: int, total: int | None = None) -> None:
            seen.append((done, total))

    monkeypatch.setattr(metahub.progress, "Bar", Recording)
    monkeypatch.setattr(metahub.progress, "watched", lambda: True)
    run = metahub.load(asff_fixture, only_failed=True)
    run.enrich(contexts=["config"])
    (total,) = {total for _, total in seen}  # one total, from before the first call to the last
    assert total and seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)  # never backwards
