"""Auto Scaling groups and launch configurations."""

from __future__ import annotations

from metahub.resources.spec import Relation, Spec, register

GROUP = register(
    Spec(
        type="AwsAutoScalingAutoScalingGroup",
        service="autoscaling",
        arn_pattern=r"autoScalingGroup:[^:]*:autoScalingGroupName/(?P<id>.+)",
        operation="describe_auto_scaling_groups",
        items="AutoScalingGroups",
        id="AutoScalingGroupName",
        ids_param="AutoScalingGroupNames",
        batch=50,
        relations={
            "instances": Relation("AwsEc2Instance", "Instances[].InstanceId"),
            "launch_template": Relation(
                "AwsEc2LaunchTemplate",
                "[LaunchTemplate.LaunchTemplateId,"
                " MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId][]",
            ),
            "launch_configuration": Relation("AwsAutoScalingLaunchConfiguration", "LaunchConfigurationName"),
            "load_balancers": Relation("AwsElbLoadBalancer", "LoadBalancerNames"),
        },
    )
)

LAUNCH_CONFIGURATION = register(
    Spec(
        type="AwsAutoScalingLaunchConfiguration",
        service="autoscaling",
        arn_pattern=r"launchConfiguration:[^:]*:launchConfigurationName/(?P<id>.+)",
        operation="describe_launch_configurations",
        items="LaunchConfigurations",
        id="LaunchConfigurationName",
        ids_param="LaunchConfigurationNames",
        batch=50,
        relations={
            "security_groups": Relation("AwsEc2SecurityGroup", "SecurityGroups"),
            "auto_scaling_groups": Relation(
                "AwsAutoScalingAutoScalingGroup", "LaunchConfigurationName", reverse="LaunchConfigurationName"
            ),
        },
    )
)
