"""The one JSON-over-HTTP call every web API goes through: 429 waited out by Retry-After (seconds;
an HTTP date or nonsense falls back to doubling waits), the retries bounded, errors kept apart."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from metahub import webapi

from . import local_http


def _throttling(times: int, retry_after: str | None) -> tuple[list[str], Callable[..., local_http.Answer]]:
    seen: list[str] = []

    def answer(method: str, path: str, headers: Mapping[str, str], body: bytes) -> local_http.Answer:
        seen.append(f"{method} {path} {body.decode()}")
        if len(seen) <= times:
            return 429, ({"Retry-After": retry_after} if retry_after is not None else {}), b"slow down"
        return 201, {"Content-Type": "application/json"}, b'{"id": 7}'

    return seen, answer


@pytest.mark.parametrize(
    ("retry_after", "waits"),
    [
        ("4", [4.0, 4.0]),  # RFC 9110 10.2.3: delay-seconds
        ("Wed, 21 Oct 2015 07:28:00 GMT", [1.0, 2.0]),  # an HTTP-date: doubling waits instead
        (None, [1.0, 2.0]),
    ],
)
def test_429_waited_out_then_answered(retry_after: str | None, waits: list[float]) -> None:
    seen, answer = _throttling(2, retry_after)
    slept: list[float] = []
    with local_http.serving(answer) as url:
        got = webapi.post_json(f"{url}/things", {"name": "x"}, sleep=slept.append)
    assert (got.status, got.json(), slept) == (201, {"id": 7}, waits)
    assert seen == ['POST /things {"name": "x"}'] * 3  # the same request each time


def test_retries_are_bounded_and_refusals_keep_status_and_detail() -> None:
    seen, answer = _throttling(99, "0")
    with local_http.serving(answer) as url, pytest.raises(webapi.Refused) as refused:
        webapi.call(f"{url}/x", "GET", sleep=lambda _: None)
    assert (refused.value.status, refused.value.detail, len(seen)) == (429, "slow down", webapi.RETRIES + 1)


def test_nothing_listening_is_unreachable_not_refused() -> None:
    with pytest.raises(webapi.Unreachable):
        webapi.call("http://127.0.0.1:9/nothing", "GET", timeout=5)


def test_an_empty_body_is_none() -> None:
    with local_http.serving(lambda *_: (204, {}, b"")) as url:
        assert webapi.call(url, "DELETE").json() is None


def test_an_answer_that_is_not_json_is_refused_with_what_it_was() -> None:
    with local_http.serving(lambda *_: (200, {"Content-Type": "text/html"}, b"<html>Sign in to continue</html>")) as url:
        answer = webapi.call(url, "GET")
    with pytest.raises(webapi.Refused, match="not JSON: '<html>Sign in"):
        answer.json()


def test_a_connection_closed_before_its_answer_is_unreachable() -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def hang_up() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.close()  # no status line at all: http.client's RemoteDisconnected

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        with pytest.raises(webapi.Unreachable):
            webapi.post_json(f"http://127.0.0.1:{listener.getsockname()[1]}/x", {"a": 1})
    finally:
        listener.close()
