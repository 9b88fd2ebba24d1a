"""``metahub list-checks``: the MetaChecks per resource type (built-in, and those of --checks-dir
and the ``metahub.checks`` entry points), as text or JSON. ``--list-meta-checks`` of the default
command is the same."""

from __future__ import annotations

import argparse
import json
import sys

from metahub.checks.base import all_checks, load_plugins
from metahub.cli.exits import EXIT_OK, UsageError
from metahub.cli.parsing import Group, Parser, build, flag

FLAGS = (
    Group(
        "Checks",
        (
            flag("--checks-dir", action="append", default=[], metavar="DIR",
                 help="also load MetaChecks from the *.py files in DIR (repeatable)"),
            flag("--json", action="store_true", help="as JSON (type -> check -> doc, needs, module)"),
        ),
    ),
)  # fmt: skip


def parser() -> Parser:
    return build("metahub list-checks", "List the MetaChecks per resource type.", FLAGS)


def load(folders: list[str]) -> None:
    """Third-party checks: the entry points and ``folders``; a broken one is a usage error."""
    try:
        load_plugins(folders)
    except (ImportError, SyntaxError, OSError) as exc:
        raise UsageError(f"cannot load checks: {exc}") from exc
    except Exception as exc:  # whatever a plug-in raises on import is the plug-in's, not metahub's
        raise UsageError(f"cannot load checks: {type(exc).__name__}: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    load(args.checks_dir)
    show(as_json=args.json)
    return EXIT_OK


def show(*, as_json: bool = False) -> None:
    if as_json:
        listing = {
            type_: {
                name: {"doc": check.doc, "needs": list(check.needs), "module": check.func.__module__}
                for name, check in checks.items()
            }
            for type_, checks in sorted(all_checks().items())
        }
        json.dump(listing, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    for type_, checks in sorted(all_checks().items()):
        print(type_)
        for name, definition in checks.items():
            print(f"  {name:60} {definition.doc}")
