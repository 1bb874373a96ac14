"""The token bucket: never more than L grants in any window of W, and no budget wasted."""

from __future__ import annotations

import random
import time

import anyio
import pytest

from dxapi import RateLimit, TokenBucket


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _run(bucket: TokenBucket, n: int, hold: float, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    grants: list[float] = []

    async def one() -> None:
        with await bucket.acquire():
            grants.append(time.monotonic())
            await anyio.sleep(rng.uniform(0, hold))

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
    return grants


async def test_no_window_holds_more_than_the_limit_under_concurrent_load() -> None:
    rate = RateLimit(20, 0.25, margin=0.01)
    bucket = TokenBucket(rate)
    grants = await _run(bucket, 130, hold=0.02)
    assert len(grants) == 130
    assert max_in_window(grants, rate.per) <= rate.requests
    assert bucket.in_flight == 0


async def test_bursts_the_whole_allowance_then_follows_the_window() -> None:
    rate = RateLimit(50, 0.3, margin=0.0)
    bucket = TokenBucket(rate)
    start = time.monotonic()
    grants = await _run(bucket, 150, hold=0.0)
    offsets = sorted(t - start for t in grants)
    assert offsets[49] < 0.05  # the first L go at once
    assert 0.3 <= offsets[50] < 0.4  # the next wave waits one window, no more
    # Ideal finish: (ceil(N/L) - 1) * W = 0.6 s; allow scheduling slack only.
    assert offsets[-1] < 0.6 * 1.15


async def test_pause_stops_every_acquirer() -> None:
    bucket = TokenBucket(RateLimit(100, 1.0))
    bucket.pause_for(0.15)
    start = time.monotonic()
    (await bucket.acquire()).release()
    assert time.monotonic() - start >= 0.14


async def test_cancelled_waiters_take_no_token() -> None:
    bucket = TokenBucket(RateLimit(1, 0.2, margin=0.0))
    held = await bucket.acquire()
    with anyio.move_on_after(0.05):
        await bucket.acquire()  # waits for the one in-flight token; cancelled
    held.release()
    assert bucket.granted == 1
    start = time.monotonic()
    (await bucket.acquire()).release()  # the token returns one window after release
    assert 0.15 <= time.monotonic() - start < 0.4
    assert bucket.granted == 2


async def test_smooth_spaces_grants_evenly() -> None:
    rate = RateLimit.smooth(100, 1.0, share=0.5)  # 50 per second, 20 ms apart
    assert rate.requests == 50 and rate.min_interval == pytest.approx(0.02)
    bucket = TokenBucket(rate)
    grants = await _run(bucket, 10, hold=0.0)
    gaps = [b - a for a, b in zip(sorted(grants), sorted(grants)[1:], strict=False)]
    assert min(gaps) >= 0.019


def test_rate_limit_validation() -> None:
    with pytest.raises(ValueError, match="requests"):
        RateLimit(0, 1.0)
    with pytest.raises(ValueError, match="share"):
        RateLimit.smooth(10, 1.0, share=0)
    assert RateLimit.coerce((1000, 60)) == RateLimit(1000, 60.0)


async def test_a_free_token_never_jumps_the_queue() -> None:
    bucket = TokenBucket(RateLimit(1, 0.1, margin=0.0))
    held = await bucket.acquire()  # the free path: nobody queued
    order: list[str] = []

    async def take(name: str) -> None:
        with await bucket.acquire():
            order.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "first")
        await anyio.sleep(0.01)  # "first" now waits in the queue for the token
        held.release()
        tg.start_soon(take, "second")  # arrives later: must queue behind "first"
    assert order == ["first", "second"]
    assert bucket.granted == 3
