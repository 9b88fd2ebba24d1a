"""MetaChecks on hand-built data: no AWS, no moto."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from metahub.checks.base import ResourceView, Unknown, all_checks
from metahub.enrich import demand_for, evaluate
from metahub.resources.fetch import Inventory
from metahub.resources.spec import all_specs, spec_for_type

from .test_network_model import world

A, R = "123456789012", "us-east-1"


def key(type_: str) -> tuple[str, str, str]:
    return (A, R, type_)


def inventory(**groups: dict[str, dict[str, Any]]) -> Inventory:
    inv = Inventory()
    for type_, items in groups.items():
        inv.items[key(type_)] = items
    return inv


def view(inv: Inventory, type_: str, item_id: str) -> ResourceView:
    return ResourceView(inv, key(type_), item_id, {})


def _instance(**extra: Any) -> dict[str, Any]:
    return {
        "InstanceId": "i-1",
        "PublicIpAddress": "55.55.55.55",
        "SubnetId": "subnet-1",
        "SecurityGroups": [{"GroupId": "sg-1"}],
        "State": {"Name": "running"},
        **extra,
    }


def _network(acl_entries: list[dict[str, Any]] | None = None, route_to_igw: bool = True) -> dict[str, Any]:
    routes = [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}] if route_to_igw else []
    entries = (
        acl_entries
        if acl_entries is not None
        else [
            {
                "RuleNumber": 100,
                "Protocol": "-1",
                "RuleAction": "allow",
                "Egress": False,
                "CidrBlock": "0.0.0.0/0",
            }
        ]
    )
    return {
        "AwsEc2SecurityGroup": {
            "sg-1": {
                "GroupId": "sg-1",
                "IpPermissions": [
                    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                ],
            }
        },
        "AwsEc2Subnet": {"subnet-1": {"SubnetId": "subnet-1", "VpcId": "vpc-1"}},
        "AwsEc2RouteTable": {
            "rtb-main": {
                "RouteTableId": "rtb-main",
                "VpcId": "vpc-1",
                "Associations": [{"Main": True}],
                "Routes": routes,
            },
        },
        "AwsEc2NetworkAcl": {
            "acl-1": {"NetworkAclId": "acl-1", "Associations": [{"SubnetId": "subnet-1"}], "Entries": entries}
        },
    }


def test_unknown_when_a_needed_group_failed() -> None:
    inv = inventory(AwsEc2Instance={"i-1": _instance()}, **_network())
    inv.failures[key("AwsEc2SecurityGroup")] = "ec2:describe_security_groups: access denied (AccessDenied)"
    instance = view(inv, "AwsEc2Instance", "i-1")
    with pytest.raises(Unknown, match="access denied"):
        instance.check("is_public")
    values, unknown, evidence = evaluate(instance, spec_for_type("AwsEc2Instance"))  # type: ignore[arg-type]
    assert values["it_has_public_ip"] == "55.55.55.55" and values["is_public"] is None
    assert unknown["is_public"].endswith("(AccessDenied)")
    assert evidence["is_encrypted"] == "no EBS volume found"


def _bucket(
    policy: Any, bucket_block: dict[str, bool] | None, account_block: dict[str, bool] | None
) -> ResourceView:
    inv = inventory(
        AwsS3Bucket={"b": {"Name": "b"}},
        AwsS3AccountPublicAccessBlock={A: {"AccountId": A, "Configuration": account_block}},
    )
    inv.details[(key("AwsS3Bucket"), "b")] = {
        "Policy": policy,
        "Acl": [],
        "PublicAccessBlock": bucket_block,
        "Encryption": None,
    }
    return view(inv, "AwsS3Bucket", "b")


PUBLIC_POLICY = {
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]
}


def test_bucket_public_unless_blocked() -> None:
    assert _bucket(PUBLIC_POLICY, None, None).check("is_public")["policy_statements"]
    restrict = {"RestrictPublicBuckets": True}
    assert (
        "neutralised by Block Public Access"
        in _bucket(PUBLIC_POLICY, restrict, None).check("is_public").reason
    )
    assert (
        "neutralised by Block Public Access"
        in _bucket(PUBLIC_POLICY, None, restrict).check("is_public").reason
    )
    assert "no default encryption" in _bucket(PUBLIC_POLICY, None, None).check("is_encrypted").reason


# --- the registry itself ----------------------------------------------------------------------


def test_every_check_has_a_spec_and_resolvable_needs() -> None:
    checks = all_checks()
    assert set(checks) <= set(all_specs())
    demand_for(checks)  # raises on a need that names no relation or detail


def test_relations_and_details_are_consistent() -> None:
    specs = all_specs()
    for spec in specs.values():
        for name, relation in spec.relations.items():
            assert relation.target in specs, f"{spec.type}.{name} -> {relation.target}"
        assert spec.fetch or (spec.operation and spec.items), spec.type
        assert spec.id, spec.type


def test_checks_do_not_call_aws() -> None:
    folder = Path(__file__).resolve().parents[1] / "metahub" / "checks"
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):  # imports for type checkers only never run
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
                node.body = []
        imported = {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] in ("boto3", "botocore")}, path.name
        assert "metahub.resources.fetch" not in imported and "metahub.aws" not in imported, path.name


def test_rollups_cover_the_fixture_types() -> None:
    checks = all_checks()
    for type_ in (
        "AwsEc2Instance",
        "AwsEc2SecurityGroup",
        "AwsS3Bucket",
        "AwsSqsQueue",
        "AwsSnsTopic",
        "AwsKmsKey",
        "AwsLambdaFunction",
        "AwsRdsDbInstance",
        "AwsEc2Snapshot",
        "AwsEc2Vpc",
        "AwsEc2Subnet",
        "AwsIamRole",
    ):
        assert "is_public" in checks[type_], type_
    for type_ in (
        "AwsEc2Instance",
        "AwsEc2Volume",
        "AwsS3Bucket",
        "AwsSqsQueue",
        "AwsRdsDbInstance",
        "AwsDynamoDbTable",
        "AwsEc2Snapshot",
    ):
        assert "is_encrypted" in checks[type_], type_
    for type_ in ("AwsIamPolicy", "AwsIamRole", "AwsIamUser", "AwsIamGroup", "AwsEc2SecurityGroup"):
        assert "is_unrestricted" in checks[type_] or "is_attached" in checks[type_], type_


def test_types_are_security_hub_types() -> None:
    """Spec types are ASFF resource types, as botocore's Security Hub model names them
    (ResourceDetails members), except the few metahub uses only as relation targets."""
    model = botocore.session.get_session().get_service_model("securityhub")
    asff = set(model.shape_for("ResourceDetails").members)
    internal = {
        "AwsEc2Snapshot",
        "AwsEc2InternetGateway",
        "AwsEc2FlowLog",
        "AwsIamInstanceProfile",
        "AwsElbv2TargetGroup",
        "AwsEc2ManagedPrefixList",
    }
    # Types Security Hub and MetaHub name that have no ResourceDetails member of their own.
    without_details = {
        "AwsApiGatewayV2Route",
        "AwsEfsFileSystem",
        "AwsElastiCacheCacheCluster",
        "AwsElastiCacheReplicationGroup",
    }
    assert {t for t in all_specs() if t not in asff} == internal | without_details
    asff_types = {t for t in all_specs() if t not in internal} | {"AwsElasticsearchDomain"}
    assert len(asff_types) >= 40, sorted(asff_types)


def test_eks_public_endpoint_limited_to_office_is_not_public() -> None:
    cluster = {"name": "c", "endpoint": "https://x", "resourcesVpcConfig": {"endpointPublicAccess": True}}
    limited = {
        **cluster,
        "resourcesVpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
    }
    inv = inventory(AwsEksCluster={"c": cluster, "l": limited})
    assert view(inv, "AwsEksCluster", "c").check("is_public")["allowed_cidrs"] == ["0.0.0.0/0"]
    verdict = view(inv, "AwsEksCluster", "l").check("is_public")
    assert not verdict and "203.0.113.0/24" in verdict.reason


def test_cloudfront_https_everywhere_is_encrypted() -> None:
    distribution = {
        "Id": "D",
        "Enabled": True,
        "DomainName": "d.cloudfront.net",
        "DefaultCacheBehavior": {"ViewerProtocolPolicy": "redirect-to-https"},
        "Origins": {
            "Items": [{"DomainName": "o", "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"}}]
        },
        "WebACLId": "arn:aws:wafv2::acl",
    }
    d = view(inventory(AwsCloudFrontDistribution={"D": distribution}), "AwsCloudFrontDistribution", "D")
    assert d.check("is_encrypted") == "HTTPS to viewers and origins"
    assert not d.check("is_unrestricted")


def test_athena_encryption_that_clients_may_override_is_not_enough() -> None:
    inv = inventory(AwsAthenaWorkGroup={"w": {"Name": "w"}})
    inv.details[(key("AwsAthenaWorkGroup"), "w")] = {
        "WorkGroup": {
            "Configuration": {
                "ResultConfiguration": {"EncryptionConfiguration": {"EncryptionOption": "SSE_KMS"}},
                "EnforceWorkGroupConfiguration": False,
            }
        }
    }
    verdict = view(inv, "AwsAthenaWorkGroup", "w").check("is_encrypted")
    assert not verdict and "override" in verdict.reason


def test_rollups_that_do_not_apply_are_null_and_say_so() -> None:
    policy = {"Arn": "arn:aws:iam::123456789012:policy/p", "PolicyVersionList": []}
    inv = inventory(AwsIamPolicy={policy["Arn"]: policy})
    values, unknown, evidence = evaluate(
        view(inv, "AwsIamPolicy", policy["Arn"]), spec_for_type("AwsIamPolicy")
    )
    assert values["is_encrypted"] is None and "is_encrypted" not in unknown
    assert evidence["is_encrypted"] == "does not apply to AwsIamPolicy"


@pytest.mark.parametrize(
    ("volumes", "expected"),
    [
        ({"vol-1": {"VolumeId": "vol-1", "Encrypted": True}}, None),  # vol-2 unseen: unknown, not "encrypted"
        ({"vol-2": {"VolumeId": "vol-2", "Encrypted": False}}, False),  # one plain volume decides
        (
            {
                "vol-1": {"VolumeId": "vol-1", "Encrypted": True},
                "vol-2": {"VolumeId": "vol-2", "Encrypted": True},
            },
            ["vol-1", "vol-2"],
        ),
    ],
)
def test_instance_encryption_needs_every_volume(volumes: dict[str, Any], expected: Any) -> None:
    mappings = [{"Ebs": {"VolumeId": "vol-1"}}, {"Ebs": {"VolumeId": "vol-2"}}]
    inv = inventory(AwsEc2Instance={"i-1": _instance(BlockDeviceMappings=mappings)}, AwsEc2Volume=volumes)
    inv.listed_all.add(key("AwsEc2Volume"))
    instance = view(inv, "AwsEc2Instance", "i-1")
    if expected is None:
        with pytest.raises(Unknown, match="vol-2"):
            instance.check("is_encrypted")
    elif expected is False:
        assert not instance.check("is_encrypted") and "vol-2" in instance.check("is_encrypted").reason
    else:
        assert instance.check("is_encrypted") == expected


def test_a_whole_is_public_when_one_member_is_whatever_the_others() -> None:
    # One member reachable decides; one unknown member does not hide it, and blocks a "no".
    inv = world()
    instances = inv.items[(A, R, "AwsEc2Instance")]
    instances["i-2"] = {
        **instances["i-1"],
        "InstanceId": "i-2",
        "SubnetId": "subnet-gone",
        "NetworkInterfaces": [{**instances["i-1"]["NetworkInterfaces"][0], "SubnetId": "subnet-gone"}],
    }
    inv.items[(A, R, "AwsAutoScalingAutoScalingGroup")] = {
        "g": {"AutoScalingGroupName": "g", "Instances": [{"InstanceId": "i-1"}, {"InstanceId": "i-2"}]}
    }
    group = view(inv, "AwsAutoScalingAutoScalingGroup", "g")
    assert list(group.check("is_public")) == ["i-1"]
    instances["i-1"]["State"] = {"Name": "stopped"}
    with pytest.raises(Unknown, match="i-2: subnet subnet-gone was not found"):
        view(inv, "AwsAutoScalingAutoScalingGroup", "g").check("is_public")


def test_every_built_in_check_says_what_it_means() -> None:
    """--list-meta-checks shows each check's first docstring line: none may be blank."""
    blank = [
        f"{type_}.{name} ({check.func.__module__})"
        for type_, checks in all_checks().items()
        for name, check in checks.items()
        if check.func.__module__.startswith("metahub.checks.") and not check.doc.strip()
    ]
    assert blank == []


