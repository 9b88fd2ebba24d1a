"""MetaChecks of EC2 instances: exposure (IP, security groups, routes, ACLs), metadata service,
volumes and the role the instance runs as."""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, check
from metahub.checks.network import (
    NETWORK,
    describe_rule,
    effective_route_table,
    internet_gateway_route,
    reachable_rules,
)
from metahub.checks.network import unrestricted_ingress as open_rules

INSTANCE = "AwsEc2Instance"
ROLE_POLICIES = ("instance_profile.roles.attached_policies",)


@check(INSTANCE)
def it_has_public_ip(r: ResourceView) -> str | bool:
    """The instance's public IPv4 address."""
    return r.get("PublicIpAddress") or False


@check(INSTANCE)
def it_has_private_ip(r: ResourceView) -> str | bool:
    return r.get("PrivateIpAddress") or False


@check(INSTANCE)
def it_has_public_dns(r: ResourceView) -> str | bool:
    return r.get("PublicDnsName") or False


@check(INSTANCE)
def is_running(r: ResourceView) -> bool:
    return r.get("State.Name") == "running"


@check(INSTANCE)
def is_instance_metadata_v2(r: ResourceView) -> bool:
    """IMDSv2 required (session tokens), which blunts SSRF credential theft."""
    return r.get("MetadataOptions.HttpTokens") == "required"


@check(INSTANCE)
def is_instance_metadata_hop_limit_1(r: ResourceView) -> bool:
    return r.get("MetadataOptions.HttpPutResponseHopLimit") == 1


@check(INSTANCE)
def it_has_instance_profile(r: ResourceView) -> str | bool:
    return r.get("IamInstanceProfile.Arn") or False


@check(INSTANCE, needs=("security_groups",))
def its_associated_with_security_groups(r: ResourceView) -> list[str]:
    return [group.id for group in r.related("security_groups")]


@check(INSTANCE, needs=("security_groups",))
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[dict[str, Any]]:
    """Ingress rules open to 0.0.0.0/0 or ::/0 on the instance's security groups."""
    return [rule for group in r.related("security_groups") for rule in open_rules(group.data)]


@check(INSTANCE, needs=("subnet.route_tables", "subnet.vpc_route_tables"))
def its_associated_with_subnet_routed_to_internet_gateway(r: ResourceView) -> str | bool:
    """The internet gateway the instance's subnet routes 0.0.0.0/0 to."""
    subnet = r.one("subnet")
    if subnet is None:
        return No("the instance is in no subnet")
    table = effective_route_table(subnet)
    return (internet_gateway_route(table.data) if table else None) or False


@check(INSTANCE, needs=("volumes",))
def its_associated_with_ebs(r: ResourceView) -> list[str]:
    return [volume.id for volume in r.related("volumes")]


@check(INSTANCE, needs=("volumes",))
def its_associated_with_ebs_unencrypted(r: ResourceView) -> list[str]:
    return [volume.id for volume in r.related("volumes") if not volume.get("Encrypted")]


@check(INSTANCE, needs=("instance_profile.roles",))
def its_associated_with_iam_roles(r: ResourceView) -> list[str]:
    return [role.id for profile in r.related("instance_profile") for role in profile.related("roles")]


@check(INSTANCE, needs=ROLE_POLICIES)
def its_associated_with_iam_roles_unrestricted(r: ResourceView) -> list[str]:
    """Roles the instance runs as that may do anything (``*`` on ``*``)."""
    return [
        role.id
        for profile in r.related("instance_profile")
        for role in profile.related("roles")
        if role.check("is_unrestricted")
    ]


@check(INSTANCE, needs=NETWORK)
def is_public(r: ResourceView) -> dict[str, Any] | No:
    """Reachable from the internet: a public IP, a rule open to the world that the network ACL lets
    through, and a subnet that routes to an internet gateway."""
    ip = r.check("it_has_public_ip")
    if not ip:
        return No("no public IP address")
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    if not rules:
        return No(f"public IP {ip}, but no security group rule is open to the internet")
    gateway = r.check("its_associated_with_subnet_routed_to_internet_gateway")
    if not gateway:
        return No(f"public IP {ip}, but the subnet has no route to an internet gateway")
    reachable = reachable_rules(rules, r.one("subnet"))
    if not reachable:
        return No(f"public IP {ip}, but the subnet's network ACL blocks every open port")
    return {
        "public_ip": ip,
        "internet_gateway": gateway,
        "open_ingress": [describe_rule(x) for x in reachable],
    }


@check(INSTANCE, needs=("volumes",))
def is_encrypted(r: ResourceView) -> list[str] | No:
    """Every attached EBS volume is encrypted (the value lists them)."""
    volumes = r.related("volumes")
    if not volumes:
        return No("no EBS volume found")
    plain = [v.id for v in volumes if not v.get("Encrypted")]
    if plain:
        return No(f"unencrypted volumes: {', '.join(plain)}")
    return [v.id for v in volumes]


@check(INSTANCE, needs=(*NETWORK, *ROLE_POLICIES))
def is_unrestricted(r: ResourceView) -> dict[str, Any] | No:
    """Open to the internet on some port, or running as a role that may do anything."""
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    roles = r.check("its_associated_with_iam_roles_unrestricted")
    if not rules and not roles:
        return No("no rule open to the internet and no unrestricted role")
    evidence: dict[str, Any] = {}
    if rules:
        evidence["open_ingress"] = [describe_rule(x) for x in rules]
    if roles:
        evidence["unrestricted_roles"] = roles
    return evidence
