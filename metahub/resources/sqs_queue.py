from __future__ import annotations

from typing import Any

from metahub.resources.spec import Detail, FetchContext, Spec, register


def fetch_queues(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    """ListQueues once per (account, region) gives every queue URL; names come from the URLs."""
    queues = ctx.memo(
        ("sqs-queues", ctx.account, ctx.region),
        lambda: {
            url.rstrip("/").rsplit("/", 1)[-1]: url
            for page in ctx.pages("list_queues")
            for url in page.get("QueueUrls", [])
        },
    )
    names = list(queues) if ids is None else [name for name in ids if name in queues]
    return [{"QueueName": name, "QueueUrl": queues[name]} for name in names]


SPEC = register(
    Spec(
        type="AwsSqsQueue",
        service="sqs",
        id="QueueName",
        batch=1000,
        fetch=fetch_queues,
        details={
            "Attributes": Detail(
                "get_queue_attributes",
                {"QueueUrl": "QueueUrl", "AttributeNames": '`["All"]`'},
                result="Attributes",
            ),
        },
    )
)
