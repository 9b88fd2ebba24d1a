from metahub.resources.spec import Detail, Spec, register

SPEC = register(
    Spec(
        type="AwsEc2VpcEndpointService",
        service="ec2",
        arn_types=("vpc-endpoint-service",),
        operation="describe_vpc_endpoint_service_configurations",
        items="ServiceConfigurations",
        id="ServiceId",
        ids_param="ServiceIds",
        batch=100,
        details={
            "AllowedPrincipals": Detail(
                "describe_vpc_endpoint_service_permissions",
                {"ServiceId": "ServiceId"},
                result="AllowedPrincipals",
            ),
        },
    )
)
