"""Exposure end to end: the hard configurations of issue 12, built in a moto server over HTTP (as
AWS would hold them), named by findings, enriched. Each case names the AWS rule that decides it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import metahub
from metahub.aws import Aws

from .conftest import make_finding, own_moto_server
from .least_privilege import not_allowed

ACCOUNT, OTHER, REGION = "123456789012", "999988887777", "eu-central-1"
AMI = "ami-12c6146b"


def _client(service: str, url: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=url)


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with own_moto_server() as url:
        yield url


def _buckets(url: str) -> dict[str, tuple[str, str]]:
    s3 = _client("s3", url)
    policies = {
        # IAM evaluation logic: a Deny no outsider dodges (not through my VPC endpoint) wins.
        "vpce-only": _doc(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::vpce-only/*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::vpce-only", "arn:aws:s3:::vpce-only/*"],
                "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}},
            },
        ),
        # IpAddress: two halves are the whole internet.
        "two-halves": _doc(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::two-halves/*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}},
            }
        ),
        # S3 "The meaning of public": a fixed organization id is not public, but shared.
        "org-only": _doc(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::org-only/*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
            }
        ),
        # ...and a wildcard one pins nothing.
        "org-wildcard": _doc(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::org-wildcard/*",
                "Condition": {"StringLike": {"aws:PrincipalOrgID": "o-*"}},
            }
        ),
        # NotPrincipal with Allow: everyone but the one named.
        "not-principal": _doc(
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::not-principal/*",
            }
        ),
    }
    found = {}
    for name, policy in policies.items():
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_policy(Bucket=name, Policy=policy)
        found[name] = ("AwsS3Bucket", f"arn:aws:s3:::{name}")
    return found


def _identities(url: str) -> dict[str, tuple[str, str]]:
    iam = _client("iam", url)
    admin = iam.create_policy(
        PolicyName="admin", PolicyDocument=_doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    )
    s3_only = iam.create_policy(
        PolicyName="s3-only", PolicyDocument=_doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    )
    # IAM groups: admin only through its group.
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=admin["Policy"]["Arn"])
    iam.create_user(UserName="via-group")
    iam.add_user_to_group(GroupName="admins", UserName="via-group")
    # NotAction leaving a handful out is still admin.
    trust = _doc(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    iam.create_role(RoleName="almost-admin", AssumeRolePolicyDocument=trust)
    # Permissions boundaries: admin policy, S3-only boundary (moto keeps boundaries on roles only).
    iam.create_role(
        RoleName="bounded", AssumeRolePolicyDocument=trust, PermissionsBoundary=s3_only["Policy"]["Arn"]
    )
    iam.attach_role_policy(RoleName="bounded", PolicyArn=admin["Policy"]["Arn"])
    iam.put_role_policy(
        RoleName="almost-admin",
        PolicyName="not-action",
        PolicyDocument=_doc(
            {"Effect": "Allow", "NotAction": ["iam:DeleteAccountPasswordPolicy"], "Resource": "*"}
        ),
    )
    # Web identity federation: GitHub's OIDC provider with no subject condition.
    provider = iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40],
    )["OpenIDConnectProviderArn"]
    oidc = {
        "Effect": "Allow",
        "Principal": {"Federated": provider},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}},
    }
    iam.create_role(RoleName="github-any-repo", AssumeRolePolicyDocument=_doc(oidc))
    pinned = {
        **oidc,
        "Condition": {
            **oidc["Condition"],
            "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:*"},
        },
    }
    iam.create_role(RoleName="github-one-repo", AssumeRolePolicyDocument=_doc(pinned))
    # Cross-account trust: shared, not public.
    iam.create_role(
        RoleName="vendor",
        AssumeRolePolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    found = {name: ("AwsIamUser", f"arn:aws:iam::{ACCOUNT}:user/{name}") for name in ("via-group",)}
    found |= {
        name: ("AwsIamRole", f"arn:aws:iam::{ACCOUNT}:role/{name}")
        for name in ("bounded", "almost-admin", "github-any-repo", "github-one-repo", "vendor")
    }
    return found


def _messaging(url: str) -> dict[str, tuple[str, str]]:
    sqs = _client("sqs", url)
    queue = sqs.create_queue(QueueName="events")["QueueUrl"]
    # A service principal with no aws:SourceAccount acts for any account (confused deputy).
    sqs.set_queue_attributes(
        QueueUrl=queue,
        Attributes={
            "Policy": _doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:events",
                }
            )
        },
    )
    kms = _client("kms", url)
    key = kms.create_key(
        Policy=_doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": "kms:Decrypt",
                "Resource": "*",
            },
        )
    )["KeyMetadata"]["Arn"]
    return {"queue": ("AwsSqsQueue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:events"), "key": ("AwsKmsKey", key)}


def _network(url: str) -> dict[str, tuple[str, str]]:
    ec2 = _client("ec2", url)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0][
        "RouteTableId"
    ]
    ec2.create_route(RouteTableId=main, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    open_sg = ec2.create_security_group(GroupName="ssh-halves", Description="d", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=open_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/1"}, {"CidrIp": "128.0.0.0/1"}],
            },
            {"IpProtocol": "udp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        ],
    )

    def subnet(cidr: str) -> str:
        found = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}a")["Subnet"][
            "SubnetId"
        ]
        ec2.modify_subnet_attribute(SubnetId=found, MapPublicIpOnLaunch={"Value": True})
        return found

    def instance(subnet_id: str) -> str:
        return ec2.run_instances(
            ImageId=AMI,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            NetworkInterfaces=[
                {
                    "DeviceIndex": 0,
                    "SubnetId": subnet_id,
                    "Groups": [open_sg],
                    "AssociatePublicIpAddress": True,
                }
            ],
        )["Instances"][0]["InstanceId"]

    public = instance(subnet("10.20.1.0/24"))
    # VPC network ACLs: a deny of tcp/22 before the allow-all stops SSH.
    blocked_subnet = subnet("10.20.2.0/24")
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for egress in (False, True):
        ec2.create_network_acl_entry(
            NetworkAclId=acl,
            RuleNumber=100,
            Protocol="-1",
            RuleAction="allow",
            Egress=egress,
            CidrBlock="0.0.0.0/0",
        )
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=50,
        Protocol="6",
        RuleAction="deny",
        Egress=False,
        CidrBlock="0.0.0.0/0",
        PortRange={"From": 22, "To": 22},
    )
    current = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [blocked_subnet]}]
    )
    association = next(
        a["NetworkAclAssociationId"]
        for a in current["NetworkAcls"][0]["Associations"]
        if a["SubnetId"] == blocked_subnet
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    blocked = instance(blocked_subnet)
    # VPC route tables: an explicit table without an internet gateway route wins over the main one.
    private_subnet = subnet("10.20.3.0/24")
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=private_subnet)
    private = instance(private_subnet)
    # ELB: a private instance registered behind an internet-facing load balancer is reachable through it.
    behind = instance(private_subnet)
    web_sg = ec2.create_security_group(GroupName="web", Description="d", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web_sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    first = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.5.0/24", AvailabilityZone=f"{REGION}a")["Subnet"][
        "SubnetId"
    ]
    second = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.6.0/24", AvailabilityZone=f"{REGION}b")["Subnet"][
        "SubnetId"
    ]
    elbv2 = _client("elbv2", url)
    lb = elbv2.create_load_balancer(
        Name="web", Subnets=[first, second], SecurityGroups=[web_sg], Scheme="internet-facing"
    )
    lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    group = elbv2.create_target_group(
        Name="app", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="instance"
    )
    group_arn = group["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group_arn, Targets=[{"Id": behind, "Port": 8080}])
    elbv2.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=443,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
    )
    # VPC managed prefix lists: a rule naming a list that holds 0.0.0.0/0 opens to the internet;
    # one that holds an office range does not.
    def listed(cidr: str) -> str:
        entries = [{"Cidr": cidr}]
        pl = ec2.create_managed_prefix_list(
            PrefixListName=f"pl-{cidr.replace('/', '-')}", AddressFamily="IPv4", MaxEntries=5, Entries=entries
        )["PrefixList"]["PrefixListId"]
        group = ec2.create_security_group(GroupName=f"via-{pl}", Description="d", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": [{"PrefixListId": pl}]}],
        )
        return ec2.run_instances(
            ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro",
            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet("10.20.7.0/24" if cidr == "0.0.0.0/0" else "10.20.8.0/24"),
                                "Groups": [group], "AssociatePublicIpAddress": True}],
        )["Instances"][0]["InstanceId"]  # fmt: skip

    via_list = listed("0.0.0.0/0")
    via_office_list = listed("203.0.113.0/24")
    # EC2 lifecycle: a stopped instance accepts no connections.
    stopped = instance(subnet("10.20.4.0/24"))
    ec2.stop_instances(InstanceIds=[stopped])
    arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}"
    return {
        "public": ("AwsEc2Instance", f"{arn}:instance/{public}"),
        "acl-blocked": ("AwsEc2Instance", f"{arn}:instance/{blocked}"),
        "explicit-private-route": ("AwsEc2Instance", f"{arn}:instance/{private}"),
        "stopped": ("AwsEc2Instance", f"{arn}:instance/{stopped}"),
        "behind-alb": ("AwsEc2Instance", f"{arn}:instance/{behind}"),
        "group": ("AwsEc2SecurityGroup", f"{arn}:security-group/{open_sg}"),
        "via-prefix-list": ("AwsEc2Instance", f"{arn}:instance/{via_list}"),
        "via-office-prefix-list": ("AwsEc2Instance", f"{arn}:instance/{via_office_list}"),
    }


@pytest.fixture(scope="module")
def checks(endpoint: str) -> dict[str, metahub.models.AffectedResource]:
    built = {**_buckets(endpoint), **_identities(endpoint), **_messaging(endpoint), **_network(endpoint)}
    findings = [
        make_finding(
            f"f-{name}", AwsAccountId=ACCOUNT, Resources=[{"Type": type_, "Id": arn, "Region": REGION}]
        )
        for name, (type_, arn) in built.items()
    ]
    run = metahub.Run.from_findings(findings)
    report = run.enrich(Aws(), contexts=["config"])
    assert report.calls["ec2:GetManagedPrefixListEntries"] == 2  # one per list the rules name
    assert not_allowed(report.calls) == set(), "the shipped read-only policy must allow every call"
    return {name: run.resources[arn] for name, (_, arn) in built.items()}


def test_nothing_is_left_unknown(checks: dict[str, Any]) -> None:
    for name, resource in checks.items():
        rollups = {k: v for k, v in resource.unknown.items() if k in ("is_public", "is_unrestricted")}
        assert rollups == {}, (name, rollups)


@pytest.mark.parametrize(
    ("name", "public", "shared"),
    [
        ("vpce-only", False, []),
        ("two-halves", True, ["anyone (public)"]),
        ("org-only", False, ["organization o-a1b2c3d4e5"]),
        ("org-wildcard", True, ["anyone (public)"]),
        ("not-principal", True, ["anyone (public)"]),
        ("github-any-repo", True, ["anyone (public)"]),
        ("vendor", False, [f"arn:aws:iam::{OTHER}:root"]),
        ("queue", False, ["sns.amazonaws.com on behalf of any account"]),
        ("key", False, [f"arn:aws:iam::{OTHER}:root"]),
    ],
)
def test_policy_exposure(checks: dict[str, Any], name: str, public: bool, shared: list[str]) -> None:
    found = checks[name].metachecks
    assert bool(found["is_public"]) is public, (
        name,
        found["is_public"],
        checks[name].evidence.get("is_public"),
    )
    assert found["its_shared_with_external_principals"] == shared


def test_github_trust_pinned_to_a_repository_is_shared_not_public(checks: dict[str, Any]) -> None:
    found = checks["github-one-repo"].metachecks
    assert found["is_public"] is False
    assert found["its_shared_with_external_principals"] == [
        "federated token.actions.githubusercontent.com where StringLike token.actions.githubusercontent.com:sub repo:acme/app:*"
    ]


def test_writes_by_anyone_are_unrestricted(checks: dict[str, Any]) -> None:
    assert checks["org-wildcard"].metachecks["is_unrestricted"] == [
        "s3:PutObject (bucket policy statement 1)"
    ]
    assert checks["two-halves"].metachecks["is_unrestricted"] is False  # public, but only to read


@pytest.mark.parametrize(
    ("name", "admin"),
    [("via-group", True), ("bounded", False), ("almost-admin", True), ("vendor", False)],
)
def test_effective_permissions(checks: dict[str, Any], name: str, admin: bool) -> None:
    assert bool(checks[name].metachecks["is_unrestricted"]) is admin, checks[name].evidence.get(
        "is_unrestricted"
    )
    if name == "via-group":
        assert checks[name].metachecks["is_unrestricted"]["granted_by"] == [
            f"group admins managed policy arn:aws:iam::{ACCOUNT}:policy/admin statement 1"
        ]
    if name == "bounded":
        assert "outside the permissions boundary" in checks[name].evidence["is_unrestricted"]


@pytest.mark.parametrize(
    ("name", "public", "evidence"),
    [
        ("public", True, "tcp/22 from 0.0.0.0/1, 128.0.0.0/1 over IPv4"),
        ("explicit-private-route", False, "no 0.0.0.0/0 route"),
        ("stopped", False, "stopped: not reachable now"),
        ("via-prefix-list", True, "tcp/22 from 0.0.0.0/0 over IPv4"),
        ("via-office-prefix-list", False, "no security group rule opens"),
    ],
)
def test_instance_reachability(checks: dict[str, Any], name: str, public: bool, evidence: str) -> None:
    found = checks[name]
    if public:
        assert any(evidence in path for path in found.metachecks["is_public"]["reachable"])
    else:
        assert found.metachecks["is_public"] is False and evidence in found.evidence["is_public"], (
            found.evidence
        )


def test_network_acl_blocks_by_protocol_and_port(checks: dict[str, Any]) -> None:
    # The ACL denies tcp/22 only: SSH is blocked, the group's udp/5432 still gets through.
    paths = checks["acl-blocked"].metachecks["is_public"]["reachable"]
    assert [p.split(" from ")[0] for p in paths] == ["udp/5432"]


def test_group_is_public_only_where_it_reaches(checks: dict[str, Any]) -> None:
    # Four interfaces use it: the open one, the ACL-blocked one (UDP still passes), one routed
    # nowhere, one stopped (its public address released).
    reached = checks["group"].metachecks["is_public"]["reachable"]
    assert len(reached) == 2


def test_private_instance_behind_an_internet_facing_load_balancer(checks: dict[str, Any]) -> None:
    found = checks["behind-alb"].metachecks["is_public"]
    assert "reachable" not in found  # not directly: its subnet routes nowhere
    assert found["through_load_balancers"][0].startswith(
        f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/web/"
    )
