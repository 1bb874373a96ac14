"""Chunked batch helpers: ``dc.custom_data.set_all_chunked`` and ``dc.ai_tool_metrics.push_all_chunked``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import anyio
import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

import dxapi
from dxapi import APIError, TokenBucket, TransportError
from dxapi._batch import BatchReport, send_chunked
from dxapi._generated.datacloud.custom_data import CustomDataSetAllResult
from dxapi._generated.shapes import AiToolMetric, CustomDataItem

BASE = "https://acme.getdx.net/api"


def records(n: int) -> list[dict[str, Any]]:
    return [{"reference": f"org/repo-{i}", "key": "k", "value": {"i": i}} for i in range(n)]


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


def sent_batches(m: aioresponses, name: str) -> list[list[dict[str, Any]]]:
    return [c.kwargs["json"]["data"] for c in m.requests.get(("POST", URL(f"{BASE}/{name}")), [])]


# --------------------------------------------------------------------------- chunking


async def test_set_all_chunked_cuts_the_input_into_chunks(mocked: aioresponses) -> None:
    mocked.post(f"{BASE}/customData.setAll", payload={"ok": True}, repeat=True)
    data = records(250)
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        report = await dc.custom_data.set_all_chunked(iter(data), chunk_size=100, concurrency=2)
    batches = sent_batches(mocked, "customData.setAll")
    assert sorted(len(b) for b in batches) == [50, 100, 100]
    assert sorted((r for b in batches for r in b), key=lambda r: r["value"]["i"]) == data
    assert report.ok and report.chunks == 3 and report.sent == 250
    assert report.method == "customData.setAll"
    assert [c.index for c in report.succeeded] == [0, 1, 2]
    assert [c.start for c in report.succeeded] == [0, 100, 200]
    assert report.succeeded[2].items == tuple(data[200:])
    assert all(isinstance(r, CustomDataSetAllResult) for r in report.results)
    report.raise_for_failures()  # nothing to raise


async def test_typed_items_and_the_default_chunk_size(mocked: aioresponses) -> None:
    mocked.post(f"{BASE}/customData.setAll", payload={"ok": True}, repeat=True)
    items = [CustomDataItem(reference="o/r", key=str(i), value={"i": i}) for i in range(101)]
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        report = await dc.custom_data.set_all_chunked(items)
    assert sorted(len(b) for b in sent_batches(mocked, "customData.setAll")) == [1, 100]
    assert report.ok and report.sent == 101


async def test_empty_input_sends_nothing(mocked: aioresponses) -> None:
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        report = await dc.custom_data.set_all_chunked([])
    assert report.ok and report.chunks == 0 and not mocked.requests


@pytest.mark.parametrize(("chunk_size", "concurrency"), [(0, 1), (1, 0), (-5, 4)])
async def test_bad_sizes_are_refused(chunk_size: int, concurrency: int) -> None:
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        with pytest.raises(ValueError, match="at least 1"):
            await dc.custom_data.set_all_chunked(
                records(3), chunk_size=chunk_size, concurrency=concurrency
            )


# ------------------------------------------------------------------------ concurrency


async def test_at_most_concurrency_chunks_are_in_flight(mocked: aioresponses) -> None:
    in_flight = peak = 0

    async def answer(url: URL, **kwargs: Any) -> CallbackResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        return CallbackResult(payload={"ok": True})

    mocked.post(f"{BASE}/customData.setAll", callback=answer, repeat=True)
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        report = await dc.custom_data.set_all_chunked(records(40), chunk_size=2, concurrency=3)
    assert report.ok and report.chunks == 20
    assert peak == 3


async def test_input_is_read_lazily_as_slots_free_up() -> None:
    pulled = done = 0
    ahead: list[int] = []

    def source() -> Iterator[int]:
        nonlocal pulled
        for i in range(100):
            pulled += 1
            yield i

    async def send(chunk: tuple[int, ...]) -> int:
        nonlocal done
        ahead.append(pulled - done)
        await anyio.sleep(0.001)
        done += len(chunk)
        return sum(chunk)

    report = await send_chunked("x.y", send, source(), chunk_size=5, concurrency=2)
    assert report.ok and sum(report.results) == sum(range(100))
    # Never more than the chunks in flight (plus the one being cut) were read ahead.
    assert max(ahead) <= 5 * 3


async def test_chunks_share_the_clients_rate_limiter(mocked: aioresponses) -> None:
    mocked.post(f"{BASE}/aiToolMetrics.pushAll", payload={"ok": True, "data": []}, repeat=True)
    bucket = TokenBucket((1000, 60.0))
    async with dxapi.DataCloudClient(token="t", instance="acme", limiter=bucket) as dc:
        rows = [
            {"email": f"u{i}@x.io", "date": "2025-01-15", "is_active": True, "tool": "t"}
            for i in range(7)
        ]
        await dc.ai_tool_metrics.push_all_chunked(rows, chunk_size=2, concurrency=4)
        assert dc.limiter is bucket
    assert bucket.granted == 4


# ----------------------------------------------------------------- partial failures


async def test_a_rejected_chunk_is_reported_and_the_others_still_go(mocked: aioresponses) -> None:
    def answer(url: URL, **kwargs: Any) -> CallbackResult:
        if any("bad" in r["value"] for r in kwargs["json"]["data"]):
            return CallbackResult(status=422, payload={"ok": False, "error": "invalid_arguments"})
        return CallbackResult(payload={"ok": True})

    mocked.post(f"{BASE}/customData.setAll", callback=answer, repeat=True)
    data = records(10)
    data[4]["value"] = {"bad": True}
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        report = await dc.custom_data.set_all_chunked(data, chunk_size=3, concurrency=2)
    assert not report.ok
    assert [c.index for c in report.succeeded] == [0, 2, 3]
    assert report.sent == 7
    (failure,) = report.failed
    assert (failure.index, failure.start, failure.items) == (1, 3, tuple(data[3:6]))
    assert isinstance(failure.error, APIError)
    assert (failure.error.error, failure.error.status) == ("invalid_arguments", 422)
    assert failure.error.method == "customData.setAll"
    assert report.failed_items() == data[3:6]
    with pytest.raises(ExceptionGroup) as info:
        report.raise_for_failures()
    assert info.value.exceptions == (failure.error,)
    assert "1 of 4 chunks failed (3 items)" in str(info.value)


async def test_push_all_chunk_lost_in_transit_is_not_resent(mocked: aioresponses) -> None:
    url = f"{BASE}/aiToolMetrics.pushAll"
    created = {
        "ok": True,
        "data": [
            {"id": "m1", "email": "a@x.io", "date": "2025-01-15", "is_active": True, "tool": "t"}
        ],
    }
    mocked.post(url, payload=created)
    mocked.post(url, exception=aiohttp.ServerDisconnectedError())
    mocked.post(url, payload=created)
    rows = [{"email": "a@x.io", "date": "2025-01-15", "is_active": True, "tool": "t"}] * 3
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        report: BatchReport[Any, Any] = await dc.ai_tool_metrics.push_all_chunked(
            rows, chunk_size=1, concurrency=1
        )
    assert len(mocked.requests[("POST", URL(url))]) == 3  # no retry of the lost chunk
    assert [c.index for c in report.succeeded] == [0, 2]
    (failure,) = report.failed
    assert failure.index == 1 and isinstance(failure.error, TransportError)
    created_rows = [m for r in report.results for m in (r.data or [])]
    assert all(isinstance(m, AiToolMetric) for m in created_rows) and len(created_rows) == 2


async def test_argument_errors_of_a_chunk_are_reported_too(mocked: aioresponses) -> None:
    mocked.post(
        re.compile(re.escape(f"{BASE}/customData.setAll")), payload={"ok": True}, repeat=True
    )
    data: list[Any] = [*records(2), "not a record", *records(1)]
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        report = await dc.custom_data.set_all_chunked(data, chunk_size=2)
    assert [c.index for c in report.succeeded] == [0]
    assert isinstance(report.failed[0].error, dxapi.ArgumentError)
    assert list(report.failed[0].items) == ["not a record", data[3]]


async def test_cancellation_is_not_swallowed() -> None:
    async def send(chunk: tuple[int, ...]) -> None:
        await anyio.sleep(10)

    with anyio.move_on_after(0.05) as scope:
        await send_chunked("x.y", send, range(10), chunk_size=1, concurrency=2)
    assert scope.cancelled_caught


async def test_cancelling_a_batch_leaves_no_chunk_running() -> None:
    started = finished = 0

    async def send(chunk: tuple[int, ...]) -> None:
        nonlocal started, finished
        started += 1
        try:
            await anyio.sleep(10)
        finally:
            finished += 1

    before = asyncio.all_tasks()
    with anyio.move_on_after(0.05) as scope:
        await send_chunked("x.y", send, range(10), chunk_size=1, concurrency=3)
    assert scope.cancelled_caught
    assert started == finished == 3  # the chunks in flight were cancelled, none started after
    assert asyncio.all_tasks() == before


async def test_a_bug_in_a_chunks_send_is_reported_like_an_api_error() -> None:
    async def send(chunk: tuple[int, ...]) -> int:
        return 1 // chunk[0]  # ZeroDivisionError for the first chunk only

    report = await send_chunked("x.y", send, range(3), chunk_size=1, concurrency=2)
    assert [c.index for c in report.succeeded] == [1, 2] and report.results == [1, 0]
    (failure,) = report.failed
    assert failure.items == (0,) and isinstance(failure.error, ZeroDivisionError)


# ---------------------------------------------------------------- drifted, accepted answers


async def test_an_accepted_chunk_whose_answer_drifted_counts_as_written(
    mocked: aioresponses,
) -> None:
    url = f"{BASE}/aiToolMetrics.pushAll"
    row = {"id": "m1", "email": "a@x.io", "date": "2025-01-15", "is_active": True, "tool": "t"}
    drifted = {"ok": True, "data": [{**row, "is_active": "yes"}]}  # a string in a bool field
    mocked.post(url, payload={"ok": True, "data": [row]})
    mocked.post(url, payload=drifted)
    mocked.post(url, payload={"ok": True, "data": [row]})
    rows = [{"email": "a@x.io", "date": "2025-01-15", "is_active": True, "tool": "t"}] * 3
    async with dxapi.DataCloudClient(token="t", instance="acme") as dc:
        report: BatchReport[Any, Any] = await dc.ai_tool_metrics.push_all_chunked(
            rows, chunk_size=1, concurrency=1
        )
    assert len(mocked.requests[("POST", URL(url))]) == 3  # nothing sent twice
    assert report.ok and report.failed == () and report.failed_items() == []
    assert [c.index for c in report.succeeded] == [0, 1, 2] and report.sent == 3
    (chunk,) = report.drifted
    assert chunk.index == 1 and chunk.result is None
    assert chunk.drift is not None and chunk.drift.accepted
    assert chunk.drift.path == "data[0].is_active" and chunk.drift.payload == drifted
    assert len(report.results) == 2  # the typed answers; the drifted one is in .drift


async def test_a_drifted_answer_without_ok_true_is_a_failed_chunk() -> None:
    def drift(accepted: bool) -> dxapi.ResponseValidationError:
        return dxapi.ResponseValidationError(
            "customData.setAll", result="R", path="x", declared="str", got="null",
            payload={}, accepted=accepted,
        )  # fmt: skip

    async def send(chunk: tuple[int, ...]) -> int:
        if chunk[0] == 1:
            raise drift(False)
        return chunk[0]

    report = await send_chunked("customData.setAll", send, range(3), chunk_size=1)
    assert [c.index for c in report.failed] == [1] and report.drifted == ()
    assert isinstance(report.failed[0].error, dxapi.ResponseValidationError)
