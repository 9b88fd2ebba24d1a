"""How a command's flags are declared (a table of :class:`Group` of :class:`Flag`) and parsed:
argparse, with a short answer to a mistyped flag and value types that fail before the run."""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from metahub.aws import assume_role_problem
from metahub.cli.exits import EXIT_USAGE
from metahub.files import label
from metahub.shards import Part, Shard


@dataclass(frozen=True)
class Flag:
    """One flag: its names and argparse's keyword arguments for it."""

    names: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


def flag(*names: str, **options: Any) -> Flag:
    return Flag(names, options)


def output_dir() -> Flag:
    return flag("--output-dir", default="outputs", type=Path, help="where files go (default: ./outputs)")


def output_label(example: str) -> Flag:
    """``--output-label``, whose help shows ``example`` (a file name with LABEL in it)."""
    return flag("--output-label", type=file_label, metavar="LABEL",
                help=f"a customer or account name in every file name ({example})")  # fmt: skip


@dataclass(frozen=True)
class Group:
    """Flags shown together in ``--help``."""

    title: str
    flags: tuple[Flag, ...]
    description: str | None = None


class Parser(argparse.ArgumentParser):
    """argparse, with a short answer to a mistyped flag: the closest flags, not a 27-line usage."""

    def error(self, message: str) -> NoReturn:
        unknown = re.findall(r"(?<![\w-])(--?[\w-]+)", message) if "unrecognized arguments" in message else []
        flags = [o for action in self._actions for o in action.option_strings if o.startswith("--")]
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name.split("=")[0], flags, n=3, cutoff=0.6)
            if close:
                hints.append(f"{name}: did you mean {' or '.join(close)}?")
        lines = [f"{self.prog}: error: {message}", *(f"{self.prog}: {hint}" for hint in hints)]
        lines.append(f"{self.prog}: see '{self.prog} --help' for every flag")
        self.exit(EXIT_USAGE, "\n".join(lines) + "\n")


class OneWay(argparse.BooleanOptionalAction):
    """``--x`` / ``--no-x``, given once: both on one command line contradict each other (argparse
    would let the last win, so that ``--actions-confirmation --no-actions-confirmation`` writes)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
    ) -> None:
        seen = f"_{self.dest}_given"
        if getattr(namespace, seen, None) not in (None, option):
            parser.error(f"{getattr(namespace, seen)} and {option} contradict each other: give one")
        setattr(namespace, seen, option)
        super().__call__(parser, namespace, values, option)


def build(prog: str, description: str, groups: Sequence[Group], epilog: str | None = None) -> Parser:
    """A parser from a table of flag groups."""
    parser = Parser(prog=prog, description=description, epilog=epilog)
    for group in groups:
        section = parser.add_argument_group(group.title, group.description)
        for one in group.flags:
            section.add_argument(*one.names, **one.options)
    return parser


# --- value types: a bad value is a one-line usage error, before anything is read -------------


def bounded(kind: type[int] | type[float], low: float, high: float) -> Callable[[str], float]:
    """A number within [low, high], or a one-line error naming the range."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a{'n integer' if kind is int else ' number'}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low:g} and {high:g}")
        return value

    return parse


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> float:
    """Seconds from ``90s``, ``30m``, ``1h``, ``7d`` or a number of seconds; at most 90 days."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in UNITS else (text, "s")
    try:
        seconds = float(number) * UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 90s, 30m, 1h, 7d)") from None
    if not 0 < seconds <= 90 * 86400:
        raise argparse.ArgumentTypeError(f"{text} is not between 1s and 90d")
    return seconds


def sts_parameter(member: str) -> Callable[[str], str]:
    """A value AssumeRole takes as ``member``, so that ``--mh-external-id X`` is refused before
    the run, not once per account after reading."""

    def parse(text: str) -> str:
        if problem := assume_role_problem(member, text):
            raise argparse.ArgumentTypeError(problem)
        return text

    return parse


def file_label(text: str) -> str:
    """A label for file names (a customer or account name)."""
    try:
        return label(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def part_name(text: str) -> str:
    """A named part's name (an account id, a business unit)."""
    try:
        return Part(text).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def shard(text: str) -> Shard:
    """``K/N``: the K-th of N parts of the input's resources."""
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
