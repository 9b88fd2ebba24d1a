"""What the command line's exit status means (the README's table), and the error that ends a run
before anything is fetched."""

from __future__ import annotations

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_ACTIONS, EXIT_OUTPUT, EXIT_NO_CONTEXT = 0, 1, 2, 3, 4, 5
EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h): a bug in metahub, never a verdict on the input
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM
"""0 all done; 1 some findings were rejected (the rest went through); 2 usage or unreadable input;
3 not every Security Hub update took; 4 an output could not be written (the others were); 5 context
was asked for and AWS answered no call (every check unknown; the outputs are written and say so)."""

EPILOG = (
    "Exit status: 0 ok, 1 some findings were rejected, 2 usage error, missing credentials or "
    "unreadable input, 3 Security Hub did not take every update, 4 an output could not be written, "
    "5 context reached no AWS account, 70 internal error, 130 interrupted, 143 terminated."
)


class UsageError(Exception):
    """A problem with the command line or a file it names, found before anything is fetched."""

    def __init__(self, message: str, *, show_usage: bool = False) -> None:
        super().__init__(message)
        self.show_usage = show_usage
