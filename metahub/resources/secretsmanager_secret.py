from metahub.resources.spec import Detail, Spec, register

SPEC = register(
    Spec(
        type="AwsSecretsManagerSecret",
        service="secretsmanager",
        arn_types=("secret",),
        operation="list_secrets",  # metadata only: metahub never reads a secret's value
        items="SecretList",
        id="ARN",
        id_from_arn=str,
        details={
            "Policy": Detail(
                "get_resource_policy",
                {"SecretId": "ARN"},
                result="ResourcePolicy",
                json=True,
                absent=("ResourceNotFoundException",),
            ),
        },
    )
)
