"""One way to speak to a web API in JSON over HTTP (Jira, ServiceNow, Slack, webhooks, PagerDuty):
a request, its answer, and a ``429 Too Many Requests`` waited out as the answer's ``Retry-After``
says (RFC 9110 §10.2.3: seconds) at most :data:`RETRIES` times. What the caller makes of a refusal
(its wording, which trackers' errors to keep) stays with the caller.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

RETRIES = 5


class Refused(Exception):
    """The API answered with an HTTP error (a 429 only once the retries are spent)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}" if detail else f"HTTP {status}")
        self.status, self.detail = status, detail


class Unreachable(Exception):
    """No answer, or none that HTTP can read: refused connection, name not found, timeout, a
    connection closed before its answer, a broken status line."""


@dataclass
class Answer:
    status: int
    text: bytes

    def json(self) -> Any:
        """The body as JSON; None when it is empty (a 204, or a 201 with no body); :class:`Refused`
        when it is something else (a proxy's or a login page's HTML)."""
        try:
            return json.loads(self.text) if self.text.strip() else None
        except ValueError:
            shown = self.text[:100].decode(errors="replace")
            raise Refused(self.status, f"not JSON: {shown!r}") from None


def call(url: str, method: str = "POST", data: bytes | None = None, headers: Mapping[str, str] | None = None, *,
         sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0, wait: float = 1.0,
         retries: int = RETRIES) -> Answer:  # fmt: skip
    """``url`` asked; a 429 waited out (``Retry-After``, else ``wait`` doubled at each attempt) and
    asked again, ``retries`` times. :class:`Refused` for any other HTTP error, :class:`Unreachable`
    when nothing answers."""
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return Answer(answer.status, answer.read())
        except urllib.error.HTTPError as error:
            if error.code == 429 and attempt < retries:
                sleep(_seconds(error.headers.get("Retry-After"), wait * 2**attempt))
                continue
            raise Refused(error.code, error.read().decode(errors="replace")[:300]) from None
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, resets are OSErrors
            raise Unreachable(str(getattr(error, "reason", None) or error or type(error).__name__)) from None
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def _seconds(value: str | None, otherwise: float) -> float:
    """``Retry-After`` in seconds; an HTTP date (also allowed) or nonsense waits ``otherwise``."""
    try:
        return max(0.0, float(value)) if value is not None else otherwise
    except ValueError:
        return otherwise


def post_json(url: str, body: Any, headers: Mapping[str, str] | None = None, **options: Any) -> Answer:
    """``body`` posted as JSON."""
    return call(url, "POST", json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}, **options)
