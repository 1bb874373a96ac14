"""The token bucket: never more than L grants in any window of W, and no budget wasted."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

import dxapi
from dxapi import LimiterClosedError, RateLimit, TokenBucket


class ManualClock:
    """A clock that moves only when the test says so: no test here sleeps for real, so what
    they assert holds exactly, however busy the machine."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.t + max(0.0, seconds), future))
        await future

    async def advance(self, seconds: float) -> None:
        await self._jump(self.t + seconds)

    async def _jump(self, when: float) -> None:
        self.t = when
        for wake, future in list(self._sleepers):
            if wake <= self.t:
                self._sleepers.remove((wake, future))
                if not future.done():
                    future.set_result(None)
        await settle()

    async def run(self, *tasks: asyncio.Future[Any]) -> None:
        """Until ``tasks`` are done: whenever every task waits, jump to the next wake-up."""
        await settle()
        while not all(t.done() for t in tasks):
            pending = [wake for wake, future in self._sleepers if not future.done()]
            assert pending, "every task waits and nothing sleeps: a lost wake-up"
            await self._jump(min(pending))
        await asyncio.gather(*tasks)


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _run(
    bucket: TokenBucket, clock: ManualClock, n: int, hold: float, seed: int = 1
) -> tuple[list[float], list[float]]:
    """``n`` concurrent calls, each holding its token ``0..hold`` s: (grants, releases)."""
    rng = random.Random(seed)
    grants: list[float] = []
    releases: list[float] = []

    async def one() -> None:
        with await bucket.acquire():
            grants.append(clock.now())
            await clock.sleep(rng.uniform(0, hold))
            releases.append(clock.now())

    await clock.run(*(asyncio.create_task(one()) for _ in range(n)))
    return grants, releases


async def test_no_window_holds_more_than_the_limit_under_concurrent_load() -> None:
    clock = ManualClock()
    rate = RateLimit(20, 0.25, margin=0.01)
    bucket = TokenBucket(rate, clock)
    grants, releases = await _run(bucket, clock, 130, hold=0.02)
    assert len(grants) == 130
    assert max_in_window(grants, rate.per) <= rate.requests
    assert bucket.in_flight == 0
    # No budget wasted: after the first L, each grant is the moment a token came back.
    back = sorted(r + rate.per + rate.margin for r in releases)
    assert sorted(grants)[rate.requests :] == pytest.approx(back[: 130 - rate.requests])


async def test_bursts_the_whole_allowance_then_follows_the_window() -> None:
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(50, 1.0, margin=0.0), clock)
    grants, _ = await _run(bucket, clock, 150, hold=0.0)
    # The first L at once, the next wave exactly one window later, and so on.
    assert grants == [0.0] * 50 + [1.0] * 50 + [2.0] * 50


async def test_pause_stops_every_acquirer() -> None:
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(100, 1.0), clock)
    bucket.pause_for(0.15)
    granted_at: list[float] = []

    async def call() -> None:
        with await bucket.acquire():
            granted_at.append(clock.now())

    await clock.run(*(asyncio.create_task(call()) for _ in range(3)))
    assert granted_at == [0.15] * 3


async def test_cancelled_waiters_take_no_token() -> None:
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(1, 0.2, margin=0.0), clock)
    held = await bucket.acquire()
    waiting = asyncio.create_task(bucket.acquire())  # waits for the one in-flight token …
    await clock.advance(0.05)
    waiting.cancel()  # … and gives up
    await settle()
    held.release()  # at 0.05: the token returns one window after its release
    assert bucket.granted == 1
    later = asyncio.create_task(bucket.acquire())
    await clock.run(later)
    later.result().release()
    assert clock.now() == pytest.approx(0.25)
    assert bucket.granted == 2


async def test_smooth_spaces_grants_evenly() -> None:
    rate = RateLimit.smooth(100, 1.0, share=0.5)  # 50 per second, 20 ms apart
    assert rate.requests == 50 and rate.min_interval == pytest.approx(0.02)
    clock = ManualClock()
    grants, _ = await _run(TokenBucket(rate, clock), clock, 10, hold=0.0)
    assert grants == pytest.approx([i * 0.02 for i in range(10)])


def test_rate_limit_validation() -> None:
    with pytest.raises(ValueError, match="requests"):
        RateLimit(0, 1.0)
    with pytest.raises(ValueError, match="share"):
        RateLimit.smooth(10, 1.0, share=0)
    assert RateLimit.coerce((1000, 60)) == RateLimit(1000, 60.0)


