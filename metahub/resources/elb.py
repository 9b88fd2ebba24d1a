"""Classic and v2 (application, network, gateway) load balancers: one ARN kind, two APIs.

Both are listed whole (400 a page): asking by name or ARN fails the whole batch when one of them
was deleted since the scan."""

from __future__ import annotations

from typing import Any

from metahub.resources.spec import Detail, FetchContext, Relation, Spec, register

CLASSIC = register(
    Spec(
        type="AwsElbLoadBalancer",
        service="elb",
        arn_service="elasticloadbalancing",
        arn_pattern=r"loadbalancer/(?P<id>[^/]+)",
        operation="describe_load_balancers",
        items="LoadBalancerDescriptions",
        id="LoadBalancerName",
        relations={
            "security_groups": Relation("AwsEc2SecurityGroup", "SecurityGroups"),
            "instances": Relation("AwsEc2Instance", "Instances[].InstanceId"),
            "subnets": Relation("AwsEc2Subnet", "Subnets"),
        },
    )
)

V2 = register(
    Spec(
        type="AwsElbv2LoadBalancer",
        service="elbv2",
        arn_service="elasticloadbalancing",
        arn_pattern=r"loadbalancer/(?:app|net|gwy)/[^/]+/[^/]+",
        operation="describe_load_balancers",
        items="LoadBalancers",
        id="LoadBalancerArn",
        id_from_arn=str,
        details={
            "Listeners": Detail(
                "describe_listeners", {"LoadBalancerArn": "LoadBalancerArn"}, result="Listeners"
            ),
            "Attributes": Detail(
                "describe_load_balancer_attributes",
                {"LoadBalancerArn": "LoadBalancerArn"},
                result="Attributes",
            ),
        },
        relations={
            "security_groups": Relation("AwsEc2SecurityGroup", "SecurityGroups"),
            "subnets": Relation("AwsEc2Subnet", "AvailabilityZones[].SubnetId"),
        },
    )
)


def fetch_target_groups(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    """Every target group of the region with its registered targets (``Targets``): one listing,
    then one DescribeTargetHealth per group, which AWS cannot batch. Only asked for when an instance
    is checked, to know which load balancers send it traffic."""
    groups = ctx.items("describe_target_groups", "TargetGroups")
    if ids is not None:
        groups = [g for g in groups if g["TargetGroupArn"] in ids]
    for group in groups:
        group["Targets"] = ctx.items(
            "describe_target_health", "TargetHealthDescriptions", TargetGroupArn=group["TargetGroupArn"]
        )
    return groups


TARGET_GROUPS = register(
    Spec(
        type="AwsElbv2TargetGroup",
        service="elbv2",
        arn_service="elasticloadbalancing",
        arn_pattern=r"targetgroup/[^/]+/[^/]+",
        id="TargetGroupArn",
        id_from_arn=str,
        fetch=fetch_target_groups,
        relations={"load_balancers": Relation("AwsElbv2LoadBalancer", "LoadBalancerArns")},
    )
)
