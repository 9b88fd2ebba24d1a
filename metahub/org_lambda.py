"""The organisation-wide run on AWS Step Functions (``deploy/metahub-org.yaml``): three Lambda entry points.

The state machine runs them in this order, each writing what the next reads to the run's bucket
(``METAHUB_BUCKET``) under ``runs/<execution name>/``:

1. :func:`accounts_handler`: the accounts to run over, from Organizations ``ListAccounts`` (those
   whose ``State`` is ACTIVE) or from a list the execution's input names (``{"accounts":
   "s3://bucket/key"}``: a JSON array of account ids, or of objects with ``account`` or ``Id``),
   less any ``{"exclude": [...]}``. Writes ``accounts.json``, which the Distributed Map reads.
2. :func:`account_handler`, once per account (the Map's item): that account's findings, from the
   Security Hub of the administrator account (``GetFindings`` filtered by ``AwsAccountId``) or
   from the objects under ``<prefix>/<account>/`` of ``METAHUB_FINDINGS=s3://bucket/prefix``;
   enriched through the member account's role (``METAHUB_ASSUME_ROLE``: one AssumeRole per
   account, refreshed before its credentials expire, as role chaining caps them at one hour);
   written as the account's named part, ``parts/metahub-shard-<account>.jsonl``.
3. :func:`merge_handler`: the parts merged into one run's outputs (``outputs/``), as one process
   over every account's findings would write them, and a presigned link to the report.

A part that could not be written (an account whose Lambda failed for good) is missing from the
merge, which says which accounts it lacks; an account whose role could not be assumed still has
its part, its resources' context unknown with the reason.

Configuration, from environment variables (the template sets them):

==============================  =====================================================================
``METAHUB_BUCKET``              the run's bucket: account lists, parts, outputs
``METAHUB_FINDINGS``            ``securityhub`` (default) or ``s3://bucket/prefix`` (a folder per account)
``METAHUB_HUB_REGION``          the Security Hub (aggregation) region (default: the function's)
``METAHUB_SH_FILTERS``          Security Hub filters as ``--sh-filters`` (default: RecordState=ACTIVE
                                WorkflowStatus=NEW); the account's filter is added
``METAHUB_SH_RATE``             GetFindings pages a second for this function (default: 3, Security
                                Hub's rate for one account and region, which every function
                                running at once shares: the template sets 3 / concurrency)
``METAHUB_CONTEXT``             comma list of config, tags, account, cloudtrail (default: config,tags)
``METAHUB_ASSUME_ROLE``         role name to assume in each member account for the context
``METAHUB_EXTERNAL_ID``         external ID for that role
``METAHUB_OUTPUT_MODES``        comma list of the merge's outputs (default: html, sqlite, json-short,
                                json-full, json-statistics, json-combinations)
``METAHUB_LINK_SECONDS``        how long the report's presigned link works (default: 3600)
==============================  =====================================================================
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from metahub.aws import Aws, RateLimiter, RoleSettings
from metahub.aws_lambda import comma_list, shell_words
from metahub.enrich import CONTEXTS
from metahub.run import MERGED_MODES, ContextUnreachable, load, merge
from metahub.securityhub import DEFAULT_FILTERS, READ_RATE, SecurityHubSource, parse_filters

log = logging.getLogger("metahub.org")

VARIABLES = (
    "METAHUB_BUCKET",
    "METAHUB_FINDINGS",
    "METAHUB_HUB_REGION",
    "METAHUB_SH_FILTERS",
    "METAHUB_SH_RATE",
    "METAHUB_CONTEXT",
    "METAHUB_ASSUME_ROLE",
    "METAHUB_EXTERNAL_ID",
    "METAHUB_OUTPUT_MODES",
    "METAHUB_LINK_SECONDS",
)
ACCOUNT = re.compile(r"^\d{12}$")
RUN = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
"""A run's name is its execution's: Step Functions allows these characters, and they are safe in a key."""
DEFAULT_MODES = ("html", "sqlite", "json-short", "json-full", "json-statistics", "json-combinations")
SHOWN = 100
"""Skipped accounts named in the accounts step's output (all of them are in its log)."""
LINK_SECONDS = 3600
"""A presigned link made with temporary credentials (a Lambda's) stops working when they expire,
"even if the URL was created with a later expiration time" (Amazon S3 User Guide, presigned URLs):
one hour is what they surely last; ``aws s3 presign`` makes a longer one."""
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
_SIGV4 = _RETRIES.merge(Config(signature_version="s3v4"))  # presigned links: SigV2's are deprecated


