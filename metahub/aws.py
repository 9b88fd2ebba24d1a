"""The one place boto3 clients are made: credentials, roles per account, retries, counting.

botocore resolves everything it knows how to: the profile, credentials, endpoints
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``, a profile's ``endpoint_url`` and
``services`` section) and retries (``AWS_RETRY_MODE``, ``AWS_MAX_ATTEMPTS``, or the profile's
``retry_mode`` / ``max_attempts``; adaptive with 6 attempts only where neither says). The one
addition is ``AWS_REGION``, the SDKs' standard region variable that boto3 alone ignores; as in
the AWS CLI it wins over ``AWS_DEFAULT_REGION`` and the profile.

Clients are memoised per (account, region, service) and are thread-safe; sessions are not,
so they are made under a lock. Every HTTP request is counted per ``service:Operation``. A
failure to enter an account is remembered for the run, and an optional deadline makes every
call not yet started fail at once, so a hanging endpoint costs bounded time. Every answer can be
recorded into a context snapshot, or taken from one instead of AWS (:mod:`metahub.snapshot`).
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.credentials import CredentialProvider, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, ProfileNotFound
from botocore.loaders import create_loader
from botocore.model import ServiceModel

from metahub.snapshot import ContextCache, NotInSnapshot, Snapshot, params_key
from metahub.version import __version__

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


PACED_SERVICES = frozenset({"cloudtrail"})
"""Services whose every call metahub paces itself, throttling included (:func:`paced_call`), where
botocore's own retries would only multiply the cost of a call that keeps failing (an endpoint
without the API): one retry is left for a passing error."""


class AccountUnavailable(Exception):
    """No credentials for an account: context for its resources stays unknown."""


class ReplaySendsNothing(BotoCoreError):  # type: ignore[misc]
    """A replayed run was about to send a request: it never does."""

    fmt = "a run replayed from a context snapshot sends no request ({operation})"


class DeadlineReached(BotoCoreError):  # type: ignore[misc]
    """The run's deadline passed before this call was sent."""

    fmt = "the run's deadline passed before this call was sent"


class ConfigurationError(Exception):
    """The AWS configuration cannot work at all: found before any call, said in one line."""


class CredentialsError(ConfigurationError):
    """The starting credentials cannot be used at all (no such profile, none found)."""


