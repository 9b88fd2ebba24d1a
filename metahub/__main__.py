"""``metahub`` and ``python -m metahub``: the command line, started so that a Ctrl-C while its
modules load (half a second: boto3, pydantic) ends it like a Ctrl-C later, with one line and 130."""

from __future__ import annotations

import signal
import sys


def main() -> int:
    try:
        from metahub.cli import main as command_line
    except KeyboardInterrupt:
        print("\nmetahub: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    return command_line()


if __name__ == "__main__":
    sys.exit(main())