@dataclass
class OrgSettings:
    bucket: str
    findings: str = "securityhub"
    hub_region: str | None = None
    filters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    hub_rate: float = READ_RATE
    contexts: list[str] = field(default_factory=lambda: ["config", "tags"])
    role: RoleSettings | None = None
    modes: list[str] = field(default_factory=lambda: list(DEFAULT_MODES))
    link_seconds: int = LINK_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OrgSettings:
        """Read the configuration; a bad value raises ``ValueError`` naming the variable."""
        env = os.environ if env is None else env
        bucket = env.get("METAHUB_BUCKET", "").strip()
        if not bucket:
            raise ValueError("METAHUB_BUCKET: the run's bucket is not set")
        findings = env.get("METAHUB_FINDINGS", "").strip() or "securityhub"
        if findings != "securityhub" and not (findings.startswith("s3://") and urlsplit(findings).netloc):
            raise ValueError(f"METAHUB_FINDINGS: {findings!r} is neither securityhub nor s3://bucket/prefix")
        contexts = comma_list(env.get("METAHUB_CONTEXT", "config,tags"))
        modes = comma_list(env.get("METAHUB_OUTPUT_MODES", ",".join(DEFAULT_MODES)))
        for name, values, allowed in (
            ("METAHUB_CONTEXT", contexts, CONTEXTS),
            ("METAHUB_OUTPUT_MODES", modes, MERGED_MODES),
        ):
            wrong = [v for v in values if v not in allowed]
            if wrong:
                raise ValueError(f"{name}: {', '.join(wrong)} not among {', '.join(allowed)}")
        try:
            filters = parse_filters(shell_words(env, "METAHUB_SH_FILTERS") or list(DEFAULT_FILTERS))
        except ValueError as exc:
            raise ValueError(f"METAHUB_SH_FILTERS: {exc}") from None
        if "AwsAccountId" in filters:
            raise ValueError("METAHUB_SH_FILTERS: AwsAccountId is set per account by the run")
        rate = env.get("METAHUB_SH_RATE", "").strip() or str(READ_RATE)
        try:
            hub_rate = float(rate)
        except ValueError:
            hub_rate = 0.0
        if not 0 < hub_rate <= READ_RATE * 2:
            raise ValueError(f"METAHUB_SH_RATE: {rate!r} is not a rate above 0 and at most {READ_RATE * 2:g} (the burst)")
        seconds = env.get("METAHUB_LINK_SECONDS", "").strip() or str(LINK_SECONDS)
        if not seconds.isdigit() or not 1 <= int(seconds) <= 7 * 24 * 3600:
            raise ValueError(f"METAHUB_LINK_SECONDS: {seconds!r} is not 1 to 604800 seconds (SigV4's limit)")
        role_name = env.get("METAHUB_ASSUME_ROLE", "").strip()
        return cls(
            bucket=bucket,
            findings=findings,
            hub_region=env.get("METAHUB_HUB_REGION", "").strip() or None,
            filters=filters,
            hub_rate=hub_rate,
            contexts=contexts,
            role=RoleSettings(role_name, env.get("METAHUB_EXTERNAL_ID") or None) if role_name else None,
            modes=modes,
            link_seconds=int(seconds),
        )


def _s3() -> Any:
    return boto3.client("s3", config=_SIGV4)


def _run_name(event: Mapping[str, Any]) -> str:
    name = event.get("run")
    if not isinstance(name, str) or not RUN.match(name):
        raise ValueError(f"run: {name!r} is no execution name (letters, digits, _ . -, at most 80)")
    return name


def _prefix(run: str) -> str:
    return f"runs/{run}/"


