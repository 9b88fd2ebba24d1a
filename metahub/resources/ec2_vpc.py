from metahub.resources.spec import Relation, Spec, register

SPEC = register(
    Spec(
        type="AwsEc2Vpc",
        service="ec2",
        arn_types=("vpc",),
        operation="describe_vpcs",
        items="Vpcs",
        id="VpcId",
        ids_filter="vpc-id",
        batch=200,
        relations={
            "internet_gateways": Relation("AwsEc2InternetGateway", "VpcId", reverse="Attachments[].VpcId"),
            "flow_logs": Relation("AwsEc2FlowLog", "VpcId", reverse="ResourceId"),
            "route_tables": Relation("AwsEc2RouteTable", "VpcId", reverse="VpcId"),
        },
    )
)
