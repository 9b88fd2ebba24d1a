"""Classic and v2 (application, network, gateway) load balancers: one ARN kind, two APIs.

Both are listed whole (400 a page): asking by name or ARN fails the whole batch when one of them
was deleted since the scan."""

from __future__ import annotations

from metahub.resources.spec import Detail, Relation, Spec, register

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
