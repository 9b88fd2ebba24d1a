"""The layers of docs/architecture.md, held by the import graph.

Every import of the package is read with ``ast``: at module level, inside functions and under
``TYPE_CHECKING``, since each is a dependency a reader must know of. An import may only reach the
same layer or one below, and the graph has no cycle, not even within a layer.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "metahub"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("metahub.version", "metahub.arn", "metahub.files", "metahub.logs", "metahub.progress",
                    "metahub.ocsf", "metahub.webapi")),
    ("models", ("metahub.models",)),
    ("aws", ("metahub.aws", "metahub.snapshot")),
    ("resources", ("metahub.resources",)),
    ("checks", ("metahub.checks",)),
    ("analysis", ("metahub.ingest", "metahub.securityhub", "metahub.grouping", "metahub.detection",
                  "metahub.traits", "metahub.exposure", "metahub.mutelist", "metahub.impact", "metahub.combinations", "metahub.ranking",
                  "metahub.filters")),
    ("enrichment", ("metahub.enrich",)),
    ("outputs", ("metahub.json_outputs", "metahub.tabular", "metahub.html_report", "metahub.actions", "metahub.tickets", "metahub.notify", "metahub.shards",
                 "metahub.diff")),
    ("orchestration", ("metahub.run", "metahub")),
    ("interfaces", ("metahub.cli", "metahub.aws_lambda", "metahub.org_lambda", "metahub.demo",
                    "metahub.__main__")),
)  # fmt: skip
"""Bottom first. A name covers the module and, for a package, everything in it (``metahub``
itself is only the package's ``__init__``)."""


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> int:
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if module == name or (name != "metahub" and module.startswith(name + ".")):
                return index
    raise AssertionError(f"{module} is in no layer of docs/architecture.md")


def _resolve(name: str) -> str:
    """The module an imported name lives in (``metahub.models.Finding`` -> ``metahub.models``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports() -> list[tuple[str, str, int]]:
    """(importer, imported module, line) for every import of a metahub module, anywhere."""
    edges = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}:{node.lineno}: relative import"
                if node.module and (node.module == "metahub" or node.module.startswith("metahub.")):
                    edges += [(module, _resolve(f"{node.module}.{a.name}"), node.lineno) for a in node.names]
            elif isinstance(node, ast.Import):
                edges += [(module, _resolve(a.name), node.lineno) for a in node.names if a.name.startswith("metahub")]
    return [(a, b, line) for a, b, line in edges if a != b]


EDGES = imports()


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_imports_only_reach_down() -> None:
    upward = [
        f"{MODULES[a].relative_to(PACKAGE.parent)}:{line}: {a} ({LAYERS[layer_of(a)][0]}) imports "
        f"{b} ({LAYERS[layer_of(b)][0]})"
        for a, b, line in EDGES
        if layer_of(b) > layer_of(a)
    ]
    assert upward == []


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for a, b, _ in EDGES:
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}  # 1: on the path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph.get(start, ())))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))


def test_the_page_lists_the_same_layers() -> None:
    """docs/architecture.md's table is this test's table: one row per layer, bottom last."""
    rows = re.findall(r"^\| (\d+) \| (\w+) \| (.+?) \|", ARCHITECTURE.read_text(encoding="utf-8"), re.M)
    documented = {int(n): (name, tuple(re.findall(r"`([\w.]+)`", modules))) for n, name, modules in rows}
    assert documented == {index: layer for index, layer in enumerate(LAYERS)}


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    """A function-level and a TYPE_CHECKING import count as much as a module-level one."""
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from metahub.run import Run\n"
        "def f():\n    from metahub import cli\n    import metahub.enrich\n"
    )
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("metahub"):
            found += [_resolve(f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            found += [_resolve(a.name) for a in node.names]
    assert found == ["metahub.run", "metahub.cli", "metahub.enrich"]
