"""End to end for the types the lab account does not hold: each is built in a fresh moto server
(over HTTP, as AWS), named by findings, and enriched, with a safe and an unsafe variant."""

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

# A region the lab does not use, so that nothing here reads like the lab.
ACCOUNT, REGION = "123456789012", "ap-southeast-2"
OPEN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with own_moto_server() as url:
        yield url


def _client(service: str, url: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=url)


@pytest.fixture(scope="module")
def built(endpoint: str) -> dict[str, str]:
    """Builds the resources; returns ASFF type-and-name -> ARN."""
    ec2 = _client("ec2", endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"][
        "SubnetId"
    ]
    subnet_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.2.0/24", AvailabilityZone=f"{REGION}b")["Subnet"][
        "SubnetId"
    ]
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]
    ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    open_sg = ec2.create_security_group(GroupName="open-web", Description="d", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=open_sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    closed_sg = ec2.create_security_group(GroupName="internal", Description="d", VpcId=vpc)["GroupId"]
    arns: dict[str, str] = {}

    api = _client("apigatewayv2", endpoint)
    open_api = api.create_api(Name="open", ProtocolType="HTTP")["ApiId"]
    route = api.create_route(ApiId=open_api, RouteKey="GET /orders", AuthorizationType="NONE")["RouteId"]
    api.create_route(ApiId=open_api, RouteKey="POST /orders", AuthorizationType="AWS_IAM")
    api.create_stage(ApiId=open_api, StageName="prod")
    arns["api"] = f"arn:aws:apigateway:{REGION}::/apis/{open_api}"
    arns["route"] = f"arn:aws:apigateway:{REGION}::/apis/{open_api}/routes/{route}"
    arns["stage"] = f"arn:aws:apigateway:{REGION}::/apis/{open_api}/stages/prod"

    template = ec2.create_launch_template(
        LaunchTemplateName="web",
        LaunchTemplateData={
            "ImageId": "ami-12c6146b",
            "InstanceType": "t3.micro",
            "MetadataOptions": {"HttpTokens": "optional"},
            "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": True, "Groups": [open_sg]}],
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": False, "VolumeSize": 8}}
            ],
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    arns["template"] = f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/{template}"
    autoscaling = _client("autoscaling", endpoint)
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="private",
        ImageId="ami-12c6146b",
        InstanceType="t3.micro",
        SecurityGroups=[closed_sg],
        MetadataOptions={"HttpTokens": "required"},
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True, "VolumeSize": 8}}],
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=1,
        MaxSize=1,
        VPCZoneIdentifier=subnet,
    )
    for group in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
        arns["asg"] = group["AutoScalingGroupARN"]
    for config in autoscaling.describe_launch_configurations()["LaunchConfigurations"]:
        arns["launch_config"] = config["LaunchConfigurationARN"]

    cloudfront = _client("cloudfront", endpoint)
    arns["distribution"] = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "r",
            "Comment": "c",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "o",
                        "DomainName": "b.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "o",
                "ViewerProtocolPolicy": "allow-all",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )["Distribution"]["ARN"]

    efs = _client("efs", endpoint)
    arns["efs"] = efs.create_file_system(CreationToken="plain", Encrypted=False)["FileSystemArn"]

    eks = _client("eks", endpoint)
    arns["eks"] = eks.create_cluster(
        name="prod",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
        resourcesVpcConfig={
            "subnetIds": [subnet, subnet_b],
            "securityGroupIds": [open_sg],
            "endpointPublicAccess": True,
        },
    )["cluster"]["arn"]

    elasticache = _client("elasticache", endpoint)
    arns["cache"] = elasticache.create_cache_cluster(
        CacheClusterId="sessions", Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1
    )["CacheCluster"]["ARN"]
    arns["replication_group"] = elasticache.create_replication_group(
        ReplicationGroupId="orders",
        ReplicationGroupDescription="d",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        AtRestEncryptionEnabled=True,
        TransitEncryptionEnabled=True,
    )["ReplicationGroup"]["ARN"]

    opensearch = _client("opensearch", endpoint)
    arns["domain"] = opensearch.create_domain(
        DomainName="logs", EncryptionAtRestOptions={"Enabled": False}, AccessPolicies=json.dumps(OPEN_POLICY)
    )["DomainStatus"]["ARN"]

    elb = _client("elb", endpoint)
    elb.create_load_balancer(
        LoadBalancerName="classic",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        Subnets=[subnet],
        SecurityGroups=[open_sg],
    )
    arns["elb"] = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/classic"
    elbv2 = _client("elbv2", endpoint)
    alb = elbv2.create_load_balancer(
        Name="internal-alb", Subnets=[subnet, subnet_b], SecurityGroups=[open_sg], Scheme="internal"
    )
    arns["alb"] = alb["LoadBalancers"][0]["LoadBalancerArn"]

    kinesis = _client("kinesis", endpoint)
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    arns["stream"] = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/clicks"

    secrets = _client("secretsmanager", endpoint)
    arns["secret"] = secrets.create_secret(Name="db-password", SecretString="hunter2")["ARN"]
    secrets.put_resource_policy(SecretId=arns["secret"], ResourcePolicy=json.dumps(OPEN_POLICY))

    athena = _client("athena", endpoint)
    athena.create_work_group(
        Name="analysts",
        Configuration={
            "ResultConfiguration": {
                "OutputLocation": "s3://results/",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
            },
            "EnforceWorkGroupConfiguration": True,
        },
    )
    arns["workgroup"] = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/analysts"
    return arns


