"""Client-side rate limiting: the :class:`Limiter` interface and the in-process token bucket.

DX counts requests over a sliding window (1000 per 60 s per account). A classic bucket that
refills at a steady rate either bursts past that window or gives up the opening burst. Here a
spent token returns ``per + margin`` seconds after its request *finished* (when the answer
came, or the attempt failed), which is never earlier than when the server counted it. So no
window of the server's ever holds more than ``requests`` of ours, a bulk job bursts the whole
allowance at once, and then sends exactly as fast as the window frees.

Waiters queue first come first served. Whenever tokens are available (a pause ends, tokens
return) every waiter they cover is granted in one step, so a 429 answer arriving meanwhile
cannot hold the rest of the queue back to one grant per pause. :meth:`TokenBucket.aclose`
fails every queued waiter at once with :class:`LimiterClosedError`.

The bucket knows nothing of HTTP. Time comes from an injected :class:`Clock`.
:class:`dxapi.RedisLimiter` implements the same interface across processes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ._config import RateLimit
from ._errors import TransportError

__all__ = [
    "MONOTONIC",
    "Clock",
    "KeyedLimiter",
    "Limiter",
    "LimiterClosedError",
    "LimiterUnavailableError",
    "Permit",
    "TokenBucket",
]


class LimiterClosedError(TransportError):
    """The limiter (with its client) was closed while the call waited for a permit."""


class LimiterUnavailableError(TransportError):
    """The shared limiter's store (Redis) cannot be reached and no fallback is configured."""


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class _Monotonic:
    now = staticmethod(time.monotonic)  # the C function itself: no Python frame per reading

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


MONOTONIC: Clock = _Monotonic()


class Permit(Protocol):
    """One spent token: ``release()`` it when the attempt ends (idempotent)."""

    def release(self) -> None: ...


@runtime_checkable
class Limiter(Protocol):
    """What a client needs from a rate limiter; ``Client(limiter=...)`` takes any of them.

    ``acquire()`` waits for a permit (cancelling the wait takes nothing); ``pause_for()``
    stops every grant for a while after a 429; ``aclose()`` fails every queued ``acquire``
    with :class:`LimiterClosedError` and frees resources (the limiter may be used again).
    """

    async def acquire(self) -> Permit: ...

    def pause_for(self, seconds: float) -> None: ...

    async def aclose(self) -> None: ...


