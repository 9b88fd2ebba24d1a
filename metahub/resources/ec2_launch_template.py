from metahub.resources.spec import Relation, Spec, register

SPEC = register(
    Spec(
        type="AwsEc2LaunchTemplate",
        service="ec2",
        arn_types=("launch-template",),
        # Without template ids, this returns the default version of every template, launch data
        # included: one listing per (account, region) instead of a call per template.
        operation="describe_launch_template_versions",
        params={"Versions": ["$Default"]},
        items="LaunchTemplateVersions",
        id="LaunchTemplateId",
        relations={
            "security_groups": Relation(
                "AwsEc2SecurityGroup",
                "[LaunchTemplateData.SecurityGroupIds, LaunchTemplateData.NetworkInterfaces[].Groups][]",
            ),
            "auto_scaling_groups": Relation(
                "AwsAutoScalingAutoScalingGroup",
                "LaunchTemplateId",
                reverse="[LaunchTemplate.LaunchTemplateId,"
                " MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId][]",
            ),
        },
    )
)
