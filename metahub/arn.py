"""ARN parsing, and telling real resources from the account-level pseudo-ARNs scanners emit."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Services whose resource ARNs are a bare name with no "type/" or "type:" prefix.
_BARE_NAME_SERVICES = frozenset({"s3", "sns", "sqs"})
_ACCOUNT_ID = re.compile(r"^\d{12}$")

# What an ARN's (service, resource type) says the ASFF type is, where scanners disagree:
# Prowler types one VPC as AwsEc2Vpc, AwsEc2Subnet and AwsEc2VpcEndpointService in one scan.
_ASFF_TYPE_BY_ARN = {
    ("ec2", "vpc"): "AwsEc2Vpc",
    ("ec2", "subnet"): "AwsEc2Subnet",
    ("ec2", "instance"): "AwsEc2Instance",
    ("ec2", "security-group"): "AwsEc2SecurityGroup",
    ("ec2", "network-acl"): "AwsEc2NetworkAcl",
    ("ec2", "route-table"): "AwsEc2RouteTable",
    ("ec2", "volume"): "AwsEc2Volume",
    ("ec2", "network-interface"): "AwsEc2NetworkInterface",
    ("ec2", "launch-template"): "AwsEc2LaunchTemplate",
    ("ec2", "vpc-endpoint-service"): "AwsEc2VpcEndpointService",
    ("iam", "role"): "AwsIamRole",
    ("iam", "user"): "AwsIamUser",
    ("iam", "group"): "AwsIamGroup",
    ("iam", "policy"): "AwsIamPolicy",
    ("rds", "db"): "AwsRdsDbInstance",
    ("rds", "cluster"): "AwsRdsDbCluster",
    ("lambda", "function"): "AwsLambdaFunction",
    ("dynamodb", "table"): "AwsDynamoDbTable",
    ("kms", "key"): "AwsKmsKey",
}


_TYPE_AND_ID = re.compile(r"^([^/:]+)[/:](.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str
    """Everything after the account: ``instance/i-0abc``, ``function:name``, ``my-bucket``."""
    resource_type: str
    """``instance`` for ``instance/i-1``, ``db`` for ``db:x``; empty for bare names (S3, SNS, SQS)."""
    resource_id: str
    """``i-0abc`` for ``instance/i-0abc``; the name itself for bare names; empty for pseudo-ARNs."""

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    @property
    def asff_type(self) -> str | None:
        """The ASFF type this kind of ARN names, when it names exactly one."""
        return _ASFF_TYPE_BY_ARN.get((self.service, self.resource_type))

    @property
    def concrete(self) -> bool:
        """False for ARNs that name an account-level setting rather than one resource.

        Real Prowler output holds ``arn:aws:ec2:eu-west-1:123456789012:volume`` (EBS
        encryption by default), ``arn:aws:iam:us-east-1:123456789012:password-policy``,
        ``arn:aws:rds:eu-west-1:123456789012:account`` and ``arn:aws:iam::123456789012:root``:
        a resource type or setting with no resource id after it.
        """
        if not self.resource:
            return False
        return bool(self.resource_id)


def parse_arn(value: str) -> Arn | None:
    """Split an ARN into its parts; None when the string is not an ARN."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        return None
    _, partition, service, region, account, resource = parts
    if service in _BARE_NAME_SERVICES:
        kind, ident = "", resource
    else:
        match = _TYPE_AND_ID.match(resource.lstrip("/"))  # API Gateway: ``/apis/a1b2c3``
        kind, ident = (match.group(1), match.group(2)) if match else (resource, "")
    return Arn(partition, service, region, account, resource, kind, ident)


def is_account_id(value: str) -> bool:
    return bool(_ACCOUNT_ID.match(value))
