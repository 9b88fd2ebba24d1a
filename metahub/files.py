"""Writing outputs safely: a reader never sees half a file, and two runs never share a name; and
reading parsed data (YAML with the line of each part, the texts of nested data)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to: on success it replaces ``path`` in one step
    (``os.replace``), on failure it is removed and ``path`` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it 0600: the output follows the umask
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process's umask (reading it means setting it: under a lock, and set back at once)."""
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def label(text: str) -> str:
    """A customer or account name as a piece of a file name: letters, digits, ``.``, ``_`` and ``-``
    only (``../x`` and ``a/b`` cannot leave the output folder); ValueError when nothing is left."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:64]
    if not cleaned:
        raise ValueError(f"{text!r} leaves nothing usable in a file name")
    return cleaned


def claim(names: Callable[[str], Sequence[Path]], stamp: str, attempts: int = 100) -> str:
    """A stamp whose every name (``names(stamp)``) this process created first, empty, so that a run
    started in the same second, here or in another process, picks another (``<stamp>-2`` ...).
    The writes then replace the empty placeholders."""
    for attempt in range(1, attempts + 1):
        candidate = stamp if attempt == 1 else f"{stamp}-{attempt}"
        taken: list[Path] = []
        try:
            for path in names(candidate):
                path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
                taken.append(path)
            return candidate
        except FileExistsError:
            for path in taken:
                with contextlib.suppress(OSError):
                    path.unlink()
    raise FileExistsError(f"no free output name for {stamp} after {attempts} attempts")


def rule_entries(
    builtin: str, paths: Sequence[str | Path], error: type[ValueError]
) -> Iterator[tuple[str, Any]]:
    """``(where, rule)`` for the built-in rules file ``metahub/config/<builtin>``, then each of
    ``paths`` (a JSON list of rules, or ``{"rules": [...]}``); ``error`` names the file on failure."""
    sources = [
        (f"metahub/config/{builtin}", resources.files("metahub").joinpath(f"config/{builtin}").read_text())
    ]
    for path in paths:
        try:
            sources.append((str(path), Path(path).read_text(encoding="utf-8")))
        except OSError as exc:
            raise error(f"{path}: {exc}") from exc
    for where, text in sources:
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise error(f"{where}: not JSON: {exc}") from exc
        found = document.get("rules") if isinstance(document, dict) else document
        if not isinstance(found, list):
            raise error(f'{where}: expected a list of rules, or {{"rules": [...]}}')
        for index, rule in enumerate(found):
            yield f"{where}: rule {index + 1}", rule


class Places:
    """Where the parts of a YAML document are: ``line(keys)``, the line the keys lead to (the
    nearest on the way), and ``place(keys)``, ``FILE:LINE: a.b.c``, what a message about it starts with."""

    def __init__(self, tree: Any, where: str) -> None:
        self.tree, self.where = tree, where

    def line(self, keys: Sequence[Any]) -> int:
        import yaml

        node, line = self.tree, (self.tree.start_mark.line + 1 if self.tree is not None else 1)
        for key in keys:
            if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                line = node.start_mark.line + 1
                continue
            pairs = node.value if isinstance(node, yaml.MappingNode) else []
            found = next(((k, v) for k, v in pairs if isinstance(k, yaml.ScalarNode) and k.value == str(key)), None)
            if found is None:
                break
            node, line = found[1], found[0].start_mark.line + 1
        return line

    def place(self, keys: Sequence[Any]) -> str:
        return f"{self.where}:{self.line(keys)}: {'.'.join(map(str, keys)) or 'the file'}"


def parse_yaml(text: str, where: str, error: type[ValueError]) -> tuple[Any, Places]:
    """A YAML document and the :class:`Places` of its parts; ``error`` names the line of a YAML
    mistake."""
    import yaml

    try:
        return yaml.safe_load(text), Places(yaml.compose(text), where)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{where}{f':{mark.line + 1}' if mark else ''}: not valid YAML: {problem}") from None


def texts(value: Any) -> Iterator[str]:
    """Every text in parsed data (JSON or YAML: mappings, lists, scalars), however nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)
