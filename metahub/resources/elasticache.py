"""ElastiCache cache clusters and replication groups."""

from __future__ import annotations

from metahub.resources.spec import Relation, Spec, register

CACHE_CLUSTER = register(
    Spec(
        type="AwsElastiCacheCacheCluster",
        service="elasticache",
        arn_types=("cluster",),
        operation="describe_cache_clusters",
        items="CacheClusters",
        id="CacheClusterId",
        relations={
            "security_groups": Relation("AwsEc2SecurityGroup", "SecurityGroups[].SecurityGroupId"),
            "replication_group": Relation("AwsElastiCacheReplicationGroup", "ReplicationGroupId"),
        },
    )
)

REPLICATION_GROUP = register(
    Spec(
        type="AwsElastiCacheReplicationGroup",
        service="elasticache",
        arn_types=("replicationgroup",),
        operation="describe_replication_groups",
        items="ReplicationGroups",
        id="ReplicationGroupId",
        relations={"members": Relation("AwsElastiCacheCacheCluster", "MemberClusters")},
    )
)
