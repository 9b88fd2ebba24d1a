"""Network interfaces: not reported by scanners, but what ties security groups to instances and IPs."""

from metahub.resources.spec import Relation, Spec, register

SPEC = register(
    Spec(
        type="AwsEc2NetworkInterface",
        service="ec2",
        arn_types=("network-interface",),
        operation="describe_network_interfaces",
        items="NetworkInterfaces",
        id="NetworkInterfaceId",
        ids_filter="network-interface-id",
        batch=200,
        relations={
            "security_groups": Relation("AwsEc2SecurityGroup", "Groups[].GroupId"),
            "subnet": Relation("AwsEc2Subnet", "SubnetId"),
        },
    )
)
