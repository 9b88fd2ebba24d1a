from metahub.resources.spec import Detail, Spec, register

SPEC = register(
    Spec(
        type="AwsEfsFileSystem",
        service="efs",
        arn_service="elasticfilesystem",
        arn_types=("file-system",),
        operation="describe_file_systems",
        items="FileSystems",
        id="FileSystemId",
        details={
            "Policy": Detail(
                "describe_file_system_policy",
                {"FileSystemId": "FileSystemId"},
                result="Policy",
                json=True,
                absent=("PolicyNotFound",),
            ),
        },
    )
)
