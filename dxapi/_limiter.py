"""Client-side rate limiting: a token bucket whose tokens come back one window after use.

DX counts requests over a sliding window (1000 per 60 s per account). A classic bucket that
refills at a steady rate either bursts past that window or gives up the opening burst. Here a
spent token returns ``per + margin`` seconds after its request *finished* (when the answer
came, or the attempt failed), which is never earlier than when the server counted it. So no
window of the server's ever holds more than ``requests`` of ours, a bulk job bursts the whole
allowance at once, and then sends exactly as fast as the window frees.

The bucket knows nothing of HTTP. A 429 from elsewhere on the account pauses it for everyone
(:meth:`TokenBucket.pause_until`). Time comes from an injected :class:`Clock`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Protocol

import anyio

from ._config import RateLimit

__all__ = ["MONOTONIC", "Clock", "KeyedLimiter", "Permit", "TokenBucket"]


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class _Monotonic:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


MONOTONIC: Clock = _Monotonic()


class Permit:
    """One spent token: ``release()`` it when the attempt ends; it returns a window later."""

    __slots__ = ("_bucket", "_released")

    def __init__(self, bucket: TokenBucket) -> None:
        self._bucket = bucket
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._bucket._give_back()

    def __enter__(self) -> Permit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class TokenBucket:
    """Shared by every task of a client (or of several clients, when passed to each)."""

    def __init__(self, rate: RateLimit | tuple[int, float], clock: Clock = MONOTONIC) -> None:
        self.rate = RateLimit.coerce(rate)
        self._clock = clock
        self._free = self.rate.requests
        self._returns: deque[float] = deque()  # when spent-and-finished tokens come back
        self._paused_until = -math.inf
        self._last_grant = -math.inf
        self._lock: anyio.Lock | None = None
        self._released: anyio.Event | None = None
        #: Tokens granted so far (for progress displays and tests).
        self.granted = 0

    @property
    def in_flight(self) -> int:
        return self.rate.requests - self._free - len(self._returns)

    def pause_until(self, when: float) -> None:
        """Stop granting tokens until clock time ``when`` (after a 429 from the server)."""
        self._paused_until = max(self._paused_until, when)

    def pause_for(self, seconds: float) -> None:
        self.pause_until(self._clock.now() + seconds)

    async def acquire(self) -> Permit:
        """Wait for a token, first come first served. Cancelling the wait takes nothing."""
        if self._lock is None:
            self._lock = anyio.Lock()
        if not self._lock.locked():  # nobody queued: take a free token without the lock
            permit = self._grant(self._clock.now())
            if permit is not None:
                return permit
        async with self._lock:
            while True:
                now = self._clock.now()
                permit = self._grant(now)
                if permit is not None:
                    return permit
                delay = max(
                    self._paused_until - now, self._last_grant + self.rate.min_interval - now
                )
                if delay > 0:
                    await self._clock.sleep(delay)
                    continue
                if self._returns:
                    await self._clock.sleep(max(0.0, self._returns[0] - now))
                else:  # every token is in flight: wait for an attempt to finish
                    self._released = anyio.Event()
                    await self._released.wait()

    def _grant(self, now: float) -> Permit | None:
        """A token now, if one is free and no pause or spacing holds it back."""
        self._collect(now)
        if (
            self._free <= 0
            or now < self._paused_until
            or now < self._last_grant + self.rate.min_interval
        ):
            return None
        self._free -= 1
        self._last_grant = now
        self.granted += 1
        return Permit(self)

    def _collect(self, now: float) -> None:
        while self._returns and self._returns[0] <= now:
            self._returns.popleft()
            self._free += 1

    def _give_back(self) -> None:
        self._returns.append(self._clock.now() + self.rate.per + self.rate.margin)
        if self._released is not None:
            self._released.set()
            self._released = None


class KeyedLimiter:
    """One small bucket per key (e.g. per query-run id), created on first use."""

    def __init__(self, rate: RateLimit, clock: Clock = MONOTONIC, max_keys: int = 4096) -> None:
        self.rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    async def acquire(self, key: str) -> Permit:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._evict_idle()
            bucket = self._buckets[key] = TokenBucket(self.rate, self._clock)
        return await bucket.acquire()

    def _evict_idle(self) -> None:
        now = self._clock.now()
        for key, bucket in list(self._buckets.items()):
            bucket._collect(now)
            if bucket._free == bucket.rate.requests:
                del self._buckets[key]
