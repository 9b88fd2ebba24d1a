"""MetaChecks of S3 buckets: effective public access (policy, ACL, bucket and account Block Public
Access) and default encryption."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.policy import public_statements

BUCKET = "AwsS3Bucket"
_PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@check(BUCKET, needs=("Policy",))
def it_has_bucket_policy_public(r: ResourceView) -> list[dict[str, Any]]:
    """Policy statements that allow anyone, with no condition narrowing who."""
    return public_statements(r.detail("Policy"))


@check(BUCKET, needs=("Acl",))
def it_has_bucket_acl_public(r: ResourceView) -> list[str]:
    """ACL grants to everyone or to every AWS user."""
    return [
        f"{g.get('Permission')} to {g['Grantee']['URI'].rsplit('/', 1)[-1]}"
        for g in r.detail("Acl") or []
        if g.get("Grantee", {}).get("URI") in _PUBLIC_GROUPS
    ]


@check(BUCKET, needs=("PublicAccessBlock",))
def it_has_public_access_block_enabled(r: ResourceView) -> list[str]:
    """The bucket's own Block Public Access flags that are on."""
    config = r.detail("PublicAccessBlock") or {}
    return [flag for flag in _BLOCK_FLAGS if config.get(flag)]


@check(BUCKET, needs=("account_public_access_block",))
def it_has_account_public_access_block_enabled(r: ResourceView) -> list[str]:
    """The account's Block Public Access flags that are on."""
    account = r.one("account_public_access_block")
    config = (account.get("Configuration") if account else None) or {}
    return [flag for flag in _BLOCK_FLAGS if config.get(flag)]


@check(BUCKET, needs=("Policy", "Acl", "PublicAccessBlock", "account_public_access_block"))
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Readable or writable by anyone: a public policy or ACL that Block Public Access (bucket or
    account) does not neutralise."""
    statements = r.check("it_has_bucket_policy_public")
    grants = r.check("it_has_bucket_acl_public")
    if not statements and not grants:
        return No("neither the policy nor the ACL grants public access")
    blocked = set(r.check("it_has_public_access_block_enabled"))
    if not (statements and "RestrictPublicBuckets" not in blocked) and not (
        grants and "IgnorePublicAcls" not in blocked
    ):
        return No("public grants are neutralised by the bucket's Block Public Access")
    blocked |= set(r.check("it_has_account_public_access_block_enabled"))
    evidence: dict[str, Any] = {}
    if statements and "RestrictPublicBuckets" not in blocked:
        evidence["policy_statements"] = statements
    if grants and "IgnorePublicAcls" not in blocked:
        evidence["acl_grants"] = grants
    return evidence or No("public grants are neutralised by the account's Block Public Access")


@check(BUCKET, needs=("Encryption",))
def is_encrypted(r: ResourceView) -> str | No:
    """Default encryption (the value names the algorithm and key)."""
    rules = r.detail("Encryption") or []
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm"):
            key = default.get("KMSMasterKeyID")
            return f"{default['SSEAlgorithm']} {key}" if key else default["SSEAlgorithm"]
    return No("no default encryption configured")


@check(BUCKET, needs=("Policy", "Acl"))
def is_unrestricted(r: ResourceView) -> list[str] | No:
    """Anyone may write or change permissions (``s3:Put*``, ``s3:*``, WRITE or FULL_CONTROL ACLs)."""
    found = []
    for statement in r.check("it_has_bucket_policy_public"):
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        found += [a for a in actions if a in ("*", "s3:*") or str(a).startswith(("s3:Put", "s3:Delete"))]
    found += [g for g in r.check("it_has_bucket_acl_public") if g.startswith(("WRITE", "FULL_CONTROL"))]
    return found or No("no public write or permission grants")
