from metahub.resources.spec import Spec, register

SPEC = register(
    Spec(
        type="AwsCloudFrontDistribution",
        service="cloudfront",
        arn_types=("distribution",),
        operation="list_distributions",
        items="DistributionList.Items",
        id="Id",
        global_region="us-east-1",
    )
)
