"""The sliding-window limit: pure behaviour, then a sustained burst over loopback HTTP."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from dxapi.testing import FakeDX, max_in_window
from dxapi.testing._window import SlidingWindow, retry_after_header


def test_window_admits_l_then_says_when_it_frees() -> None:
    w = SlidingWindow(3, 10.0)
    assert [w.admit("t", t) for t in (0.0, 1.0, 2.0)] == [None, None, None]
    assert w.admit("t", 5.0) == pytest.approx(5.0)  # the arrival at 0.0 leaves at 10.0
    assert w.admit("other", 5.0) is None  # per key
    assert w.admit("t", 10.0) is None
    assert w.admit("t", 10.5) == pytest.approx(0.5)


def test_refusals_do_not_count_and_retry_after_rounds_up() -> None:
    w = SlidingWindow(1, 1.0)
    assert w.admit("t", 0.0) is None
    for t in (0.1, 0.5, 0.9):
        assert w.admit("t", t) is not None
    assert w.admit("t", 1.0) is None
    assert retry_after_header(0.2) == "1"
    assert retry_after_header(1.01) == "2"


def test_max_in_window() -> None:
    assert max_in_window([0.0, 0.1, 0.2, 1.0, 1.05], 1.0) == 4  # [0.1, 1.1)
    assert max_in_window([0.0, 0.5, 1.0, 1.5], 1.0) == 2
    assert max_in_window([], 1.0) == 0


async def test_sustained_burst_never_exceeds_the_limit() -> None:
    limit, per = 50, 0.5
    async with FakeDX(entities=10, rate_limit=(limit, per)) as fake:
        headers = {"Authorization": f"Bearer {fake.token}"}
        refused: list[tuple[str | None, str]] = []
        deadline = time.monotonic() + 1.6

        async def hammer(http: aiohttp.ClientSession) -> None:
            while time.monotonic() < deadline:
                async with http.get(fake.url + "/auth.info", headers=headers) as resp:
                    if resp.status == 429:
                        body = await resp.json()
                        refused.append((resp.headers.get("Retry-After"), body["error"]))
                        await asyncio.sleep(0.005)
                    else:
                        assert resp.status == 200

        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(hammer(http) for _ in range(16)))
        counters = fake.counters
    assert counters.max_in_window(per) <= limit
    assert counters.accepted >= 2 * limit  # the window frees and is reused
    assert counters.refused_429 == len(refused) > 0
    assert all(error == "rate_limited" for _, error in refused)
    assert all(ra is not None and int(ra) == 1 for ra, _ in refused)  # ceil(<= 0.5 s)


async def test_each_token_has_its_own_window() -> None:
    async with FakeDX(entities=1, rate_limit=(2, 60.0), tokens={"second": None}) as fake:
        async with aiohttp.ClientSession() as http:
            statuses = []
            for token in (fake.token, fake.token, fake.token, "second"):
                headers = {"Authorization": f"Bearer {token}"}
                async with http.get(fake.url + "/auth.info", headers=headers) as resp:
                    statuses.append(resp.status)
                    retry_after = resp.headers.get("Retry-After")
        assert statuses == [200, 200, 429, 200]
        assert retry_after is None
        assert fake.counters.refused_429 == 1


async def test_sdk_limiter_at_the_same_limit_gets_no_429() -> None:
    async with FakeDX(entities=1, rate_limit=(40, 0.5)) as fake:
        async with fake.client(rate_limit=(40, 0.5)) as dx:
            await asyncio.gather(*(dx.call("auth.info") for _ in range(120)))
        assert fake.counters.refused_429 == 0
        assert fake.counters.accepted == 120
        assert fake.counters.max_in_window(0.5) <= 40
