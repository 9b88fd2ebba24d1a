"""Privilege escalation: the documented ways a principal gives itself more than it has. Pure, no AWS.

Each :class:`Method` is one path from the published research (Rhino Security Labs, "AWS IAM
Privilege Escalation - Methods and Mitigation", and the services' own documentation of what a
passed role lets a service do), as the actions it needs together and the resource each action is
asked on. The resource follows the action's entry in the *Service Authorization Reference*: IAM's
policy actions on a ``policy``, user actions on a ``user``, ``iam:PassRole`` on a ``role``,
``lambda:UpdateFunctionCode`` on a ``function``, and so on. A self-targeted step is asked on the
principal's own ARN (its own user, its own role, the managed policies attached to it, its groups);
an "any" step on an ARN of that type no policy names on purpose, which only a pattern covers.

A path is found when every step is allowed (:func:`~metahub.checks.policy.decide`: Deny wins,
conditions the principal can meet still grant and are listed, conditions that cannot hold, such as
a session token issued before a past date, grant nothing). ``iam:PassRole`` alone is no path: a
role passed to no service runs nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from metahub.checks.policy import Decision, Source, decide, trusts

RHINO = "Rhino Security Labs, AWS IAM Privilege Escalation - Methods and Mitigation"


@dataclass(frozen=True)
class Step:
    action: str
    target: str
    """``self`` (its own user or role), ``attached-policy``, ``own-group``, or ``any-<type>``: an
    ARN of that type (``role``, ``user``, ``group``, ``policy``, ``function``, ``instance``, ...)."""


@dataclass(frozen=True)
class Method:
    name: str
    what: str
    steps: tuple[Step, ...]
    principals: tuple[str, ...] = ("AwsIamUser", "AwsIamRole", "AwsIamGroup", "AwsIamPolicy")
    source: str = RHINO


def _s(action: str, target: str) -> Step:
    return Step(action, target)


PASS_ANY_ROLE = _s("iam:PassRole", "any-role")
USERS = ("AwsIamUser", "AwsIamGroup", "AwsIamPolicy")
ROLES = ("AwsIamRole", "AwsIamPolicy")

METHODS: tuple[Method, ...] = (
    Method("create-policy-version", "write a new default version of a managed policy attached to it",
           (_s("iam:CreatePolicyVersion", "attached-policy"),)),
    Method("set-default-policy-version", "make another version of a managed policy attached to it the default",
           (_s("iam:SetDefaultPolicyVersion", "attached-policy"),)),
    Method("attach-user-policy", "attach any managed policy (AdministratorAccess) to itself",
           (_s("iam:AttachUserPolicy", "self"),), USERS),
    Method("put-user-policy", "write an inline policy on itself", (_s("iam:PutUserPolicy", "self"),), USERS),
    Method("attach-group-policy", "attach any managed policy to a group it is in",
           (_s("iam:AttachGroupPolicy", "own-group"),), USERS),
    Method("put-group-policy", "write an inline policy on a group it is in",
           (_s("iam:PutGroupPolicy", "own-group"),), USERS),
    Method("add-user-to-group", "add itself to any group (an administrators group)",
           (_s("iam:AddUserToGroup", "any-group"),), USERS),
    Method("attach-role-policy", "attach any managed policy to its own role",
           (_s("iam:AttachRolePolicy", "self"),), ROLES),
    Method("put-role-policy", "write an inline policy on its own role", (_s("iam:PutRolePolicy", "self"),), ROLES),
    Method("delete-own-boundary", "remove the permissions boundary that caps it",
           (_s("iam:DeleteUserPermissionsBoundary", "self"),), USERS),
    Method("delete-role-boundary", "remove the permissions boundary that caps its role",
           (_s("iam:DeleteRolePermissionsBoundary", "self"),), ROLES),
    Method("create-access-key", "create access keys for another (stronger) user",
           (_s("iam:CreateAccessKey", "any-user"),)),
    Method("create-login-profile", "give another user a console password and sign in as them",
           (_s("iam:CreateLoginProfile", "any-user"),)),
    Method("update-login-profile", "change another user's console password",
           (_s("iam:UpdateLoginProfile", "any-user"),)),
    Method("update-assume-role-policy", "rewrite a stronger role's trust policy to let itself in, then assume it",
           (_s("iam:UpdateAssumeRolePolicy", "any-role"), _s("sts:AssumeRole", "any-role"))),
    Method("pass-role-ec2", "launch an instance with a stronger role's profile and use its credentials",
           (PASS_ANY_ROLE, _s("ec2:RunInstances", "any-instance"))),
    Method("pass-role-lambda-invoke", "create a function running as a stronger role, and invoke it",
           (PASS_ANY_ROLE, _s("lambda:CreateFunction", "any-function"), _s("lambda:InvokeFunction", "any-function"))),
    Method("pass-role-lambda-event-source", "create a function running as a stronger role, triggered by an event source",
           (PASS_ANY_ROLE, _s("lambda:CreateFunction", "any-function"),
            _s("lambda:CreateEventSourceMapping", "any-event-source-mapping"))),
    Method("update-function-code", "replace the code of a function that runs as a stronger role",
           (_s("lambda:UpdateFunctionCode", "any-function"),)),
    Method("pass-role-glue", "create a Glue development endpoint with a stronger role and log in to it",
           (PASS_ANY_ROLE, _s("glue:CreateDevEndpoint", "any-devendpoint"))),
    Method("update-glue-endpoint", "add its SSH key to a Glue development endpoint that runs as a stronger role",
           (_s("glue:UpdateDevEndpoint", "any-devendpoint"),)),
    Method("pass-role-cloudformation", "create a stack that a stronger role deploys",
           (PASS_ANY_ROLE, _s("cloudformation:CreateStack", "any-stack"))),
    Method("update-stack", "change a stack that runs with a stronger service role",
           (_s("cloudformation:UpdateStack", "any-stack"),)),
    Method("pass-role-datapipeline", "create a pipeline that runs commands as a stronger role",
           (PASS_ANY_ROLE, _s("datapipeline:CreatePipeline", "any-pipeline"),
            _s("datapipeline:PutPipelineDefinition", "any-pipeline"))),
    Method("pass-role-codebuild", "create a build project with a stronger role and start it",
           (PASS_ANY_ROLE, _s("codebuild:CreateProject", "any-project"), _s("codebuild:StartBuild", "any-project"))),
    Method("pass-role-sagemaker", "create a notebook instance with a stronger role and open it",
           (PASS_ANY_ROLE, _s("sagemaker:CreateNotebookInstance", "any-notebook"),
            _s("sagemaker:CreatePresignedNotebookInstanceUrl", "any-notebook"))),
    Method("sagemaker-notebook-url", "open an existing notebook instance that runs as a stronger role",
           (_s("sagemaker:CreatePresignedNotebookInstanceUrl", "any-notebook"),)),
    Method("ssm-send-command", "run commands on an instance whose profile is stronger",
           (_s("ssm:SendCommand", "any-instance"),), source="AWS Systems Manager Run Command"),
    Method("ssm-start-session", "open a shell on an instance whose profile is stronger",
           (_s("ssm:StartSession", "any-instance"),), source="AWS Systems Manager Session Manager"),
    Method("instance-connect", "push an SSH key to an instance whose profile is stronger",
           (_s("ec2-instance-connect:SendSSHPublicKey", "any-instance"),), source="Amazon EC2 Instance Connect"),
)  # fmt: skip
"""The catalogue. ``AwsIamPolicy`` reads a managed policy on its own: "self" steps are asked on an
ARN of the principal type the action names, since whoever holds the policy is such a principal."""

_ARN = {
    "role": "arn:{p}:iam::{a}:role/metahub-any-role",
    "user": "arn:{p}:iam::{a}:user/metahub-any-user",
    "group": "arn:{p}:iam::{a}:group/metahub-any-group",
    "policy": "arn:{p}:iam::{a}:policy/metahub-any-policy",
    "function": "arn:{p}:lambda:us-east-1:{a}:function:metahub-any-function",
    "event-source-mapping": "arn:{p}:lambda:us-east-1:{a}:event-source-mapping:metahub-any",
    "instance": "arn:{p}:ec2:us-east-1:{a}:instance/i-0metahubany",
    "devendpoint": "arn:{p}:glue:us-east-1:{a}:devEndpoint/metahub-any",
    "stack": "arn:{p}:cloudformation:us-east-1:{a}:stack/metahub-any/any",
    "pipeline": "arn:{p}:datapipeline:us-east-1:{a}:pipeline/df-metahubany",
    "project": "arn:{p}:codebuild:us-east-1:{a}:project/metahub-any",
    "notebook": "arn:{p}:sagemaker:us-east-1:{a}:notebook-instance/metahub-any",
}
"""An ARN of each resource type no policy names on purpose: "any" of that type."""


@dataclass(frozen=True)
class Principal:
    """Who holds the policies: its type and ARN, the managed policies attached to it, its groups."""

    type: str
    arn: str
    account: str
    partition: str = "aws"
    attached: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Found:
    method: Method
    decisions: tuple[tuple[Step, str, Decision], ...]

    def describe(self) -> str:
        steps = "; ".join(
            f"{step.action} on {target} ({', '.join(decision.by)}"
            + (f", when {'; '.join(decision.conditions)}" if decision.conditions else "")
            + ")"
            for step, target, decision in self.decisions
        )
        return f"{self.method.name}: {self.method.what} - {steps} [{self.method.source}]"


def _targets(step: Step, who: Principal) -> list[str]:
    any_of = _ARN | {"self": _ARN[_kind_of(step.action)], "own-group": _ARN["group"]}
    if step.target == "self" and who.type in ("AwsIamUser", "AwsIamRole"):
        return [who.arn]
    if step.target == "attached-policy":
        return [who.arn] if who.type == "AwsIamPolicy" else list(who.attached)
    if step.target == "own-group" and who.type in ("AwsIamUser", "AwsIamGroup"):
        return [who.arn] if who.type == "AwsIamGroup" else list(who.groups)
    # a group's members or a managed policy's holders: a principal of the type the action names
    return [any_of[step.target.removeprefix("any-")].format(p=who.partition, a=who.account)]


def _kind_of(action: str) -> str:
    name = action.split(":", 1)[1].lower()
    return "user" if "user" in name else "group" if "group" in name else "role"


def escalations(
    policies: Sequence[Source],
    who: Principal,
    boundary: Source | None = None,
    now: datetime | None = None,
) -> tuple[list[Found], list[str]]:
    """The methods whose every step the principal may take (each step on the targets the method
    names: one allowed target is enough), and why the others could not be decided."""
    found: list[Found] = []
    unknown: list[str] = []
    for method in METHODS:
        if who.type not in method.principals:
            continue
        taken: list[tuple[Step, str, Decision]] = []
        undecided: list[str] = []
        blocked = False
        for step in method.steps:
            decisions = [
                (t, decide(policies, step.action, t, who.account, boundary, now)) for t in _targets(step, who)
            ]
            allowed = next(((step, t, d) for t, d in decisions if d.allowed), None)
            if allowed is not None:
                taken.append(allowed)
            elif any(d.allowed is None for _, d in decisions):
                undecided += [f"{method.name}: {d.why}" for _, d in decisions if d.allowed is None]
            else:
                blocked = True  # one step no target allows: the method is out, whatever else is unknown
                break
        if blocked:
            continue
        if undecided:
            unknown += undecided
        else:
            found.append(Found(method, tuple(taken)))
    return found, list(dict.fromkeys(unknown))


# --------------------------------------------------------------------------------------------
# Role chains: a role it may assume, which is stronger than it


@dataclass(frozen=True)
class Role:
    """A role of the principal's account, and its trust policy."""

    arn: str
    trust: Any


