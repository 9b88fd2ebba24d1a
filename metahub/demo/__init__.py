"""The embedded demo: an emulated AWS account (moto in server mode on 127.0.0.1) holding the lab
resources that the bundled Prowler scan was taken of, so a newcomer sees the whole pipeline with
no AWS credentials.

The account is rebuilt call for call as ``shared/lab/seed_account.py`` builds it, after seeding
moto's random generator with 42: moto draws resource ids from that generator on every request,
reads included, so the same calls in the same order give the same ids as in the scan.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import socket
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources as package_files
from pathlib import Path
from typing import Any

from metahub.progress import bar

ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "eu-west-1")
SCALE = 2


def demo_findings() -> Path:
    """The bundled sample: real Prowler 5.46 ASFF output of the emulated lab account."""
    return Path(str(package_files.files("metahub") / "demo" / "prowler-lab.asff.json.gz"))


def missing_dependency() -> str | None:
    """Why the emulated account cannot start here, if it cannot: moto is the ``demo`` extra."""
    if importlib.util.find_spec("moto") is None:
        return "the demo's emulated AWS account needs moto: pip install 'metahub[demo]'"
    return None


@contextmanager
def emulated_account(
    scale: int = SCALE, regions: tuple[str, ...] = REGIONS, *, progress: bool = False
) -> Iterator[str]:
    """Start moto on a free loopback port, build the lab account, and point boto3 at it (via
    ``AWS_ENDPOINT_URL`` and dummy credentials) until the block ends. Yields the endpoint."""
    problem = missing_dependency()
    if problem:
        raise RuntimeError(problem)
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(
        logging.CRITICAL
    )  # an unimplemented API is metahub's line to say, once, not a traceback per request
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {key: os.environ.get(key) for key in _ENVIRONMENT}
    os.environ.update(_ENVIRONMENT, AWS_ENDPOINT_URL=endpoint)
    try:
        request = urllib.request.Request(f"{endpoint}/moto-api/seed?a=42", method="POST")
        urllib.request.urlopen(request, timeout=30).close()
        seed_lab_account(scale, regions, progress=progress)
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_lab_account(
    scale: int = SCALE, regions: tuple[str, ...] = REGIONS, *, progress: bool = False
) -> dict[str, Any]:
    """Create the lab resources through boto3 (pointed at the emulator); returns what was made."""
    summary: dict[str, Any] = {}
    with bar("building the demo account", "part", 1 + len(regions), quiet=not progress) as parts:
        _seed_iam(summary)
        parts.update(1)
        for done, region in enumerate(regions, 2):
            _seed_region(region, scale, summary)
            parts.update(done)
    return summary


def _tags(env: str, owner: str, service: str) -> list[dict[str, str]]:
    return [
        {"Key": "Environment", "Value": env},
        {"Key": "Owner", "Value": owner},
        {"Key": "Service", "Value": service},
        {"Key": "Name", "Value": f"{env}-{service}"},
    ]


def _document(statement: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _seed_iam(summary: dict[str, Any]) -> None:
    import boto3

    iam = boto3.client("iam", region_name="us-east-1")
    admin_doc = _document({"Effect": "Allow", "Action": "*", "Resource": "*"})
    read_doc = _document({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::data/*"})
    ec2_trust = _document(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    vendor_trust = _document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999988887777:root"},
            "Action": "sts:AssumeRole",
        }
    )
    admin = iam.create_policy(PolicyName="admin-star", PolicyDocument=admin_doc)["Policy"]["Arn"]
    read = iam.create_policy(PolicyName="read-data", PolicyDocument=read_doc)["Policy"]["Arn"]
    iam.create_role(
        RoleName="app-admin-role",
        AssumeRolePolicyDocument=ec2_trust,
        Tags=_tags("prod", "payments-team", "payments"),
    )
    iam.attach_role_policy(RoleName="app-admin-role", PolicyArn=admin)
    iam.create_role(
        RoleName="app-ro-role", AssumeRolePolicyDocument=ec2_trust, Tags=_tags("stg", "data-team", "etl")
    )
    iam.attach_role_policy(RoleName="app-ro-role", PolicyArn=read)
    iam.create_role(RoleName="vendor-access", AssumeRolePolicyDocument=vendor_trust)
    iam.attach_role_policy(RoleName="vendor-access", PolicyArn=admin)
    for profile, role in (("admin-profile", "app-admin-role"), ("ro-profile", "app-ro-role")):
        iam.create_instance_profile(InstanceProfileName=profile)
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    iam.create_user(UserName="alice", Tags=_tags("prod", "alice", "console"))
    iam.attach_user_policy(UserName="alice", PolicyArn=admin)
    iam.create_access_key(UserName="alice")
    iam.create_user(UserName="ci-bot")
    iam.put_user_policy(UserName="ci-bot", PolicyName="inline-star", PolicyDocument=admin_doc)
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=admin)
    iam.add_user_to_group(GroupName="admins", UserName="alice")
    summary["iam"] = {"policies": [admin, read], "roles": 3, "users": 2}


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(e, c):\n    return 1\n")
    return buffer.getvalue()


def _seed_region(region: str, scale: int, summary: dict[str, Any]) -> None:
    import boto3

    ec2 = boto3.client("ec2", region_name=region)
    s3 = boto3.client("s3", region_name=region)
    made = summary.setdefault(region, {"instances": [], "volumes": [], "buckets": [], "sgs": []})
    for unit in range(scale):
        env = ("prod", "stg", "dev")[unit % 3]
        net = unit % 250
        vpc = ec2.create_vpc(CidrBlock=f"10.{net}.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc], Tags=_tags(env, "net-team", "network"))
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        public_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{net}.1.0/24")["Subnet"]["SubnetId"]
        private_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{net}.2.0/24")["Subnet"]["SubnetId"]
        ec2.modify_subnet_attribute(SubnetId=public_subnet, MapPublicIpOnLaunch={"Value": True})
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        ec2.associate_route_table(RouteTableId=table, SubnetId=public_subnet)
        open_sg = ec2.create_security_group(
            GroupName=f"open-ssh-{unit}", Description="ssh from anywhere", VpcId=vpc
        )["GroupId"]
        for port in (22, 3389):
            ec2.authorize_security_group_ingress(
                GroupId=open_sg,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ],
            )
        tight_sg = ec2.create_security_group(
            GroupName=f"internal-{unit}", Description="internal only", VpcId=vpc
        )["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=tight_sg,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
            ],
        )
        made["sgs"] += [open_sg, tight_sg]
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        public_instance = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            NetworkInterfaces=[
                {
                    "DeviceIndex": 0,
                    "SubnetId": public_subnet,
                    "Groups": [open_sg],
                    "AssociatePublicIpAddress": True,
                }
            ],
            IamInstanceProfile={"Name": "admin-profile"},
            MetadataOptions={"HttpTokens": "optional", "HttpPutResponseHopLimit": 2},
            TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(env, "payments-team", "payments")}],
        )["Instances"][0]["InstanceId"]
        private_instance = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            SubnetId=private_subnet,
            SecurityGroupIds=[tight_sg],
            IamInstanceProfile={"Name": "ro-profile"},
            MetadataOptions={"HttpTokens": "required"},
            TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(env, "data-team", "etl")}],
        )["Instances"][0]["InstanceId"]
        made["instances"] += [public_instance, private_instance]
        zone = ec2.describe_subnets(SubnetIds=[public_subnet])["Subnets"][0]["AvailabilityZone"]
        plain = ec2.create_volume(AvailabilityZone=zone, Size=8, Encrypted=False)["VolumeId"]
        encrypted = ec2.create_volume(AvailabilityZone=zone, Size=8, Encrypted=True)["VolumeId"]
        ec2.attach_volume(VolumeId=plain, InstanceId=public_instance, Device="/dev/sdf")
        ec2.create_tags(Resources=[plain, encrypted], Tags=_tags(env, "payments-team", "payments"))
        made["volumes"] += [plain, encrypted]
        _seed_storage(s3, region, unit, env, made)
        _seed_services(region, unit, env)


def _seed_storage(s3: Any, region: str, unit: int, env: str, made: dict[str, Any]) -> None:
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    public = f"public-assets-{region}-{unit}"
    s3.create_bucket(Bucket=public, **location)
    s3.put_public_access_block(
        Bucket=public,
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), False
        ),
    )
    s3.put_bucket_policy(
        Bucket=public,
        Policy=_document(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{public}/*",
            }
        ),
    )
    s3.put_bucket_tagging(Bucket=public, Tagging={"TagSet": _tags(env, "web-team", "website")})
    private = f"private-data-{region}-{unit}"
    s3.create_bucket(Bucket=private, **location)
    s3.put_bucket_encryption(
        Bucket=private,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=private,
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        ),
    )
    made["buckets"] += [public, private]


def _seed_services(region: str, unit: int, env: str) -> None:
    import boto3

    sqs = boto3.client("sqs", region_name=region)
    url = sqs.create_queue(QueueName=f"orders-{unit}", tags={"Environment": env, "Owner": "orders-team"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": _document(
                {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn}
            )
        },
    )
    boto3.client("sns", region_name=region).create_topic(
        Name=f"alerts-{unit}", Tags=[{"Key": "Environment", "Value": env}]
    )
    boto3.client("kms", region_name=region).create_key(
        Description=f"app key {unit}", Tags=[{"TagKey": "Environment", "TagValue": env}]
    )
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=f"sessions-{unit}",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "Environment", "Value": env}],
    )
    lam = boto3.client("lambda", region_name=region)
    role = boto3.client("iam", region_name="us-east-1").get_role(RoleName="app-admin-role")["Role"]["Arn"]
    lam.create_function(
        FunctionName=f"api-handler-{unit}",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": _lambda_zip()},
        Tags={"Environment": env, "Service": "api"},
    )
    boto3.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier=f"db-{unit}",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="x" * 12,
        AllocatedStorage=20,
        PubliclyAccessible=(unit % 2 == 0),
        StorageEncrypted=(unit % 2 == 1),
        Tags=[{"Key": "Environment", "Value": env}],
    )
