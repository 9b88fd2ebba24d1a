from __future__ import annotations

from typing import Any

from metahub.aws import error_code
from metahub.resources.spec import FetchContext, Relation, Spec, register


def fetch_clusters(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    """EKS has no batch describe: one DescribeCluster per cluster asked for (its network settings
    lead to security groups, so they are part of the item, not a detail)."""
    names = ids if ids is not None else [n for page in ctx.pages("list_clusters") for n in page["clusters"]]
    eks = ctx.client()
    clusters = []
    for name in names:
        try:
            clusters.append(eks.describe_cluster(name=name)["cluster"])
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
    return clusters


SPEC = register(
    Spec(
        type="AwsEksCluster",
        service="eks",
        arn_types=("cluster",),
        id="name",
        batch=1000,
        fetch=fetch_clusters,
        relations={
            "security_groups": Relation(
                "AwsEc2SecurityGroup",
                "[resourcesVpcConfig.securityGroupIds, resourcesVpcConfig.clusterSecurityGroupId][]",
            ),
        },
    )
)
