"""What a resource type is, declared as data: how to list or describe it in batches, its id, its
per-item detail calls (only where AWS has no batch API) and its relations to other types.

One :class:`Spec` per type lives in its own module of this package; :func:`register` adds it.
The fetch engine (:mod:`metahub.resources.fetch`) is the only code that calls AWS with them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jmespath

from metahub.arn import Arn
from metahub.aws import Aws, paginate

ACCOUNT = "@account"
"""As a relation's ``ids``: the one item of the target type for the resource's account."""
REGION = "@region"
"""As a relation's ``ids``: the one item of the target type for the resource's (account, region)."""

GroupKey = tuple[str, str, str]
"""(account, region, type): the unit metahub fetches in."""


@dataclass(frozen=True)
class Detail:
    """One call per item, for what the type's list call does not return and AWS cannot batch."""

    operation: str
    params: Mapping[str, str]
    """Call parameter -> jmespath on the item (``{"Bucket": "Name"}``)."""
    result: str | None = None
    """jmespath into the response; None keeps the whole response."""
    absent: tuple[str, ...] = ()
    """Error codes that mean "not set" (the detail is None), not a failure: ``NoSuchBucketPolicy``."""
    json: bool = False
    """The result is a JSON document in a string (policies): parse it."""


@dataclass(frozen=True)
class Relation:
    """How an item leads to items of another type, which are fetched once for all who need them."""

    target: str
    ids: str
    """jmespath on the item giving the target id(s), or ACCOUNT / REGION."""
    reverse: str | None = None
    """When set, the relation runs backwards: every target item whose ``reverse`` jmespath yields
    the value of ``ids`` on this item. The whole target type is listed once per (account, region)."""


@dataclass(frozen=True)
class Spec:
    type: str
    """The ASFF resource type (or a type metahub uses only as a relation target)."""
    service: str
    operation: str = ""
    """The list/describe operation (boto3 name); paginated when boto3 has a paginator for it."""
    items: str = ""
    """jmespath to the items in one response page."""
    id: str = ""
    """jmespath to an item's id, as the ARN carries it."""
    ids_filter: str | None = None
    """EC2-style filter name that takes ids (``instance-id``). Unlike id parameters, a filter does
    not fail the whole batch when one id no longer exists."""
    ids_param: str | None = None
    """Parameter that takes a list of ids. With neither, the whole type is listed and matched here."""
    batch: int = 100
    list_above: int | None = None
    """When a group wants more ids than this, list the whole type instead: fewer calls."""
    params: Mapping[str, Any] = field(default_factory=dict)
    arn_types: tuple[str, ...] = ()
    """ARN resource-type segments this spec serves (``instance``), matched before the ASFF type."""
    arn_pattern: str = ""
    """Instead of ``arn_types``: a regex the ARN's resource part must match in full, for kinds one
    segment cannot tell apart (``loadbalancer/name`` is classic, ``loadbalancer/app/...`` is not).
    Its group ``id``, when present, is the item id."""
    arn_service: str = ""
    """The ARN's service where it is not the client's (``elasticloadbalancing`` for ``elbv2``)."""
    aliases: tuple[str, ...] = ()
    """Other ASFF types for the same resources (``AwsElasticsearchDomain`` for OpenSearch)."""
    id_from_arn: Callable[[Arn], str] = lambda arn: arn.resource_id
    global_region: str | None = None
    """For global services (IAM): fetched once per account through this region."""
    details: Mapping[str, Detail] = field(default_factory=dict)
    relations: Mapping[str, Relation] = field(default_factory=dict)
    fetch: Callable[[FetchContext, list[str] | None], list[dict[str, Any]]] | None = None
    """Custom fetch for APIs that do not fit the declaration: ``(ctx, ids or None for all) -> items``."""

    def item_id(self, arn: Arn) -> str:
        """The id of the item an ARN names, as the fetch keys it."""
        if self.arn_pattern:
            match = re.fullmatch(self.arn_pattern, arn.resource)
            if match and match.groupdict().get("id"):
                return match["id"]
        return self.id_from_arn(arn)


_SPECS: dict[str, Spec] = {}
_ALIASES: dict[str, Spec] = {}
_BY_ARN_TYPE: dict[tuple[str, str], Spec] = {}
_BY_ARN_PATTERN: dict[str, list[tuple[re.Pattern[str], Spec]]] = {}


@dataclass
class FetchContext:
    """What a spec's custom fetch gets: the group it fetches, and clients for it."""

    aws: Aws
    spec: Spec
    account: str
    region: str
    partition: str = "aws"

    def client(self, service: str | None = None, region: str | None = None) -> Any:
        return self.aws.client(
            service or self.spec.service, self.account, region or self.region, self.partition
        )

    memo: Callable[[tuple[Any, ...], Callable[[], Any]], Any] = lambda key, make: make()
    """Compute once per fetch, for all groups that share a call (IAM's account-wide listing)."""

    def pages(self, operation: str, service: str | None = None, **params: Any) -> list[dict[str, Any]]:
        return paginate(self.client(service), operation, params)

    def items(
        self, operation: str, path: str, service: str | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        return [
            item
            for page in self.pages(operation, service, **params)
            for item in jmespath.search(path, page) or []
        ]



def register(spec: Spec) -> Spec:
    if spec.type in _SPECS and _SPECS[spec.type] is not spec:
        raise ValueError(f"a spec for {spec.type} is registered already")
    _SPECS[spec.type] = spec
    _ALIASES.update(dict.fromkeys(spec.aliases, spec))
    service = spec.arn_service or spec.service
    if spec.arn_pattern:
        _BY_ARN_PATTERN.setdefault(service, []).append((re.compile(spec.arn_pattern), spec))
    for arn_type in spec.arn_types:
        _BY_ARN_TYPE[(service, arn_type)] = spec
    return spec


def spec_for_type(resource_type: str) -> Spec | None:
    return _SPECS.get(resource_type) or _ALIASES.get(resource_type)


def spec_for(resource_type: str, arn: Arn | None) -> Spec | None:
    """The spec for a resource: by what its ARN names first (a snapshot typed as a volume is a
    snapshot), then by its ASFF type."""
    if arn is not None:
        for pattern, spec in _BY_ARN_PATTERN.get(arn.service, []):
            if pattern.fullmatch(arn.resource):
                return spec
        by_arn = _BY_ARN_TYPE.get((arn.service, arn.resource_type))
        if by_arn is not None:
            return by_arn
    return spec_for_type(resource_type)


def all_specs() -> dict[str, Spec]:
    return dict(_SPECS)




def group_key(spec: Spec, account: str, region: str | None) -> GroupKey:
    return (account, spec.global_region or region or "us-east-1", spec.type)


def relation_ids(path: str, item: Mapping[str, Any], account: str, region: str) -> list[str]:
    """The ids a relation's ``ids`` (or ``reverse``) jmespath yields on one item."""
    if path == ACCOUNT:
        return [account]
    if path == REGION:
        return [region]
    found = jmespath.search(path, item)
    if found is None:
        return []
    if isinstance(found, str):
        return [found] if found else []
    return [value for value in _flatten(found) if isinstance(value, str) and value]


def _flatten(values: Any) -> Iterable[Any]:
    if isinstance(values, list):
        for value in values:
            yield from _flatten(value)
    else:
        yield values
