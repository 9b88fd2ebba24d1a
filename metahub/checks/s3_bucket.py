"""MetaChecks of S3 buckets: effective public access (policy, ACL, bucket and account Block Public
Access) and default encryption."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, Unknown, check
from metahub.checks.resource_policy import policy_exposure, register_policy_checks

BUCKET = "AwsS3Bucket"
_PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


_WRITE_PROBES = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:PutObjectAcl",
    "s3:PutBucketPolicy",
    "s3:PutBucketAcl",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
)
"""What lets a caller change the data or who else may read it."""

register_policy_checks(
    BUCKET,
    document=lambda r: r.detail("Policy"),
    needs=("Policy",),
    what="bucket policy",
    public="it_has_bucket_policy_public",
)


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
    account) does not neutralise (``RestrictPublicBuckets`` for policies, ``IgnorePublicAcls`` for ACLs)."""
    policy_unknown = None
    try:
        statements = r.check("it_has_bucket_policy_public")
    except Unknown as exc:
        statements, policy_unknown = [], str(exc)
    grants = r.check("it_has_bucket_acl_public")
    if not statements and not grants and not policy_unknown:
        return No(f"the ACL grants nothing to everyone; {statements.reason}")
    blocked = set(r.check("it_has_public_access_block_enabled"))
    if not ("RestrictPublicBuckets" in blocked and "IgnorePublicAcls" in blocked):
        blocked |= set(r.check("it_has_account_public_access_block_enabled"))
    evidence: dict[str, Any] = {}
    if statements and "RestrictPublicBuckets" not in blocked:
        evidence["policy_statements"] = statements
    if grants and "IgnorePublicAcls" not in blocked:
        evidence["acl_grants"] = grants
    if evidence:
        return evidence
    if policy_unknown and "RestrictPublicBuckets" not in blocked:
        raise Unknown(policy_unknown)
    return No("public grants are neutralised by Block Public Access: " + ", ".join(sorted(blocked)))


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


@check(BUCKET, needs=("Policy", "Acl", "PublicAccessBlock", "account_public_access_block"))
def is_unrestricted(r: ResourceView) -> list[str] | No:
    """Anyone may change its data or permissions: effective public grants of ``s3:Put*`` /
    ``s3:Delete*`` kinds of action (matched without regard to case), WRITE or FULL_CONTROL ACLs."""
    public = r.check("is_public")
    if not public:
        return public  # type: ignore[no-any-return]
    found: list[str] = []
    if "policy_statements" in public:
        exposed = policy_exposure(r, r.detail("Policy"), "bucket policy")
        found += [
            f"{action} ({s.label})"
            for s in exposed.statements
            for action in _WRITE_PROBES
            if s.actions.matches(action)
        ]
    found += [g for g in public.get("acl_grants", []) if g.startswith(("WRITE", "FULL_CONTROL"))]
    return found or No("public, but only to read")
