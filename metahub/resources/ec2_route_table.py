from metahub.resources.spec import Spec, register

SPEC = register(
    Spec(
        # Few per region, and listed whole anyway for the relations that lead here: one call.
        type="AwsEc2RouteTable",
        service="ec2",
        arn_types=("route-table",),
        operation="describe_route_tables",
        items="RouteTables",
        id="RouteTableId",
    )
)
