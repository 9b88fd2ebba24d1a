"""Group findings by the resource they affect: one resource, many findings, several scanners."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from metahub.arn import is_account_id, parse_arn
from metahub.models import SEVERITY_ORDER, AffectedResource, Finding, Resource

_ACCOUNT_LEVEL_TYPES = frozenset({"AwsAccount"})
_SEVERITY_RANK = {label: rank for rank, label in enumerate(SEVERITY_ORDER)}


def group_by_resource(findings: Iterable[Finding]) -> dict[str, AffectedResource]:
    """Map each resource ARN to an :class:`AffectedResource` holding all findings on it.

    A finding with several resources belongs to each. Resources come out sorted by
    (account, region, type, ARN) and findings within one by severity then title, so the
    same findings give the same output whatever order the inputs came in.
    """
    members: dict[str, list[tuple[Finding, Resource]]] = {}
    for finding in findings:
        for resource in finding.Resources:
            members.setdefault(resource.Id, []).append((finding, resource))
    grouped = [_resource(arn, pairs) for arn, pairs in members.items()]
    grouped.sort(key=position)
    return {resource.arn: resource for resource in grouped}


def position(resource: AffectedResource) -> tuple[str, str, str, str]:
    """Where a resource stands in any run's grouping: (account, region, type, ARN)."""
    return (resource.account, resource.region or "", resource.type, resource.arn)


def _finding_order(finding: Finding) -> tuple[int, str, str]:
    return (
        _SEVERITY_RANK.get(finding.severity_label or "", len(SEVERITY_ORDER)),
        finding.Title or "",
        finding.Id,
    )


def _resource(arn: str, pairs: list[tuple[Finding, Resource]]) -> AffectedResource:
    first_finding, first_resource = pairs[0]
    parsed = parse_arn(arn)
    if len(pairs) == 1 or all(r.Type == first_resource.Type for _, r in pairs):
        reported = [first_resource.Type]
    else:
        reported = [t for t, _ in Counter(r.Type for _, r in pairs).most_common()]
    if parsed and parsed.asff_type in reported[1:]:
        reported.remove(parsed.asff_type)
        reported.insert(0, parsed.asff_type)
    tags: dict[str, str] = {}
    for _, resource in pairs:
        if resource.Tags:
            tags.update(normalise_tags(resource.Tags))
    if parsed:
        account = parsed.account if is_account_id(parsed.account) else first_finding.AwsAccountId
        region = parsed.region or first_resource.Region or first_finding.Region
        partition = parsed.partition
        concrete = parsed.concrete
    else:
        account = first_finding.AwsAccountId
        region = first_resource.Region or first_finding.Region
        partition = first_resource.Partition or "aws"
        concrete = reported[0] not in _ACCOUNT_LEVEL_TYPES
    findings = [f for f, _ in pairs]
    if len(findings) > 1:
        unique = {id(f): f for f in findings}  # a finding may name the same resource twice
        findings = sorted(unique.values(), key=_finding_order)
    grouped = AffectedResource.model_construct(
        arn=arn,
        type=reported[0],
        reported_types=reported,
        account=account,
        region=region,
        partition=partition,
        concrete=concrete,
        tags=tags,
        findings=findings,
        metachecks=None,
        metatags=None,
        metatrails=None,
        metaaccount=None,
        unknown={},
        evidence={},
    )
    grouped.__dict__["parsed_arn"] = parsed  # parsed once, here (see AffectedResource.parsed_arn)
    return grouped


_KEY_VALUE_SHAPES = ({"TagKey", "TagValue"}, {"Key", "Value"})


def normalise_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags as ``{key: value}``. Prowler writes a KMS key's single tag as ``{"TagKey": "Environment",
    "TagValue": "stg"}`` (the KMS API's shape, flattened): that is ``{"Environment": "stg"}``."""
    if set(tags) in _KEY_VALUE_SHAPES:
        key, value = ("TagKey", "TagValue") if "TagKey" in tags else ("Key", "Value")
        return {str(tags[key]): str(tags[value])}
    return tags
