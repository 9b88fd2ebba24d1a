"""The MetaChecks registry and the read-only view of fetched data that checks run on.

A check is a pure function of one resource's :class:`ResourceView`. It returns ``False`` (or an
empty value) for no, the data that makes it yes (a public IP, a list of open rules), or raises
:class:`Unknown` with the reason when the data cannot decide it. It declares in ``needs`` the
detail calls and relations it reads, so the engine fetches them first, batched, for all resources.

Third-party checks register the same way, from their own modules (see ``load_plugins``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import jmespath

from metahub.resources.spec import ACCOUNT, REGION, GroupKey, Spec, group_key, relation_ids, spec_for_type

if TYPE_CHECKING:
    from metahub.resources.fetch import Inventory

CheckFunction = Callable[["ResourceView"], Any]


class Unknown(Exception):
    """The check cannot be decided from what could be fetched; the message says why."""


class No:
    """A "no" that says why: falsy, written out as ``false``, its reason kept as evidence."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __bool__(self) -> Literal[False]:  # lets type checkers narrow `if not value`
        return False

    def __repr__(self) -> str:
        return f"No({self.reason!r})"


def any_member(members: Iterable[ResourceView], name: str, none: str) -> dict[str, Any] | No:
    """A rollup of a whole from its members (a cluster's instances, a group's): the members for
    which check ``name`` holds. One member that holds decides yes; no needs every member decided."""
    found: dict[str, Any] = {}
    unknown: list[str] = []
    for member in members:
        try:
            value = member.check(name)
        except Unknown as exc:
            unknown.append(f"{member.id}: {exc}")
            continue
        if value:
            found[member.id] = value
    if found:
        return found
    if unknown:
        raise Unknown("; ".join(unknown))
    return No(none)


def encrypted_at_rest(r: ResourceView, flag: str = "Encrypted", key: str = "KmsKeyId") -> str | No:
    """The common answer for ``is_encrypted``: the KMS key when the flag is set (``encrypted`` when
    AWS names none), else no."""
    if not r.get(flag):
        return No("not encrypted at rest")
    return r.get(key) or "encrypted"


@dataclass(frozen=True)
class Check:
    name: str
    type: str
    func: CheckFunction
    needs: tuple[str, ...]
    doc: str


_CHECKS: dict[str, dict[str, Check]] = {}


