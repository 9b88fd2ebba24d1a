from metahub.resources.spec import Relation, Spec, register

SPEC = register(
    Spec(
        type="AwsEc2Instance",
        service="ec2",
        arn_types=("instance",),
        operation="describe_instances",
        items="Reservations[].Instances[]",
        id="InstanceId",
        ids_filter="instance-id",
        batch=200,
        relations={
            # Groups given per network interface at launch show only on the interfaces.
            "security_groups": Relation(
                "AwsEc2SecurityGroup", "[SecurityGroups[].GroupId, NetworkInterfaces[].Groups[].GroupId][]"
            ),
            # Every interface's subnet: a secondary interface may sit in another one.
            "subnet": Relation("AwsEc2Subnet", "[SubnetId, NetworkInterfaces[].SubnetId][]"),
            "volumes": Relation("AwsEc2Volume", "BlockDeviceMappings[].Ebs.VolumeId"),
            "instance_profile": Relation("AwsIamInstanceProfile", "IamInstanceProfile.Arn"),
            # Load balancers that send it traffic: classic ones list their instances; v2 ones through
            # target groups. Both listed once per region, indexed by instance.
            "classic_load_balancers": Relation(
                "AwsElbLoadBalancer", "InstanceId", reverse="Instances[].InstanceId"
            ),
            "target_groups": Relation("AwsElbv2TargetGroup", "InstanceId", reverse="Targets[].Target.Id"),
            "network_interfaces": Relation(
                "AwsEc2NetworkInterface", "NetworkInterfaces[].NetworkInterfaceId"
            ),
        },
    )
)
