"""MetaChecks of IAM roles, users, groups and managed policies."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, Unknown, check
from metahub.checks.escalation import Found, Principal, Role, assumable, chains, escalations
from metahub.checks.policy import (
    Admin,
    PolicyError,
    Source,
    admin_equivalent,
    as_list,
    parse,
    statements,
)
from metahub.checks.resource_policy import PolicyDocument, register_documents, register_policy_checks

PRINCIPALS = ("AwsIamRole", "AwsIamUser", "AwsIamGroup")
_INLINE = {"AwsIamRole": "RolePolicyList", "AwsIamUser": "UserPolicyList", "AwsIamGroup": "GroupPolicyList"}


@check(*PRINCIPALS, needs=("attached_policies",))
def its_associated_with_iam_policies(r: ResourceView) -> list[str]:
    """Managed policies attached to the principal."""
    return [policy.id for policy in r.related("attached_policies")]


@check(*PRINCIPALS)
def it_has_inline_policies(r: ResourceView) -> list[str]:
    """Names of the policies embedded in the principal itself."""
    return [p.get("PolicyName") for p in r.get(_INLINE[r.type], [])]


def policy_sources(r: ResourceView) -> list[Source]:
    """A principal's own managed and inline policies, and for a user its groups' too.

    Unknown when an attached policy could not be read: permissions from part of them would be a
    guess in both directions (a missing Deny, a missing Allow).
    """
    sources = [
        Source(f"inline policy {p.get('PolicyName')}", p.get("PolicyDocument"))
        for p in r.get(_INLINE[r.type], [])
    ]
    sources += _managed(r)
    if r.type == "AwsIamUser":
        for group in r.related("groups"):
            sources += [
                Source(
                    f"group {group.get('GroupName')} inline policy {p.get('PolicyName')}",
                    p.get("PolicyDocument"),
                )
                for p in group.get("GroupPolicyList", [])
            ]
            sources += _managed(group, via=f"group {group.get('GroupName')} ")
        missing = set(r.get("GroupArns", [])) - {g.id for g in r.related("groups")}
        if missing:
            raise Unknown(f"groups {', '.join(sorted(missing))} could not be read")
    return sources


def _managed(r: ResourceView, via: str = "") -> list[Source]:
    found = {p.id: p for p in r.related("attached_policies")}
    wanted = [a.get("PolicyArn") for a in r.get("AttachedManagedPolicies", [])]
    missing = [arn for arn in wanted if arn not in found]
    if missing:
        raise Unknown(f"{via}managed policies {', '.join(missing)} could not be read")
    return [Source(f"{via}managed policy {arn}", found[arn].get("Document")) for arn in wanted]


def boundary(r: ResourceView) -> Source | None:
    arn = r.get("PermissionsBoundary.PermissionsBoundaryArn")
    if not arn:
        return None
    policy = r.one("boundary")
    if policy is None:
        raise Unknown(f"permissions boundary {arn} could not be read")
    return Source(f"permissions boundary {arn}", policy.get("Document"))


def permissions(r: ResourceView) -> tuple[list[Source], Source | None]:
    """What a principal's permissions come from: its policies and its permissions boundary; for a
    managed policy, the policy on its own (a group has no boundary)."""
    if r.type == "AwsIamPolicy":
        return [Source("", r.get("Document"))], None
    return policy_sources(r), boundary(r) if r.type != "AwsIamGroup" else None


def admin_verdict(found: Admin) -> dict[str, Any] | No:
    """The statements that grant everything, with their conditions and the exceptions."""
    if found.allowed is None:
        raise Unknown(found.why)
    if not found.allowed:
        return No(found.why)
    evidence: dict[str, Any] = {"granted_by": sorted(set(found.by))}
    if found.exceptions:
        evidence["except"] = found.exceptions
    if found.conditions:
        evidence["when"] = sorted(set(found.conditions))
    return evidence


def _admin(r: ResourceView) -> Admin:
    try:
        policies, capped_by = permissions(r)
        return admin_equivalent(policies, r.account, capped_by)
    except PolicyError as exc:
        raise Unknown(str(exc)) from exc


PERMISSIONS = {
    "AwsIamRole": ("attached_policies", "boundary"),
    "AwsIamUser": ("attached_policies", "boundary", "groups.attached_policies"),
    "AwsIamGroup": ("attached_policies",),
    "AwsIamPolicy": (),
}


@check(*PERMISSIONS, needs=PERMISSIONS, name="is_unrestricted")
def principal_is_unrestricted(r: ResourceView) -> dict[str, Any] | No:
    """Admin-equivalent: its policies (a user's groups' included), less Deny, within its permissions
    boundary, allow every action on every resource, or all but a few within single services that
    leave it able to write permissions (the exceptions are listed). For a managed policy: the
    policy on its own."""
    return admin_verdict(_admin(r))


def _principal(r: ResourceView) -> Principal:
    return Principal(
        r.type,
        r.id,
        r.account,
        r.id.split(":")[1] if r.id.startswith("arn:") else "aws",
        tuple(r.get("AttachedManagedPolicies[].PolicyArn", [])),
        tuple(r.get("GroupArns", [])),
    )


def _direct(r: ResourceView) -> tuple[list[Found], list[str]]:
    """The catalogue's methods it may take itself, and why others could not be decided."""
    try:
        policies, capped_by = permissions(r)
        return escalations(policies, _principal(r), capped_by)
    except PolicyError as exc:
        raise Unknown(str(exc)) from exc


