"""The policy evaluator against AWS's documented semantics, one row per case.

Every row names the rule that decides it. The rules, as AWS documents them:
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from metahub.checks.policy import PolicyError, Source, admin_equivalent, exposure

ME, OTHER = "123456789012", "999988887777"
NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
BUCKET = "arn:aws:s3:::data"
OBJECTS = "arn:aws:s3:::data/*"

# The documents the rules come from (IAM User Guide and S3 User Guide).
EVAL = "IAM policy evaluation logic: an explicit Deny in any policy overrides any Allow"
IMPLICIT = "IAM policy evaluation logic: a request no statement allows is implicitly denied"
PRINCIPAL = "IAM JSON elements, Principal: '*' and {'AWS': '*'} mean every principal, anonymous included"
NAMED = "IAM JSON elements, Principal: an account or ARN names that principal only"
NOTPRINCIPAL = "IAM JSON elements, NotPrincipal: the statement applies to everyone except those listed"
PUBLIC = "S3 'The meaning of public': a grant is non-public only for fixed values (no wildcard) of identifying keys"
ABSENT = "IAM condition operators: a key absent from the request makes the condition false"
NEGATED = (
    "IAM condition operators: for negated operators (StringNotEquals, NotIpAddress ...) an absent key is true"
)
IFEXISTS = "IAM condition operators, ...IfExists: true when the key is absent from the request"
FORALL = "IAM multivalued context keys: ForAllValues returns true when the key is absent"
FORANY = "IAM multivalued context keys: ForAnyValue returns false when the key is absent"
NULL = "IAM condition operators, Null: true means the key is absent, false that it is present"
IP = "IAM condition operators, IpAddress / NotIpAddress: CIDR ranges; aws:SourceIp absent through VPC endpoints"
OR = "IAM condition logic: several values of one key are ORed (NORed for negated operators)"
AND = "IAM condition logic: several keys and operators must all be true (AND)"
CHOSEN = "IAM global condition keys: request keys (TLS, user agent, prefix) are set by the caller"
DATE = "IAM condition operators, Date: compared with aws:CurrentTime, the time of the request"
UNKNOWN_OP = "IAM condition operators: an operator AWS does not define cannot be decided"
ACTION = "IAM JSON elements, Action: names are case-insensitive; * and ? are wildcards"
NOTACTION = "IAM JSON elements, NotAction: matches every action except those listed"
RESOURCE = "IAM JSON elements, Resource / NotResource: ARN patterns with * and ? wildcards"
FEDERATED = "IAM web identity federation: an OIDC / Cognito trust must pin the audience or subject"
SAML = "IAM SAML federation: a SAML provider is the account's own identity provider"
SERVICE = (
    "IAM confused deputy: a service principal without aws:SourceAccount / SourceArn acts for any account"
)
BOUNDARY = (
    "IAM permissions boundaries: effective permissions are what both identity policy and boundary allow"
)
GROUPS = "IAM user groups: a user has the permissions of the policies of its groups"

EXACT = (
    "IAM condition operators: StringEquals is exact matching, case sensitive; * and ? are literal "
    "characters there (only StringLike's values 'can include multi-character match wildcards')"
)
ARN_OPS = (
    "IAM condition operators, ArnEquals / ArnLike: 'Each of the six colon-delimited components of the ARN "
    "is checked separately and each can include' * or ?: a fixed account component pins the account"
)
LIKE_PREFIX = (
    "IAM condition operators, StringLike: * matches any characters, colons included; a pattern pins "
    "only what comes before its first wildcard"
)
VERSION = (
    "IAM JSON elements, Version: without 2012-10-17 'variables such as ${aws:username} aren't "
    "recognized as variables and are instead treated as literal strings'"
)
VARIABLE = (
    "S3 'The meaning of public': non-public only for 'fixed values (values that don't contain a "
    "wildcard or an AWS Identity and Access Management Policy Variable)'"
)
BROAD = "S3 'The meaning of public': aws:SourceIp values broader than /8 for IPv4 (/32 for IPv6) are public"
NAMES = (
    "IAM global condition keys: aws:username is a friendly name, unique only within its account; "
    "aws:VpcSourceIp and private IPv4 addresses repeat in every VPC: fixed values pin no caller"
)

ANY: Any = "*"


def stmt(
    effect: str = "Allow",
    principal: Any = ANY,
    action: Any = "s3:GetObject",
    resource: Any = OBJECTS,
    condition: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    found: dict[str, Any] = {"Effect": effect, **extra}
    if principal is not None and "NotPrincipal" not in extra:
        found["Principal"] = principal
    if action is not None and "NotAction" not in extra:
        found["Action"] = action
    if resource is not None and "NotResource" not in extra:
        found["Resource"] = resource
    if condition:
        found["Condition"] = condition
    return found


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def cond(operator: str, key: str, value: Any) -> dict[str, Any]:
    return {operator: {key: value}}


def allow_if(operator: str, key: str, value: Any) -> dict[str, Any]:
    return doc(stmt(condition=cond(operator, key, value)))


def deny_unless(operator: str, key: str, value: Any) -> dict[str, Any]:
    """Allow everyone, and deny on the condition."""
    return doc(
        stmt(), stmt("Deny", action="s3:*", resource=[BUCKET, OBJECTS], condition=cond(operator, key, value))
    )


# Keys that identify a caller or its network (S3 "The meaning of public"), each with a value the
# owner would fix and a wildcard value an outsider can match.
IDENTIFYING = [
    ("aws:SourceVpce", "vpce-1a2b3c4d", "vpce-*"),
    ("aws:SourceVpc", "vpc-111bbb22", "vpc-*"),
    ("aws:SourceArn", f"arn:aws:sns:us-east-1:{ME}:topic", "arn:aws:sns:*:*:topic"),
    ("aws:SourceAccount", ME, "*"),
    ("aws:SourceOwner", ME, "1234*"),
    ("aws:PrincipalOrgID", "o-a1b2c3d4e5", "o-*"),
    ("aws:PrincipalAccount", ME, "12345678901?"),
    ("aws:PrincipalArn", f"arn:aws:iam::{ME}:role/app", "arn:aws:iam::*:role/app"),
    ("aws:userid", "AIDAEXAMPLE", "AIDA*"),
    ("aws:PrincipalOrgPaths", "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/", "o-*/*"),
]

CASES: list[tuple[str, str, Any, bool | None]] = []
"""(id, rule, document, is_public: True / False / None for unknown)"""

for key, fixed, wild in IDENTIFYING:
    k = key.split(":")[1]
    CASES += [
        (f"{k}-equals-fixed", PUBLIC, allow_if("StringEquals", key, fixed), False),
        (f"{k}-like-fixed-list", OR, allow_if("StringLike", key, [fixed, fixed]), False),
        (f"{k}-equals-wildcard", PUBLIC, allow_if("StringLike", key, wild), True),
        (f"{k}-not-equals", NEGATED, allow_if("StringNotEquals", key, fixed), True),
        (f"{k}-equals-if-exists", IFEXISTS, allow_if("StringEqualsIfExists", key, fixed), True),
        (f"{k}-forall-values", FORALL, allow_if("ForAllValues:StringEquals", key, fixed), True),
        (f"{k}-forany-value", FORANY, allow_if("ForAnyValue:StringEquals", key, fixed), False),
        (f"{k}-null-false", NULL, allow_if("Null", key, "false"), True),
        (f"{k}-deny-not-equals", EVAL, deny_unless("StringNotEquals", key, fixed), False),
        (f"{k}-deny-not-equals-if-exists", EVAL, deny_unless("StringNotEqualsIfExists", key, fixed), False),
        (f"{k}-deny-equals-fixed", EVAL, deny_unless("StringEquals", key, fixed), True),
        (f"{k}-deny-null-true", NULL, deny_unless("Null", key, "true"), True),
    ]

CASES += [
    # Principal / NotPrincipal
    ("principal-star", PRINCIPAL, doc(stmt()), True),
    ("principal-aws-star", PRINCIPAL, doc(stmt(principal={"AWS": "*"})), True),
    ("principal-aws-star-list", PRINCIPAL, doc(stmt(principal={"AWS": ["*"]})), True),
    ("principal-own-account", NAMED, doc(stmt(principal={"AWS": f"arn:aws:iam::{ME}:root"})), False),
    ("principal-other-account", NAMED, doc(stmt(principal={"AWS": OTHER})), False),
    ("principal-other-role", NAMED, doc(stmt(principal={"AWS": f"arn:aws:iam::{OTHER}:role/r"})), False),
    (
        "principal-canonical-user",
        NAMED,
        doc(stmt(principal={"CanonicalUser": "79a59df900b949e55d96a1e698fb"})),
        False,
    ),
    ("principal-service", NAMED, doc(stmt(principal={"Service": "cloudfront.amazonaws.com"})), False),
    ("principal-deleted", NAMED, doc(stmt(principal={"AWS": "AROAEXAMPLEDELETED1"})), False),
    ("not-principal-allow", NOTPRINCIPAL, doc(stmt(principal=None, NotPrincipal={"AWS": OTHER})), True),
    (
        "not-principal-deny",
        NOTPRINCIPAL,
        doc(
            stmt(),
            stmt(
                "Deny",
                principal=None,
                action="s3:*",
                resource="*",
                NotPrincipal={"AWS": f"arn:aws:iam::{ME}:root"},
            ),
        ),
        False,
    ),
    ("deny-star-everything", EVAL, doc(stmt(), stmt("Deny", action="*", resource="*")), False),
    (
        "deny-named-principal-only",
        EVAL,
        doc(stmt(), stmt("Deny", principal={"AWS": OTHER}, action="*", resource="*")),
        True,
    ),
    ("deny-only-other-action", EVAL, doc(stmt(), stmt("Deny", action="s3:PutObject", resource="*")), True),
    (
        "deny-other-resource",
        EVAL,
        doc(stmt(), stmt("Deny", action="s3:*", resource="arn:aws:s3:::other/*")),
        True,
    ),
    (
        "deny-part-of-resource",
        EVAL,
        doc(stmt(), stmt("Deny", action="s3:*", resource="arn:aws:s3:::data/private/*")),
        True,
    ),
    (
        "deny-each-action-separately",
        EVAL,
        doc(
            stmt(action=["s3:GetObject", "s3:PutObject"]),
            stmt("Deny", action="s3:Get*", resource="*"),
            stmt("Deny", action="s3:Put*", resource="*"),
        ),
        False,
    ),
    (
        "deny-covers-one-of-two-actions",
        EVAL,
        doc(stmt(action=["s3:GetObject", "s3:PutObject"]), stmt("Deny", action="s3:Get*", resource="*")),
        True,
    ),
    (
        "deny-not-action-leaves-it",
        NOTACTION,
        doc(stmt(), stmt("Deny", NotAction="s3:GetObject", resource="*")),
        True,
    ),
    (
        "deny-not-action-other",
        NOTACTION,
        doc(stmt(), stmt("Deny", NotAction="s3:ListBucket", resource="*")),
        False,
    ),
    (
        "deny-not-resource-other",
        RESOURCE,
        doc(stmt(), stmt("Deny", action="*", NotResource="arn:aws:s3:::other/*")),
        False,
    ),
    ("deny-not-resource-this", RESOURCE, doc(stmt(), stmt("Deny", action="*", NotResource=OBJECTS)), True),
    ("no-statement", IMPLICIT, doc(), False),
    ("no-policy", IMPLICIT, None, False),
    ("only-deny", IMPLICIT, doc(stmt("Deny")), False),
    # Actions: case and wildcards
    ("action-lower-case-deny", ACTION, doc(stmt(), stmt("Deny", action="s3:getobject", resource="*")), False),
    (
        "action-wildcard-middle-deny",
        ACTION,
        doc(stmt(), stmt("Deny", action="s3:*Object", resource="*")),
        False,
    ),
    (
        "action-question-mark-deny",
        ACTION,
        doc(stmt(), stmt("Deny", action="s3:GetObjec?", resource="*")),
        False,
    ),
    (
        "allow-wildcard-deny-one",
        ACTION,
        doc(stmt(action="s3:Get*"), stmt("Deny", action="s3:GetObject", resource="*")),
        True,
    ),
    ("allow-not-action", NOTACTION, doc(stmt(action=None, NotAction="s3:DeleteBucket")), True),
    (
        "allow-not-action-deny-star",
        NOTACTION,
        doc(stmt(action=None, NotAction="s3:DeleteBucket"), stmt("Deny", action="*", resource="*")),
        False,
    ),
    # aws:SourceIp
    ("ip-whole-ipv4", IP, allow_if("IpAddress", "aws:SourceIp", "0.0.0.0/0"), True),
    ("ip-two-halves", IP, allow_if("IpAddress", "aws:SourceIp", ["0.0.0.0/1", "128.0.0.0/1"]), True),
    ("ip-whole-ipv6", IP, allow_if("IpAddress", "aws:SourceIp", "::/0"), True),
    ("ip-office", IP, allow_if("IpAddress", "aws:SourceIp", "203.0.113.0/24"), False),
    (
        "ip-office-v4-and-v6",
        IP,
        allow_if("IpAddress", "aws:SourceIp", ["203.0.113.0/24", "2001:db8::/32"]),
        False,
    ),
    ("ip-not-private-range", NEGATED, allow_if("NotIpAddress", "aws:SourceIp", "10.0.0.0/8"), True),
    (
        "ip-office-except-one",
        AND,
        doc(
            stmt(
                condition={
                    "IpAddress": {"aws:SourceIp": "54.240.143.0/24"},
                    "NotIpAddress": {"aws:SourceIp": "54.240.143.188/32"},
                }
            )
        ),
        False,
    ),
    ("ip-if-exists-office", IFEXISTS, allow_if("IpAddressIfExists", "aws:SourceIp", "203.0.113.0/24"), True),
    ("ip-deny-outside-office", EVAL, deny_unless("NotIpAddress", "aws:SourceIp", "203.0.113.0/24"), False),
    ("ip-deny-inside-office", EVAL, deny_unless("IpAddress", "aws:SourceIp", "203.0.113.0/24"), True),
    ("ip-deny-whole-v4-leaves-v6", IP, deny_unless("IpAddress", "aws:SourceIp", "0.0.0.0/0"), True),
    ("ip-bad-range", IP, allow_if("IpAddress", "aws:SourceIp", "not-an-ip"), None),
    # Keys the caller sets
    ("tls-only", CHOSEN, allow_if("Bool", "aws:SecureTransport", "true"), True),
    ("deny-without-tls", CHOSEN, deny_unless("Bool", "aws:SecureTransport", "false"), True),
    ("user-agent", CHOSEN, allow_if("StringEquals", "aws:UserAgent", "internal-tool"), True),
    ("referer", CHOSEN, allow_if("StringLike", "aws:Referer", "https://example.com/*"), True),
    ("prefix", CHOSEN, allow_if("StringEquals", "s3:prefix", "public/"), True),
    ("mfa-present", CHOSEN, allow_if("Bool", "aws:MultiFactorAuthPresent", "true"), True),
    ("principal-tag", CHOSEN, allow_if("StringEquals", "aws:PrincipalTag/team", "data"), True),
    ("numeric-max-keys", CHOSEN, allow_if("NumericLessThanEquals", "s3:max-keys", "10"), True),
    ("binary-request-key", CHOSEN, allow_if("BinaryEquals", "s3:x-amz-content-sha256", "QmluYXJ5"), True),
    (
        "encryption-key-fixed",
        PUBLIC,
        allow_if(
            "StringEquals",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            f"arn:aws:kms:us-east-1:{ME}:key/1",
        ),
        False,
    ),
    ("access-point-account", PUBLIC, allow_if("StringEquals", "s3:DataAccessPointAccount", ME), False),
    ("userid-role-sessions", PUBLIC, allow_if("StringLike", "aws:userid", "AROAEXAMPLEROLEID:*"), False),
    ("userid-any-role-sessions", PUBLIC, allow_if("StringLike", "aws:userid", "AROA*"), True),
    (
        "source-vpc-arn",
        PUBLIC,
        allow_if("ArnEquals", "aws:SourceVpcArn", f"arn:aws:ec2:us-east-1:{ME}:vpc/vpc-1"),
        False,
    ),
    (
        "kms-caller-account",
        PUBLIC,
        doc(
            stmt(action="kms:Decrypt", resource="*", condition=cond("StringEquals", "kms:CallerAccount", ME))
        ),
        False,
    ),
    ("principal-is-service-true", PRINCIPAL, allow_if("Bool", "aws:PrincipalIsAWSService", "true"), False),
    ("resource-account-own", AND, allow_if("StringEquals", "aws:ResourceAccount", ME), True),
    ("resource-tag", UNKNOWN_OP, allow_if("StringEquals", "aws:ResourceTag/env", "prod"), None),
    ("unmodelled-global-key", UNKNOWN_OP, allow_if("StringEquals", "aws:SomethingNew", "x"), None),
    ("unknown-operator", UNKNOWN_OP, allow_if("StringAlmostEquals", "aws:SourceVpce", "vpce-1"), None),
    (
        "unknown-operator-in-deny",
        UNKNOWN_OP,
        deny_unless("StringAlmostEquals", "aws:SourceVpce", "vpce-1"),
        None,
    ),
    (
        "unknown-and-bounded",
        AND,
        doc(
            stmt(
                condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}, "StringAlmostEquals": {"aws:x": "y"}}
            )
        ),
        False,
    ),
    (
        "unknown-statement-and-public-one",
        PRINCIPAL,
        doc(
            stmt(condition=cond("StringAlmostEquals", "aws:SourceVpce", "vpce-1")),
            stmt(action="s3:ListBucket", resource=BUCKET),
        ),
        True,
    ),
    (
        "two-keys-one-bounded",
        AND,
        doc(
            stmt(
                condition={
                    "Bool": {"aws:SecureTransport": "true"},
                    "StringEquals": {"aws:SourceVpce": "vpce-1"},
                }
            )
        ),
        False,
    ),
    # Time
    ("date-until-future", DATE, allow_if("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z"), True),
    ("date-expired", DATE, allow_if("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z"), False),
    ("date-not-yet", DATE, allow_if("DateGreaterThan", "aws:CurrentTime", "2030-01-01T00:00:00Z"), False),
    ("epoch-expired", DATE, allow_if("NumericLessThan", "aws:EpochTime", "1577836800"), False),
    (
        "deny-after-date",
        DATE,
        deny_unless("DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z"),
        False,
    ),
    (
        "deny-before-date-passed",
        DATE,
        deny_unless("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z"),
        True,
    ),
    ("date-garbage", DATE, allow_if("DateLessThan", "aws:CurrentTime", "soon"), None),
    # Federation (role trust)
    (
        "oidc-github-no-condition",
        FEDERATED,
        doc(
            stmt(
                principal={
                    "Federated": f"arn:aws:iam::{ME}:oidc-provider/token.actions.githubusercontent.com"
                },
                action="sts:AssumeRoleWithWebIdentity",
                resource=None,
            )
        ),
        True,
    ),
    (
        "oidc-github-audience-only",
        FEDERATED,
        doc(
            stmt(
                principal={
                    "Federated": f"arn:aws:iam::{ME}:oidc-provider/token.actions.githubusercontent.com"
                },
                action="sts:AssumeRoleWithWebIdentity",
                resource=None,
                condition=cond(
                    "StringEquals", "token.actions.githubusercontent.com:aud", "sts.amazonaws.com"
                ),
            )
        ),
        True,
    ),
    (
        "oidc-github-subject-repo",
        FEDERATED,
        doc(
            stmt(
                principal={
                    "Federated": f"arn:aws:iam::{ME}:oidc-provider/token.actions.githubusercontent.com"
                },
                action="sts:AssumeRoleWithWebIdentity",
                resource=None,
                condition=cond("StringLike", "token.actions.githubusercontent.com:sub", "repo:acme/app:*"),
            )
        ),
        False,
    ),
    (
        "oidc-github-subject-any-repo",
        FEDERATED,
        doc(
            stmt(
                principal={
                    "Federated": f"arn:aws:iam::{ME}:oidc-provider/token.actions.githubusercontent.com"
                },
                action="sts:AssumeRoleWithWebIdentity",
                resource=None,
                condition=cond("StringLike", "token.actions.githubusercontent.com:sub", "repo:*"),
            )
        ),
        True,
    ),
    (
        "cognito-no-audience",
        FEDERATED,
        doc(
            stmt(
                principal={"Federated": "cognito-identity.amazonaws.com"},
                action="sts:AssumeRoleWithWebIdentity",
                resource=None,
            )
        ),
        True,
    ),
    (
        "cognito-pool-audience",
        FEDERATED,
        doc(
            stmt(
                principal={"Federated": "cognito-identity.amazonaws.com"},
                action="sts:AssumeRoleWithWebIdentity",
                resource=None,
                condition=cond("StringEquals", "cognito-identity.amazonaws.com:aud", "us-east-1:1111-2222"),
            )
        ),
        False,
    ),
    (
        "cognito-audience-if-exists",
        IFEXISTS,
        doc(
            stmt(
                principal={"Federated": "cognito-identity.amazonaws.com"},
                action="sts:AssumeRoleWithWebIdentity",
                resource=None,
                condition=cond(
                    "StringEqualsIfExists", "cognito-identity.amazonaws.com:aud", "us-east-1:1111-2222"
                ),
            )
        ),
        True,
    ),
    (
        "google-no-audience",
        FEDERATED,
        doc(
            stmt(
                principal={"Federated": "accounts.google.com"},
                action="sts:AssumeRoleWithWebIdentity",
                resource=None,
            )
        ),
        True,
    ),
    (
        "google-client-audience",
        FEDERATED,
        doc(
            stmt(
                principal={"Federated": "accounts.google.com"},
                action="sts:AssumeRoleWithWebIdentity",
                resource=None,
                condition=cond("StringEquals", "accounts.google.com:aud", "1234.apps.googleusercontent.com"),
            )
        ),
        False,
    ),
    (
        "eks-oidc-provider",
        FEDERATED,
        doc(
            stmt(
                principal={
                    "Federated": f"arn:aws:iam::{ME}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
                },
                action="sts:AssumeRoleWithWebIdentity",
                resource=None,
            )
        ),
        False,
    ),
    (
        "saml-provider",
        SAML,
        doc(
            stmt(
                principal={"Federated": f"arn:aws:iam::{ME}:saml-provider/okta"},
                action="sts:AssumeRoleWithSAML",
                resource=None,
            )
        ),
        False,
    ),
    (
        "trust-any-aws",
        PRINCIPAL,
        doc(stmt(principal={"AWS": "*"}, action="sts:AssumeRole", resource=None)),
        True,
    ),
    (
        "trust-any-aws-external-id",
        CHOSEN,
        doc(
            stmt(
                principal={"AWS": "*"},
                action="sts:AssumeRole",
                resource=None,
                condition=cond("StringEquals", "sts:ExternalId", "x"),
            )
        ),
        True,
    ),
    (
        "trust-any-aws-org",
        PUBLIC,
        doc(
            stmt(
                principal={"AWS": "*"},
                action="sts:AssumeRole",
                resource=None,
                condition=cond("StringEquals", "aws:PrincipalOrgID", "o-1"),
            )
        ),
        False,
    ),
    (
        "service-without-source",
        SERVICE,
        doc(stmt(principal={"Service": "sns.amazonaws.com"}, action="sqs:SendMessage", resource="*")),
        False,
    ),
]



def versioned(version: str | None, *statements: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"Statement": list(statements)}
    if version:
        found["Version"] = version
    return found


ROLE_STAR = f"arn:aws:iam::{ME}:role/*"
# Operators read as AWS documents them: what a value matches decides whether it pins the caller.
CASES += [
    ("equals-literal-star-account", EXACT, allow_if("StringEquals", "aws:SourceAccount", "*"), False),
    ("equals-literal-star-vpce", EXACT, allow_if("StringEquals", "aws:SourceVpce", "vpce-*"), False),
    ("equals-literal-question", EXACT, allow_if("StringEquals", "aws:PrincipalAccount", "12345678901?"), False),
    ("equals-literal-star-org", EXACT, allow_if("StringEquals", "aws:PrincipalOrgID", "o-*"), False),
    ("equals-ignore-case-literal-star", EXACT, allow_if("StringEqualsIgnoreCase", "aws:SourceVpc", "*"), False),
    ("not-equals-literal-star", EXACT, allow_if("StringNotEquals", "aws:SourceVpce", "*"), True),
    ("not-like-star-absent-key", NEGATED, allow_if("StringNotLike", "aws:SourceVpce", "*"), True),
    ("like-star-account", LIKE_PREFIX, allow_if("StringLike", "aws:SourceAccount", "*"), True),
    ("equals-literal-kms-caller", EXACT, allow_if("StringEquals", "kms:CallerAccount", "*"), False),
    ("like-kms-caller-star", LIKE_PREFIX, allow_if("StringLike", "kms:CallerAccount", "*"), True),
    ("arnlike-own-roles", ARN_OPS, allow_if("ArnLike", "aws:PrincipalArn", ROLE_STAR), False),
    ("arnequals-own-roles", ARN_OPS, allow_if("ArnEquals", "aws:PrincipalArn", ROLE_STAR), False),
    ("arnlike-other-account-roles", ARN_OPS, allow_if("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{OTHER}:role/*"), False),
    ("arnlike-any-account", ARN_OPS, allow_if("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/admin"), True),
    ("arnlike-account-question", ARN_OPS, allow_if("ArnLike", "aws:PrincipalArn", "arn:aws:iam::12345678901?:role/a"), True),
    ("arnlike-star", ARN_OPS, allow_if("ArnLike", "aws:PrincipalArn", "*"), True),
    ("arnlike-all-components", ARN_OPS, allow_if("ArnLike", "aws:PrincipalArn", "arn:*:*:*:*:*"), True),
    ("arnequals-not-own-roles", NEGATED, allow_if("ArnNotLike", "aws:PrincipalArn", ROLE_STAR), True),
    ("stringlike-own-roles", LIKE_PREFIX, allow_if("StringLike", "aws:PrincipalArn", ROLE_STAR), False),
    ("stringlike-own-account-anything", LIKE_PREFIX, allow_if("StringLike", "aws:PrincipalArn", f"arn:aws:iam::{ME}:*"), False),
    ("stringlike-account-open", LIKE_PREFIX, allow_if("StringLike", "aws:PrincipalArn", "arn:aws:iam::*"), True),
    ("stringlike-account-prefix", LIKE_PREFIX, allow_if("StringLike", "aws:PrincipalArn", "arn:aws:iam::1234*"), True),
    ("equals-literal-arn-star", EXACT, allow_if("StringEquals", "aws:PrincipalArn", "arn:aws:iam::*:role/x"), False),
    ("source-arn-like-own-topics", ARN_OPS, allow_if("ArnLike", "aws:SourceArn", f"arn:aws:sns:*:{ME}:*"), False),
    ("source-arn-like-any-account", ARN_OPS, allow_if("ArnLike", "aws:SourceArn", "arn:aws:sns:us-east-1:*:t"), True),
    ("source-arn-bucket-prefix", LIKE_PREFIX, allow_if("StringLike", "aws:SourceArn", "arn:aws:s3:::logs*"), True),
    ("source-arn-bucket-fixed", ARN_OPS, allow_if("ArnEquals", "aws:SourceArn", "arn:aws:s3:::logs"), False),
    ("source-arn-bucket-arnlike-star", ARN_OPS, allow_if("ArnLike", "aws:SourceArn", "arn:aws:s3:::*"), True),
    ("org-path-fixed-org", LIKE_PREFIX, allow_if("StringLike", "aws:PrincipalOrgPaths", "o-a1b2c3d4e5/*"), False),
    ("org-path-open-org", LIKE_PREFIX, allow_if("StringLike", "aws:PrincipalOrgPaths", "o-a1b2c3d4e5*"), True),
    ("org-path-forany-fixed-org", LIKE_PREFIX, allow_if("ForAnyValue:StringLike", "aws:PrincipalOrgPaths", ["o-a1b2c3d4e5/r-ab12/*"]), False),
    ("userid-role-sessions", VARIABLE, allow_if("StringLike", "aws:userid", "AROAEXAMPLEID:*"), False),
    ("userid-any-role", VARIABLE, allow_if("StringLike", "aws:userid", "AROA*"), True),
    ("userid-equals-literal-star", EXACT, allow_if("StringEquals", "aws:userid", "AROA*"), False),
    # Policy variables: a variable is the caller's own value, so it pins no one; without Version
    # 2012-10-17 it is literal text, which no caller has.
    ("variable-userid-2012", VARIABLE, versioned("2012-10-17", stmt(condition=cond("StringEquals", "aws:userid", "${aws:userid}"))), True),
    ("variable-userid-2008", VERSION, versioned("2008-10-17", stmt(condition=cond("StringEquals", "aws:userid", "${aws:userid}"))), False),
    ("variable-userid-no-version", VERSION, versioned(None, stmt(condition=cond("StringEquals", "aws:userid", "${aws:userid}"))), False),
    ("variable-arn-2012", VARIABLE, versioned("2012-10-17", stmt(condition=cond("ArnEquals", "aws:PrincipalArn", "${aws:PrincipalArn}"))), True),
    ("variable-arn-no-version", VERSION, versioned(None, stmt(condition=cond("ArnEquals", "aws:PrincipalArn", "${aws:PrincipalArn}"))), False),
    ("variable-account-like-2012", VARIABLE, versioned("2012-10-17", stmt(condition=cond("StringLike", "aws:PrincipalAccount", "${aws:PrincipalAccount}"))), True),
    ("variable-in-arn-account-2012", VARIABLE, versioned("2012-10-17", stmt(condition=cond("ArnLike", "aws:PrincipalArn", "arn:aws:iam::${aws:PrincipalAccount}:role/x"))), True),
    ("variable-in-arn-role-2012", VARIABLE, versioned("2012-10-17", stmt(condition=cond("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{ME}:role/${{aws:username}}"))), False),
    ("variable-deny-2008-literal", VERSION, versioned("2008-10-17", stmt(), stmt("Deny", action="s3:*", resource=[BUCKET, OBJECTS], condition=cond("StringNotEquals", "aws:userid", "${aws:userid}"))), False),
    # S3's broad-range rule.
    ("ip-slash-7", BROAD, allow_if("IpAddress", "aws:SourceIp", "0.0.0.0/7"), True),
    ("ip-slash-8", BROAD, allow_if("IpAddress", "aws:SourceIp", "10.0.0.0/8"), False),
    ("ip-slash-8-public", BROAD, allow_if("IpAddress", "aws:SourceIp", "52.0.0.0/8"), False),
    ("ip-slash-1", BROAD, allow_if("IpAddress", "aws:SourceIp", "128.0.0.0/1"), True),
    ("ip-one-broad-in-list", BROAD, allow_if("IpAddress", "aws:SourceIp", ["203.0.113.0/24", "64.0.0.0/2"]), True),
    ("ipv6-slash-31", BROAD, allow_if("IpAddress", "aws:SourceIp", "2001:db8::/31"), True),
    ("ipv6-slash-32", BROAD, allow_if("IpAddress", "aws:SourceIp", "2001:db8::/32"), False),
    ("ipv6-slash-48", BROAD, allow_if("IpAddress", "aws:SourceIp", "2001:db8:1::/48"), False),
    ("ipv6-slash-16", BROAD, allow_if("IpAddress", "aws:SourceIp", "2001::/16"), True),
    ("ip-broad-deny-unless", BROAD, deny_unless("NotIpAddress", "aws:SourceIp", "0.0.0.0/6"), True),
    ("ip-narrow-deny-unless", BROAD, deny_unless("NotIpAddress", "aws:SourceIp", "198.51.100.0/24"), False),
    # Keys that name no one in particular.
    ("username-fixed", NAMES, allow_if("StringEquals", "aws:username", "alice"), True),
    ("vpc-source-ip-fixed", NAMES, allow_if("IpAddress", "aws:VpcSourceIp", "10.0.0.5/32"), True),
    ("instance-private-ip-fixed", NAMES, allow_if("StringEquals", "aws:Ec2InstanceSourcePrivateIPv4", "10.0.0.5"), True),
    ("username-with-vpce", AND, doc(stmt(condition={**cond("StringEquals", "aws:username", "alice"), **cond("StringEquals", "aws:SourceVpce", "vpce-1a2b")})), False),
    # Web identity: the subject read by its operator.
    (
        "oidc-sub-equals-literal-star",
        EXACT,
        doc(stmt(principal={"Federated": f"arn:aws:iam::{ME}:oidc-provider/token.actions.githubusercontent.com"},
                 action="sts:AssumeRoleWithWebIdentity", resource=None,
                 condition=cond("StringEquals", "token.actions.githubusercontent.com:sub", "repo:*"))),
        False,
    ),
    (
        "oidc-sub-like-any-repo",
        FEDERATED,
        doc(stmt(principal={"Federated": f"arn:aws:iam::{ME}:oidc-provider/token.actions.githubusercontent.com"},
                 action="sts:AssumeRoleWithWebIdentity", resource=None,
                 condition=cond("StringLike", "token.actions.githubusercontent.com:sub", "repo:*"))),
        True,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "document", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_is_public(rule: str, document: Any, expected: bool | None) -> None:
    found = exposure(document, ME, NOW)
    assert found.is_public is expected, (rule, found)
    if expected is None:
        assert found.unknown and all("statement" in reason for reason in found.unknown)


SHARED: list[tuple[str, str, Any, list[str]]] = [
    (
        "other-account-root",
        NAMED,
        doc(stmt(principal={"AWS": f"arn:aws:iam::{OTHER}:root"})),
        [f"arn:aws:iam::{OTHER}:root"],
    ),
    ("other-account-id", NAMED, doc(stmt(principal={"AWS": [OTHER, ME]})), [OTHER]),
    ("own-account-only", NAMED, doc(stmt(principal={"AWS": f"arn:aws:iam::{ME}:root"})), []),
    (
        "organization",
        PUBLIC,
        allow_if("StringEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5"),
        ["organization o-a1b2c3d4e5"],
    ),
    ("other-principal-account", PUBLIC, allow_if("StringEquals", "aws:PrincipalAccount", OTHER), [OTHER]),
    ("own-principal-account", PUBLIC, allow_if("StringEquals", "aws:PrincipalAccount", ME), []),
    (
        "service-any-account",
        SERVICE,
        doc(stmt(principal={"Service": "sns.amazonaws.com"}, action="sqs:SendMessage", resource="*")),
        ["sns.amazonaws.com on behalf of any account"],
    ),
    (
        "service-own-account",
        SERVICE,
        doc(
            stmt(
                principal={"Service": "sns.amazonaws.com"},
                action="sqs:SendMessage",
                resource="*",
                condition=cond("StringEquals", "aws:SourceAccount", ME),
            )
        ),
        [],
    ),
    (
        "service-other-source-arn",
        SERVICE,
        doc(
            stmt(
                principal={"Service": "sns.amazonaws.com"},
                action="sqs:SendMessage",
                resource="*",
                condition=cond("ArnEquals", "aws:SourceArn", f"arn:aws:sns:us-east-1:{OTHER}:t"),
            )
        ),
        [f"sns.amazonaws.com on behalf of arn:aws:sns:us-east-1:{OTHER}:t"],
    ),
    (
        "saml",
        SAML,
        doc(stmt(principal={"Federated": f"arn:aws:iam::{ME}:saml-provider/okta"}, resource=None)),
        [f"federated arn:aws:iam::{ME}:saml-provider/okta"],
    ),
    ("denied-share", EVAL, doc(stmt(principal={"AWS": OTHER}), stmt("Deny", action="*", resource="*")), []),
    (
        "service-source-arn-own-account-pattern",
        ARN_OPS,
        doc(
            stmt(
                principal={"Service": "sns.amazonaws.com"},
                action="sqs:SendMessage",
                resource="*",
                condition=cond("ArnLike", "aws:SourceArn", f"arn:aws:sns:*:{ME}:*"),
            )
        ),
        [],
    ),
    (
        "service-source-account-like-star",
        LIKE_PREFIX,
        doc(
            stmt(
                principal={"Service": "sns.amazonaws.com"},
                action="sqs:SendMessage",
                resource="*",
                condition=cond("StringLike", "aws:SourceAccount", "*"),
            )
        ),
        ["sns.amazonaws.com on behalf of any account"],
    ),
    (
        "other-account-roles-pattern",
        ARN_OPS,
        allow_if("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{OTHER}:role/*"),
        [f"arn:aws:iam::{OTHER}:role/*"],
    ),
]


@pytest.mark.parametrize(
    ("rule", "document", "expected"), [c[1:] for c in SHARED], ids=[c[0] for c in SHARED]
)
def test_shared_outside_the_account(rule: str, document: Any, expected: list[str]) -> None:
    found = exposure(document, ME, NOW)
    assert found.shared == expected, rule
    assert found.is_public is False


def test_evidence_names_statement_and_conditions() -> None:
    found = exposure(
        doc(stmt(Sid="Web", condition=cond("Bool", "aws:SecureTransport", "true"))), ME, NOW, "bucket policy"
    )
    assert found.public == [
        {
            "statement": "bucket policy statement 1 (Web)",
            "actions": "s3:GetObject",
            "resources": OBJECTS,
            "when": ["Bool aws:SecureTransport true"],
        }
    ]
    cut = exposure(deny_unless("StringNotEquals", "aws:SourceVpce", "vpce-1"), ME, NOW)
    assert cut.restricted == [
        "statement 1 is cut off by statement 2 (Deny when StringNotEquals aws:SourceVpce vpce-1)"
    ]
    bounded = exposure(allow_if("StringEquals", "aws:SourceVpce", "vpce-1"), ME, NOW)
    assert bounded.restricted == ["statement 1: only aws:SourceVpce in ['vpce-1']"]


@pytest.mark.parametrize(
    "document",
    [
        "not a policy",
        {"Statement": ["text"]},
        {"Statement": {"Effect": "Maybe"}},
        {"Statement": {"Effect": "Allow", "Action": "x", "NotAction": "y"}},
        {"Statement": {"Effect": "Allow", "Condition": []}},
    ],
)
def test_documents_aws_would_not_hold_are_errors(document: Any) -> None:
    with pytest.raises(PolicyError):
        exposure(document, ME, NOW)


# --- a principal's own permissions ------------------------------------------------------------

ADMIN = doc(stmt(principal=None, action="*", resource="*"))


def identity(*statements: dict[str, Any]) -> dict[str, Any]:
    return doc(*[{k: v for k, v in s.items() if k != "Principal"} for s in statements])


def admin(policies: list[dict[str, Any]], boundary: dict[str, Any] | None = None) -> bool | None:
    found = admin_equivalent(
        [Source(f"p{i}", d) for i, d in enumerate(policies)],
        ME,
        Source("boundary", boundary) if boundary is not None else None,
        now=NOW,
    )
    return found.allowed


SET = (
    "metahub's admin equivalence (set reasoning): every action on every resource but a few exceptions, "
    "each within one service, that leave it one of IAM's permissions-management actions "
    "(Put/Attach*Policy, CreatePolicyVersion) to grant itself the rest; a Deny's actions are exceptions"
)
POWER_USER = (
    "AWS managed policy PowerUserAccess: all but iam:*, organizations:* and account:* is "
    "'full access to AWS services and resources, but does not allow management of users and groups'"
)


IDENTITY: list[tuple[str, str, list[dict[str, Any]], dict[str, Any] | None, bool | None]] = [
    ("star-star", ACTION, [identity(stmt(action="*", resource="*"))], None, True),
    ("star-colon-star", ACTION, [identity(stmt(action="*:*", resource="*"))], None, True),
    ("star-in-list", ACTION, [identity(stmt(action=["s3:GetObject", "*"], resource=["*"]))], None, True),
    ("service-star-only", ACTION, [identity(stmt(action="s3:*", resource="*"))], None, False),
    ("many-services", ACTION, [identity(stmt(action=["iam:*", "s3:*", "ec2:*"], resource="*"))], None, False),
    (
        "star-on-one-bucket",
        RESOURCE,
        [identity(stmt(action="*", resource="arn:aws:s3:::data/*"))],
        None,
        False,
    ),
    (
        "not-action-a-handful",
        NOTACTION,
        [
            identity(
                stmt(action=None, resource="*", NotAction=["iam:DeleteAccountPasswordPolicy", "aws-portal:*"])
            )
        ],
        None,
        True,
    ),
    (
        "not-action-all-iam",
        NOTACTION,
        [identity(stmt(action=None, resource="*", NotAction=["iam:*", "organizations:*", "account:*"]))],
        None,
        False,
    ),
    (
        "not-resource-one-bucket",
        RESOURCE,
        [identity(stmt(action="*", resource=None, NotResource="arn:aws:s3:::secret/*"))],
        None,
        True,
    ),
    (
        "not-resource-everything",
        RESOURCE,
        [identity(stmt(action="*", resource=None, NotResource="*"))],
        None,
        False,
    ),
    (
        "deny-everything",
        EVAL,
        [identity(stmt(action="*", resource="*"), stmt("Deny", action="*", resource="*"))],
        None,
        False,
    ),
    (
        "deny-iam",
        EVAL,
        [identity(stmt(action="*", resource="*"), stmt("Deny", action="iam:*", resource="*"))],
        None,
        False,
    ),
    (
        "deny-in-other-policy",
        SET,
        [ADMIN, identity(stmt("Deny", action="iam:CreateUser", resource="*"))],
        None,
        True,
    ),
    (
        "deny-conditional-mfa",
        EVAL,
        [
            identity(
                stmt(action="*", resource="*"),
                stmt(
                    "Deny",
                    action="*",
                    resource="*",
                    condition=cond("BoolIfExists", "aws:MultiFactorAuthPresent", "false"),
                ),
            )
        ],
        None,
        True,
    ),
    (
        "deny-region-elsewhere",
        EVAL,
        [
            identity(
                stmt(action="*", resource="*"),
                stmt(
                    "Deny",
                    action="*",
                    resource="*",
                    condition=cond("StringNotEquals", "aws:RequestedRegion", "eu-west-1"),
                ),
            )
        ],
        None,
        True,
    ),
    (
        "deny-expired",
        DATE,
        [
            identity(
                stmt(action="*", resource="*"),
                stmt(
                    "Deny",
                    action="*",
                    resource="*",
                    condition=cond("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z"),
                ),
            )
        ],
        None,
        True,
    ),
    (
        "deny-from-date-past",
        DATE,
        [
            identity(
                stmt(action="*", resource="*"),
                stmt(
                    "Deny",
                    action="*",
                    resource="*",
                    condition=cond("DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z"),
                ),
            )
        ],
        None,
        False,
    ),
    (
        "allow-conditional-ip",
        CHOSEN,
        [
            identity(
                stmt(action="*", resource="*", condition=cond("IpAddress", "aws:SourceIp", "203.0.113.0/24"))
            )
        ],
        None,
        True,
    ),
    (
        "allow-expired",
        DATE,
        [
            identity(
                stmt(
                    action="*",
                    resource="*",
                    condition=cond("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z"),
                )
            )
        ],
        None,
        False,
    ),
    (
        "allow-unknown-operator",
        UNKNOWN_OP,
        [identity(stmt(action="*", resource="*", condition=cond("StringSortOf", "aws:x", "y")))],
        None,
        None,
    ),
    (
        "deny-unknown-operator",
        UNKNOWN_OP,
        [
            ADMIN,
            identity(stmt("Deny", action="*", resource="*", condition=cond("StringSortOf", "aws:x", "y"))),
        ],
        None,
        None,
    ),
    ("no-policies", IMPLICIT, [], None, False),
    ("boundary-admin", BOUNDARY, [ADMIN], identity(stmt(action="*", resource="*")), True),
    ("boundary-s3-only", BOUNDARY, [ADMIN], identity(stmt(action="s3:*", resource="*")), False),
    (
        "boundary-denies-iam",
        BOUNDARY,
        [ADMIN],
        identity(stmt(action="*", resource="*"), stmt("Deny", action="iam:*", resource="*")),
        False,
    ),
    (
        "boundary-admin-policy-s3",
        BOUNDARY,
        [identity(stmt(action="s3:*", resource="*"))],
        identity(stmt(action="*", resource="*")),
        False,
    ),
    (
        "boundary-unknown",
        BOUNDARY,
        [ADMIN],
        identity(stmt(action="*", resource="*", condition=cond("StringSortOf", "aws:x", "y"))),
        None,
    ),
    (
        "groups-split-across-policies",
        GROUPS,
        [
            identity(stmt(action=["iam:*", "sts:*", "organizations:*", "s3:*"], resource="*")),
            identity(
                stmt(action=None, resource="*", NotAction=["iam:*", "sts:*", "organizations:*", "s3:*"])
            ),
        ],
        None,
        True,
    ),
    (
        "action-case",
        ACTION,
        [
            identity(stmt(action="*", resource="*")),
            identity(stmt("Deny", action="IAM:*Policy", resource="*")),
            identity(stmt("Deny", action="iam:createpolicyversion", resource="*")),
        ],
        None,
        False,
    ),
    ("not-action-one-harmless", SET, [identity(stmt(action=None, resource="*", NotAction="s3:ListAllMyBuckets"))], None, True),
    ("not-action-one-sensitive", SET, [identity(stmt(action=None, resource="*", NotAction="kms:Decrypt"))], None, True),
    ("not-action-billing", SET, [identity(stmt(action=None, resource="*", NotAction=["aws-portal:*", "budgets:*"]))], None, True),
    ("power-user", POWER_USER, [identity(stmt(action=None, resource="*", NotAction=["iam:*", "organizations:*", "account:*"]),
                                          stmt(action=["iam:CreateServiceLinkedRole", "iam:ListRoles"], resource="*"))], None, False),
    ("not-action-put-and-attach", SET, [identity(stmt(action=None, resource="*", NotAction=["iam:Put*", "iam:Attach*"]))], None, True),
    ("not-action-every-self-grant", SET,
     [identity(stmt(action=None, resource="*", NotAction=["iam:Put*", "iam:Attach*", "iam:CreatePolicyVersion"]))], None, False),
    ("not-action-across-services", SET, [identity(stmt(action=None, resource="*", NotAction="*:Delete*"))], None, False),
    ("not-action-star", NOTACTION, [identity(stmt(action=None, resource="*", NotAction="*"))], None, False),
    ("iam-star-only", SET, [identity(stmt(action="iam:*", resource="*"))], None, False),
    ("deny-s3-whole-service", SET, [identity(stmt(action="*", resource="*"), stmt("Deny", action="s3:*", resource="*"))], None, True),
    ("deny-all-but-iam", NOTACTION, [identity(stmt(action="*", resource="*"), stmt("Deny", NotAction="iam:*", action=None, resource="*"))], None, False),
    ("deny-on-one-bucket", RESOURCE, [identity(stmt(action="*", resource="*"), stmt("Deny", action="s3:*", resource="arn:aws:s3:::secret/*"))], None, True),
    ("two-not-actions-overlap", SET,
     [identity(stmt(action=None, resource="*", NotAction=["iam:*", "s3:*"])), identity(stmt(action=None, resource="*", NotAction=["iam:*", "ec2:*"]))],
     None, False),
    ("two-not-actions-cover-each-other", SET,
     [identity(stmt(action=None, resource="*", NotAction=["iam:*"])), identity(stmt(action=None, resource="*", NotAction=["ec2:*"]))], None, True),
    ("not-action-plus-positive", SET,
     [identity(stmt(action=None, resource="*", NotAction=["iam:*"]), stmt(action="iam:PutUserPolicy", resource="*"))], None, True),
    ("unknown-allow-beside-deny-star", UNKNOWN_OP,
     [identity(stmt(action="*", resource="*", condition=cond("StringSortOf", "aws:x", "y")), stmt("Deny", action="*", resource="*"))], None, False),
    ("unknown-deny-of-one-action", UNKNOWN_OP,
     [ADMIN, identity(stmt("Deny", action="s3:GetObject", resource="*", condition=cond("StringSortOf", "aws:x", "y")))], None, True),
    ("unknown-deny-of-iam", UNKNOWN_OP,
     [ADMIN, identity(stmt("Deny", action="iam:*", resource="*", condition=cond("StringSortOf", "aws:x", "y")))], None, None),
    ("boundary-not-action-iam", BOUNDARY, [ADMIN], identity(stmt(action=None, resource="*", NotAction="iam:*")), False),
    ("boundary-not-action-one", BOUNDARY, [ADMIN], identity(stmt(action=None, resource="*", NotAction="ec2:TerminateInstances")), True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "policies", "boundary", "expected"), [c[1:] for c in IDENTITY], ids=[c[0] for c in IDENTITY]
)
def test_admin_equivalent(
    rule: str, policies: list[dict[str, Any]], boundary: dict[str, Any] | None, expected: bool | None
) -> None:
    assert admin(policies, boundary) is expected, rule


def test_the_table_is_large_enough() -> None:
    # The bar: at least 150 policy cases, each naming its rule.
    assert len(CASES) + len(SHARED) + len(IDENTITY) >= 150


# --- hostile documents: an answer or a reason, never an exception or a stall ------------------

HOSTILE = "metahub: no document may crash or stall the evaluator; what no AWS policy can be is unknown"


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("condition-nested-1000", doc(stmt(condition={"StringEquals": {"aws:SourceVpce": nested(1000)}}))),
        ("statement-nested-3000", {"Version": "2012-10-17", "Statement": [nested(3000)]}),
        ("condition-value-object", doc(stmt(condition={"StringEquals": {"aws:SourceVpce": {"a": "b"}}}))),
        ("action-number", doc(stmt(action=5))),
        ("resource-object", doc(stmt(resource={"arn": "x"}))),
        ("over-the-size-limit", doc(*[stmt(Sid=f"S{i}", action=f"s3:Get{i:06d}") for i in range(1200)])),
    ],
)
def test_hostile_documents_are_policy_errors(name: str, document: Any) -> None:
    with pytest.raises(PolicyError):
        exposure(document, ME, NOW)


def test_nested_json_text_is_refused_not_a_recursion_error() -> None:
    from metahub.checks.policy import load

    with pytest.raises(PolicyError, match="nests deeper"):
        load("[" * 3000 + "]" * 3000, "queue policy")
    with pytest.raises(PolicyError, match="not valid JSON"):
        load("{", "queue policy")


def test_wildcard_heavy_patterns_answer() -> None:
    """500 wildcards in one action pattern: linear matching, no RecursionError, no exponential regex."""
    pattern = "s3:" + "*a" * 500 + "*"
    found = exposure(doc(stmt(action=pattern), stmt("Deny", action="s3:" + "*a" * 499 + "*", resource="*")), ME, NOW)
    assert found.is_public is False, HOSTILE  # the Deny's pattern covers the Allow's
    assert exposure(doc(stmt(action=pattern)), ME, NOW).is_public is True


def test_many_actions_on_both_sides_of_a_deny() -> None:
    """1,000 actions allowed and the same denied, as many as fit in the largest policy AWS holds:
    every one is cut off (an index, not a million pairs); 3,000 on each side are no AWS policy."""

    def both_sides(count: int) -> dict[str, Any]:
        actions = [f"sqs:A{i:04d}" for i in range(count)]
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": actions, "Resource": "*"},
                {"Effect": "Deny", "Principal": "*", "Action": list(reversed(actions)), "Resource": "*"},
            ],
        }

    assert exposure(both_sides(1000), ME, NOW).is_public is False
    with pytest.raises(PolicyError, match="more than any policy AWS holds"):
        exposure(both_sides(3000), ME, NOW)


def test_patterns_too_long_to_compare_are_unknown_not_slow() -> None:
    long_a, long_b = "s3:" + "a?" * 2000 + "*", "s3:" + "?a" * 2000 + "*"
    document = doc(stmt(action=long_a), stmt("Deny", action=long_b, resource="*"))
    with pytest.raises(PolicyError, match="too long to compare"):
        exposure(document, ME, NOW)
