from __future__ import annotations

from typing import Any

from metahub.resources.spec import FetchContext, Spec, register

_DESCRIBE_BATCH = 5  # DescribeDomains takes at most five names


def fetch_domains(ctx: FetchContext, ids: list[str] | None) -> list[dict[str, Any]]:
    names = (
        ids if ids is not None else [d["DomainName"] for d in ctx.items("list_domain_names", "DomainNames")]
    )
    domains = []
    for start in range(0, len(names), _DESCRIBE_BATCH):
        batch = names[start : start + _DESCRIBE_BATCH]
        domains.extend(ctx.items("describe_domains", "DomainStatusList", DomainNames=batch))
    return domains


SPEC = register(
    Spec(
        type="AwsOpenSearchServiceDomain",
        aliases=("AwsElasticsearchDomain",),
        service="opensearch",
        arn_service="es",
        arn_types=("domain",),
        id="DomainName",
        batch=1000,
        fetch=fetch_domains,
    )
)
