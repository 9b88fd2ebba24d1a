"""Which IAM action each AWS operation metahub makes needs, to hold calls against the shipped policy."""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

# botocore service id (as counted, "s3-control") -> IAM prefix, where they differ
_PREFIX = {
    "s3-control": "s3",
    "resource-groups-tagging-api": "tag",
    "elastic-load-balancing": "elasticloadbalancing",
    "elastic-load-balancing-v2": "elasticloadbalancing",
    "efs": "elasticfilesystem",
    "opensearch": "es",
    "apigatewayv2": "apigateway",
    "auto-scaling": "autoscaling",
    "secrets-manager": "secretsmanager",
    "accessanalyzer": "access-analyzer",
}
# (service, operation) -> IAM action, where the action is not named after the operation
_ACTION = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3-control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
    ("apigatewayv2", "GetApis"): "apigateway:GET",
    ("apigatewayv2", "GetRoutes"): "apigateway:GET",
    ("apigatewayv2", "GetStages"): "apigateway:GET",
    # "GetFindings and GetFindingsV2 both use securityhub:GetFindings in the Action element of an IAM
    # policy statement"; the same for BatchUpdateFindings(V2) (botocore's model, the operations' docs)
    ("securityhub", "GetFindingsV2"): "securityhub:GetFindings",
    ("securityhub", "BatchUpdateFindingsV2"): "securityhub:BatchUpdateFindings",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
}
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}


def action_for(call: str) -> str:
    service, operation = call.split(":", 1)
    return _ACTION.get((service, operation), f"{_PREFIX.get(service, service)}:{operation}")


def shipped_policy(name: str) -> dict[str, Any]:
    """One of the policies metahub ships: context-read-only, securityhub-read, securityhub-write,
    securityhub-export."""
    return json.loads(resources.files("metahub").joinpath(f"config/policy-{name}.json").read_text())


def shipped_actions(policy: str = "context-read-only") -> set[str]:
    return {action for statement in shipped_policy(policy)["Statement"] for action in statement["Action"]}


def not_allowed(calls: Iterable[str], policy: str = "context-read-only") -> set[str]:
    allowed = shipped_actions(policy)
    return {
        f"{call} -> {action_for(call)}"
        for call in calls
        if call not in NEEDS_NO_PERMISSION and action_for(call) not in allowed
    }
