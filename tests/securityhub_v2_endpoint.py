"""A local Security Hub endpoint for the v2 API, speaking its real protocol (rest-json: the paths,
methods, status codes and error headers of botocore's model of ``securityhub``), for the command
line end to end. moto has no v2 API.

It serves OCSF findings through GetFindingsV2 (paged at ``page_size`` whatever MaxResults asks,
as a service may; string filters evaluated, composites joined as asked), takes BatchUpdateFindingsV2
(``refuse`` names findings answered as unprocessed), runs export jobs (StartExportJobV2 /
GetExportJobV2) that write JSON lines into an S3 bucket of the lab's moto server, and answers the
first ``throttle`` requests of each operation with HTTP 429 ThrottlingException. Every request is
kept in ``requests`` as (operation, body). Requests for the v1 API are passed to ``upstream`` (the
lab's moto server), so that one AWS_ENDPOINT_URL_SECURITYHUB serves both Security Hubs.
"""

from __future__ import annotations

import gzip
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import local_http

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "securityhub_v2" / "findings.json"


def samples() -> list[dict[str, Any]]:
    """The OCSF findings of ``fixtures/securityhub_v2`` (see its SOURCES.md), without their notes."""
    return [{k: v for k, v in f.items() if k != "_source"} for f in json.loads(SAMPLES.read_text())]


def _at(data: Any, path: str) -> list[Any]:
    """Every value at a dotted path, through lists (``resources.type`` of each resource)."""
    values = [data]
    for key in path.split("."):
        found = []
        for value in values:
            items = value if isinstance(value, list) else [value]
            found.extend(item[key] for item in items if isinstance(item, dict) and key in item)
        values = found
    return [v for value in values for v in (value if isinstance(value, list) else [value])]


def _matches_string(finding: dict[str, Any], entry: dict[str, Any]) -> bool:
    wanted, comparison = entry["Filter"]["Value"], entry["Filter"].get("Comparison", "EQUALS")
    values = [str(v) for v in _at(finding, entry["FieldName"])]
    if comparison == "EQUALS":
        return wanted in values
    if comparison == "NOT_EQUALS":
        return wanted not in values
    if comparison == "PREFIX":
        return any(v.startswith(wanted) for v in values)
    raise ValueError(f"this endpoint does not evaluate {comparison}")


def _matches(finding: dict[str, Any], filters: dict[str, Any]) -> bool:
    """String filters are evaluated; a composite of other kinds is taken as met."""
    results = []
    for composite in filters.get("CompositeFilters", []):
        hits = [_matches_string(finding, entry) for entry in composite.get("StringFilters", [])]
        if hits:
            results.append(any(hits) if composite.get("Operator", "AND") == "OR" else all(hits))
    if not results:
        return True
    return any(results) if filters.get("CompositeOperator") == "OR" else all(results)


