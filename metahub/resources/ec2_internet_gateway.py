from metahub.resources.spec import Spec, register

SPEC = register(
    Spec(
        # Few per region, and listed whole anyway for the relations that lead here: one call.
        type="AwsEc2InternetGateway",
        service="ec2",
        arn_types=("internet-gateway",),
        operation="describe_internet_gateways",
        items="InternetGateways",
        id="InternetGatewayId",
    )
)