CHAINS = {
    t: (*needs, "account_roles", "account_roles.attached_policies", "account_roles.boundary")
    for t, needs in PERMISSIONS.items()
}


@check(*PERMISSIONS, needs=CHAINS)
def its_assumable_roles(r: ResourceView) -> dict[str, str]:
    """The roles of its account it may assume, each with why: the trust policy statement that
    names it (or its account, and then its own statement that allows ``sts:AssumeRole``)."""
    roles = [Role(role.id, role.get("AssumeRolePolicyDocument")) for role in r.related("account_roles")]
    try:
        policies, capped_by = permissions(r)
        found, undecided = assumable(policies, _principal(r), roles, capped_by)
    except PolicyError as exc:
        raise Unknown(str(exc)) from exc
    if undecided and not found:
        raise Unknown("; ".join(undecided))
    return found


@check(*PERMISSIONS, needs=CHAINS)
def it_has_privilege_escalation_actions(r: ResourceView) -> list[str]:
    """Documented ways it can give itself more (:mod:`metahub.checks.escalation`): each method, the
    actions it needs on the resources it needs them (its own ARN, the policies attached to it, any
    role ...), the statements that allow them, and the method's source; and chains of roles it may
    assume to one that is admin-equivalent or can escalate itself. ``iam:PassRole`` alone is none:
    it needs a service to pass the role to."""
    found, undecided = _direct(r)
    roles = {role.id: role for role in r.related("account_roles")}

    def step(view: ResourceView, name: str) -> Any:
        try:
            return view.check(name)
        except Unknown as exc:
            undecided.append(f"{view.id}: {exc}")
            return None

    def then(arn: str) -> dict[str, str]:
        found: dict[str, str] | None = step(roles[arn], "its_assumable_roles") if arn in roles else None
        return found or {}

    def gain(arn: str) -> str | None:
        role = roles.get(arn)
        if role is None:
            return None
        if step(role, "is_unrestricted"):
            return f"is admin-equivalent ({role.check('is_unrestricted')['granted_by'][0]})"
        try:
            own, _ = _direct(role)
        except Unknown as exc:
            undecided.append(f"{arn}: {exc}")
            return None
        return f"can escalate itself by {', '.join(f.method.name for f in own)}" if own else None

    first = step(r, "its_assumable_roles") or {}
    described = [f.describe() for f in found] + [c.describe() for c in chains(first, then, gain, r.id)]
    if not described and undecided:
        raise Unknown("; ".join(dict.fromkeys(undecided)))
    return described


def _identity_documents(r: ResourceView) -> list[PolicyDocument]:
    return [PolicyDocument(s.label or "policy", s.document, "identity") for s in permissions(r)[0]]


for _type in PERMISSIONS:
    register_documents(_type, _identity_documents)


register_policy_checks(
    "AwsIamRole",
    document=lambda r: r.get("AssumeRolePolicyDocument"),
    needs=(),
    what="trust policy",
    public="it_has_trust_policy_public",
)


