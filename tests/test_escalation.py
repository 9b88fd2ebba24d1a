"""Privilege escalation paths, one row per case: the published methods (Rhino Security Labs' 21 and
the services' own documentation of passed roles), each from its minimal policy, and the cases that
look like a path and are none (a role passed to no service, Allow and Deny in one policy, a resource
or condition that makes the step impossible).

Each row names its rule. The methods' steps and the resource each action is asked on are those of
metahub.checks.escalation; the rows check them against the policies a principal holds.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from metahub.checks.escalation import METHODS, Principal, Role, assumable, chains, escalations
from metahub.checks.policy import Source

ME = "123456789012"
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
USER = f"arn:aws:iam::{ME}:user/dev"
ROLE = f"arn:aws:iam::{ME}:role/app"
MINE = f"arn:aws:iam::{ME}:policy/dev-policy"
GROUP = f"arn:aws:iam::{ME}:group/devs"

RHINO = "Rhino Security Labs, AWS IAM Privilege Escalation - Methods and Mitigation"
PASS = "IAM: passing a role to a service lets the service act with the role's permissions (iam:PassRole)"
SAR = (
    "Service Authorization Reference: each action is authorized on the resource types it lists "
    "(iam:CreatePolicyVersion on a policy, iam:AttachUserPolicy on a user, iam:PassRole on a role)"
)
EVAL = "IAM policy evaluation logic: an explicit Deny in any policy overrides any Allow"
SESSION = "IAM global condition keys: aws:TokenIssueTime is when the session's credentials were issued"
SSM = "AWS Systems Manager: Run Command and Session Manager run as the instance's profile"


def allow(actions: Any, resource: Any = "*", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        found["Condition"] = condition
    return found


def deny(actions: Any, resource: Any = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": actions, "Resource": resource}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def user(*statements: dict[str, Any]) -> tuple[Principal, dict[str, Any]]:
    return Principal("AwsIamUser", USER, ME, attached=(MINE,), groups=(GROUP,)), doc(*statements)


def role(*statements: dict[str, Any]) -> tuple[Principal, dict[str, Any]]:
    return Principal("AwsIamRole", ROLE, ME, attached=(MINE,)), doc(*statements)


CASES: list[tuple[str, str, tuple[Principal, dict[str, Any]], set[str]]] = [
    # The published methods, each from its minimal policy.
    ("create-policy-version", RHINO, user(allow("iam:CreatePolicyVersion", MINE)), {"create-policy-version"}),
    ("set-default-policy-version", RHINO, user(allow("iam:SetDefaultPolicyVersion", MINE)), {"set-default-policy-version"}),
    ("pass-role-ec2", RHINO, user(allow(["iam:PassRole", "ec2:RunInstances"])), {"pass-role-ec2"}),
    ("create-access-key", RHINO, user(allow("iam:CreateAccessKey")), {"create-access-key"}),
    ("create-login-profile", RHINO, user(allow("iam:CreateLoginProfile")), {"create-login-profile"}),
    ("update-login-profile", RHINO, user(allow("iam:UpdateLoginProfile")), {"update-login-profile"}),
    ("attach-user-policy", RHINO, user(allow("iam:AttachUserPolicy", USER)), {"attach-user-policy"}),
    ("attach-group-policy", RHINO, user(allow("iam:AttachGroupPolicy", GROUP)), {"attach-group-policy"}),
    ("attach-role-policy", RHINO, role(allow("iam:AttachRolePolicy", ROLE)), {"attach-role-policy"}),
    ("put-user-policy", RHINO, user(allow("iam:PutUserPolicy", USER)), {"put-user-policy"}),
    ("put-group-policy", RHINO, user(allow("iam:PutGroupPolicy", GROUP)), {"put-group-policy"}),
    ("put-role-policy", RHINO, role(allow("iam:PutRolePolicy", ROLE)), {"put-role-policy"}),
    ("add-user-to-group", RHINO, user(allow("iam:AddUserToGroup", f"arn:aws:iam::{ME}:group/*")), {"add-user-to-group"}),
    ("update-assume-role-policy", RHINO, user(allow(["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"])),
     {"update-assume-role-policy"}),
    ("pass-role-lambda-invoke", RHINO, user(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"])),
     {"pass-role-lambda-invoke"}),
    ("pass-role-lambda-event-source", RHINO,
     user(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping"])), {"pass-role-lambda-event-source"}),
    ("update-function-code", RHINO, user(allow("lambda:UpdateFunctionCode", f"arn:aws:lambda:*:{ME}:function:*")),
     {"update-function-code"}),
    ("pass-role-glue", RHINO, user(allow(["iam:PassRole", "glue:CreateDevEndpoint"])), {"pass-role-glue"}),
    ("update-glue-endpoint", RHINO, user(allow("glue:UpdateDevEndpoint")), {"update-glue-endpoint"}),
    ("pass-role-cloudformation", RHINO, user(allow(["iam:PassRole", "cloudformation:CreateStack"])), {"pass-role-cloudformation"}),
    ("pass-role-datapipeline", RHINO,
     user(allow(["iam:PassRole", "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"])), {"pass-role-datapipeline"}),
    ("pass-role-codebuild", PASS, user(allow(["iam:PassRole", "codebuild:CreateProject", "codebuild:StartBuild"])),
     {"pass-role-codebuild"}),
    ("pass-role-sagemaker", PASS,
     user(allow(["iam:PassRole", "sagemaker:CreateNotebookInstance", "sagemaker:CreatePresignedNotebookInstanceUrl"])),
     {"pass-role-sagemaker", "sagemaker-notebook-url"}),
    ("update-stack", PASS, user(allow("cloudformation:UpdateStack")), {"update-stack"}),
    ("ssm-send-command", SSM, user(allow("ssm:SendCommand")), {"ssm-send-command"}),
    ("ssm-start-session", SSM, user(allow("ssm:StartSession")), {"ssm-start-session"}),
    ("instance-connect", SSM, user(allow("ec2-instance-connect:SendSSHPublicKey")), {"instance-connect"}),
    ("delete-own-boundary", RHINO, user(allow("iam:DeleteUserPermissionsBoundary", USER)), {"delete-own-boundary"}),
    # Self-targeting: the step is asked on the principal's own ARN, policies and groups.
    ("put-user-policy-self-pattern", SAR, user(allow("iam:PutUserPolicy", f"arn:aws:iam::{ME}:user/d*")), {"put-user-policy"}),
    ("put-user-policy-other-user", SAR, user(allow("iam:PutUserPolicy", f"arn:aws:iam::{ME}:user/other")), set()),
    ("put-role-policy-other-role", SAR, role(allow("iam:PutRolePolicy", f"arn:aws:iam::{ME}:role/other")), set()),
    ("role-star-on-itself", SAR, role(allow("*", ROLE)), {"attach-role-policy", "put-role-policy", "delete-role-boundary"}),
    ("policy-version-on-another-policy", SAR, user(allow("iam:CreatePolicyVersion", f"arn:aws:iam::{ME}:policy/other")), set()),
    ("policy-version-on-any-policy", SAR, user(allow("iam:CreatePolicyVersion", f"arn:aws:iam::{ME}:policy/*")),
     {"create-policy-version"}),
    # Which resource an action is asked on: its own resource type, not one made-up role.
    ("create-policy-version-on-roles", SAR, user(allow("iam:CreatePolicyVersion", f"arn:aws:iam::{ME}:role/*")), set()),
    ("attach-user-policy-on-roles", SAR, user(allow("iam:AttachUserPolicy", f"arn:aws:iam::{ME}:role/*")), set()),
    ("create-access-key-on-users", SAR, user(allow("iam:CreateAccessKey", f"arn:aws:iam::{ME}:user/*")), {"create-access-key"}),
    ("create-access-key-on-roles", SAR, user(allow("iam:CreateAccessKey", f"arn:aws:iam::{ME}:role/*")), set()),
    ("put-group-policy-on-groups", SAR, user(allow("iam:PutGroupPolicy", f"arn:aws:iam::{ME}:group/*")), {"put-group-policy"}),
    ("update-function-code-on-roles", SAR, user(allow("lambda:UpdateFunctionCode", f"arn:aws:iam::{ME}:role/*")), set()),
    ("pass-role-on-one-weak-role-ec2", SAR,
     user(allow("iam:PassRole", f"arn:aws:iam::{ME}:role/weak"), allow("ec2:RunInstances")), set()),
    # Known false positives of action-only checks.
    ("pass-role-alone", PASS, user(allow("iam:PassRole")), set()),
    ("run-instances-alone", PASS, user(allow("ec2:RunInstances")), set()),
    ("create-function-without-invoke", PASS, user(allow(["iam:PassRole", "lambda:CreateFunction"])), set()),
    ("allow-and-deny-same-policy", EVAL, user(allow("iam:*"), deny("iam:*")), set()),
    ("allow-iam-deny-policy-writes", EVAL,
     user(allow("iam:*"), deny(["iam:Put*", "iam:Attach*", "iam:Create*", "iam:Update*", "iam:Set*", "iam:Delete*", "iam:Add*"])),
     set()),
    ("deny-pass-role", EVAL, user(allow(["iam:PassRole", "ec2:RunInstances"]), deny("iam:PassRole")), set()),
    ("read-only-iam", EVAL, user(allow(["iam:Get*", "iam:List*"])), set()),
    ("session-issued-before-2020", SESSION,
     user(allow("iam:AttachUserPolicy", USER, {"DateLessThan": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}})), set()),
    ("session-issued-after-2020", SESSION,
     user(allow("iam:AttachUserPolicy", USER, {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}})),
     {"attach-user-policy"}),
    ("expired-grant", SESSION,
     user(allow("iam:PutUserPolicy", USER, {"DateLessThan": {"aws:CurrentTime": "2021-01-01T00:00:00Z"}})), set()),
    ("mfa-condition-still-a-path", SESSION,
     user(allow("iam:PutUserPolicy", USER, {"Bool": {"aws:MultiFactorAuthPresent": "true"}})), {"put-user-policy"}),
    ("iam-star", RHINO, user(allow("iam:*")),
     {"create-policy-version", "set-default-policy-version", "attach-user-policy", "put-user-policy", "attach-group-policy",
      "put-group-policy", "add-user-to-group", "delete-own-boundary", "create-access-key", "create-login-profile",
      "update-login-profile"}),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "case", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_escalation_paths(rule: str, case: tuple[Principal, dict[str, Any]], expected: set[str]) -> None:
    who, document = case
    found, undecided = escalations([Source("p", document)], who, now=NOW)
    assert {f.method.name for f in found} == expected, rule
    assert undecided == []


def test_evidence_names_method_actions_targets_and_source() -> None:
    who, document = user(allow(["iam:PassRole", "ec2:RunInstances"]))
    (found,), _ = escalations([Source("inline policy dev", document)], who, now=NOW)
    text = found.describe()
    assert text.startswith("pass-role-ec2: launch an instance with a stronger role's profile")
    assert f"iam:PassRole on arn:aws:iam::{ME}:role/metahub-any-role (inline policy dev statement 1)" in text
    assert text.endswith(f"[{RHINO}]")


def test_a_boundary_caps_the_path() -> None:
    who, document = user(allow("iam:PutUserPolicy", USER))
    boundary = Source("boundary", doc(allow("s3:*")))
    found, _ = escalations([Source("p", document)], who, boundary, now=NOW)
    assert found == []


def test_undecidable_step_is_unknown_but_an_impossible_step_decides() -> None:
    strange = {"StringSortOf": {"aws:x": "y"}}
    who, document = user(allow("iam:PassRole", condition=strange), allow("lambda:CreateFunction"))
    found, undecided = escalations([Source("p", document)], who, now=NOW)
    assert found == [] and undecided == []  # no lambda:InvokeFunction or event source: no path whatever PassRole is
    who, document = user(allow("iam:PassRole", condition=strange), allow("ec2:RunInstances"))
    found, undecided = escalations([Source("p", document)], who, now=NOW)
    assert found == [] and any("pass-role-ec2" in u for u in undecided)


def test_every_method_has_a_row() -> None:
    covered = {name for _, _, _, expected in CASES for name in expected}
    assert {m.name for m in METHODS} <= covered


# --------------------------------------------------------------------------------------------
# Role chains: who may assume which role (trust policy and own policy), and chains to a stronger role

TRUST_EXCEPTION = (
    "IAM policy evaluation logic: IAM role trust policies and KMS key policies are exceptions to this "
    "logic, because they must explicitly allow access for principals"
)
ACCOUNT_PRINCIPAL = (
    "IAM Principal element: an account principal delegates to the account; its identities also need an "
    "identity-based policy that allows the action"
)
PRINCIPAL_NO_WILDCARD = "IAM Principal element: you cannot use a wildcard to match part of a principal name or ARN"
TARGET = f"arn:aws:iam::{ME}:role/admin"
ASSUME_TARGET = allow("sts:AssumeRole", TARGET)


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return doc(*statements)


def trusting(principal: Any, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole", **extra}


TRUST_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], bool]] = [
    # (id, rule, trust policy, the principal's own policy, may it assume TARGET?)
    ("trust-names-user-no-own-policy", TRUST_EXCEPTION, trust(trusting({"AWS": USER})), doc(), True),
    ("trust-names-account-root-and-own-allow", ACCOUNT_PRINCIPAL,
     trust(trusting({"AWS": f"arn:aws:iam::{ME}:root"})), doc(ASSUME_TARGET), True),
    ("trust-names-account-id-and-own-allow", ACCOUNT_PRINCIPAL, trust(trusting({"AWS": ME})), doc(ASSUME_TARGET), True),
    ("trust-names-account-no-own-allow", ACCOUNT_PRINCIPAL, trust(trusting({"AWS": ME})), doc(), False),
    ("trust-names-account-own-allow-other-role", ACCOUNT_PRINCIPAL,
     trust(trusting({"AWS": ME})), doc(allow("sts:AssumeRole", f"arn:aws:iam::{ME}:role/other")), False),
    ("trust-names-another-user", TRUST_EXCEPTION,
     trust(trusting({"AWS": f"arn:aws:iam::{ME}:user/ops"})), doc(allow("sts:AssumeRole")), False),
    ("trust-names-another-account", TRUST_EXCEPTION,
     trust(trusting({"AWS": "arn:aws:iam::210987654321:root"})), doc(allow("sts:AssumeRole")), False),
    ("trust-names-a-service-only", TRUST_EXCEPTION,
     trust(trusting({"Service": "ec2.amazonaws.com"})), doc(allow("sts:AssumeRole")), False),
    ("trust-star", TRUST_EXCEPTION, trust(trusting("*")), doc(), True),
    ("trust-wildcard-in-arn-names-nobody", PRINCIPAL_NO_WILDCARD,
     trust(trusting({"AWS": f"arn:aws:iam::{ME}:user/*"})), doc(allow("sts:AssumeRole")), False),
    ("trust-not-principal-others", TRUST_EXCEPTION,
     trust({"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ME}:user/ops"}, "Action": "sts:AssumeRole"}),
     doc(), True),
    ("trust-other-action-only", TRUST_EXCEPTION,
     trust({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:TagSession"}), doc(), False),
    ("trust-deny-wins", EVAL,
     trust(trusting({"AWS": ME}), trusting({"AWS": USER}, "Deny")), doc(ASSUME_TARGET), False),
    ("trust-deny-account-wins", EVAL,
     trust(trusting({"AWS": USER}), trusting({"AWS": ME}, "Deny")), doc(), False),
    ("own-deny-wins-over-named-trust", EVAL, trust(trusting({"AWS": USER})), doc(deny("sts:AssumeRole")), False),
    ("trust-external-id-caller-chooses", TRUST_EXCEPTION,
     trust(trusting({"AWS": USER}, Condition={"StringEquals": {"sts:ExternalId": "x"}})), doc(), True),
    ("trust-expired", SESSION,
     trust(trusting({"AWS": USER}, Condition={"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})),
     doc(), False),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "document", "own", "expected"), [c[1:] for c in TRUST_CASES],
                         ids=[c[0] for c in TRUST_CASES])  # fmt: skip
def test_who_may_assume_a_role(rule: str, document: dict[str, Any], own: dict[str, Any], expected: bool) -> None:
    who = Principal("AwsIamUser", USER, ME)
    found, undecided = assumable([Source("own", own)], who, [Role(TARGET, document)], now=NOW)
    assert (TARGET in found) is expected, rule
    assert undecided == []


def test_a_boundary_caps_an_account_trust_but_not_a_named_one() -> None:
    who = Principal("AwsIamUser", USER, ME)
    capped = Source("boundary", doc(allow("s3:*")))
    by_account = [Role(TARGET, trust(trusting({"AWS": ME})))]
    assert assumable([Source("own", doc(ASSUME_TARGET))], who, by_account, capped, NOW)[0] == {}
    named = [Role(TARGET, trust(trusting({"AWS": USER})))]
    assert TARGET in assumable([Source("own", doc())], who, named, capped, NOW)[0]


def test_an_unreadable_trust_is_unknown_naming_the_role() -> None:
    who = Principal("AwsIamUser", USER, ME)
    odd = trust(trusting({"AWS": USER}, Condition={"StringSortOf": {"aws:x": "y"}}))
    found, undecided = assumable([Source("own", doc())], who, [Role(TARGET, odd)], now=NOW)
    assert found == {} and len(undecided) == 1 and undecided[0].startswith(TARGET)


def test_evidence_names_the_trust_statement_and_own_statement() -> None:
    who = Principal("AwsIamUser", USER, ME)
    found, _ = assumable([Source("inline policy dev", doc(ASSUME_TARGET))], who, [Role(TARGET, trust(trusting({"AWS": ME})))], now=NOW)
    assert found[TARGET] == (
        f"trust policy of {TARGET} names its account (trust policy of {TARGET} statement 1) "
        "and inline policy dev statement 1 allows sts:AssumeRole"
    )


def test_chains_follow_shortest_paths_and_end_in_cycles() -> None:
    a, b, c, d = (f"arn:aws:iam::{ME}:role/{n}" for n in "abcd")
    graph = {a: {b: "b trusts a"}, b: {a: "a trusts b", c: "c trusts b"}, c: {USER: "back to the start"}, d: {}}
    strong = {c: "is admin-equivalent"}
    found = chains({a: "a trusts me", d: "d trusts me"}, lambda arn: graph.get(arn, {}), strong.get, USER)
    assert [[arn for arn, _ in chain.hops] for chain in found] == [[a, b, c]]
    assert found[0].describe().startswith(f"assume-role chain: to {a} -> {b} -> {c}, which is admin-equivalent - ")
    assert chains({}, lambda arn: {}, strong.get, USER) == []
    # a role that is itself stronger ends the chain there: nothing longer through it
    assert [len(ch.hops) for ch in chains({c: "x", a: "y"}, lambda arn: graph.get(arn, {}), strong.get, USER)] == [1]
