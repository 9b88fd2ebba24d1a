from __future__ import annotations

from typing import Any

from metahub.resources.spec import Detail, FetchContext, Spec, register


def fetch_tables(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    names = ctx.memo(
        ("dynamodb-tables", ctx.account, ctx.region),
        lambda: set(name for page in ctx.pages("list_tables") for name in page.get("TableNames", [])),
    )
    return [{"TableName": name} for name in sorted(names) if ids is None or name in ids]


SPEC = register(
    Spec(
        type="AwsDynamoDbTable",
        service="dynamodb",
        arn_types=("table",),
        id="TableName",
        batch=1000,
        fetch=fetch_tables,
        details={
            "Table": Detail("describe_table", {"TableName": "TableName"}, result="Table"),
            "ContinuousBackups": Detail(
                "describe_continuous_backups",
                {"TableName": "TableName"},
                result="ContinuousBackupsDescription",
            ),
        },
    )
)
