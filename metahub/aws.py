"""The one place boto3 clients are made: credentials, roles per account, retries, counting.

Clients are memoised per (account, region, service) and are thread-safe; sessions are not,
so they are made under a lock. Every HTTP request is counted per ``service:Operation``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from metahub import __version__

_ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
}
THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
}


class AccountUnavailable(Exception):
    """No credentials for an account: context for its resources stays unknown."""


@dataclass(frozen=True)
class RoleSettings:
    role_name: str
    external_id: str | None = None
    session_name: str = "metahub"
    duration_seconds: int = 3600


def describe_error(exc: BaseException, operation: str = "") -> str:
    """A one-line reason for an AWS failure, naming the operation; never the credentials."""
    where = f"{operation}: " if operation else ""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        if code in _ACCESS_DENIED:
            return f"{where}access denied ({code})"
        if code in THROTTLED:
            return f"{where}throttled by AWS, retries exhausted ({code})"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int) and status >= 500:
            return f"{where}AWS service error {status} ({code})"
        return f"{where}{code}"
    if isinstance(exc, EndpointConnectionError):
        return f"{where}endpoint unreachable"
    if isinstance(exc, BotoCoreError):
        name = type(exc).__name__
        if "Timeout" in name:
            return f"{where}timed out"
        if name == "NoCredentialsError":
            return f"{where}no AWS credentials found"
        if name == "ResponseParserError":
            return f"{where}unreadable response from the endpoint (server error?)"
        return f"{where}{name}"
    if isinstance(exc, AccountUnavailable):
        return str(exc)
    return f"{where}{type(exc).__name__}: {str(exc)[:200]}"


def error_code(exc: BaseException) -> str | None:
    return exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None


class Aws:
    """Clients for every (account, region, service), counted.

    Without ``role``, every account is reached with the caller's own credentials, which only
    works for the caller's account; resources elsewhere get unknown context with that reason.
    With ``role``, metahub assumes ``arn:<partition>:iam::<account>:role/<role_name>`` per
    account; the credentials refresh themselves on long runs.
    """

    def __init__(
        self,
        *,
        role: RoleSettings | None = None,
        profile: str | None = None,
        max_workers: int = 16,
        session: boto3.session.Session | None = None,
        max_attempts: int = 6,
    ) -> None:
        self.role = role
        self._base = session or boto3.session.Session(profile_name=profile)
        self._endpoint = os.environ.get("AWS_ENDPOINT_URL")
        self._config = Config(
            retries={"mode": "adaptive", "max_attempts": max_attempts},
            connect_timeout=5,
            read_timeout=30,
            user_agent_extra=f"metahub/{__version__}",
            max_pool_connections=max(10, 2 * max_workers),  # fetch and detail pools
        )
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._identity_lock = threading.Lock()
        self._sessions: dict[str, boto3.session.Session] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._caller_account: str | None = None
        self._unavailable: dict[str, str] = {}
        self.calls: Counter[str] = Counter()

    # --- counting --------------------------------------------------------------------------

    def _count(self, event_name: str, **_: Any) -> None:
        _event, service, operation = event_name.split(".", 2)
        with self._count_lock:
            self.calls[f"{service}:{operation}"] += 1

    @property
    def region(self) -> str | None:
        """The starting credentials' default region (profile or AWS_REGION), if any."""
        region: str | None = self._base.region_name
        return region

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    # --- sessions and clients --------------------------------------------------------------

    def caller_account(self) -> str:
        with self._identity_lock:  # one GetCallerIdentity, however many threads ask at once
            if self._caller_account is None:
                sts = self._new_client(self._base, "sts", self._base.region_name or "us-east-1")
                self._caller_account = sts.get_caller_identity()["Account"]
            return self._caller_account

    def client(self, service: str, account: str, region: str, partition: str = "aws") -> Any:
        key = (account, region, service)
        client = self._clients.get(key)
        if client is None:
            session = self._session(account, partition)
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = self._new_client(session, service, region)
        return client

    def _session(self, account: str, partition: str) -> boto3.session.Session:
        if account in self._unavailable:
            raise AccountUnavailable(self._unavailable[account])
        session = self._sessions.get(account)
        if session is not None:
            return session
        try:
            if self.role is None:
                caller = self.caller_account()
                if caller != account:
                    raise AccountUnavailable(
                        f"account {account} is not the caller's ({caller}) and no --mh-assume-role was given"
                    )
                session = self._base
            else:
                session = self._assumed_session(account, partition)
        except AccountUnavailable as exc:
            self._unavailable[account] = str(exc)
            raise
        except (ClientError, BotoCoreError) as exc:
            reason = describe_error(exc, "sts:AssumeRole" if self.role else "sts:GetCallerIdentity")
            self._unavailable[account] = f"cannot enter account {account}: {reason}"
            raise AccountUnavailable(self._unavailable[account]) from exc
        with self._lock:
            self._sessions.setdefault(account, session)
        return session

    def _assumed_session(self, account: str, partition: str) -> boto3.session.Session:
        assert self.role is not None
        role = self.role
        role_arn = f"arn:{partition}:iam::{account}:role/{role.role_name}"
        sts = self._new_client(self._base, "sts", self._base.region_name or "us-east-1")

        def fetch() -> dict[str, str]:
            params: dict[str, Any] = {
                "RoleArn": role_arn,
                "RoleSessionName": role.session_name,
                "DurationSeconds": role.duration_seconds,
            }
            if role.external_id:
                params["ExternalId"] = role.external_id
            creds = sts.assume_role(**params)["Credentials"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        credentials = RefreshableCredentials.create_from_metadata(
            metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
        )
        core = botocore.session.get_session()
        core._credentials = credentials  # the documented way to give a session refreshable credentials
        return boto3.session.Session(botocore_session=core, region_name=self._base.region_name)

    def _new_client(self, session: boto3.session.Session, service: str, region: str) -> Any:
        client = session.client(service, region_name=region, config=self._config, endpoint_url=self._endpoint)
        client.meta.events.register("before-send", self._count)
        if self._endpoint and service == "s3control":
            client.meta.events.register("before-sign.s3-control", _drop_account_host_label)
        return client


def _drop_account_host_label(request: Any, **_: Any) -> None:
    """S3 Control puts the account id in the host name; an emulator endpoint has no such names."""
    account = request.headers.get("x-amz-account-id")
    if account:
        request.url = request.url.replace(f"//{account}.", "//", 1)


class RateLimiter:
    """At most ``rate`` acquisitions per second, spaced evenly, shared by threads; counts them."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()
        self.acquired = 0

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
            self.acquired += 1
        if wait > 0:
            self._sleep(wait)


def paced_call(
    call: Callable[[], Any],
    limiter: RateLimiter,
    *,
    throttle_codes: set[str] = THROTTLED,
    max_throttled: int = 5,
    sleep: Callable[[float], None] | None = None,
) -> Any:
    """``call()`` under ``limiter``, for APIs whose quotas are lower than botocore's retries expect:
    throttling is waited out (0.5 s, 1 s, 2 s ... at most 8 s) ``max_throttled`` times, then raised."""
    throttled = 0
    while True:
        limiter.acquire()
        try:
            return call()
        except ClientError as exc:
            if error_code(exc) not in throttle_codes or throttled >= max_throttled:
                raise
            throttled += 1
            (sleep or time.sleep)(min(0.25 * 2**throttled, 8.0))


def paginate(client: Any, operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of ``operation`` (one page where it does not paginate)."""
    if client.can_paginate(operation):
        return list(client.get_paginator(operation).paginate(**params))
    return [getattr(client, operation)(**params)]
