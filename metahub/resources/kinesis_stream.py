from metahub.resources.spec import Detail, Spec, register

SPEC = register(
    Spec(
        type="AwsKinesisStream",
        service="kinesis",
        arn_types=("stream",),
        operation="list_streams",
        items="StreamSummaries",
        id="StreamName",
        details={
            "Summary": Detail(
                "describe_stream_summary", {"StreamName": "StreamName"}, result="StreamDescriptionSummary"
            ),
        },
    )
)