async def test_a_free_token_never_jumps_the_queue() -> None:
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(1, 0.1, margin=0.0), clock)
    held = await bucket.acquire()  # the free path: nobody queued
    order: list[str] = []

    async def take(name: str) -> None:
        with await bucket.acquire():
            order.append(name)

    held.release()  # the token comes back at 0.1
    first = asyncio.create_task(take("first"))
    await settle()  # "first" waits in the queue, on the clock, until 0.1
    clock.t = 0.1  # the token is back and free, and "first" has not woken up yet
    second = asyncio.create_task(take("second"))  # arrives later: must queue behind "first"
    await clock.run(first, second)
    assert order == ["first", "second"]
    assert bucket.granted == 3


async def test_after_a_pause_every_queued_task_resumes_at_once() -> None:
    """A 429 arriving just after the pause ends must not hold the rest of the queue back."""
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(100, 10.0), clock)
    bucket.pause_for(1.0)
    granted_at: list[float] = []

    async def call() -> None:
        permit = await bucket.acquire()
        granted_at.append(clock.now())
        if len(granted_at) == 1:
            bucket.pause_for(1.0)  # the first resumed call meets another 429 at once
        permit.release()

    tasks = [asyncio.create_task(call()) for _ in range(50)]
    await settle()
    assert granted_at == []  # paused
    await clock.advance(1.0)
    assert granted_at == [1.0] * 50  # the whole queue went when the pause ended
    await asyncio.gather(*tasks)


async def test_queued_tasks_follow_the_window_as_tokens_return() -> None:
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(10, 1.0, margin=0.0), clock)
    granted_at: list[float] = []

    async def call() -> None:
        with await bucket.acquire():  # type: ignore[attr-defined]
            granted_at.append(clock.now())

    tasks = [asyncio.create_task(call()) for _ in range(30)]
    await settle()
    for _ in range(2):
        await clock.advance(1.0)
    await asyncio.gather(*tasks)
    assert granted_at == [0.0] * 10 + [1.0] * 10 + [2.0] * 10


async def test_aclose_fails_every_queued_call_at_once() -> None:
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(2, 60.0), clock)
    held = [await bucket.acquire(), await bucket.acquire()]  # every token in flight
    bucket.pause_for(3600)  # and a long pause: the head sleeps on the clock
    waiting = [asyncio.create_task(bucket.acquire()) for _ in range(20)]
    await settle()
    assert not any(t.done() for t in waiting)
    await bucket.aclose()
    await settle()  # no clock advance: the close alone ends every wait
    for task in waiting:
        with pytest.raises(LimiterClosedError, match="closed while the call waited"):
            task.result()
    assert isinstance(LimiterClosedError("x"), dxapi.TransportError)
    for permit in held:
        permit.release()
    assert bucket.in_flight == 0 and bucket.granted == 2
    # Closed is idle, not dead: a client can be re-entered and use it again.
    bucket._paused_until = 0.0
    await clock.advance(61.0)
    (await bucket.acquire()).release()
    assert bucket.granted == 3


async def test_a_granted_but_cancelled_waiter_gives_its_token_to_the_next() -> None:
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(2, 1.0, margin=0.0), clock)
    held = [await bucket.acquire(), await bucket.acquire()]
    tasks: dict[str, asyncio.Task[Any]] = {}

    async def first() -> Any:
        permit = await bucket.acquire()  # its grant also grants "second" in the same step
        tasks["second"].cancel()  # which is cancelled before it could run
        return permit

    tasks["first"] = asyncio.create_task(first())
    await settle()
    tasks["second"] = asyncio.create_task(bucket.acquire())
    tasks["third"] = asyncio.create_task(bucket.acquire())
    await settle()
    for permit in held:
        permit.release()
    await clock.advance(1.0)  # both tokens come back
    assert tasks["second"].cancelled()
    assert tasks["third"].done()  # the cancelled grant went to the next in line
    assert bucket.granted == 4  # 2 held, first, third
    assert bucket.in_flight == 2


def test_token_bucket_is_a_limiter() -> None:
    assert isinstance(TokenBucket((10, 1.0)), dxapi.Limiter)


async def test_closing_the_client_fails_its_queued_calls_at_once() -> None:
    """A default client owns its bucket: aclose() ends the waits instead of a window later."""
    dx = dxapi.Client(token="t", base_url="http://127.0.0.1:9", rate_limit=(1, 60.0), retries=0)
    with pytest.raises(dxapi.TransportError):  # nothing listens: the only token is spent
        await dx.call("catalog.entities.info", identifier="a")
    queued = [
        asyncio.create_task(dx.call("catalog.entities.info", identifier="b")) for _ in range(5)
    ]
    await settle()
    assert not any(t.done() for t in queued)  # waiting for the token (back in 60 s)
    await dx.aclose()
    await settle()  # no time passes: the close alone ends every wait
    assert all(t.done() for t in queued)
    results = [t.exception() for t in queued]
    assert all(isinstance(r, LimiterClosedError) for r in results), results
