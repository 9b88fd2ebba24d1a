"""Checks every type with a resource policy shares: who outside the account it lets in.

``is_public`` stays with each type (a bucket also has ACLs and Block Public Access, a function a
URL); these give it the policy's part, decided by the one evaluator in :mod:`metahub.checks.policy`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from metahub.checks.base import No, ResourceView, Unknown, check
from metahub.checks.policy import Exposure, PolicyError, exposure

Document = Callable[[ResourceView], Any]

ANALYZER_RESOURCE_TYPES = {
    "AwsS3Bucket": "AWS::S3::Bucket", "AwsSqsQueue": "AWS::SQS::Queue", "AwsSnsTopic": "AWS::SNS::Topic",
    "AwsKmsKey": "AWS::KMS::Key", "AwsLambdaFunction": "AWS::Lambda::Function",
    "AwsSecretsManagerSecret": "AWS::SecretsManager::Secret", "AwsEfsFileSystem": "AWS::EFS::FileSystem",
    "AwsOpenSearchServiceDomain": "AWS::OpenSearchService::Domain",
    "AwsIamRole": "AWS::IAM::AssumeRolePolicyDocument",
}  # fmt: skip
"""The ``resourceType`` IAM Access Analyzer's CheckNoPublicAccess takes for each type's resource
(or trust) policy (its API reference lists the values)."""


@dataclass(frozen=True)
class PolicyDocument:
    """One policy of a resource, as IAM Access Analyzer can check it on its own."""

    label: str
    document: Any
    kind: Literal["resource", "identity"]
    analyzer_type: str | None = None
    """CheckNoPublicAccess's resource type (resource policies)."""
    local_check: str | None = None
    """metahub's own verdict on the same document alone (``it_has_bucket_policy_public`` ...)."""


_DOCUMENTS: dict[str, list[Callable[[ResourceView], list[PolicyDocument]]]] = {}


def register_documents(type_: str, documents: Callable[[ResourceView], list[PolicyDocument]]) -> None:
    """Add a source of policies for ``type_`` (a role has a trust policy and identity policies)."""
    _DOCUMENTS.setdefault(type_, []).append(documents)


def policy_documents(r: ResourceView) -> list[PolicyDocument]:
    """The policies of a resource that IAM Access Analyzer can check (none for other types)."""
    return [found for documents in _DOCUMENTS.get(r.type, []) for found in documents(r)]


def policy_exposure(r: ResourceView, document: Any, what: str) -> Exposure:
    try:
        return exposure(document, r.account, source=what, trust=what == "trust policy")
    except PolicyError as exc:
        raise Unknown(str(exc)) from exc


def public_grants(found: Exposure, what: str) -> list[dict[str, Any]] | No:
    """The grants anyone may use; unknown when none is certain but some cannot be decided."""
    if found.public:
        return found.public
    if found.unknown:
        raise Unknown(f"the {what} cannot be decided: {'; '.join(found.unknown)}")
    if found.restricted:
        return No(f"the {what} lets no one in unconditionally: {'; '.join(found.restricted)}")
    return No(f"the {what} grants nothing to anyone outside the account")


def shared_with(found: Exposure) -> list[str]:
    """Principals outside the account, with what makes the policy public named first."""
    return (["anyone (public)"] if found.public else []) + found.shared


def register_policy_checks(
    *types: str, document: Document, needs: tuple[str, ...], what: str, public: str
) -> None:
    """Register ``public`` (the grants anyone may use) and ``its_shared_with_external_principals``
    for ``types``, reading the policy ``document(r)``."""

    def grants(r: ResourceView) -> list[dict[str, Any]] | No:
        return public_grants(policy_exposure(r, document(r), what), what)

    def external(r: ResourceView) -> list[str]:
        found = policy_exposure(r, document(r), what)
        if found.unknown and not found.public:
            raise Unknown(f"the {what} cannot be decided: {'; '.join(found.unknown)}")
        return shared_with(found)

    grants.__doc__ = f"Grants of the {what} that anyone may use, after Deny statements and conditions."
    external.__doc__ = (
        f"Who outside the account the {what} lets in: anyone, other accounts, organizations, "
        "federated identities, services acting for other accounts."
    )
    check(*types, needs=needs, name=public)(grants)
    check(*types, needs=needs, name="its_shared_with_external_principals")(external)
    for type_ in types:
        analyzer_type = ANALYZER_RESOURCE_TYPES.get(type_)

        def documents(r: ResourceView, analyzer_type: str | None = analyzer_type) -> list[PolicyDocument]:
            found = document(r)
            return [PolicyDocument(what, found, "resource", analyzer_type, public)] if found else []

        register_documents(type_, documents)
