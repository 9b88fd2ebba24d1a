"""The one progress mechanism: tqdm bars on stderr, widgets in Jupyter, nothing when nobody watches.

Every long stage reports through :func:`bar`: seeding the demo account, fetching context, paging
Security Hub, writing updates. A bar is drawn only when stderr is a terminal or the code runs in a
notebook kernel, and never with ``quiet``; a log file or CI output gets no carriage returns.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm


def watched() -> bool:
    """Whether someone sees stderr as it happens: a terminal, or a Jupyter kernel's output area."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules


class Bar:
    """A stage's progress: ``update(done, total)`` with the total when known (None: only a count)."""

    def __init__(self, label: str, unit: str, total: int | None, enabled: bool) -> None:
        self._bar: Any = (
            tqdm(
                total=total,
                desc=f"metahub: {label}",
                unit=unit,
                file=sys.stderr,
                dynamic_ncols=True,
                mininterval=0.2,
                leave=True,
            )
            if enabled
            else None
        )

    def update(self, done: int, total: int | None = None) -> None:
        bar = self._bar
        if bar is None:
            return
        if total is not None and total != bar.total:
            bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextmanager
def bar(label: str, unit: str, total: int | None = None, *, quiet: bool = False) -> Iterator[Bar]:
    """A progress bar for the block; it closes (and stays on screen, finished) when the block ends."""
    progress = Bar(label, unit, total, enabled=not quiet and watched())
    try:
        yield progress
    finally:
        progress.close()
