from metahub.resources.spec import Detail, Relation, Spec, register

SPEC = register(
    Spec(
        type="AwsLambdaFunction",
        service="lambda",
        arn_types=("function",),
        operation="list_functions",
        items="Functions",
        id="FunctionName",
        id_from_arn=lambda arn: arn.resource_id.split(":")[0],  # function:name[:version or alias]
        details={
            "Policy": Detail(
                "get_policy",
                {"FunctionName": "FunctionName"},
                result="Policy",
                json=True,
                absent=("ResourceNotFoundException",),
            ),
            "UrlConfig": Detail(
                "get_function_url_config",
                {"FunctionName": "FunctionName"},
                absent=("ResourceNotFoundException",),
            ),
        },
        relations={
            "role": Relation("AwsIamRole", "Role"),
            "security_groups": Relation("AwsEc2SecurityGroup", "VpcConfig.SecurityGroupIds"),
            "subnets": Relation("AwsEc2Subnet", "VpcConfig.SubnetIds"),
        },
    )
)
