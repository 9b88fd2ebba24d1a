from metahub.resources.spec import Detail, Spec, register

SPEC = register(
    Spec(
        type="AwsRdsDbSnapshot",
        service="rds",
        arn_types=("snapshot",),
        operation="describe_db_snapshots",
        items="DBSnapshots",
        id="DBSnapshotIdentifier",
        details={
            "Attributes": Detail(
                "describe_db_snapshot_attributes",
                {"DBSnapshotIdentifier": "DBSnapshotIdentifier"},
                result="DBSnapshotAttributesResult.DBSnapshotAttributes",
            ),
        },
    )
)
