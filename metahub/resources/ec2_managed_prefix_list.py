from metahub.resources.spec import Detail, Spec, register

# Managed prefix lists that security group rules (and routes) name instead of CIDR blocks. A list
# holds up to MaxEntries (1,000 at most) entries; one GetManagedPrefixListEntries page holds 100, and
# a page that says there is more is read by the check as "not every entry was read" (unknown).
SPEC = register(
    Spec(
        type="AwsEc2ManagedPrefixList",
        service="ec2",
        operation="describe_managed_prefix_lists",
        items="PrefixLists",
        id="PrefixListId",
        ids_param="PrefixListIds",
        batch=100,
        details={
            "Entries": Detail(
                "get_managed_prefix_list_entries", {"PrefixListId": "PrefixListId", "MaxResults": "`100`"}
            ),
        },
    )
)
