"""RedisLimiter against a real redis-server started on a free loopback port.

Times asserted on are Redis's own (``permit.granted_at``, ms): the scripts read ``TIME``.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import dxapi
from dxapi import LimiterClosedError, LimiterUnavailableError, RateLimit, RedisLimiter
from dxapi._redis_limiter import default_key
from dxapi.testing import FakeDX, max_in_window
from tests._redis import RedisServer, redis_server


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
async def limiters(redis: RedisServer) -> AsyncIterator[list[RedisLimiter]]:
    """Limiters a test makes through ``make``; all closed at the end."""
    made: list[RedisLimiter] = []
    yield made
    for limiter in made:
        await limiter.aclose()


def make(made: list[RedisLimiter], url: str, rate: Any, **options: Any) -> RedisLimiter:
    options.setdefault("key", "test")
    limiter = RedisLimiter.from_url(url, rate, **options)
    made.append(limiter)
    return limiter


async def redis_now_ms(url: str) -> int:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        seconds, micros = await client.time()
        return int(seconds) * 1000 + int(micros) // 1000
    finally:
        await client.aclose()


class Calls:
    """What ``run_calls`` saw: Redis's grant times (ms), and local times of use and release."""

    def __init__(self) -> None:
        self.grants: list[int] = []
        self.used: list[float] = []
        self.released: list[float] = []

    def returns_after_release(self, rate: RateLimit) -> list[float]:
        """Per token reuse, seconds from a release to the use it made possible, sorted.

        With every call queued from the start, the k-th use (k >= limit) needs the
        (k - limit)-th release's token back: never sooner than ``per + margin`` after it.
        """
        used, released = sorted(self.used), sorted(self.released)
        limit = rate.requests
        return sorted(used[k] - released[k - limit] for k in range(limit, len(used)))


async def run_calls(limiters: list[RedisLimiter], n: int, hold: float) -> Calls:
    rng = random.Random(3)
    calls = Calls()

    async def one(i: int) -> None:
        permit: Any = await limiters[i % len(limiters)].acquire()
        calls.used.append(time.monotonic())
        calls.grants.append(permit.granted_at)
        await asyncio.sleep(rng.uniform(0, hold))
        calls.released.append(time.monotonic())
        permit.release()

    await asyncio.gather(*(one(i) for i in range(n)))
    return calls


# ------------------------------------------------------------------- the scripts


