"""Request hooks: what each event says, when it fires, and that it never carries secrets."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest

import dxapi
from dxapi import Client, HookEvent, Hooks, RetryPolicy
from dxapi._transport import Request
from dxapi.testing import MockResponse, MockTransport

FAST = RetryPolicy(backoff=0.0)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "observability.md"


def flaky(failures: int, status: int = 503) -> MockTransport:
    """Fails ``failures`` times with ``status``, then answers."""
    left = [failures]

    def handler(request: Request) -> MockResponse:
        if left[0] > 0:
            left[0] -= 1
            return MockResponse(status=status, json={"ok": False, "error": "unavailable"})
        return MockResponse(json={"ok": True, "teams": []})

    return MockTransport(handler)


def recording() -> tuple[Hooks, list[HookEvent]]:
    seen: list[HookEvent] = []

    async def later(event: HookEvent) -> None:  # an async hook is awaited
        await asyncio.sleep(0)
        seen.append(event)

    return Hooks(
        on_request=seen.append, on_response=later, on_retry=later, on_end=seen.append
    ), seen


async def test_a_retried_call_reports_each_attempt_the_wait_and_its_end(token: str) -> None:
    hooks, seen = recording()
    async with Client(token, transport=flaky(1), retries=FAST, hooks=hooks) as dx:
        await dx.get("teams.list")
    assert [(e.kind, e.attempt, e.status) for e in seen] == [
        ("request", 1, None),
        ("response", 1, 503),
        ("retry", 1, 503),
        ("request", 2, None),
        ("response", 2, 200),
        ("end", 2, 200),
    ]
    assert {e.method for e in seen} == {"teams.list"} and {e.http for e in seen} == {"GET"}
    assert len({e.call for e in seen}) == 1
    retry = seen[2]
    assert retry.error is not None and retry.wait is not None and retry.wait >= 0
    assert all(
        e.duration is not None and e.duration >= 0 for e in seen if e.kind in ("response", "end")
    )
    assert seen[-1].error is None


async def test_a_failed_call_ends_with_its_error_and_status(token: str) -> None:
    hooks, seen = recording()
    async with Client(token, transport=flaky(9, 404), hooks=hooks) as dx:
        with pytest.raises(dxapi.NotFoundError):
            await dx.get("teams.list")
    end = seen[-1]
    assert (end.kind, end.attempt, end.status, end.error) == ("end", 1, 404, "NotFoundError")


async def test_a_connection_failure_has_no_status(token: str) -> None:
    def refuse(request: Request) -> MockResponse:
        raise ConnectionRefusedError(111, "Connection refused")

    hooks, seen = recording()
    async with Client(token, transport=MockTransport(refuse), retries=0, hooks=hooks) as dx:
        with pytest.raises(dxapi.TransportError):
            await dx.get("teams.list")
    response, end = seen[-2], seen[-1]
    assert (response.kind, response.status, response.error) == ("response", None, "TransportError")
    assert (end.kind, end.error) == ("end", "TransportError")


async def test_a_cancelled_call_still_ends(token: str) -> None:
    async def hang(request: Request) -> MockResponse:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    hooks, seen = recording()
    async with Client(token, transport=MockTransport(hang), hooks=hooks) as dx:
        task = asyncio.create_task(dx.get("teams.list"))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (seen[-1].kind, seen[-1].error) == ("end", "CancelledError")


async def test_events_never_carry_the_token_or_headers(token: str) -> None:
    hooks, seen = recording()
    async with Client(
        token, transport=flaky(1, 429), retries=FAST, hooks=hooks, default_headers={"X-A": "b"}
    ) as dx:
        await dx.get("teams.list", {"q": "secret-argument"})
    assert seen
    for event in seen:
        shown = repr(event)  # every field is in the repr: no headers, no arguments
        assert token not in shown and "secret-argument" not in shown and "X-A" not in shown
    with pytest.raises(AttributeError):
        seen[0].status = 1  # type: ignore[misc]


async def test_a_hook_that_raises_is_logged_and_the_call_goes_on(
    token: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: HookEvent) -> None:
        raise RuntimeError("hook bug")

    hooks = Hooks(on_request=broken, on_end=broken)
    with caplog.at_level(logging.ERROR, logger="dxapi"):
        async with Client(token, transport=flaky(0), hooks=hooks) as dx:
            assert await dx.get("teams.list") == {"ok": True, "teams": []}
    assert "teams.list: the on_request hook failed" in caplog.text
    assert "teams.list: the on_end hook failed" in caplog.text


async def test_not_ready_polls_are_reported_as_retries(token: str) -> None:
    pending = MockResponse(
        status=409,
        json={"ok": False, "error": "execution_not_complete"},
        headers={"Retry-After": "0"},
    )
    answers = [pending, MockResponse(json={"ok": True, "x": 1})]
    hooks, seen = recording()
    mock = MockTransport(lambda request: answers.pop(0))
    async with Client(token, transport=mock, hooks=hooks, rate_limit=None) as dx:
        await dx.call("studio.queryRuns.results", id="r1")
    assert [(e.kind, e.attempt, e.status) for e in seen] == [
        ("request", 1, None),
        ("response", 1, 409),
        ("retry", 1, 409),
        ("request", 2, None),
        ("response", 2, 200),
        ("end", 2, 200),
    ]
    assert seen[2].wait == 0


def test_hooks_must_be_callable_and_of_the_right_type(token: str) -> None:
    with pytest.raises(TypeError, match=r"Hooks\.on_retry must be callable"):
        Hooks(on_retry="print")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"hooks must be a dxapi\.Hooks"):
        Client(token, hooks={"on_request": print})  # type: ignore[arg-type]


def test_the_sync_client_takes_the_same_hooks(token: str) -> None:
    hooks, seen = recording()
    with dxapi.SyncClient(token, transport=flaky(0), hooks=hooks) as sc:
        sc.call("teams.list")
    assert [e.kind for e in seen] == ["request", "response", "end"]


# ------------------------------------------------------------- the OpenTelemetry recipe


class FakeSpan:
    def __init__(self, name: str, attributes: dict[str, Any]) -> None:
        self.name, self.attributes = name, dict(attributes)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.ended = False

    def add_event(self, name: str, attributes: dict[str, Any]) -> None:
        self.events.append((name, attributes))

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def end(self) -> None:
        assert not self.ended
        self.ended = True


class FakeTracer:
    def __init__(self) -> None:
        self.spans: list[FakeSpan] = []

    def start_span(self, name: str, attributes: dict[str, Any]) -> FakeSpan:
        self.spans.append(FakeSpan(name, attributes))
        return self.spans[-1]


def otel_hooks_from_docs() -> Any:
    """The recipe in docs/observability.md, run as written."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    recipe = next(b for b in blocks if "def otel_hooks" in b)
    scope: dict[str, Any] = {}
    exec(compile(recipe, str(DOCS), "exec"), scope)
    return scope["otel_hooks"]