class RegionError(ConfigurationError):
    """A region name that no AWS partition has (a typo such as ``us-eats-1``)."""


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition that this botocore knows (its ``partitions.json``)."""
    data = botocore.session.Session().get_component("data_loader").load_data("partitions")
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])


def check_region(region: str | None, where: str) -> None:
    """Raise :class:`RegionError` naming ``where`` the region came from, with the closest names."""
    if region is None or region in known_regions():
        return
    close = difflib.get_close_matches(region, sorted(known_regions()), n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise RegionError(
        f"{where}: {region!r} is no AWS region{hint} (botocore {botocore.__version__} knows "
        f"{len(known_regions())}; a newer region needs a newer botocore)"
    )


def assume_role_problem(member: str, value: str) -> str | None:
    """What is wrong with ``value`` as AssumeRole's ``member`` (``ExternalId``, ``RoleSessionName``)
    by botocore's model of STS (length, pattern), or None. Read from the model files alone: no
    profile or credentials are needed to check a command line."""
    model = _sts_model()
    rules = model.operation_model("AssumeRole").input_shape.members[member].metadata
    low, high = rules.get("min", 0), rules.get("max", len(value))
    if not low <= len(value) <= high:
        return f"{value!r}: {member} takes {low} to {high} characters"
    if "pattern" in rules and not re.fullmatch(rules["pattern"], value):
        return f"{value!r}: {member} takes only characters of {rules['pattern']}"
    return None


@functools.cache
def _sts_model() -> ServiceModel:
    return ServiceModel(create_loader().load_service_model("sts", "service-2"), "sts")


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
        if code.isdigit():  # an HTTP status and no AWS error code: not AWS's answer
            return (
                f"{where}the endpoint answered HTTP {code} without an AWS error (does it implement this API?)"
            )
        if isinstance(status, int) and status >= 500:
            return f"{where}AWS service error {status} ({code})"
        return f"{where}{code}"
    if isinstance(exc, EndpointConnectionError):
        return f"{where}endpoint unreachable"
    if isinstance(exc, NotInSnapshot):  # names the call itself
        return str(exc)
    if isinstance(exc, ReplaySendsNothing):
        return f"{where}{exc}"
    if isinstance(exc, BotoCoreError):
        name = type(exc).__name__
        if "Timeout" in name:
            return f"{where}timed out"
        if name == "NoCredentialsError":
            return f"{where}no AWS credentials found"
        if isinstance(exc, DeadlineReached):
            return f"{where}not called: the run's deadline (--deadline) had passed"
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
        max_attempts: int | None = None,
        read_timeout: float = 30,
        deadline: float | None = None,
        record: bool = False,
        replay: Snapshot | None = None,
        cache: ContextCache | None = None,
    ) -> None:
        """``max_attempts`` overrides whatever botocore would resolve; ``deadline`` is seconds from
        now after which no call is sent (a call under way ends within ``read_timeout``). With
        ``record``, every answer is kept for :meth:`recorded`; with ``replay``, every answer comes
        from that snapshot and no request is sent (no profile or credentials are read); with
        ``cache``, a fresh answer kept there by an earlier run is used instead of asking again."""
        self.role = role
        self.profile = profile
        self.replay = replay
        self.cache = None if replay is not None else cache
        self._recording = None if replay is not None or not record else Snapshot()
        self._core = botocore.session.Session(profile=None if replay else profile)
        if replay is not None:  # clients need credentials to be made; nothing is signed
            self._core.set_credentials("replay", "replay")
        try:
            self._base = boto3.session.Session(
                botocore_session=self._core, region_name=os.environ.get("AWS_REGION") or None
            )
        except ProfileNotFound as exc:
            named = exc.kwargs.get("profile", profile)
            origin = "" if profile else " (from AWS_PROFILE)"
            raise CredentialsError(
                f"no AWS profile named {named!r}{origin} in the AWS config files "
                f"({os.environ.get('AWS_CONFIG_FILE', '~/.aws/config')})"
            ) from None
        self._config = Config(
            retries=self._retries(max_attempts),
            connect_timeout=min(5, read_timeout),
            read_timeout=read_timeout,
            user_agent_extra=f"metahub/{__version__}",
            max_pool_connections=max(10, 2 * max_workers),  # fetch and detail pools
        )
        self._deadline = None if deadline is None else time.monotonic() + deadline
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._account_locks: dict[str, threading.Lock] = {}
        self._sessions: dict[str, boto3.session.Session] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._caller: str | BaseException | None = None
        self._unavailable: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        """Calls AWS answered with success, per ``service:Operation``: what tells a run that saw its
        accounts from one that reached nothing (every call refused, unreachable or never signed)."""

    def _retries(self, max_attempts: int | None) -> dict[str, Any]:
        """Only what nobody configured: AWS_RETRY_MODE / AWS_MAX_ATTEMPTS and the profile win."""
        profile = self._core.get_scoped_config()
        retries: dict[str, Any] = {}
        if not (os.environ.get("AWS_RETRY_MODE") or profile.get("retry_mode")):
            retries["mode"] = "adaptive"
        if max_attempts is not None:
            retries["max_attempts"] = max_attempts
        elif not (os.environ.get("AWS_MAX_ATTEMPTS") or profile.get("max_attempts")):
            retries["max_attempts"] = 6
        return retries

    def check_region(self) -> None:
        """Raise :class:`RegionError` when the starting region (``AWS_REGION``, ``AWS_DEFAULT_REGION``
        or the profile's) is no AWS region, before a call goes to a host that does not exist."""
        variable = next((v for v in ("AWS_REGION", "AWS_DEFAULT_REGION") if os.environ.get(v)), None)
        check_region(self.region, variable or "the AWS profile's region")

    def check_credentials(self) -> None:
        """Raise :class:`CredentialsError` with one line when no credentials are found, or they
        cannot be loaded (an SSO profile whose login expired). Makes no AWS call."""
        try:
            credentials = self._base.get_credentials()
        except BotoCoreError as exc:
            raise CredentialsError(f"the AWS credentials cannot be loaded: {exc}") from None
        if credentials is None:
            raise CredentialsError(
                "no AWS credentials found (environment, profile, SSO, container or instance role)"
            )

    # --- counting --------------------------------------------------------------------------

    def _count(self, event_name: str, **_: Any) -> None:
        with self._count_lock:
            self.calls[_operation(event_name)] += 1

    @property
    def region(self) -> str | None:
        """The starting credentials' default region (profile or AWS_REGION), if any."""
        region: str | None = self._base.region_name
        return region

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def unavailable(self) -> dict[str, str]:
        """Accounts that could not be entered, with the reason (no credentials, AssumeRole refused)."""
        return dict(self._unavailable)

    def _answer(self, event_name: str, http_response: Any = None, **_: Any) -> None:
        if http_response is not None and http_response.status_code < 300:
            with self._count_lock:
                self.answered[_operation(event_name)] += 1

    # --- sessions and clients --------------------------------------------------------------

    def caller_account(self) -> str:
        """The starting credentials' account: one GetCallerIdentity for the run, however many
        threads ask at once, and a failure is remembered rather than retried by each of them."""
        with self._account_lock(""):
            if self._caller is None and self.replay is not None:
                self._caller = self.replay.caller or AccountUnavailable(
                    f"the snapshot {self.replay.source} does not say whose credentials collected it"
                )
            if self._caller is None:
                sts = self._new_client(self._base, "sts", self._base.region_name or "us-east-1")
                try:
                    self._caller = str(sts.get_caller_identity()["Account"])
                except (ClientError, BotoCoreError) as exc:
                    self._caller = exc
        if isinstance(self._caller, BaseException):
            raise self._caller
        return self._caller

    def _account_lock(self, account: str) -> threading.Lock:
        with self._lock:
            return self._account_locks.setdefault(account, threading.Lock())

    def client(self, service: str, account: str, region: str, partition: str = "aws") -> Any:
        """The client of ``service`` in one account and region, made once."""
        key = (account, region, service)
        client = self._clients.get(key)
        if client is None:
            session = self._session(account, partition)
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    config = None
                    if service in PACED_SERVICES:  # the same retry mode, two attempts in all
                        retries = {**(self._config.retries or {}), "total_max_attempts": 2}
                        retries.pop("max_attempts", None)
                        config = self._config.merge(Config(retries=retries))
                    client = self._clients[key] = self._new_client(session, service, region, config)
                    self._keep_answers(client, account, region)
        return client

    def _session(self, account: str, partition: str) -> boto3.session.Session:
        session = self._sessions.get(account)
        if session is not None:
            return session
        with self._account_lock(account):  # one AssumeRole per account, and its failure is kept
            return self._enter(account, partition)

    def _enter(self, account: str, partition: str) -> boto3.session.Session:
        if account in self._unavailable:
            raise AccountUnavailable(self._unavailable[account])
        session = self._sessions.get(account)
        if session is not None:
            return session
        try:
            if self.replay is not None:  # entered as the recorded run entered it, or not
                if account not in self.replay.accounts:
                    raise AccountUnavailable(f"account {account} is not in the snapshot {self.replay.source}")
                if (reason := self.replay.accounts[account]) is not None:
                    raise AccountUnavailable(reason)
                session = self._base
            elif self.role is None:
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
        # The same profile (its endpoints and retries), with the role's credentials first in the chain.
        core = botocore.session.Session(profile=self.profile)
        core.get_component("credential_provider").insert_before("env", _Assumed(credentials))
        return boto3.session.Session(botocore_session=core, region_name=self._base.region_name)

    def _new_client(
        self, session: boto3.session.Session, service: str, region: str, config: Config | None = None
    ) -> Any:
        client = session.client(service, region_name=region, config=config or self._config)
        client.meta.events.register_first("before-send", self._before_send)
        client.meta.events.register("after-call", self._answer)
        host = urlsplit(client.meta.endpoint_url).hostname or ""
        if service == "s3control" and not host.endswith(".amazonaws.com"):
            client.meta.events.register("before-sign.s3-control", _drop_account_host_label)
        return client

    # --- snapshots ---------------------------------------------------------------------------

    def _keep_answers(self, client: Any, account: str, region: str) -> None:
        """Key each call of an account's client, then replay its answer, or take it from the cache, or
        record the answer AWS gives."""
        if self._recording is None and self.replay is None and self.cache is None:
            return

        def key(event_name: str, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context[_SNAPSHOT_KEY] = (account, region, _operation(event_name), params_key(params))

        client.meta.events.register("before-parameter-build", key)
        if self.replay is not None:
            client.meta.events.register_first("before-call", self._replayed)
        else:
            if self.cache is not None:
                client.meta.events.register_first("before-call", self._cached)
            # as the protocol parsed it, before botocore's own handlers (IAM's policy documents
            # decoded): a replay's answer goes through them as a live one does. botocore calls the
            # handlers of a more specific event first, so this one names the service's operations.
            service = client.meta.service_model.service_id.hyphenize()
            client.meta.events.register_first(f"after-call.{service}.*", self._record)

    def _replayed(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, Any]:
        assert self.replay is not None
        status, parsed = self.replay.answer(context[_SNAPSHOT_KEY], model.output_shape)
        return AWSResponse(None, status, {}, None), parsed

    def _cached(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, Any] | None:
        assert self.cache is not None
        found = self.cache.find(context[_SNAPSHOT_KEY], model.output_shape)
        if found is None or not _reusable(*found):
            return None  # asked of AWS
        context[_FROM_CACHE] = True
        return AWSResponse(None, found[0], {}, None), found[1]

    def _record(self, http_response: Any, parsed: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response is None or _SNAPSHOT_KEY not in context:
            return
        key, status = context[_SNAPSHOT_KEY], http_response.status_code
        if self._recording is not None:
            self._recording.record(key, status, parsed)
        if self.cache is not None and not context.get(_FROM_CACHE) and _reusable(status, parsed):
            self.cache.record(key, status, parsed)

    @property
    def recording(self) -> bool:
        return self._recording is not None

    def recorded(self, contexts: Iterable[str] = ()) -> Snapshot:
        """What this run's clients were answered (``record=True``) for ``contexts``, with the
        accounts entered and those that could not be, each with the reason."""
        if self._recording is None:
            raise ValueError("this Aws was not made with record=True")
        snapshot = self._recording
        snapshot.accounts = {**{account: None for account in self._sessions}, **self._unavailable}
        snapshot.caller = self._caller if isinstance(self._caller, str) else None
        snapshot.contexts = sorted(contexts)
        return snapshot

    def stop(self) -> None:
        """No call from now on: each raises :class:`DeadlineReached` (the run is ending)."""
        self._deadline = -math.inf

    def _before_send(self, event_name: str, **_: Any) -> None:
        if self.replay is not None:
            raise ReplaySendsNothing(operation=_operation(event_name))
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise DeadlineReached()
        self._count(event_name)


_SNAPSHOT_KEY = "metahub.snapshot"
"""Where a call's snapshot key waits in botocore's request context, from its parameters to its answer."""
_FROM_CACHE = "metahub.cached"


def _reusable(status: int, parsed: Any) -> bool:
    """An answer another run may reuse: not a refusal the operator may fix, a throttle, or a
    server's failure (each asked again); an item that does not exist is an answer."""
    if status < 300:
        return True
    code = (parsed.get("Error") or {}).get("Code", "")
    return status < 500 and code not in _ACCESS_DENIED and code not in THROTTLED


def _operation(event_name: str) -> str:
    """``service:Operation`` of a botocore event name (``before-send.ec2.DescribeInstances``)."""
    _event, service, operation = event_name.split(".", 2)
    return f"{service}:{operation}"


class _Assumed(CredentialProvider):  # type: ignore[misc]
    """Hands a session the refreshable credentials of an assumed role (botocore's public hook)."""

    METHOD = "metahub-assume-role"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


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