class _Token:
    __slots__ = ("_bucket",)

    def __init__(self, bucket: TokenBucket) -> None:
        self._bucket: TokenBucket | None = bucket  # None once released

    def release(self) -> None:
        """The token starts on its way back to the bucket (once, however often called)."""
        bucket = self._bucket
        if bucket is not None:
            self._bucket = None
            bucket._returns.append(bucket._clock.now() + bucket.rate.per + bucket.rate.margin)
            if bucket._queue:
                bucket._queue[0].wake()  # it may have been waiting for any attempt to finish

    def __enter__(self) -> _Token:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Ticket:
    """One queued ``acquire``: granted a permit, failed with an error, or woken to look again.

    A wake that comes while the waiter is not waiting is kept, so none is lost.
    """

    __slots__ = ("_future", "_woken", "error", "permit")

    def __init__(self) -> None:
        self.permit: Permit | None = None
        self.error: BaseException | None = None
        self._future: asyncio.Future[None] | None = None
        self._woken = False

    @property
    def settled(self) -> bool:
        return self.permit is not None or self.error is not None

    def wake(self) -> None:
        self._woken = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    async def wait(self, clock: Clock, delay: float | None) -> None:
        """Until woken, or ``delay`` seconds of ``clock`` (None: until woken)."""
        if self._woken or self.settled:
            self._woken = False
            return
        self._future = future = asyncio.get_running_loop().create_future()
        try:
            if delay is None:
                await future
            else:
                sleeper = asyncio.ensure_future(clock.sleep(delay))
                try:
                    await asyncio.wait((future, sleeper), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
        finally:
            self._future = None
            self._woken = False


def fail_all(queue: deque[Ticket], error: BaseException) -> None:
    """Fail and wake every waiter of ``queue`` (at close)."""
    while queue:
        waiter = queue.popleft()
        if not waiter.settled:
            waiter.error = error
        waiter.wake()


def closed_error() -> LimiterClosedError:
    return LimiterClosedError("the rate limiter was closed while the call waited for a permit")


class TokenBucket:
    """Shared by every task of a client (or of several clients, when passed to each)."""

    def __init__(self, rate: RateLimit | tuple[int, float], clock: Clock = MONOTONIC) -> None:
        self.rate = RateLimit.coerce(rate)
        self._clock = clock
        self._free = self.rate.requests
        self._returns: deque[float] = deque()  # when spent-and-finished tokens come back
        self._paused_until = -math.inf
        self._last_grant = -math.inf
        self._queue: deque[Ticket] = deque()
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

    async def aclose(self) -> None:
        """Fail every queued ``acquire`` now; tokens in flight still come back as usual."""
        fail_all(self._queue, closed_error())

    def try_acquire(self) -> _Token | None:
        """A token at once, if one is free and nobody is queued; else None (then ``acquire``)."""
        return None if self._queue else self._grant(self._clock.now())

    async def acquire(self) -> _Token:
        """Wait for a token, first come first served. Cancelling the wait takes nothing."""
        token = self.try_acquire()  # nobody queued: a free token goes at once
        if token is not None:
            return token
        waiter = Ticket()
        self._queue.append(waiter)
        try:
            while not waiter.settled:
                if self._queue and self._queue[0] is waiter:  # the head keeps the time
                    await waiter.wait(self._clock, self._delay(self._clock.now()))
                    self._dispatch()
                else:
                    await waiter.wait(self._clock, None)
        except BaseException:
            self._leave(waiter)
            raise
        if waiter.error is not None:
            raise waiter.error
        assert isinstance(waiter.permit, _Token)
        return waiter.permit

    def _delay(self, now: float) -> float | None:
        """How long the head must wait for a token; None: until an attempt finishes."""
        self._collect(now)
        hold = max(self._paused_until - now, self._last_grant + self.rate.min_interval - now)
        if self._free > 0 or hold > 0:
            return max(hold, 0.0)
        return max(0.0, self._returns[0] - now) if self._returns else None

    def _dispatch(self, new_head: bool = False) -> None:
        """Grant every queued waiter a token can go to now, in order; wake a new head."""
        now = self._clock.now()
        while self._queue:
            head = self._queue[0]
            if not head.settled:
                token = self._grant(now)
                if token is None:
                    if new_head:
                        head.wake()  # its turn to keep the time
                    return
                head.permit = token
            self._queue.popleft()
            head.wake()
            new_head = True

    def _leave(self, waiter: Ticket) -> None:
        """A cancelled waiter leaves the queue; a token granted to it goes back unused."""
        was_head = bool(self._queue) and self._queue[0] is waiter
        if waiter in self._queue:
            self._queue.remove(waiter)
        if waiter.permit is not None:
            waiter.permit = None
            self._free += 1
            self.granted -= 1
        self._dispatch(new_head=was_head)

    def _grant(self, now: float) -> _Token | None:
        """A token now, if one is free and no pause or spacing holds it back."""
        returns = self._returns
        while returns and returns[0] <= now:  # _collect, inline: it runs on every call
            returns.popleft()
            self._free += 1
        if (
            self._free <= 0
            or now < self._paused_until
            or now < self._last_grant + self.rate.min_interval
        ):
            return None
        self._free -= 1
        self._last_grant = now
        self.granted += 1
        return _Token(self)

    def _collect(self, now: float) -> None:
        while self._returns and self._returns[0] <= now:
            self._returns.popleft()
            self._free += 1


class KeyedLimiter:
    """One small limiter per key (e.g. per query-run id), created on first use.

    ``factory`` builds each key's :class:`Limiter` (default: a :class:`TokenBucket`).
    """

    def __init__(
        self,
        rate: RateLimit,
        clock: Clock = MONOTONIC,
        max_keys: int = 4096,
        factory: Callable[[RateLimit], Limiter] | None = None,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._factory = factory or (lambda r: TokenBucket(r, clock))
        self._limiters: dict[str, Limiter] = {}

    def for_key(self, key: str) -> Limiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            if len(self._limiters) >= self._max_keys:
                self._evict_idle()
            limiter = self._limiters[key] = self._factory(self.rate)
        return limiter

    async def acquire(self, key: str) -> Permit:
        return await self.for_key(key).acquire()

    def pause_for(self, seconds: float) -> None:
        for limiter in self._limiters.values():
            limiter.pause_for(seconds)

    async def aclose(self) -> None:
        for limiter in list(self._limiters.values()):
            await limiter.aclose()

    def _evict_idle(self) -> None:
        now = self._clock.now()
        for key, limiter in list(self._limiters.items()):
            if isinstance(limiter, TokenBucket):
                limiter._collect(now)
                if limiter._free == limiter.rate.requests and not limiter._queue:
                    del self._limiters[key]
