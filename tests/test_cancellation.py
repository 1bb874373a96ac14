"""Cancellation safety: a cancelled call gives back its connection and its limiter token.

One client, one local aiohttp server, 10,000 concurrent calls (single calls and three-page
iterations; some answers slow, some 503 so that tasks sit in backoff), a random share of them
cancelled at random moments: waiting for the limiter, for a pooled connection, mid-request,
mid-backoff, between pages. Afterwards nothing is held and nothing is stuck.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
import warnings
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

import dxapi
from dxapi import Client, RateLimit, RetryPolicy, Timeout

TASKS = 10_000


def make_app(rng: random.Random) -> web.Application:
    async def info(request: web.Request) -> web.Response:
        roll = rng.random()
        if roll < 0.05:
            return web.json_response({"ok": False, "error": "internal_error"}, status=503)
        if roll < 0.15:
            await asyncio.sleep(0.05)  # slow: cancellations land mid-request
        return web.json_response({"ok": True, "entity": {"identifier": "e"}})

    async def entities(request: web.Request) -> web.Response:
        page = int(request.query.get("cursor") or 0)
        nxt = str(page + 1) if page < 2 else None
        return web.json_response(
            {
                "ok": True,
                "entities": [{"identifier": f"e{page}-{i}"} for i in range(3)],
                "response_metadata": {"next_cursor": nxt},
            }
        )

    app = web.Application()
    app.router.add_get("/catalog.entities.info", info)
    app.router.add_get("/catalog.entities.list", entities)
    return app


@pytest.fixture
async def server() -> Any:
    runner = web.AppRunner(make_app(random.Random(7)), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def one_call(dx: Client, n: int) -> int:
    if n % 5 == 0:  # an iteration of three pages
        count = 0
        async for _ in dx.paginate("catalog.entities.list"):
            count += 1
        assert count == 9
        return count
    payload = await dx.call("catalog.entities.info", identifier=f"e{n}")
    return 1 if payload["ok"] else 0


async def test_ten_thousand_tasks_some_cancelled_leave_nothing_behind(
    server: str, token: str
) -> None:
    rng = random.Random(1234)
    started = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dx = Client(
            token=token,
            base_url=server,
            # Tokens come back 20 ms after use: tasks queue in the limiter as well as the pool.
            rate_limit=RateLimit(400, 0.02, margin=0.0),
            retries=RetryPolicy(max_retries=6, backoff=0.005, max_backoff=0.02),
            timeout=Timeout(read=10, connect=5, deadline=25),
            max_connections=50,
        )
        async with dx:
            connector = dx._session.transport.pool().connector
            assert connector is not None
            assert connector.limit == 50
            with anyio.fail_after(30):
                tasks = [asyncio.create_task(one_call(dx, n)) for n in range(TASKS)]
                doomed = rng.sample(range(TASKS), TASKS // 4)
                loop = asyncio.get_running_loop()
                for n in doomed:
                    loop.call_later(rng.uniform(0, 1.5), tasks[n].cancel)
                results = await asyncio.gather(*tasks, return_exceptions=True)

            cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
            failed = [r for r in results if isinstance(r, BaseException)]
            unexpected = [
                r for r in failed if not isinstance(r, asyncio.CancelledError | dxapi.APIError)
            ]
            assert not unexpected, unexpected[:3]
            assert all(t.done() for t in tasks)
            assert cancelled > 0, "no task was cancelled before it finished"
            assert sum(isinstance(r, int) for r in results) > TASKS // 2
            # Nothing held: every connection back in the pool, every token given back.
            assert len(connector._acquired) == 0
            assert not any(connector._waiters.values())
            assert dx.limiter is not None
            assert dx.limiter.in_flight == 0
            # Still fully usable afterwards.
            assert (await dx.call("catalog.entities.info", identifier="after"))["ok"] in (
                True,
                False,
            )
        del dx, tasks, results, failed
        gc.collect()
    elapsed = time.monotonic() - started
    unclosed = [w for w in caught if "nclosed" in str(w.message)]
    assert not unclosed, unclosed[:3]
    print(f"\n{TASKS} tasks, {cancelled} cancelled, {elapsed:.1f} s")
    assert elapsed < 30


async def test_cancel_while_waiting_for_the_limiter_takes_no_token(token: str) -> None:
    dx = Client(token=token, base_url="http://127.0.0.1:9", rate_limit=(1, 60.0))
    bucket = dx.limiter
    assert bucket is not None
    async with dx:
        first = await bucket.acquire()  # the only token, held
        task = asyncio.create_task(dx.call("catalog.entities.info", identifier="x"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert bucket.in_flight == 1  # only ours
        first.release()
        assert bucket.in_flight == 0
        assert dx.stats["requests"] == 0


async def test_cancel_mid_backoff_gives_back_connection_and_token(server: str, token: str) -> None:
    """A 429 with a long Retry-After parks the call in backoff; cancelling it leaves nothing."""

    async def limited(request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error": "rate_limited"}, status=429, headers={"Retry-After": "30"}
        )

    app = web.Application()
    app.router.add_get("/catalog.entities.info", limited)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with Client(
            token=token, base_url=f"http://{host}:{port}", rate_limit=(5, 1.0)
        ) as dx:
            task = asyncio.create_task(dx.call("catalog.entities.info", identifier="x"))
            while dx.stats["retries"] == 0:  # noqa: ASYNC110 - polling the client's counter
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            connector = dx._session.transport.pool().connector
            assert connector is not None
            assert len(connector._acquired) == 0
            assert dx.limiter is not None
            assert dx.limiter.in_flight == 0
    finally:
        await runner.cleanup()


async def test_cancel_mid_pagination_releases_everything(server: str, token: str) -> None:
    async with Client(token=token, base_url=server, rate_limit=(100, 1.0)) as dx:
        pages = dx.paginate("catalog.entities.list").raw_pages()
        seen = 0

        async def walk() -> None:
            nonlocal seen
            async for _ in pages:
                seen += 1
                await asyncio.sleep(10)  # parked between pages

        task = asyncio.create_task(walk())
        while seen == 0:  # noqa: ASYNC110 - polling the walker's counter
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await pages.aclose()  # type: ignore[attr-defined]
        connector = dx._session.transport.pool().connector
        assert connector is not None
        assert len(connector._acquired) == 0
        assert dx.limiter is not None
        assert dx.limiter.in_flight == 0


async def test_session_closes_cleanly_with_calls_in_flight(server: str, token: str) -> None:
    """Leaving ``async with`` while tasks still run closes the pool without warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with Client(token=token, base_url=server, rate_limit=None) as dx:
            tasks = [
                asyncio.create_task(dx.call("catalog.entities.info", identifier=str(i)))
                for i in range(50)
            ]
            await asyncio.sleep(0)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for r in results:
            assert isinstance(r, dict | dxapi.DXError | aiohttp.ClientError), r
        del dx, tasks, results
        gc.collect()
    assert not [w for w in caught if "nclosed" in str(w.message)]
