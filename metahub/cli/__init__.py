"""The command line: ``metahub [FLAGS]`` (the default command, MetaHub's flags) and
``metahub COMMAND [FLAGS]``. Each command is a module with ``parser()`` and ``run(args) -> int``,
a thin layer over the library's public API; this module only picks one and keeps the exit status
meaning what the README says, whatever happens inside."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from metahub.cli import default, diff, list_checks, merge
from metahub.cli.exits import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    UsageError,
)
from metahub.cli.outputs import stdout_gone
from metahub.cli.parsing import Parser


@dataclass(frozen=True)
class Command:
    parser: Callable[[], Parser]
    run: Callable[[argparse.Namespace], int]


COMMANDS = {
    "list-checks": Command(list_checks.parser, list_checks.run),
    "merge": Command(merge.parser, merge.run),
    "diff": Command(diff.parser, diff.run),
}
"""The named commands; anything else is the default command's flags."""
DEFAULT = Command(default.parser, default.run)


def build_parser() -> Parser:
    """The default command's parser."""
    return DEFAULT.parser()


def main(argv: list[str] | None = None) -> int:
    """The command line. Its exit status always means what the README says: an interrupted run
    is 130, and anything unexpected is 70 with one line, never 1 ("some findings were rejected")."""
    previous = _terminate_as_exception()
    try:
        return dispatch(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        print("\nmetahub: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("\nmetahub: terminated (SIGTERM); only complete files were left", file=sys.stderr)
        return EXIT_TERMINATED
    except BrokenPipeError:
        stdout_gone()
        return EXIT_OK
    except Exception as exc:
        logging.getLogger("metahub").debug("internal error", exc_info=True)
        print(
            f"metahub: internal error, please report it (with --log-level DEBUG for the details): "
            f"{type(exc).__name__}: {str(exc)[:300]}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """SIGTERM, raised where the run is, so that it unwinds like Ctrl-C: temporary and placeholder
    files are removed, and the exit status says so (143, 128 + SIGTERM)."""


def _terminate_as_exception() -> Any:
    """Turn SIGTERM into :class:`Terminated` (main thread only); returns the handler it replaced."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminated(signum: int, frame: Any) -> None:
        raise Terminated

    return signal.signal(signal.SIGTERM, terminated)


def dispatch(argv: list[str]) -> int:
    """The command named first, or the default one; a problem found before anything is read is
    one line with the reason (status 2)."""
    command, rest = (COMMANDS[argv[0]], argv[1:]) if argv and argv[0] in COMMANDS else (DEFAULT, argv)
    args = command.parser().parse_args(rest)
    try:
        return command.run(args)
    except UsageError as exc:  # the reason first, and one line to go on with
        print(f"metahub: error: {exc}", file=sys.stderr)
        if exc.show_usage:
            print("metahub: see 'metahub --help' for every flag", file=sys.stderr)
        return EXIT_USAGE