def check(
    *types: str, needs: Iterable[str] | Mapping[str, Iterable[str]] = (), name: str | None = None
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a function as a MetaCheck of these resource types, under ``name`` (default: its own).

    ``needs`` is what it reads beyond the item; where types of one check read different things
    (classic load balancers list listeners in the item, v2 ones need a call), a mapping per type.
    """

    def needs_of(type_: str) -> tuple[str, ...]:
        return tuple(needs.get(type_, ()) if isinstance(needs, Mapping) else needs)

    def register(func: CheckFunction) -> CheckFunction:
        check_name = name or func.__name__
        for type_ in types:
            _CHECKS.setdefault(type_, {})[check_name] = Check(
                check_name, type_, func, needs_of(type_), (func.__doc__ or "").strip().split("\n")[0]
            )
        return func

    return register


def checks_for(resource_type: str) -> dict[str, Check]:
    return dict(_CHECKS.get(resource_type, {}))


def all_checks() -> dict[str, dict[str, Check]]:
    return {type_: dict(checks) for type_, checks in _CHECKS.items()}




def load_plugins(folders: Iterable[str | Path] = ()) -> list[str]:
    """Import third-party checks: modules of the ``metahub.checks`` entry-point group, and every
    ``*.py`` file in ``folders``. Returns what was loaded."""
    loaded = []
    for entry in entry_points(group="metahub.checks"):
        entry.load()
        loaded.append(entry.value)
    for folder in folders:
        if not Path(folder).is_dir():
            raise OSError(f"{folder}: no such directory")
        paths = sorted(Path(folder).glob("*.py"))
        if not paths:
            raise ImportError(f"{folder}: no *.py files with checks in it")
        for path in paths:
            name = f"metahub_user_checks.{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load checks from {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            loaded.append(str(path))
    return loaded


class ResourceView:
    """One fetched resource, its details and its relations, read-only; checks get nothing else."""

    def __init__(self, inventory: Inventory, key: GroupKey, item_id: str, shared: dict[Any, Any]) -> None:
        self._inventory = inventory
        self.key = key
        self.id = item_id
        self.account, self.region, self.type = key
        spec = spec_for_type(self.type)
        assert spec is not None
        self.spec: Spec = spec
        self.data: dict[str, Any] = inventory.items[key][item_id]
        self._shared = shared
        self._results: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<{self.type} {self.id} in {self.account}/{self.region}>"

    def get(self, path: str, default: Any = None) -> Any:
        """jmespath into the item as AWS described it."""
        value = jmespath.search(path, self.data)
        return default if value is None else value

    def detail(self, name: str) -> Any:
        """What a per-item detail call returned (None where AWS says it is not set)."""
        failure = self._inventory.detail_failures.get((self.key, self.id, name))
        if failure:
            raise Unknown(failure)
        store = self._inventory.details.get((self.key, self.id), {})
        if name not in store:
            raise Unknown(f"{name} of {self.type} {self.id} was not fetched")
        return store[name]

    def related(self, name: str, complete: bool = False) -> list[ResourceView]:
        """The items this one leads to through the spec's relation ``name``.

        A reference to an item that is not in the inventory is skipped (deleted since), unless
        ``complete``: a rollup that must see every one of them (all volumes encrypted, no group
        open) is then unknown, with the reason the item is missing.
        """
        relation = self.spec.relations[name]
        target = spec_for_type(relation.target)
        assert target is not None
        key = group_key(target, self.account, self.region)
        if key in self._inventory.failures:
            raise Unknown(self._inventory.failures[key])
        if relation.reverse is not None:
            index = self._reverse_index(key, relation.reverse)
            ids: list[str] = []
            for value in relation_ids(relation.ids, self.data, self.account, self.region):
                ids.extend(index.get(value, []))
        else:
            ids = list(relation_ids(relation.ids, self.data, self.account, self.region))
        views = []
        for item_id in dict.fromkeys(ids):
            if self._inventory.item(key, item_id) is None:
                if relation.ids in (ACCOUNT, REGION) or (complete and relation.reverse is None):
                    raise Unknown(self._inventory.missing_reason(key, item_id))
                continue  # a reference to something that no longer exists
            views.append(self._view(key, item_id))
        return views

    def one(self, name: str) -> ResourceView | None:
        found = self.related(name)
        return found[0] if found else None

    def check(self, name: str) -> Any:
        """Another check's value on this resource (computed once); Unknown propagates."""
        if name not in self._results:
            definition = checks_for(self.spec.type).get(name)
            if definition is None:
                raise KeyError(f"no check {name!r} for {self.spec.type}")
            try:
                self._results[name] = definition.func(self)
            except Unknown as exc:
                self._results[name] = exc
        result = self._results[name]
        if isinstance(result, Unknown):
            raise result
        return result

    def _view(self, key: GroupKey, item_id: str) -> ResourceView:
        views: dict[tuple[GroupKey, str], ResourceView] = self._shared.setdefault("views", {})
        view = views.get((key, item_id))
        if view is None:
            view = views[(key, item_id)] = ResourceView(self._inventory, key, item_id, self._shared)
        return view

    def _reverse_index(self, key: GroupKey, path: str) -> dict[str, list[str]]:
        indexes: dict[tuple[GroupKey, str], dict[str, list[str]]] = self._shared.setdefault("reverse", {})
        index = indexes.get((key, path))
        if index is None:
            index = {}
            for item_id, item in self._inventory.group(key).items():
                for value in relation_ids(path, item, key[0], key[1]):
                    index.setdefault(value, []).append(item_id)
            indexes[(key, path)] = index
        return index
