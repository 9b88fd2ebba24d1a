from metahub.resources.spec import Relation, Spec, register

SPEC = register(
    Spec(
        # Few per region, and listed whole anyway for the relations that lead here: one call.
        type="AwsEc2NetworkAcl",
        service="ec2",
        arn_types=("network-acl",),
        operation="describe_network_acls",
        items="NetworkAcls",
        id="NetworkAclId",
        relations={"subnets": Relation("AwsEc2Subnet", "Associations[].SubnetId")},
    )
)
