"""MetaChecks of API Gateway v2 APIs, routes and stages.

HTTP and WebSocket APIs have no private variant: their ``execute-api`` endpoint is on the
internet unless it is disabled, and they serve TLS only.
"""

from __future__ import annotations

from metahub.checks.base import No, ResourceView, check

API, ROUTE, STAGE = "AwsApiGatewayV2Api", "AwsApiGatewayV2Route", "AwsApiGatewayV2Stage"


def _open(route: ResourceView) -> bool:
    return route.get("AuthorizationType", "NONE") == "NONE" and not route.get("ApiKeyRequired")


@check(API)
def it_has_endpoint(r: ResourceView) -> str | No:
    """The default ``execute-api`` endpoint, unless disabled."""
    if r.get("DisableExecuteApiEndpoint"):
        return No("the default endpoint is disabled")
    return r.get("ApiEndpoint") or No("no endpoint")


@check(API, needs=("routes",))
def its_associated_with_routes_without_authorization(r: ResourceView) -> list[str]:
    """Route keys anyone may call: no authorizer and no API key required."""
    return [route.get("RouteKey") for route in r.related("routes") if _open(route)]


@check(API, name="is_public")
def api_is_public(r: ResourceView) -> str | No:
    """The API's default endpoint, on the internet unless it is disabled (no private HTTP APIs)."""
    endpoint: str | No = r.check("it_has_endpoint")
    return endpoint


@check(API, ROUTE, STAGE, name="is_encrypted")
def api_is_encrypted(r: ResourceView) -> str:
    """In transit: API Gateway serves HTTPS and WSS only."""
    return "TLS only (API Gateway serves no plain HTTP)"


@check(API, needs=("routes",), name="is_unrestricted")
def api_is_unrestricted(r: ResourceView) -> list[str] | No:
    """Routes anyone may call: no authorizer, no API key."""
    return r.check("its_associated_with_routes_without_authorization") or No("every route is authorized")


@check(ROUTE)
def it_has_authorization(r: ResourceView) -> str | No:
    """The authorizer type (JWT, AWS_IAM, CUSTOM) or ``API key``; false when the route takes neither."""
    kind: str = r.get("AuthorizationType", "NONE")
    if kind != "NONE":
        return kind
    return "API key" if r.get("ApiKeyRequired") else No("no authorizer and no API key")


@check(ROUTE, name="is_unrestricted")
def route_is_unrestricted(r: ResourceView) -> str | No:
    """The route key when the route needs no authorizer and no API key."""
    key: str = r.get("RouteKey")
    return key if _open(r) else No(f"authorized: {r.check('it_has_authorization')}")


@check(ROUTE, STAGE, needs=("api",), name="is_public")
def child_is_public(r: ResourceView) -> str | No:
    """The API's endpoint is on the internet (a route only when it needs no authorization)."""
    api = r.one("api")
    if api is None:
        return No("its API no longer exists")
    endpoint: str | No = api.check("it_has_endpoint")
    if not endpoint:
        return endpoint
    if r.type == ROUTE:
        return f"{endpoint} {r.get('RouteKey')}" if _open(r) else No("the route requires authorization")
    return f"{endpoint}/{r.get('StageName')}"


@check(STAGE)
def it_has_access_logging(r: ResourceView) -> str | No:
    """Where access logs go (the destination ARN); false without access logs."""
    return r.get("AccessLogSettings.DestinationArn") or No("no access logs")


@check(STAGE)
def it_has_throttling(r: ResourceView) -> dict[str, float] | No:
    """The stage's default rate and burst limits; false when only the account limits apply."""
    rate, burst = (
        r.get("DefaultRouteSettings.ThrottlingRateLimit"),
        r.get("DefaultRouteSettings.ThrottlingBurstLimit"),
    )
    if rate is None and burst is None:
        return No("no default throttling: account limits only")
    return {"rate_limit": rate, "burst_limit": burst}
