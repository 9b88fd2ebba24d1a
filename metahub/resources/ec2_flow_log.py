from metahub.resources.spec import Spec, register

SPEC = register(
    Spec(
        # Few per region, and listed whole anyway for the relations that lead here: one call.
        type="AwsEc2FlowLog",
        service="ec2",
        arn_types=("vpc-flow-log",),
        operation="describe_flow_logs",
        items="FlowLogs",
        id="FlowLogId",
    )
)