def _iam_role(name: str, trusts: Any, *statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "Arn": f"arn:aws:iam::{A}:role/{name}",
        "RoleName": name,
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": trusts}, "Action": "sts:AssumeRole"}]},
        "RolePolicyList": [{"PolicyName": "own", "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}],
        "AttachedManagedPolicies": [],
    }  # fmt: skip


def test_a_role_chain_to_an_admin_role_is_privilege_escalation() -> None:
    """IAM: a trust policy naming the account delegates to the identity policies; the user may
    assume ``hop`` (its own policy allows it), ``hop`` may assume ``admin``, which allows *:*."""
    user = f"arn:aws:iam::{A}:user/dev"
    hop = _iam_role("hop", A, {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{A}:role/admin"})
    admin = _iam_role("admin", f"arn:aws:iam::{A}:role/hop", {"Effect": "Allow", "Action": "*", "Resource": "*"})
    other = _iam_role("other", "arn:aws:iam::210987654321:root", {"Effect": "Allow", "Action": "*", "Resource": "*"})
    inv = inventory(
        AwsIamUser={user: {"Arn": user, "UserName": "dev", "GroupArns": [], "AttachedManagedPolicies": [],
                           "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                               {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}}]}},
        AwsIamRole={r["Arn"]: r for r in (hop, admin, other)},
    )  # fmt: skip
    dev = view(inv, "AwsIamUser", user)
    assert set(dev.check("its_assumable_roles")) == {hop["Arn"]}
    (chain,) = dev.check("it_has_privilege_escalation_actions")
    assert chain.startswith(f"assume-role chain: to {hop['Arn']} -> {admin['Arn']}, which is admin-equivalent")
    # admin may assume hop, which is no stronger: no chain (its own methods are listed as before)
    admin_paths = view(inv, "AwsIamRole", admin["Arn"]).check("it_has_privilege_escalation_actions")
    assert admin_paths and not [p for p in admin_paths if p.startswith("assume-role chain")]
    # the hop role itself reaches admin in one step
    (direct,) = view(inv, "AwsIamRole", hop["Arn"]).check("it_has_privilege_escalation_actions")
    assert direct.startswith(f"assume-role chain: to {admin['Arn']}, which is admin-equivalent")