class SecurityHubV2:
    def __init__(self, findings: list[dict[str, Any]], *, page_size: int = 2, throttle: int = 0,
                 refuse: tuple[str, ...] = (), s3_endpoint: str | None = None, export_polls: int = 1,
                 export_fails: str | None = None, export_lines: list[bytes] | None = None,
                 upstream: str | None = None) -> None:  # fmt: skip
        self.findings, self.page_size, self.throttle, self.refuse = findings, page_size, throttle, refuse
        self.s3_endpoint, self.export_polls, self.export_fails = s3_endpoint, export_polls, export_fails
        self.export_lines, self.upstream = export_lines, upstream
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self._throttled: dict[str, int] = {}
        self.lock = threading.Lock()

    # --- operations ---------------------------------------------------------------------------

    def get_findings_v2(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chosen = [f for f in self.findings if _matches(f, body.get("Filters", {}))]
        start = int(body.get("NextToken") or 0)
        stop = start + min(self.page_size, int(body.get("MaxResults", 100)))
        answer: dict[str, Any] = {"Findings": chosen[start:stop]}
        if stop < len(chosen):
            answer["NextToken"] = str(stop)
        return 200, answer

    def batch_update_findings_v2(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        processed, unprocessed = [], []
        for identifier in body.get("FindingIdentifiers", []):
            if identifier["FindingInfoUid"] in self.refuse:
                unprocessed.append({"FindingIdentifier": identifier, "ErrorCode": "ConflictException",
                                    "ErrorMessage": "The finding was updated by another request"})  # fmt: skip
                continue
            processed.append({"FindingIdentifier": identifier})
            for finding in self.findings:
                if finding["finding_info"]["uid"] == identifier["FindingInfoUid"]:
                    if "StatusId" in body:
                        finding["status_id"] = body["StatusId"]
                        finding["status"] = {1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved"}[body["StatusId"]]
                    if "Comment" in body:
                        finding["comment"] = body["Comment"]
        return 200, {"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}

    def start_export_job_v2(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        job_id = f"job{len(self.jobs) + 1:04d}"
        self.jobs[job_id] = {"request": body, "polls": 0}
        return 202, {"ExportJobId": job_id}

    def get_export_job_v2(self, job_id: str) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"__type": "ResourceNotFoundException", "message": f"no export job {job_id}"}
        request = job["request"]
        answer = {"ExportJobId": job_id, "DataType": "FINDINGS", "Destination": request["Destination"],
                  "OutputConfiguration": request["OutputConfiguration"], "StartedAt": "2026-12-06T10:00:00Z"}  # fmt: skip
        job["polls"] += 1
        if job["polls"] <= self.export_polls:
            return 200, {**answer, "Status": "RUNNING"}
        if self.export_fails:
            return 200, {**answer, "Status": "FAILED", "FailureCode": self.export_fails,
                         "FailureMessage": "Security Hub could not write to the bucket", "EndedAt": "2026-12-06T10:01:00Z"}  # fmt: skip
        if "written" not in job:
            job["written"] = self._write_export(request)
        return 200, {**answer, "Status": "SUCCEEDED", "EndedAt": "2026-12-06T10:01:00Z"}

    def _write_export(self, request: dict[str, Any]) -> list[str]:
        """What Security Hub's job writes: the matching findings as JSON lines, in two gzip'd objects."""
        import boto3

        s3 = request["Destination"]["S3"]
        bucket, prefix = s3["BucketArn"].split(":::", 1)[1], s3["ObjectPrefix"]
        filters = request["OutputConfiguration"]["Findings"].get("Filters", {})
        lines = self.export_lines
        if lines is None:
            lines = [json.dumps(f).encode() for f in self.findings if _matches(f, filters)]
        client = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1")
        half = (len(lines) + 1) // 2
        keys = []
        for number, part in enumerate((lines[:half], lines[half:]), 1):
            key = f"{prefix}findings-{number:04d}.jsonl.gz"
            client.put_object(Bucket=bucket, Key=key, Body=gzip.compress(b"\n".join(part) + b"\n"))
            keys.append(key)
        return keys

    # --- protocol -----------------------------------------------------------------------------

    def answer(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        routes = {
            ("POST", "/findingsv2"): "GetFindingsV2",
            ("PATCH", "/findingsv2/batchupdatev2"): "BatchUpdateFindingsV2",
            ("POST", "/exportjobsv2"): "StartExportJobV2",
        }
        operation = routes.get((method, path.split("?")[0]))
        if operation is None and method == "GET" and path.startswith("/exportjobsv2/"):
            operation = "GetExportJobV2"
        if operation is None:
            return 404, {"__type": "UnknownOperationException", "message": f"{method} {path}"}
        with self.lock:
            self.requests.append((operation, body))
            if self._throttled.get(operation, 0) < self.throttle:
                self._throttled[operation] = self._throttled.get(operation, 0) + 1
                return 429, {"__type": "ThrottlingException", "message": "Rate exceeded"}
            if operation == "GetExportJobV2":
                return self.get_export_job_v2(path.rsplit("/", 1)[1])
            handler = getattr(self, {"GetFindingsV2": "get_findings_v2", "BatchUpdateFindingsV2": "batch_update_findings_v2",
                                     "StartExportJobV2": "start_export_job_v2"}[operation])  # fmt: skip
            status, answer = handler(body)
            return status, answer

    def calls(self) -> set[str]:
        return {f"securityhub:{operation}" for operation, _ in self.requests}

    def http(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> local_http.Answer:
        """One HTTP exchange: the v2 API answered here, rest-json errors with x-amzn-ErrorType as
        AWS sends them; the v1 API passed to ``upstream``."""
        if self.upstream and "v2" not in path.split("?")[0].split("/")[1]:
            return self._pass(method, path, headers, raw)
        status, answer = self.answer(method, path, json.loads(raw) if raw.strip() else {})
        sent = {"Content-Type": "application/json"}
        if status >= 400:
            sent["x-amzn-ErrorType"] = answer["__type"]
        return status, sent, json.dumps(answer).encode()

    def _pass(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> local_http.Answer:
        request = urllib.request.Request(f"{self.upstream}{path}", data=raw or None, method=method,
                                         headers={k: v for k, v in headers.items() if k.lower() != "host"})  # fmt: skip
        try:
            with urllib.request.urlopen(request) as answer:
                status, got, data = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, got, data = error.code, error.headers, error.read()
        dropped = ("content-length", "transfer-encoding", "connection", "server", "date")
        return status, {k: v for k, v in got.items() if k.lower() not in dropped}, data


def serving(hub: SecurityHubV2) -> Any:
    """The endpoint's URL on 127.0.0.1 while the block runs."""
    return local_http.serving(hub.http)
