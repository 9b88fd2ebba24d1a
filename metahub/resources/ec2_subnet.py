from metahub.resources.spec import Relation, Spec, register

SPEC = register(
    Spec(
        type="AwsEc2Subnet",
        service="ec2",
        arn_types=("subnet",),
        operation="describe_subnets",
        items="Subnets",
        id="SubnetId",
        ids_filter="subnet-id",
        batch=200,
        relations={
            # A subnet uses its explicitly associated route table, else its VPC's main one: both
            # come from one listing of the region's route tables.
            "route_tables": Relation("AwsEc2RouteTable", "SubnetId", reverse="Associations[].SubnetId"),
            "vpc_route_tables": Relation("AwsEc2RouteTable", "VpcId", reverse="VpcId"),
            "network_acls": Relation("AwsEc2NetworkAcl", "SubnetId", reverse="Associations[].SubnetId"),
        },
    )
)
