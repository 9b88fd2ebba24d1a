"""MetaChecks of Athena workgroups: where query results go, and whether they are encrypted."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check

WORKGROUP = "AwsAthenaWorkGroup"


def _configuration(r: ResourceView) -> dict[str, Any]:
    configuration: dict[str, Any] = (r.detail("WorkGroup") or {}).get("Configuration", {})
    return configuration


@check(WORKGROUP, needs=("WorkGroup",), name="is_encrypted")
def workgroup_is_encrypted(r: ResourceView) -> str | No:
    """Query results encrypted (and the setting enforced on clients)."""
    configuration = _configuration(r)
    option: str | None = (
        configuration.get("ResultConfiguration", {})
        .get("EncryptionConfiguration", {})
        .get("EncryptionOption")
    )
    if not option:
        return No("query results are not encrypted")
    if not configuration.get("EnforceWorkGroupConfiguration"):
        return No(f"{option} configured, but clients may override it")
    return option


@check(WORKGROUP, needs=("WorkGroup",))
def it_has_enforced_configuration(r: ResourceView) -> bool:
    """Whether the workgroup's settings override the client's (``EnforceWorkGroupConfiguration``)."""
    return bool(_configuration(r).get("EnforceWorkGroupConfiguration"))


@check(WORKGROUP, needs=("WorkGroup",))
def it_has_results_location(r: ResourceView) -> str | No:
    """The S3 location query results go to; false without one."""
    return _configuration(r).get("ResultConfiguration", {}).get("OutputLocation") or No("no results location")


@check(WORKGROUP, name="is_public")
def workgroup_is_public(r: ResourceView) -> No:
    """Always false: a workgroup takes no resource policy and has no endpoint of its own."""
    return No("Athena workgroups take no resource policy and have no endpoint of their own")