def _s3_url(url: str, where: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{where}: {url!r} is not s3://bucket/key")
    return parts.netloc, parts.path.lstrip("/")


# --- 1. the accounts --------------------------------------------------------------------------


def accounts_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run": name, "input": {"accounts"?: "s3://...", "exclude"?: [ids]}}`` -> where the list is."""
    settings = OrgSettings.from_env()
    run = _run_name(event)
    given = event.get("input") or {}
    if not isinstance(given, dict):
        raise ValueError(f"input: the execution's input is not a JSON object but {type(given).__name__}")
    skipped: dict[str, str] = {}
    if given.get("accounts"):
        accounts = _listed(given["accounts"], skipped)
        source = str(given["accounts"])
    else:
        accounts = _organization(skipped)
        source = "organizations:ListAccounts"
    excluded = given.get("exclude") or []
    if not isinstance(excluded, list):
        raise ValueError("input.exclude: not a list of account ids")
    for account in map(str, excluded):
        if account in accounts:
            accounts.remove(account)
            skipped[account] = "excluded by the execution's input"
    key = _prefix(run) + "accounts.json"
    body = json.dumps([{"account": account} for account in accounts]).encode()
    _s3().put_object(Bucket=settings.bucket, Key=key, Body=body, ContentType="application/json")
    log.info("metahub org run %s: %d accounts from %s, skipped: %s", run, len(accounts), source, json.dumps(skipped))
    shown = dict(list(skipped.items())[:SHOWN])  # a state's output is at most 256 KiB
    return {"run": run, "bucket": settings.bucket, "key": key, "accounts": len(accounts), "source": source,
            "skipped": shown, "skipped_count": len(skipped)}  # fmt: skip


def _organization(skipped: dict[str, str]) -> list[str]:
    """The organization's accounts whose State is ACTIVE (``Status`` was retired on 9 September 2026:
    read only where ``State`` is absent)."""
    client = boto3.client("organizations", config=_RETRIES)
    accounts: list[str] = []
    for page in client.get_paginator("list_accounts").paginate():
        for account in page["Accounts"]:
            state = account.get("State") or account.get("Status")
            if state == "ACTIVE":
                accounts.append(account["Id"])
            else:
                skipped[account["Id"]] = f"its State is {state} (only ACTIVE accounts can be entered)"
    return sorted(accounts)


def _listed(url: Any, skipped: dict[str, str]) -> list[str]:
    """The accounts of a JSON list in S3: ids, or objects with ``account`` or ``Id``; each once."""
    bucket, key = _s3_url(str(url), "input.accounts")
    body = _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        items = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"s3://{bucket}/{key}: not JSON ({exc})") from None
    if not isinstance(items, list):
        raise ValueError(f"s3://{bucket}/{key}: not a JSON array of accounts")
    accounts: list[str] = []
    for index, item in enumerate(items):
        account = item.get("account", item.get("Id")) if isinstance(item, dict) else item
        if not isinstance(account, str) or not ACCOUNT.match(account):
            skipped[f"[{index}]"] = f"{json.dumps(item)[:80]} is no 12-digit account id"
        elif account not in accounts:
            accounts.append(account)
    return sorted(accounts)


# --- 2. one account ---------------------------------------------------------------------------


def account_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run": name, "account": id}`` -> the account's part written, and what happened."""
    settings = OrgSettings.from_env()
    return process_account(event, settings)