TYPES = {
    "api": "AwsApiGatewayV2Api",
    "route": "AwsApiGatewayV2Route",
    "stage": "AwsApiGatewayV2Stage",
    "template": "AwsEc2LaunchTemplate",
    "asg": "AwsAutoScalingAutoScalingGroup",
    "launch_config": "AwsAutoScalingLaunchConfiguration",
    "distribution": "AwsCloudFrontDistribution",
    "efs": "AwsEfsFileSystem",
    "eks": "AwsEksCluster",
    "cache": "AwsElastiCacheCacheCluster",
    "replication_group": "AwsElastiCacheReplicationGroup",
    "domain": "AwsElasticsearchDomain",  # the older ASFF name: served by the OpenSearch spec
    "elb": "AwsElbLoadBalancer",
    "alb": "AwsElbv2LoadBalancer",
    "stream": "AwsKinesisStream",
    "secret": "AwsSecretsManagerSecret",
    "workgroup": "AwsAthenaWorkGroup",
}


@pytest.fixture(scope="module")
def enriched(built: dict[str, str]) -> dict[str, Any]:
    findings = [
        make_finding(f"f-{name}", Resources=[{"Type": TYPES[name], "Id": arn, "Region": REGION}])
        for name, arn in built.items()
    ]
    run = metahub.Run.from_findings(findings)
    report = run.enrich(Aws(), contexts=["config", "tags", "account"])
    return {**{name: run.resources[arn] for name, arn in built.items()}, "_calls": report.calls}


def _resources(enriched: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in enriched.items() if not name.startswith("_")}


def test_every_call_is_allowed_by_the_shipped_read_only_policy(enriched: dict[str, Any]) -> None:
    calls = set(enriched["_calls"])
    assert len(calls) > 30
    assert not_allowed(calls) == set()


def test_every_type_is_enriched_without_unknowns(enriched: dict[str, Any]) -> None:
    for name, resource in _resources(enriched).items():
        assert resource.metachecks, name
        # the ASG's own launch template has no EBS encryption of its own... it does here; nothing
        # the emulator holds should be undecidable
        assert resource.unknown == {}, (name, resource.unknown)


def test_api_gateway(enriched: dict[str, Any]) -> None:
    api = enriched["api"].metachecks
    assert api["is_public"].startswith("https://")
    assert api["is_unrestricted"] == ["GET /orders"]
    assert enriched["route"].metachecks["is_public"].endswith(" GET /orders")
    assert enriched["stage"].metachecks["is_public"].endswith("/prod")
    assert enriched["stage"].metachecks["it_has_access_logging"] is False


def test_launch_template_and_group(enriched: dict[str, Any]) -> None:
    template = enriched["template"].metachecks
    assert template["is_public"]["public_ip_association"] is True
    assert template["is_instance_metadata_v2"] is False
    assert template["is_encrypted"] is False
    assert template["is_attached"] == ["web"]
    group = enriched["asg"].metachecks
    assert group["its_associated_with_launch_template"].startswith("lt-")
    assert group["is_encrypted"] is False  # as its template
    assert len(group["its_associated_with_instances"]) == 1
    config = enriched["launch_config"].metachecks
    assert config["is_public"] is False and config["is_encrypted"] == ["/dev/xvda"]
    assert config["is_instance_metadata_v2"] is True and config["is_attached"] is False


def test_edge_and_network_services(enriched: dict[str, Any]) -> None:
    distribution = enriched["distribution"]
    assert distribution.metachecks["is_public"]["domain"].endswith(".cloudfront.net")
    assert distribution.metachecks["is_encrypted"] is False
    assert "plain HTTP" in distribution.evidence["is_encrypted"]
    assert distribution.metachecks["is_unrestricted"]
    elb = enriched["elb"].metachecks
    assert elb["is_public"]["reachable"] and elb["is_encrypted"] is False
    alb = enriched["alb"]
    assert alb.metachecks["is_public"] is False and alb.evidence["is_public"] == "internal"
    eks = enriched["eks"].metachecks
    assert eks["is_public"]["allowed_cidrs"] == ["0.0.0.0/0"] and eks["is_encrypted"] is False


def test_data_services(enriched: dict[str, Any]) -> None:
    efs = enriched["efs"].metachecks
    assert efs["is_encrypted"] is False and efs["is_unrestricted"].startswith("no file system policy")
    assert enriched["cache"].metachecks["is_encrypted"] is False
    assert enriched["replication_group"].metachecks["is_encrypted"]
    domain = enriched["domain"].metachecks
    assert domain["is_public"]["policy_statements"] and domain["is_encrypted"] is False
    assert enriched["stream"].metachecks["is_encrypted"] is False
    secret = enriched["secret"].metachecks
    assert secret["is_public"]["policy_statements"][0]["statement"] == "resource policy statement 1"
    assert secret["its_shared_with_external_principals"] == ["anyone (public)"]
    assert secret["is_encrypted"] == "aws/secretsmanager (AWS managed key)"
    assert enriched["workgroup"].metachecks["is_encrypted"] == "SSE_S3"