def assumable(
    policies: Sequence[Source],
    who: Principal,
    roles: Sequence[Role],
    boundary: Source | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The roles of its account it may assume (``sts:AssumeRole``), each with why, and why some
    could not be decided.

    Both sides must agree (:func:`~metahub.checks.policy.trusts`): the role's trust policy names
    the principal, or names its account and the principal's own policies (within its boundary)
    allow ``sts:AssumeRole`` on the role. An explicit Deny in its own policies wins either way."""
    found: dict[str, str] = {}
    unknown: list[str] = []
    for role in roles:
        if role.arn == who.arn:
            continue
        source = f"trust policy of {role.arn}"
        trust = trusts(role.trust, who.arn, who.account, who.partition, source, now)
        if trust.allowed is None:
            unknown.append(f"{role.arn}: {trust.why}")
        if trust.allowed is not True:
            continue
        if trust.named:  # the trust grants on its own; only a Deny of its own can take it away
            granted = Source(
                source, {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
            )
            own = decide([*policies, granted], "sts:AssumeRole", role.arn, who.account, None, now)
        else:
            own = decide(policies, "sts:AssumeRole", role.arn, who.account, boundary, now)
        if own.allowed is None:
            unknown.append(f"{role.arn}: {own.why}")
        elif own.allowed:
            when = trust.conditions + own.conditions
            found[role.arn] = (
                f"{trust.why} ({', '.join(trust.by)})"
                + ("" if trust.named else f" and {', '.join(own.by)} allows sts:AssumeRole")
                + (f", when {'; '.join(when)}" if when else "")
            )
    return found, unknown


@dataclass(frozen=True)
class Chain:
    """Roles assumed one after another, the last of which is stronger: admin-equivalent or able
    to escalate on its own."""

    hops: tuple[tuple[str, str], ...]
    """(role ARN, why it may be assumed from the one before)"""
    gain: str

    def describe(self) -> str:
        path = " -> ".join(arn for arn, _ in self.hops)
        why = "; ".join(f"{arn}: {how}" for arn, how in self.hops)
        return f"assume-role chain: to {path}, which {self.gain} - {why} [IAM role trust policies]"


def chains(
    first: Mapping[str, str],
    then: Callable[[str], Mapping[str, str]],
    gain: Callable[[str], str | None],
    origin: str = "",
) -> list[Chain]:
    """Breadth first through the roles it may assume (``first``), then those each may assume
    (``then``): every role reached whose ``gain`` says it is stronger ends a chain, by its shortest
    path. Each role is visited once (``origin``, the principal itself, never), so cycles of trust end."""
    paths: dict[str, tuple[tuple[str, str], ...]] = {origin: ()}
    paths.update({arn: ((arn, how),) for arn, how in first.items() if arn != origin})
    queue = deque(arn for arn in paths if arn != origin)
    found: list[Chain] = []
    while queue:
        arn = queue.popleft()
        stronger = gain(arn)
        if stronger is not None:
            found.append(Chain(paths[arn], stronger))
            continue  # a longer chain through a role already stronger adds nothing
        for nxt, how in then(arn).items():
            if nxt not in paths:
                paths[nxt] = (*paths[arn], (nxt, how))
                queue.append(nxt)
    return found
