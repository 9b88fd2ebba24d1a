"""MetaChecks of Auto Scaling groups, launch configurations and EC2 launch templates.

A launch configuration or template says what every instance started from it will be: a public IP,
IMDSv1, unencrypted volumes, open security groups. The group says what runs now.
"""

from __future__ import annotations

from typing import Any

from metahub.checks.base import No, ResourceView, Unknown, any_member, check
from metahub.checks.network import GROUP_RULES, open_ingress

GROUP = "AwsAutoScalingAutoScalingGroup"
CONFIG, TEMPLATE = "AwsAutoScalingLaunchConfiguration", "AwsEc2LaunchTemplate"


def _launch_data(r: ResourceView) -> dict[str, Any]:
    """Launch configuration fields, or a template's LaunchTemplateData (the same names, mostly)."""
    return r.get("LaunchTemplateData", {}) if r.type == TEMPLATE else r.data


@check(CONFIG, TEMPLATE)
def it_has_public_ip_association(r: ResourceView) -> bool:
    """Instances launched from it get a public IP address."""
    if r.type == CONFIG:
        return bool(r.get("AssociatePublicIpAddress"))
    return any(i.get("AssociatePublicIpAddress") for i in _launch_data(r).get("NetworkInterfaces", []))


@check(CONFIG, TEMPLATE)
def is_instance_metadata_v2(r: ResourceView) -> bool:
    """Whether instances launched from it require IMDSv2 tokens (``HttpTokens: required``)."""
    return bool(_launch_data(r).get("MetadataOptions", {}).get("HttpTokens") == "required")


@check(CONFIG, TEMPLATE, needs=(GROUP_RULES,))
def its_associated_with_security_group_rules_ingress_unrestricted(r: ResourceView) -> list[str]:
    """Ingress rules of its security groups open to the whole internet."""
    return open_ingress(r.related("security_groups", complete=True))


@check(CONFIG, TEMPLATE, name="is_encrypted")
def launch_is_encrypted(r: ResourceView) -> list[str] | No:
    """Every EBS volume it defines is encrypted (new volumes may still be, by account default)."""
    volumes = [m for m in _launch_data(r).get("BlockDeviceMappings", []) if "Ebs" in m]
    if not volumes:
        raise Unknown("no EBS mappings of its own: the image's volumes and the account default decide")
    plain = [m.get("DeviceName", "?") for m in volumes if not m["Ebs"].get("Encrypted")]
    if plain:
        return No(f"unencrypted volumes: {', '.join(plain)}")
    return [m.get("DeviceName", "?") for m in volumes]


@check(CONFIG, TEMPLATE, needs=(GROUP_RULES,), name="is_public")
def launch_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Instances launched from it get a public IP and a security group open to the internet."""
    if not r.check("it_has_public_ip_association"):
        return No("instances get no public IP address")
    rules = r.check("its_associated_with_security_group_rules_ingress_unrestricted")
    if not rules:
        return No("instances get a public IP, but no security group rule is open to the internet")
    return {"public_ip_association": True, "open_ingress": rules}


@check(CONFIG, TEMPLATE, needs=(GROUP_RULES,), name="is_unrestricted")
def launch_is_unrestricted(r: ResourceView) -> list[str] | No:
    """The ingress rules open to the internet that every instance launched from it gets."""
    return r.check("its_associated_with_security_group_rules_ingress_unrestricted") or No(
        "no security group rule open to the internet"
    )


@check(CONFIG, TEMPLATE, needs=("auto_scaling_groups",), name="is_attached")
def launch_is_attached(r: ResourceView) -> list[str] | No:
    """Auto Scaling groups that launch from it."""
    return [g.id for g in r.related("auto_scaling_groups")] or No("no Auto Scaling group uses it")


@check(GROUP, needs=("instances",))
def its_associated_with_instances(r: ResourceView) -> list[str]:
    """The instances the group runs now."""
    return [i.id for i in r.related("instances")]


@check(GROUP)
def its_associated_with_launch_template(r: ResourceView) -> str | No:
    """The launch template (also inside a mixed instances policy); false without one."""
    template = r.get("LaunchTemplate.LaunchTemplateId") or r.get(
        "MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId"
    )
    return template or No("no launch template")


@check(GROUP)
def its_associated_with_launch_configuration(r: ResourceView) -> str | No:
    """The launch configuration's name; false without one."""
    return r.get("LaunchConfigurationName") or No("no launch configuration")


@check(GROUP)
def its_associated_with_load_balancers(r: ResourceView) -> list[str]:
    """Classic load balancer names and target group ARNs the group registers into."""
    return [*r.get("LoadBalancerNames", []), *r.get("TargetGroupARNs", [])]


def _launched_from(r: ResourceView) -> ResourceView | None:
    return r.one("launch_template") or r.one("launch_configuration")


@check(GROUP, needs=("instances.*",), name="is_public")
def group_is_public(r: ResourceView) -> dict[str, Any] | No:
    """Instances of the group that are reachable from the internet."""
    return any_member(
        r.related("instances"), "is_public", "no instance of the group is reachable from the internet"
    )


@check(GROUP, needs=("instances.*",), name="is_unrestricted")
def group_is_unrestricted(r: ResourceView) -> dict[str, Any] | No:
    """The first instance of the group that is unrestricted, with its evidence."""
    return any_member(r.related("instances"), "is_unrestricted", "no instance of the group is unrestricted")


@check(GROUP, needs=("launch_template", "launch_configuration"), name="is_encrypted")
def group_is_encrypted(r: ResourceView) -> Any:
    """As the launch template or configuration its instances start from."""
    source = _launched_from(r)
    if source is None:
        raise Unknown("its launch template or configuration was not found")
    return source.check("is_encrypted")


@check(GROUP, name="is_attached")
def group_is_attached(r: ResourceView) -> list[str] | No:
    """Behind a load balancer or target group."""
    return r.check("its_associated_with_load_balancers") or No("not behind a load balancer")
