"""The fetch engine: every resource type once per (account, region), batched, in parallel.

A fetch runs in levels. Level 0 is what the findings name, grouped by (account, region, type).
Each group is fetched with as few calls as its API allows (ids in batches, or the whole type
listed once); then the per-item detail calls the checks need; then the relations the checks need
lead to the next level. What a level asks for that an earlier one fetched is not fetched again,
so a security group used by a hundred instances costs one batched call, not a hundred.

Nothing here raises for AWS trouble: a failed group or detail is recorded with its reason and the
checks that need it come out unknown.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import jmespath

from metahub.aws import Aws, describe_error, error_code
from metahub.resources.spec import (
    FetchContext,
    GroupKey,
    Relation,
    Spec,
    group_key,
    relation_ids,
    spec_for_type,
)

log = logging.getLogger(__name__)


MAX_LEVELS = 6


@dataclass(frozen=True)
class Demand:
    """What the checks of one type need fetched beyond its items: detail calls and relations."""

    details: frozenset[str] = frozenset()
    relations: frozenset[str] = frozenset()


@dataclass
class Inventory:
    """Everything fetched, read-only once the fetch is done: the snapshot the checks run on."""

    items: dict[GroupKey, dict[str, dict[str, Any]]] = field(default_factory=dict)
    details: dict[tuple[GroupKey, str], dict[str, Any]] = field(default_factory=dict)
    failures: dict[GroupKey, str] = field(default_factory=dict)
    """Groups that could not be fetched, with the reason."""
    detail_failures: dict[tuple[GroupKey, str, str], str] = field(default_factory=dict)
    """(group, id, detail) that could not be fetched, with the reason."""
    listed_all: set[GroupKey] = field(default_factory=set)
    requested: dict[GroupKey, set[str]] = field(default_factory=dict)

    def item(self, key: GroupKey, item_id: str) -> dict[str, Any] | None:
        return self.items.get(key, {}).get(item_id)

    def missing_reason(self, key: GroupKey, item_id: str) -> str:
        """Why an item is not in the inventory."""
        if key in self.failures:
            return self.failures[key]
        if key in self.listed_all or item_id in self.requested.get(key, set()):
            return f"{key[2]} {item_id!r} not found in account {key[0]} {key[1]} (deleted since the scan?)"
        return f"{key[2]} {item_id!r} was not fetched"

    def group(self, key: GroupKey) -> dict[str, dict[str, Any]]:
        return self.items.get(key, {})


class Fetcher:
    """Runs a fetch plan against AWS through one :class:`Aws` client factory."""

    def __init__(
        self,
        aws: Aws,
        demand: Mapping[str, Demand],
        max_workers: int = 16,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        """``progress(done, total)`` counts groups, (account, region, type) listed: all of them are
        known from the plan before the first call, so the total does not move."""
        self.aws = aws
        self.demand = demand
        self.max_workers = max_workers
        self.inventory = Inventory()
        self.progress = progress
        self._planned: set[GroupKey] = set()
        self._finished: set[GroupKey] = set()
        self._remaining: Counter[GroupKey] = Counter()
        self.partitions: dict[str, str] = {}
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._expanded: dict[GroupKey, set[str]] = {}
        """Ids whose details and relations are under way: each item is followed once."""
        self._memo_locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._lock = threading.RLock()
        self._groups: dict[GroupKey, Future[list[str]]] = {}
        """Each group's latest fetch: a level waits only for those that lead on."""
        self._details: list[Future[None]] = []
        self._pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor]

    def _memoised(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        with self._lock:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                self._memo[key] = make()
            return self._memo[key]

    def run(
        self, wanted: Mapping[GroupKey, set[str] | None], partitions: Mapping[str, str] | None = None
    ) -> Inventory:
        """Fetch ``wanted`` (ids per group, None for the whole type) and everything it leads to."""
        self.partitions = dict(partitions or {})
        pending: dict[GroupKey, set[str] | None] = dict(wanted)
        self._planned = self._plan_groups(wanted)
        self._report()
        # Per-item detail calls run in a pool of their own, alongside the next levels: associations
        # come from the listed items, never from details, so nothing waits for them but the end.
        with (
            ThreadPoolExecutor(self.max_workers, thread_name_prefix="metahub-fetch") as pool,
            ThreadPoolExecutor(self.max_workers, thread_name_prefix="metahub-detail") as detail_pool,
        ):
            self._pools = pool, detail_pool
            for _ in range(MAX_LEVELS):
                if not pending:
                    break
                pending = self._next_level(self._fetch_level(pending))
            for future in list(self._groups.values()):  # groups that lead nowhere were not waited for
                future.result()
            for detail in self._details:
                detail.result()
        self._finished = set(self._planned)  # groups no item led to are done too
        self._report()
        return self.inventory

    def _plan_groups(self, wanted: Iterable[GroupKey]) -> set[GroupKey]:
        """Every group the plan can reach: the wanted ones and, through the demanded relations,
        the groups of associated types in the same account and region."""
        planned, queue = set(wanted), list(wanted)
        while queue:
            for _, target in self._relations(queue.pop()):
                if target not in planned:
                    planned.add(target)
                    queue.append(target)
        return planned

    def _relations(self, key: GroupKey) -> Iterator[tuple[Relation, GroupKey]]:
        """The demanded relations of a group's type, each with the group it leads to (same account
        and region, or the target type's global region)."""
        account, region, type_ = key
        spec, demand = spec_for_type(type_), self.demand.get(type_)
        if spec is None or demand is None:
            return
        for name in demand.relations:
            relation = spec.relations[name]
            target = spec_for_type(relation.target)
            if target is not None:
                yield relation, group_key(target, account, region)

    # --- one level --------------------------------------------------------------------------

    def _fetch_level(self, pending: Mapping[GroupKey, set[str] | None]) -> dict[GroupKey, list[str]]:
        """Start the groups of this level and wait for those whose relations lead on: returns, per
        such group, the ids new to the inventory that were asked for (all new ones where the whole
        type was wanted). A group that leads nowhere (queues, topics, tables, keys)
        finishes beside the next levels; each group's detail calls start as soon as it is listed.
        Listing a whole type to find a few ids must not fetch details and relations of the rest."""
        for key in pending:  # a group this level asks of again must be whole before it is read
            if key in self._groups:
                self._groups[key].result()
        tasks: list[tuple[GroupKey, list[str] | None]] = []
        for key, ids in pending.items():
            spec = spec_for_type(key[2])
            if spec is None or key in self.inventory.listed_all or key in self.inventory.failures:
                continue
            many = spec.list_above is not None and ids is not None and len(ids) > spec.list_above
            if ids is None or many or not (spec.ids_filter or spec.ids_param or spec.fetch):
                self.inventory.listed_all.add(key)
                tasks.append((key, None))
                continue
            asked = self.inventory.requested.setdefault(key, set())
            new = sorted(ids - asked)
            asked.update(new)
            tasks.extend((key, new[i : i + spec.batch]) for i in range(0, len(new), spec.batch))
        with self._lock:
            self._remaining.update(key for key, _ in tasks)
            self._planned.update(key for key, _ in tasks)
        by_group: dict[GroupKey, list[list[str] | None]] = {key: [] for key in pending}
        for key, batch in tasks:
            by_group[key].append(batch)
        started = {key: self._start_group(key, batches, pending[key]) for key, batches in by_group.items()}
        self._groups.update(started)
        leading = [key for key in pending if next(self._relations(key), None) is not None]
        return {key: started[key].result() for key in leading}

    def _start_group(
        self, key: GroupKey, batches: list[list[str] | None], wanted: set[str] | None
    ) -> Future[list[str]]:
        """Fetch one group's batches side by side; the last to finish stores them (:meth:`_store`)."""
        done: Future[list[str]] = Future()
        answers: list[list[dict[str, Any]] | None] = [None] * len(batches)
        left = [len(batches)]

        def run(index: int, batch: list[str] | None) -> None:
            try:
                answers[index] = self._fetch_group(key, batch)
            finally:
                with self._lock:
                    left[0] -= 1
                    last = left[0] == 0
                if last:
                    self._store(key, answers, wanted, done)

        if not batches:
            self._store(key, answers, wanted, done)
        for index, batch in enumerate(batches):
            self._pools[0].submit(run, index, batch)
        return done

    def _store(
        self,
        key: GroupKey,
        answers: list[list[dict[str, Any]] | None],
        wanted: set[str] | None,
        done: Future[list[str]],
    ) -> None:
        """A group's answers into the inventory in the order they were asked (a run's inventory does
        not depend on which answer came first), then its detail calls started. ``done`` gets the
        ids new to the inventory that were wanted."""
        try:
            spec = spec_for_type(key[2])
            assert spec is not None
            with self._lock:
                if any(answer is not None for answer in answers):
                    group = self.inventory.items.setdefault(key, {})
                    for items in answers:
                        for item in items or ():
                            item_id = jmespath.search(spec.id, item) if spec.id else None
                            if isinstance(item_id, str):
                                group.setdefault(item_id, item)
                present = set(self.inventory.group(key))
                expanded = self._expanded.setdefault(key, set())
                fresh = sorted((present if wanted is None else present & wanted) - expanded)
                expanded.update(fresh)
                self._details.extend(self._submit_details(self._pools[1], {key: fresh}))
            done.set_result(fresh)
        except BaseException as exc:  # whoever waits for the group sees it
            done.set_exception(exc)

    def _fetch_group(self, key: GroupKey, ids: list[str] | None) -> list[dict[str, Any]] | None:
        account, region, type_ = key
        started = time.perf_counter()
        spec = spec_for_type(type_)
        assert spec is not None
        ctx = FetchContext(
            self.aws, spec, account, region, self.partitions.get(account, "aws"), self._memoised
        )
        try:
            items = spec.fetch(ctx, ids) if spec.fetch is not None else self._list(ctx, spec, ids)
            log.debug(
                "fetched %s in %s/%s: %d item(s) for %s in %.2f s",
                type_, account, region, len(items), "all" if ids is None else f"{len(ids)} id(s)",
                time.perf_counter() - started,
            )  # fmt: skip
            return items
        except Exception as exc:  # recorded, never swallowed: the checks that need it say why
            reason = describe_error(exc, f"{spec.service}:{spec.operation or 'fetch'}")
            log.info("fetch %s in %s/%s failed: %s", type_, account, region, reason)
            self.inventory.failures[key] = reason
            return None
        finally:
            self._group_task_done(key)

    @staticmethod
    def _list(ctx: FetchContext, spec: Spec, ids: list[str] | None) -> list[dict[str, Any]]:
        """The declared list/describe call, by ids (filter or parameter) or the whole type."""
        params = dict(spec.params)
        if ids is not None and spec.ids_filter:
            params["Filters"] = [*params.get("Filters", []), {"Name": spec.ids_filter, "Values": ids}]
        elif ids is not None and spec.ids_param:
            params[spec.ids_param] = ids
        items: list[dict[str, Any]] = []
        for page in ctx.pages(spec.operation, **params):
            items.extend(jmespath.search(spec.items, page) or [])
        return items

    def _submit_details(
        self, pool: ThreadPoolExecutor, fetched: Mapping[GroupKey, list[str]]
    ) -> list[Future[None]]:
        tasks: list[tuple[GroupKey, Spec, str, str]] = []
        for key, ids in fetched.items():
            spec = spec_for_type(key[2])
            demand = self.demand.get(key[2])
            if spec is None or demand is None:
                continue
            for name in sorted(demand.details):
                tasks.extend((key, spec, item_id, name) for item_id in ids)
        return [pool.submit(self._fetch_detail, *task) for task in tasks]

    def _fetch_detail(self, key: GroupKey, spec: Spec, item_id: str, name: str) -> None:
        detail = spec.details[name]
        item = self.inventory.items[key][item_id]
        account, region, _ = key
        params = {param: jmespath.search(path, item) for param, path in detail.params.items()}
        store = self.inventory.details.setdefault((key, item_id), {})
        try:
            client = self.aws.client(spec.service, account, region, self.partitions.get(account, "aws"))
            response = getattr(client, detail.operation)(**params)
            value = jmespath.search(detail.result, response) if detail.result else response
            if isinstance(value, dict):
                value.pop("ResponseMetadata", None)
            if detail.json and isinstance(value, str):
                value = json.loads(value)
            store[name] = value
        except Exception as exc:
            if error_code(exc) in detail.absent:
                store[name] = None
            else:
                self.inventory.detail_failures[(key, item_id, name)] = describe_error(
                    exc, f"{spec.service}:{detail.operation}"
                )

    def _next_level(self, fetched: Mapping[GroupKey, list[str]]) -> dict[GroupKey, set[str] | None]:
        pending: dict[GroupKey, set[str] | None] = {}
        for key, ids in fetched.items():
            account, region, _ = key
            for relation, target_key in self._relations(key):
                if relation.reverse is not None:
                    pending[target_key] = None
                    continue
                wanted = pending.setdefault(target_key, set())
                if wanted is None:
                    continue
                for item_id in ids:
                    wanted.update(
                        relation_ids(relation.ids, self.inventory.items[key][item_id], account, region)
                    )
        return {k: v for k, v in pending.items() if v is None or v}

    def _group_task_done(self, key: GroupKey) -> None:
        with self._lock:
            self._remaining[key] -= 1
            if self._remaining[key] <= 0:
                self._finished.add(key)
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(len(self._finished), len(self._planned))