async def test_never_more_than_the_limit_in_any_window_across_processes(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    """Judged on Redis's clock and on each token's reuse, never on the run's wall time.

    A slow machine stretches the holds and the whole run, but not these: Redis's grant times
    stay inside the limit whatever the delays, and each reuse waits one window after the
    release that freed its token (a lower bound delays only lengthen).
    """
    rate = RateLimit(20, 0.4, margin=0.02)
    group = [make(limiters, redis.url, rate) for _ in range(4)]  # four "processes"
    calls = await run_calls(group, 130, hold=0.03)
    assert len(calls.grants) == 130
    assert max_in_window(sorted(g / 1000 for g in calls.grants), rate.per) <= rate.requests
    assert sum(lim.granted for lim in group) == 130
    waits = calls.returns_after_release(rate)
    assert waits[0] >= rate.per + rate.margin - 0.002  # never early (ms rounding aside)
    # ...and on time: reserved ahead and handed out by a local timer, not found by the 1-s
    # poll (the median: one stalled scheduling slice cannot move it).
    assert waits[len(waits) // 2] < rate.per + rate.margin + 0.1


async def test_a_token_returns_one_window_plus_margin_after_release(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    limiter = make(limiters, redis.url, RateLimit(1, 0.3, margin=0.05))
    first: Any = await limiter.acquire()
    await asyncio.sleep(0.2)  # a long attempt: the window counts from its end
    released_at = await redis_now_ms(redis.url)
    first.release()
    second: Any = await limiter.acquire()
    gap = second.granted_at - released_at
    assert 350 <= gap < 350 + 200
    second.release()


async def test_a_shared_pause_and_min_interval_hold_every_process(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    a = make(limiters, redis.url, RateLimit(100, 1.0))
    b = make(limiters, redis.url, RateLimit(100, 1.0))
    (await a.acquire()).release()
    a.pause_for(0.4)
    paused_at = await redis_now_ms(redis.url)
    await asyncio.sleep(0.05)  # the pause travels to Redis in the background
    permit: Any = await b.acquire()
    assert permit.granted_at - paused_at >= 340
    spaced = make(limiters, redis.url, RateLimit.smooth(100, 1.0), key="spaced")
    other = make(limiters, redis.url, RateLimit.smooth(100, 1.0), key="spaced")
    grants = (await run_calls([spaced, other], 6, hold=0.0)).grants
    gaps = [y - x for x, y in zip(sorted(grants), sorted(grants)[1:], strict=False)]
    assert min(gaps) >= 10  # 100 per second: 10 ms apart, whichever process asks


async def test_a_reservation_given_back_unused_stays_out_until_its_return(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    """A waiter reserves a token on its way back, then leaves: nobody gets it early."""
    first = make(limiters, redis.url, RateLimit(1, 0.5, margin=0.0))
    other = make(limiters, redis.url, RateLimit(1, 0.5, margin=0.0))
    held: Any = await first.acquire()
    released_at = await redis_now_ms(redis.url)
    held.release()
    await asyncio.sleep(0.05)  # the release reaches Redis
    leaving = asyncio.create_task(first.acquire())
    await asyncio.sleep(0.1)
    assert first._reserved and not leaving.done()  # reserved, waiting for the return
    leaving.cancel()
    await asyncio.sleep(0.05)  # the reservation goes back
    permit: Any = await other.acquire()
    assert permit.granted_at >= released_at + 500
    permit.release()


@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "decode_responses"])
async def test_a_pause_published_by_another_process_holds_back_reservations(
    redis: RedisServer, limiters: list[RedisLimiter], decode: bool
) -> None:
    options = {"decode_responses": True} if decode else None
    waiting = make(limiters, redis.url, RateLimit(2, 0.4, margin=0.0), redis_options=options)
    pausing = make(limiters, redis.url, RateLimit(2, 0.4, margin=0.0))
    for p in [await waiting.acquire(), await waiting.acquire()]:
        p.release()
    await asyncio.sleep(0.05)
    calls = [asyncio.create_task(waiting.acquire()) for _ in range(2)]
    await asyncio.sleep(0.1)
    assert len(waiting._reserved) == 2  # both tokens reserved from their return, ~0.25 s on
    paused_at = await redis_now_ms(redis.url)
    pausing.pause_for(0.8)
    permits: list[Any] = await asyncio.gather(*calls)
    assert min(p.granted_at for p in permits) >= paused_at + 800
    for p in permits:
        p.release()


async def test_calls_joining_while_tokens_are_free_are_asked_for_at_once(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    """Collecting joiners before asking is for when nothing is free (here it would take 1 s)."""
    limiter = make(limiters, redis.url, RateLimit(1000, 60.0))

    async def loop() -> None:
        for _ in range(10):
            (await limiter.acquire()).release()
            await asyncio.sleep(0)

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(loop() for _ in range(32))), 30)
    assert limiter.granted == 320
    assert time.monotonic() - started < 5.0  # a 1-s wait per round would take 10 s


# ------------------------------------------------------------------------ leases

_HOLDER = """
import asyncio, sys
import dxapi

async def main():
    limiter = dxapi.RedisLimiter.from_url(sys.argv[1], (5, 0.5), key="test", lease=1.0)
    permits = [await limiter.acquire() for _ in range(5)]
    print(max(p.granted_at for p in permits), flush=True)
    await asyncio.sleep(60)  # holds every permit until killed

asyncio.run(main())
"""


async def test_permits_of_a_killed_process_come_back_after_the_lease(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", textwrap.dedent(_HOLDER), redis.url, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 20)
        held_until = int(line) + 1000  # the child's lease
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    survivor = make(limiters, redis.url, (5, 0.5))
    killed = time.monotonic()
    permits: list[Any] = [await survivor.acquire() for _ in range(5)]  # the full budget
    # Never early (a dead holder's attempt counts as finished when its lease ran out)...
    assert min(p.granted_at for p in permits) >= held_until + 500
    # ...and not much later: lease + window + margin, woken by the computed wait.
    assert time.monotonic() - killed < 1.0 + 0.55 + 0.5
    for p in permits:
        p.release()


# -------------------------------------------------------------------- shared 429


async def test_one_processs_429_pauses_the_others(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    """Both clients believe in 100 per 2 s; the server allows 10. One 429, then nobody sends."""
    async with FakeDX(rate_limit=(10, 2.0)) as fake:
        a_limit = make(limiters, redis.url, (100, 2.0), key=None)
        b_limit = make(limiters, redis.url, (100, 2.0), key=None)
        async with fake.client(limiter=a_limit) as a, fake.client(limiter=b_limit) as b:
            assert a_limit.key == b_limit.key  # the same token and server: the same budget
            first = asyncio.gather(*(a.call("catalog.entities.list") for _ in range(11)))
            first_task = asyncio.ensure_future(first)
            while a.stats["429"] == 0:  # noqa: ASYNC110 - polling the client's counter
                await asyncio.sleep(0.005)
            refused_at = time.monotonic()
            await asyncio.sleep(0.05)  # the pause travels through Redis
            await asyncio.gather(*(b.call("catalog.entities.list") for _ in range(5)))
            waited = time.monotonic() - refused_at
            await first_task
        assert fake.counters.refused_429 == 1  # no second 429 inside the pause
        assert a.stats["429"] == 1 and b.stats["429"] == 0
        assert waited >= 1.9  # Retry-After: 2 held the other process too
        assert fake.counters.max_in_window(2.0) <= 10


# --------------------------------------------------------------------- clock skew


class SkewedClock:
    """A host whose clocks are a year ahead: local time only ever measures durations."""

    def now(self) -> float:
        return time.monotonic() + 365 * 86400

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_hosts_with_skewed_clocks_agree(
    redis: RedisServer, limiters: list[RedisLimiter], monkeypatch: pytest.MonkeyPatch
) -> None:
    rate = RateLimit(10, 0.3, margin=0.02)
    straight = make(limiters, redis.url, rate)
    skewed = make(limiters, redis.url, rate, clock=SkewedClock())
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 7200)  # wall clock unused too
    skewed.pause_for(0.2)  # a local pause on the skewed clock lasts 0.2 s, not a year
    calls = await asyncio.wait_for(run_calls([straight, skewed], 40, hold=0.01), 30)
    assert max_in_window(sorted(g / 1000 for g in calls.grants), rate.per) <= rate.requests
    assert straight.granted > 0 and skewed.granted > 0
    waits = calls.returns_after_release(rate)
    assert waits[0] >= rate.per + rate.margin - 0.002
    assert waits[len(waits) // 2] < rate.per + rate.margin + 0.1


# --------------------------------------------------------- waiting and closing


async def test_a_release_in_another_process_wakes_a_waiter_through_pubsub(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    rate = RateLimit(1, 0.2, margin=0.0)
    holder = make(limiters, redis.url, rate)
    waiter = make(limiters, redis.url, rate, poll=30.0)  # without pub/sub it would wait 30 s
    held = await holder.acquire()
    waiting = asyncio.create_task(waiter.acquire())
    await asyncio.sleep(0.3)
    assert not waiting.done()
    released = time.monotonic()
    held.release()
    permit = await asyncio.wait_for(waiting, 5)
    assert 0.15 <= time.monotonic() - released < 1.0
    permit.release()


async def test_aclose_fails_every_queued_call_at_once(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    limiter = make(limiters, redis.url, RateLimit(2, 60.0))
    held = [await limiter.acquire(), await limiter.acquire()]
    waiting = [asyncio.create_task(limiter.acquire()) for _ in range(10)]
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await limiter.aclose()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert time.monotonic() - started < 0.5
    assert all(isinstance(r, LimiterClosedError) for r in results)
    for p in held:
        p.release()
    await limiter.aclose()  # the releases reach Redis: usable again after a close
    assert limiter._redis is None


# ------------------------------------------------------------ Redis going away


async def test_redis_going_away_fails_fast_with_a_typed_error(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    limiter = make(limiters, redis.url, RateLimit(100, 1.0))
    (await limiter.acquire()).release()
    waiting = [asyncio.create_task(limiter.acquire()) for _ in range(5)]
    redis.stop()
    started = time.monotonic()
    more = [asyncio.create_task(limiter.acquire()) for _ in range(5)]
    results = await asyncio.gather(*waiting, *more, return_exceptions=True)
    errors = [r for r in results if not isinstance(r, BaseException)]
    for permit in errors:  # the first five may have been granted before the stop
        permit.release()
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) >= 5
    assert all(isinstance(r, LimiterUnavailableError) for r in refused)
    assert isinstance(refused[0], dxapi.TransportError)
    assert "unreachable" in str(refused[0])
    assert time.monotonic() - started < 3.0


async def test_without_redis_the_fallback_share_applies_never_unlimited(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    limiter = make(limiters, redis.url, RateLimit(100, 1.0), fallback=RateLimit(2, 30.0))
    (await limiter.acquire()).release()
    redis.stop()
    local = [await limiter.acquire(), await limiter.acquire()]  # this process's share
    third = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.3)
    assert not third.done()  # the share is spent: it waits, it is not waved through
    third.cancel()
    for p in local:
        p.release()


# --------------------------------------------------------------- configuration


def test_the_default_key_is_a_fingerprint_never_the_token() -> None:
    token = "dxsecret_" + "a" * 40
    key = default_key("https://api.getdx.com", token)
    assert token not in key and "dxsecret" not in key
    assert key.startswith("api.getdx.com:")
    assert key == default_key("https://api.getdx.com/", token)
    assert key != default_key("https://api.getdx.com", token + "b")
    limiter = RedisLimiter.from_url("redis://127.0.0.1:1", (10, 1.0))
    limiter.bind("https://api.getdx.com", token, dxapi.Timeout())
    assert token not in repr(limiter)
    with pytest.raises(ValueError, match="another account"):
        limiter.bind("https://api.getdx.com", "another-token", dxapi.Timeout())
    with pytest.raises(ValueError, match="redis://"):
        RedisLimiter.from_url("http://127.0.0.1:6379")


def test_the_lease_covers_the_clients_attempt_timeout() -> None:
    limiter = RedisLimiter.from_url("redis://127.0.0.1:1", (10, 1.0), key="k")
    dxapi.Client(token="t", base_url="http://127.0.0.1:9", limiter=limiter, timeout=300.0)
    assert limiter.lease == 310.0  # connect + read
    fixed = RedisLimiter.from_url("redis://127.0.0.1:1", (10, 1.0), key="k", lease=5.0)
    dxapi.Client(token="t", base_url="http://127.0.0.1:9", limiter=fixed, timeout=300.0)
    assert fixed.lease == 5.0


async def test_dx_rate_limit_url_makes_every_client_share_through_redis(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DX_RATE_LIMIT_URL", redis.url)
    async with FakeDX() as fake:
        async with fake.client(rate_limit=(50, 1.0)) as dx:
            assert isinstance(dx.limiter, RedisLimiter)
            assert dx.limiter.key == default_key(fake.url, fake.token)
            assert dx.limiter.rate == RateLimit(50, 1.0)
            await dx.call("catalog.entities.list")
            assert dx.limiter.granted == 1
        assert dx.limiter._redis is None  # the client closed the limiter it made
        dc = dxapi.DataCloudClient(token=fake.token, base_url=fake.url + "/api")
        assert isinstance(dc.limiter, RedisLimiter)
        assert dc.limiter.key == default_key(fake.url, fake.token)


async def test_cli_limiter_option_shares_the_budget(redis: RedisServer) -> None:
    from dxapi.cli.__main__ import build_parser
    from dxapi.cli._env import open_env

    opts = build_parser().parse_args(["--fake", "--limiter", redis.url, "methods"])
    async with open_env(opts) as env:
        assert isinstance(env.web.limiter, RedisLimiter)
        assert env.datacloud is not None and env.datacloud.limiter is env.web.limiter
        await env.web.call("catalog.entities.list")
        limiter = env.web.limiter
    assert limiter.granted == 1 and limiter._redis is None


def test_ci_never_skips_the_redis_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import _redis

    monkeypatch.setattr(_redis.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        _redis.redis_binary()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        _redis.redis_binary()


async def test_a_cancelled_acquire_leaves_no_permit_behind(
    redis: RedisServer, limiters: list[RedisLimiter]
) -> None:
    """A deadline ends an acquire whose request Redis runs later: the grant is not lost."""
    import redis.asyncio as aioredis

    limiter = make(limiters, redis.url, RateLimit(1000, 60.0))
    (await limiter.acquire()).release()  # connected, scripts loaded
    client = aioredis.Redis.from_url(redis.url)
    try:
        await client.execute_command("CLIENT", "PAUSE", 300, "ALL")  # queue every command
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(limiter.acquire(), 0.1)  # sent, not yet run by Redis
        await asyncio.sleep(0.5)  # Redis runs it: the late grant is handed back unused
        assert limiter.granted == 2  # Redis did grant the cancelled request...
        assert await client.zcard("dxapi:rl:{test}:held") == 0  # ...and it came back
        assert await client.zcard("dxapi:rl:{test}:back") == 1  # unused: free at once
    finally:
        await client.aclose()