@check("AwsIamRole")
def its_trusted_services(r: ResourceView) -> list[str]:
    """AWS services the role's trust policy lets assume it."""
    services = []
    for statement in statements(r.get("AssumeRolePolicyDocument")):
        principal = statement.get("Principal")
        if isinstance(principal, dict) and statement.get("Effect") == "Allow":
            services.extend(as_list(principal.get("Service")))
    return services


@check("AwsIamRole", name="is_public")
def role_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Anyone may assume the role: ``*`` or a public identity provider with no pinning condition."""
    trust = r.check("it_has_trust_policy_public")
    return {"trust_statements": trust} if trust else trust


@check("AwsIamRole", name="is_attached")
def role_is_attached(r: ResourceView) -> list[str] | No:
    """In use: in an instance profile, or used within the last 400 days as IAM tracks it."""
    profiles = [p.get("Arn") for p in r.get("InstanceProfileList", [])]
    last_used = r.get("RoleLastUsed.LastUsedDate")
    found = profiles + ([f"last used {last_used}"] if last_used else [])
    return found or No("in no instance profile and no recorded use")


def _credentials(r: ResourceView) -> dict[str, str]:
    report: dict[str, str] | None = r.get("CredentialReport")
    if not report:
        raise Unknown(f"user {r.id} is not in the IAM credential report")
    return report


@check("AwsIamUser")
def it_has_access_keys_active(r: ResourceView) -> list[str]:
    """Active access keys, with when each was last used."""
    report = _credentials(r)
    return [
        f"{key} (last used {report.get(f'{key}_last_used_date') or 'never'})"
        for key in ("access_key_1", "access_key_2")
        if report.get(f"{key}_active") == "true"
    ]


@check("AwsIamUser")
def it_has_mfa(r: ResourceView) -> bool:
    """Whether the user has an MFA device active (credential report)."""
    return _credentials(r).get("mfa_active") == "true"


@check("AwsIamUser")
def it_has_console_password(r: ResourceView) -> bool:
    """Whether the user can sign in to the console (credential report)."""
    return _credentials(r).get("password_enabled") == "true"


@check("AwsIamUser", needs=("groups",))
def its_associated_with_iam_groups(r: ResourceView) -> list[str]:
    """The groups the user belongs to."""
    return [group.id for group in r.related("groups")]


@check("AwsIamUser", needs=("groups.attached_policies",))
def its_associated_with_iam_groups_unrestricted(r: ResourceView) -> list[str]:
    """The user's groups whose policies are admin-equivalent."""
    return [group.id for group in r.related("groups") if group.check("is_unrestricted")]


@check("AwsIamGroup", needs=("users",))
def its_associated_with_iam_users(r: ResourceView) -> list[str]:
    """The users in the group."""
    return [user.id for user in r.related("users")]


@check("AwsIamGroup", needs=("users",), name="is_attached")
def group_is_attached(r: ResourceView) -> list[str] | No:
    """The group's users: a group without users grants nothing."""
    return r.check("its_associated_with_iam_users") or No("the group has no users")


@check("AwsIamPolicy")
def it_has_unrestricted_statements(r: ResourceView) -> list[str]:
    """Statements that alone allow every action on every resource (or all but a handful)."""
    try:
        found = parse(r.get("Document"))
    except PolicyError as exc:
        raise Unknown(str(exc)) from exc
    version = r.get("Document.Version")  # a statement alone keeps its document's language version
    return [
        s.label
        for s in found
        if s.allow
        and admin_equivalent([Source("", {"Version": version, "Statement": [s.raw]})], r.account).allowed
    ]


@check("AwsIamPolicy")
def is_aws_managed(r: ResourceView) -> bool:
    """Whether AWS owns the policy (``arn:aws:iam::aws:policy/...``)."""
    return ":aws:policy/" in r.id


@check("AwsIamPolicy", needs=("roles", "users", "groups"), name="is_attached")
def policy_is_attached(r: ResourceView) -> list[str] | No:
    """Attached to roles, users or groups (the value lists them)."""
    principals = [v.id for name in ("roles", "users", "groups") for v in r.related(name)]
    if principals:
        return principals
    count = r.get("AttachmentCount")
    return No("attached to nothing") if not count else [f"{count} attachment(s)"]
