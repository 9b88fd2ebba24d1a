"""MetaTags: tags of many resources in few calls.

The Resource Groups Tagging API takes up to 100 ARNs per GetResources call, per (account,
region); IAM is not in it, and IAM roles and users carry their tags in the account's
authorization details (one paginated listing per account).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from metahub.aws import Aws, paginate

TAGGING_BATCH = 100  # GetResources: ResourceARNList takes at most 100 ARNs


def as_dict(tags: Any) -> dict[str, str]:
    """``[{"Key": k, "Value": v}]`` (or a dict) as ``{k: v}``."""
    if isinstance(tags, dict):
        return {str(k): "" if v is None else str(v) for k, v in tags.items()}
    return {str(t.get("Key")): str(t.get("Value", "")) for t in tags or [] if isinstance(t, dict)}


def tags_by_api(
    aws: Aws, account: str, region: str, partition: str, arns: Iterable[str]
) -> dict[str, dict[str, str]]:
    """Tags of ``arns`` in one (account, region); an ARN the API does not return has no tags."""
    client = aws.client("resourcegroupstaggingapi", account, region, partition)
    wanted = sorted(set(arns))
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(wanted), TAGGING_BATCH):
        batch = wanted[start : start + TAGGING_BATCH]
        for page in paginate(client, "get_resources", {"ResourceARNList": batch}):
            for mapping in page.get("ResourceTagMappingList", []):
                found[mapping["ResourceARN"]] = as_dict(mapping.get("Tags"))
    return {arn: found.get(arn, {}) for arn in wanted}


def iam_tags(aws: Aws, account: str, partition: str) -> dict[str, dict[str, str]]:
    """Tags of every IAM role and user of an account, by ARN."""
    client = aws.client("iam", account, "us-east-1", partition)
    tags: dict[str, dict[str, str]] = {}
    for page in paginate(client, "get_account_authorization_details", {"Filter": ["User", "Role"]}):
        for item in [*page.get("UserDetailList", []), *page.get("RoleDetailList", [])]:
            tags[item["Arn"]] = as_dict(item.get("Tags"))
    return tags
