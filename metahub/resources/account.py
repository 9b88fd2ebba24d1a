"""Account context: alias, organization and alternate contacts, once per account."""

from __future__ import annotations

from typing import Any

from metahub.aws import Aws, describe_error, error_code

CONTACT_TYPES = ("SECURITY", "OPERATIONS", "BILLING")


def account_context(aws: Aws, account: str, partition: str = "aws") -> tuple[dict[str, Any], dict[str, str]]:
    """(context, unknown reasons). Each part that cannot be read is null, and says why."""
    context: dict[str, Any] = {"AccountId": account}
    unknown: dict[str, str] = {}
    try:
        iam = aws.client("iam", account, "us-east-1", partition)
        aliases = iam.list_account_aliases().get("AccountAliases", [])
        context["Alias"] = aliases[0] if aliases else None
    except Exception as exc:
        context["Alias"], unknown["metaaccount.Alias"] = None, describe_error(exc, "iam:ListAccountAliases")
    try:
        organizations = aws.client("organizations", account, "us-east-1", partition)
        organization = organizations.describe_organization()["Organization"]
        context["Organization"] = {
            "Id": organization.get("Id"),
            "MasterAccountId": organization.get("MasterAccountId"),
            "IsManagementAccount": organization.get("MasterAccountId") == account,
        }
    except Exception as exc:
        if error_code(exc) == "AWSOrganizationsNotInUseException":
            context["Organization"] = False  # known: the account is in no organization
        else:
            context["Organization"] = None
            unknown["metaaccount.Organization"] = describe_error(exc, "organizations:DescribeOrganization")
    contacts: dict[str, Any] = {}
    for kind in CONTACT_TYPES:
        try:
            client = aws.client("account", account, "us-east-1", partition)
            contact = client.get_alternate_contact(AlternateContactType=kind)["AlternateContact"]
            contacts[kind] = {k: contact.get(k) for k in ("Name", "Title", "EmailAddress", "PhoneNumber")}
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                contacts[kind] = False  # known: none set
            else:
                contacts[kind] = None
                unknown[f"metaaccount.AlternateContacts.{kind}"] = describe_error(
                    exc, "account:GetAlternateContact"
                )
    context["AlternateContacts"] = contacts
    return context, unknown
