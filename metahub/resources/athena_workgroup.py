from metahub.resources.spec import Detail, Spec, register

SPEC = register(
    Spec(
        type="AwsAthenaWorkGroup",
        service="athena",
        arn_types=("workgroup",),
        operation="list_work_groups",
        items="WorkGroups",
        id="Name",
        details={"WorkGroup": Detail("get_work_group", {"WorkGroup": "Name"}, result="WorkGroup")},
    )
)
