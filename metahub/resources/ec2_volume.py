from metahub.resources.spec import Relation, Spec, register

SPEC = register(
    Spec(
        type="AwsEc2Volume",
        service="ec2",
        arn_types=("volume",),
        operation="describe_volumes",
        items="Volumes",
        id="VolumeId",
        ids_filter="volume-id",
        batch=200,
        relations={"instances": Relation("AwsEc2Instance", "Attachments[].InstanceId")},
    )
)
