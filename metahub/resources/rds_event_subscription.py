from metahub.resources.spec import Spec, register

SPEC = register(
    Spec(
        type="AwsRdsEventSubscription",
        service="rds",
        arn_types=("es",),
        operation="describe_event_subscriptions",
        items="EventSubscriptionsList",
        id="CustSubscriptionId",
    )
)
