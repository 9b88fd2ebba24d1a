"""Every built-in MetaCheck module. Importing this registers them."""

from metahub.checks import (  # noqa: F401
    dynamodb_table,
    ec2_instance,
    ec2_network,
    ec2_security_group,
    ec2_snapshot,
    ec2_volume,
    iam,
    kms_key,
    lambda_function,
    messaging,
    rds,
    s3_bucket,
)
