from metahub.resources.spec import Detail, Spec, register

SPEC = register(
    Spec(
        type="AwsKmsKey",
        service="kms",
        arn_types=("key",),
        operation="list_keys",
        items="Keys",
        id="KeyId",
        details={
            "Metadata": Detail("describe_key", {"KeyId": "KeyId"}, result="KeyMetadata"),
            "Policy": Detail(
                "get_key_policy", {"KeyId": "KeyId", "PolicyName": "'default'"}, result="Policy", json=True
            ),
            "Rotation": Detail(
                "get_key_rotation_status",
                {"KeyId": "KeyId"},
                result="KeyRotationEnabled",
                absent=("UnsupportedOperationException",),
            ),
        },
    )
)