def process_account(event: dict[str, Any], settings: OrgSettings, *, aws: Aws | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    run_name = _run_name(event)
    account = str(event.get("account", ""))
    if not ACCOUNT.match(account):
        raise ValueError(f"account: {account!r} is no 12-digit account id")
    own = Aws()
    region = settings.hub_region or own.region or "us-east-1"
    if settings.findings == "securityhub":
        filters = {**settings.filters, "AwsAccountId": [{"Value": account, "Comparison": "EQUALS"}]}
        limiter = RateLimiter(settings.hub_rate)
        sources: list[Any] = [SecurityHubSource(own, region, filters, progress=False, limiter=limiter)]
    else:
        sources = list(_objects(settings.findings, account))
    run = load(*sources, part=account)
    summary: dict[str, Any] = {
        "account": account,
        "findings": len(run.findings),
        "resources": len(run.resources),
        "problems": len(run.report.problems),
        "first_problems": [str(p)[:300] for p in run.report.problems[:5]],
    }
    if settings.contexts and run.resources:
        aws = aws or Aws(role=settings.role)
        try:
            report = run.enrich(aws, contexts=settings.contexts, progress=False)
        except ContextUnreachable as exc:  # the part is written all the same: its context is unknown, with why
            report = exc.report
        summary.update(aws_calls=report.total_calls, unreachable=dict(report.unreachable))
    with tempfile.TemporaryDirectory() as folder:
        (path,) = run.write(["shard"], folder, account)
        key = _prefix(run_name) + f"parts/{path.name}"
        _s3().upload_file(str(path), settings.bucket, key)
    summary.update(part=key, seconds=round(time.perf_counter() - started, 3))
    log.info("metahub org account: %s", json.dumps(summary))
    return summary


class _Object(io.RawIOBase):
    """An S3 object's body as a stream ingest reads like a file, named by its URL."""

    def __init__(self, body: Any, name: str) -> None:
        super().__init__()
        self._body, self.name = body, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


def _objects(url: str, account: str) -> Iterator[io.BufferedReader]:
    """Each object under ``<prefix>/<account>/``, streamed (ASFF or OCSF, .json, .jsonl, .gz)."""
    bucket, prefix = _s3_url(url, "METAHUB_FINDINGS")
    folder = f"{prefix.rstrip('/')}/{account}/" if prefix.strip("/") else f"{account}/"
    client = _s3()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
        for item in page.get("Contents", []):
            if item["Key"].endswith("/"):
                continue
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"]
            yield io.BufferedReader(_Object(body, f"s3://{bucket}/{item['Key']}"), 1 << 20)


# --- 3. the merge -----------------------------------------------------------------------------


def merge_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"run": name}`` -> the parts merged into ``outputs/``, and a presigned link to the report."""
    return process_merge(event, OrgSettings.from_env())


def process_merge(event: dict[str, Any], settings: OrgSettings) -> dict[str, Any]:
    started = time.perf_counter()
    run_name = _run_name(event)
    prefix, client = _prefix(run_name), _s3()
    expected = [item["account"] for item in json.loads(
        client.get_object(Bucket=settings.bucket, Key=prefix + "accounts.json")["Body"].read()
    )]  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="metahub-merge-"))
    try:
        parts = work / "parts"
        parts.mkdir()
        found: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix + "parts/"):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                client.download_file(settings.bucket, item["Key"], str(parts / name))
                found.append(name.removeprefix("metahub-shard-").removesuffix(".jsonl"))
        if not found:
            raise ValueError(f"s3://{settings.bucket}/{prefix}parts/: no part was written (did every account fail?)")
        written, failures = merge([parts], settings.modes, work / "out", run_name)
        outputs = {}
        for path in written:
            key = f"{prefix}outputs/{path.name}"
            client.upload_file(str(path), settings.bucket, key)
            outputs[path.name] = key
    finally:
        shutil.rmtree(work, ignore_errors=True)  # a warm Lambda keeps /tmp: leave nothing for the next run
    report = next((k for k in outputs.values() if k.endswith(".html")), None) or next(
        (k for k in outputs.values() if "-short-" in k), None
    )  # the HTML report, or json-short when the report was not asked for
    link = None
    if report is not None:
        link = client.generate_presigned_url(
            "get_object", Params={"Bucket": settings.bucket, "Key": report}, ExpiresIn=settings.link_seconds
        )
        client.put_object(Bucket=settings.bucket, Key=prefix + "report-link.txt", Body=(link + "\n").encode())
    summary = {
        "run": run_name,
        "parts": len(found),
        "missing": sorted(set(expected) - set(found)),
        "outputs": outputs,
        "failures": failures,
        "report": report,
        "link": link,
        "link_seconds": settings.link_seconds if link else None,
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info("metahub org merge: %s", json.dumps({k: v for k, v in summary.items() if k != "link"}))
    return summary
