from metahub.resources.spec import Relation, Spec, register

SPEC = register(
    Spec(
        type="AwsEc2SecurityGroup",
        service="ec2",
        arn_types=("security-group",),
        operation="describe_security_groups",
        items="SecurityGroups",
        id="GroupId",
        ids_filter="group-id",
        batch=200,
        relations={
            # Who uses the group: every network interface in the region, listed once, indexed by group.
            "network_interfaces": Relation("AwsEc2NetworkInterface", "GroupId", reverse="Groups[].GroupId"),
            # The managed prefix lists its rules allow from, whose entries are the rules' real sources.
            "prefix_lists": Relation(
                "AwsEc2ManagedPrefixList",
                "[IpPermissions, IpPermissionsEgress][][].PrefixListIds[].PrefixListId",
            ),
        },
    )
)
