from __future__ import annotations

from typing import Any

from metahub.resources.spec import Detail, FetchContext, Spec, register


def fetch_topics(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    topics = ctx.memo(
        ("sns-topics", ctx.account, ctx.region),
        lambda: {
            topic["TopicArn"].rsplit(":", 1)[-1]: topic["TopicArn"]
            for topic in ctx.items("list_topics", "Topics")
        },
    )
    names = list(topics) if ids is None else [name for name in ids if name in topics]
    return [{"Name": name, "TopicArn": topics[name]} for name in names]


SPEC = register(
    Spec(
        type="AwsSnsTopic",
        service="sns",
        id="Name",
        batch=1000,
        fetch=fetch_topics,
        details={"Attributes": Detail("get_topic_attributes", {"TopicArn": "TopicArn"}, result="Attributes")},
    )
)
