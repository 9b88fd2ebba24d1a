from metahub.resources.spec import Relation, Spec, register

SPEC = register(
    Spec(
        type="AwsRdsDbInstance",
        service="rds",
        arn_types=("db",),
        operation="describe_db_instances",
        items="DBInstances",
        id="DBInstanceIdentifier",
        relations={
            "security_groups": Relation("AwsEc2SecurityGroup", "VpcSecurityGroups[].VpcSecurityGroupId"),
            "subnets": Relation("AwsEc2Subnet", "DBSubnetGroup.Subnets[].SubnetIdentifier"),
        },
    )
)