async def test_the_documented_recipe_makes_one_span_per_call(token: str) -> None:
    tracer = FakeTracer()
    hooks = otel_hooks_from_docs()(tracer)
    async with Client(token, transport=flaky(2), retries=FAST, hooks=hooks) as dx:
        await asyncio.gather(dx.get("teams.list"), dx.get("teams.info", {"team_id": "t"}))
    names = sorted(s.name for s in tracer.spans)
    assert names == ["dx teams.info", "dx teams.list"]  # two calls, two spans, not 4 attempts
    assert all(s.ended for s in tracer.spans)
    retried = sum(len(s.events) for s in tracer.spans)
    assert retried == 2  # the two 503s, each a retry event on the span of its call
    for span in tracer.spans:
        assert span.attributes["dx.attempts"] == 1 + len(span.events)
        assert span.attributes["http.response.status_code"] == 200
        assert span.attributes["rpc.method"] == span.name.removeprefix("dx ")


async def test_the_recipe_marks_a_failed_call(token: str) -> None:
    tracer = FakeTracer()
    hooks = otel_hooks_from_docs()(tracer)
    async with Client(token, transport=flaky(9, 401), hooks=hooks) as dx:
        with pytest.raises(dxapi.AuthError):
            await dx.get("teams.list")
    (span,) = tracer.spans
    assert span.ended and span.attributes["error.type"] == "AuthError"
    assert span.attributes["http.response.status_code"] == 401


async def test_with_hooks_an_error_still_reaches_no_token(token: str) -> None:
    from tests.test_mock_transport import assert_unreachable

    hooks, seen = recording()
    async with Client(token, transport=flaky(9, 401), hooks=hooks) as dx:
        with pytest.raises(dxapi.AuthError) as caught:
            await dx.get("teams.list")
    assert seen[-1].kind == "end"
    assert_unreachable(caught.value, token)
