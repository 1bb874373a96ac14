"""The request loop's bounds: polls capped by a visible setting, nonsense settings refused."""

from __future__ import annotations

import math
from typing import Any

import pytest

import dxapi
from dxapi import RetryPolicy, Timeout
from tests._faultserver import FastClock
from tests.test_query_runs import RESULTS, rows_payload, sent

PENDING = {"ok": False, "error": "execution_not_complete"}


async def test_a_huge_retry_after_on_a_pending_job_is_capped(mocked: Any, token: str) -> None:
    for _ in range(3):
        mocked.get(RESULTS, status=409, payload=PENDING, headers={"Retry-After": "86400"})
    mocked.get(RESULTS, payload=rows_payload(2))
    policy = RetryPolicy(max_poll_interval=7)
    async with dxapi.Client(token, retries=policy, timeout=Timeout(deadline=None)) as dx:
        clock = FastClock()
        dx._session.clock = clock
        page = await dx.studio.query_runs.results(id="r1")
    assert len(page.results.rows) == 2 and len(sent(mocked)) == 4
    assert clock.waits == [7, 7, 7]  # asked again every max_poll_interval, not once a day


async def test_the_default_poll_cap_is_a_minute(mocked: Any, token: str) -> None:
    mocked.get(RESULTS, status=409, payload=PENDING, headers={"Retry-After": "86400"})
    mocked.get(RESULTS, payload=rows_payload(1))
    async with dxapi.Client(token, timeout=Timeout(deadline=None)) as dx:
        clock = FastClock()
        dx._session.clock = clock
        await dx.studio.query_runs.results(id="r1")
    assert clock.waits == [RetryPolicy().max_poll_interval] == [60]


async def test_a_pending_job_past_the_deadline_fails_at_once(mocked: Any, token: str) -> None:
    mocked.get(RESULTS, status=409, payload=PENDING, headers={"Retry-After": "30"}, repeat=True)
    async with dxapi.Client(token, timeout=Timeout(deadline=10)) as dx:
        dx._session.clock = FastClock()
        with pytest.raises(dxapi.RequestTimeoutError, match="not ready"):
            await dx.studio.query_runs.results(id="r1")
    assert len(sent(mocked)) == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda: Timeout(read=-1),
        lambda: Timeout(read=0),
        lambda: Timeout(connect=-0.5),
        lambda: Timeout(deadline=-5),
        lambda: Timeout(read=math.nan),
        lambda: Timeout(download=0),
        lambda: Timeout(read="60"),  # type: ignore[arg-type]
        lambda: RetryPolicy(backoff=-1),
        lambda: RetryPolicy(max_backoff=-1),
        lambda: RetryPolicy(max_retry_after=-1),
        lambda: RetryPolicy(max_poll_interval=0),
        lambda: dxapi.Limits(max_response_bytes=0),
        lambda: dxapi.Limits(max_download_bytes=-1),
        lambda: dxapi.Limits(max_redirects=-1),
        lambda: dxapi.Client("t" * 12, limits=42),  # type: ignore[arg-type]
    ],
)
def test_nonsense_settings_are_refused(make: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        make()
    assert str(info.value)  # says which setting and why


def test_settings_that_make_sense_are_kept() -> None:
    assert Timeout(deadline=None).deadline is None
    assert Timeout.coerce(5).read == 5
    assert dxapi.Limits(max_download_bytes=None).max_download_bytes is None
    assert RetryPolicy(backoff=0, max_retries=0).backoff == 0


def test_a_negative_timeout_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"Timeout\.read must be a number > 0, got -1"):
        Timeout(read=-1)


async def test_calls_leave_no_garbage_for_the_cycle_collector() -> None:
    # Every object a call makes is freed by reference counting alone: a cycle (a result and
    # the answer it keeps, a frame held by a traceback) would make the collector run, and
    # scan everything alive, every few hundred calls.
    import gc

    from dxapi.testing import MockResponse, MockTransport

    entity = {"identifier": "a", "owner_teams": [{"id": "t"}], "aliases": {}}
    page = {"ok": True, "entities": [entity] * 3, "response_metadata": {"next_cursor": None}}

    def answer(request: Any) -> MockResponse:
        if request.url.endswith(".list"):
            return MockResponse(json=page)
        return MockResponse(json={"ok": True, "entity": entity})

    async with dxapi.Client("t", base_url="https://x.test", transport=MockTransport(answer)) as dx:
        calls = [
            lambda: dx.catalog.entities.info(identifier="a"),
            lambda: dx.call("catalog.entities.info", identifier="a"),
            lambda: dx.catalog.entities.list(limit=3),
        ]
        for call in calls:  # warm: classes and decoders are built once, not per call
            await call()
        dx._session.transport.requests.clear()  # type: ignore[attr-defined]
        gc.collect()
        gc.disable()
        try:
            for call in calls:
                for _ in range(20):
                    await call()
                found = gc.collect()
                assert found == 0, f"{found} objects in cycles after 20 calls ({call})"
        finally:
            gc.enable()


async def test_a_typed_result_keeps_its_whole_answer() -> None:
    # Decoded in the loop, a result keeps its answer's status, headers and body, and makes
    # its Response (and payload) only when asked for: the same object each time.
    from dxapi.testing import MockResponse, MockTransport

    payload = {"ok": True, "entity": {"identifier": "a", "future": [1]}, "extra": {"x": 1}}
    answer = MockResponse(status=203, json=payload, headers={"X-Request-Id": "r1"})
    async with dxapi.Client(
        "t", base_url="https://x.test", transport=MockTransport(lambda r: answer)
    ) as dx:
        result = await dx.catalog.entities.info(identifier="a")
    response = dxapi.response_of(result)
    assert response.status == 203 and response.headers["x-request-id"] == "r1"
    assert dxapi.raw(result) == payload and dxapi.response_of(result) is response
