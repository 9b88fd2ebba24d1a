"""API Gateway v2 (HTTP and WebSocket APIs), their routes and stages.

ARNs carry no account and a path for a resource: ``arn:aws:apigateway:us-east-1::/apis/a1b2c3``,
``.../apis/a1b2c3/routes/r1``, ``.../apis/a1b2c3/stages/prod``. Routes and stages are listed once
per API (GetRoutes, GetStages), whichever of them the findings name.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from metahub.resources.spec import FetchContext, Relation, Spec, register


def _children(ctx: FetchContext, ids: list[str] | None, kind: str, key: str) -> list[dict[str, Any]]:
    """Routes or stages (``kind``) of the APIs in ``ids`` (``api/kind/child``), one listing per API."""
    if ids is None:
        wanted: dict[str, set[str] | None] = dict.fromkeys(
            (api["ApiId"] for api in ctx.items("get_apis", "Items")), None
        )
    else:
        wanted = defaultdict(set)
        for item_id in ids:
            api, _, child = item_id.partition(f"/{kind}/")
            wanted[api].add(child)  # type: ignore[union-attr]
    operation = "get_routes" if kind == "routes" else "get_stages"
    found = []
    for api, children in wanted.items():
        for item in ctx.items(operation, "Items", ApiId=api):
            if children is None or item[key] in children:
                found.append({**item, "ApiId": api, "Id": f"{api}/{kind}/{item[key]}"})
    return found


API = register(
    Spec(
        type="AwsApiGatewayV2Api",
        service="apigatewayv2",
        arn_service="apigateway",
        arn_pattern=r"/apis/(?P<id>[^/]+)",
        operation="get_apis",
        items="Items",
        id="ApiId",
        relations={"routes": Relation("AwsApiGatewayV2Route", "ApiId", reverse="ApiId")},
    )
)

ROUTE = register(
    Spec(
        type="AwsApiGatewayV2Route",
        service="apigatewayv2",
        arn_service="apigateway",
        arn_pattern=r"/apis/(?P<id>[^/]+/routes/[^/]+)",
        id="Id",
        batch=1000,
        fetch=lambda ctx, ids: _children(ctx, ids, "routes", "RouteId"),
        relations={"api": Relation("AwsApiGatewayV2Api", "ApiId")},
    )
)

STAGE = register(
    Spec(
        type="AwsApiGatewayV2Stage",
        service="apigatewayv2",
        arn_service="apigateway",
        arn_pattern=r"/apis/(?P<id>[^/]+/stages/[^/]+)",
        id="Id",
        batch=1000,
        fetch=lambda ctx, ids: _children(ctx, ids, "stages", "StageName"),
        relations={"api": Relation("AwsApiGatewayV2Api", "ApiId")},
    )
)
