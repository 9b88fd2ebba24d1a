from metahub.resources.spec import Relation, Spec, register

SPEC = register(
    Spec(
        type="AwsRdsDbCluster",
        service="rds",
        arn_types=("cluster",),
        operation="describe_db_clusters",
        items="DBClusters",
        id="DBClusterIdentifier",
        relations={
            "security_groups": Relation("AwsEc2SecurityGroup", "VpcSecurityGroups[].VpcSecurityGroupId"),
            "instances": Relation("AwsRdsDbInstance", "DBClusterMembers[].DBInstanceIdentifier"),
        },
    )
)
