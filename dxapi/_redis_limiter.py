"""A rate limit shared by every process that names the same Redis key (``dxapi[redis]``).

The rule is the in-process bucket's: at most ``requests`` tokens out, and a spent token comes
back ``per + margin`` after its attempt finished. Redis holds the state in two sorted sets,
``held`` (permit → lease expiry) and ``back`` (permit → return time), changed only by Lua
scripts that read Redis's own clock (``TIME``), so hosts with skewed clocks agree.

- A permit whose holder dies is reclaimed when its lease runs out, counted as finished then:
  it comes back one window later. The lease covers the attempt (``Timeout.connect +
  Timeout.read`` of the client it serves, unless ``lease=`` is given).
- A 429 seen by one process pauses all of them (a shared pause-until key).
- Each process queues its waiters locally; the head asks Redis for as many permits as are
  queued. Redis grants free tokens and reserves tokens still on their way back, each usable
  from its return time: the process sleeps until then and hands it out without asking again,
  so no process races the others when a window turns over. With nothing to reserve (every
  permit in flight) the head waits for a release published on pub/sub. A pause (this
  process's or one published by another) gives back every reservation it covers. Releases
  are sent in batches by a background task. The scripts: :mod:`dxapi._redis_scripts`.
- Redis unreachable: :class:`~dxapi.LimiterUnavailableError` at once, or, with
  ``fallback=RateLimit(...)`` (this process's share), a local bucket until Redis answers
  again. Never unlimited.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import hashlib
import hmac
import logging
import math
import os
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._config import DX_RATE_LIMIT, RateLimit, Timeout
from ._limiter import (
    MONOTONIC,
    Clock,
    LimiterUnavailableError,
    Permit,
    Ticket,
    TokenBucket,
    closed_error,
    fail_all,
)
from ._redis_scripts import ACQUIRE, PAUSE, RELEASE

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisLimiter", "default_key"]

log = logging.getLogger("dxapi")

#: Most permits one round trip asks for.
_BATCH = 256


def default_key(base_url: str, token: str) -> str:
    """The shared budget's name: the API's host and an HMAC of the token.

    The fingerprint cannot be turned back into the token; equal tokens give equal keys.
    """
    digest = hmac.new(b"dxapi-rate-limit", token.encode(), hashlib.sha256).hexdigest()[:20]
    return f"{urlsplit(base_url).netloc}:{digest}"


class _RedisPermit:
    __slots__ = ("_limiter", "_released", "granted_at", "id", "start")

    def __init__(self, limiter: RedisLimiter, permit_id: str, granted_at: int, start: float):
        self._limiter = limiter
        self.id = permit_id
        #: From when it may be used, in Redis's clock (ms since the epoch).
        self.granted_at = granted_at
        #: The same time in the local clock (never earlier than Redis's).
        self.start = start
        self._released = False

    def __lt__(self, other: _RedisPermit) -> bool:  # reservations sort by start
        return self.start < other.start

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._limiter._give_back(self)


class _UseFallback(Exception):
    """Internal: Redis is unreachable, take a permit of the local fallback bucket."""


class RedisLimiter:
    """A :class:`~dxapi.Limiter` whose budget is shared through Redis by every process.

    Build it with :meth:`from_url`. ``key`` names the shared budget; by default a client
    derives it from its base URL and a fingerprint of its token. ``lease`` bounds how long a
    permit of a process that died keeps its token (default: the client's attempt timeout).
    ``fallback`` is this process's share while Redis is unreachable (default: fail with
    :class:`~dxapi.LimiterUnavailableError`). ``poll`` caps a wait while every permit is in
    flight (pub/sub normally ends it sooner).
    """

    def __init__(
        self,
        url: str,
        *,
        rate_limit: RateLimit | tuple[int, float] = DX_RATE_LIMIT,
        key: str | None = None,
        lease: float | None = None,
        fallback: RateLimit | tuple[int, float] | None = None,
        retry_redis_after: float = 5.0,
        poll: float = 1.0,
        clock: Clock = MONOTONIC,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        self.rate = RateLimit.coerce(rate_limit)
        if lease is not None and lease <= 0:
            raise ValueError(f"lease must be > 0 seconds, got {lease!r}")
        self._url = url
        self._options: dict[str, Any] = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}
        self._options.update(redis_options or {})
        self._fixed_lease = lease is not None
        self.lease = lease if lease is not None else _lease_for(Timeout())
        self._fallback = TokenBucket(fallback, clock) if fallback is not None else None
        self._retry_redis_after = retry_redis_after
        self._poll = poll
        self._clock = clock
        self.key: str | None = None
        self._key_given = key is not None
        if key is not None:
            self._set_key(key)
        self._id = os.urandom(6).hex()
        self._seq = 0
        self._queue: deque[Ticket] = deque()
        self._paused_until = -math.inf
        self._down_until = -math.inf
        self._reserved: list[_RedisPermit] = []  # granted for later, by start
        self._pending: list[tuple[_RedisPermit, float]] = []  # (permit, when its attempt ended)
        self._tasks: set[asyncio.Task[None]] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._redis: Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._ask_at = -math.inf  # when the head asks Redis again (for waiters not yet served)
        self._unreserved_at = math.inf  # the earliest return nobody had reserved, last we asked
        self._asking = False  # the head awaits Redis's answer (and looks again after it)
        self._closed = False
        #: Permits granted so far through Redis (for progress displays and tests).
        self.granted = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        rate_limit: RateLimit | tuple[int, float] = DX_RATE_LIMIT,
        key: str | None = None,
        **options: Any,
    ) -> RedisLimiter:
        """``redis://[:password@]host:port/db`` (or ``rediss://``, ``unix://``)."""
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("the limiter URL must start with redis://, rediss:// or unix://")
        return cls(url, rate_limit=rate_limit, key=key, **options)

    def __repr__(self) -> str:
        host = urlsplit(self._url).hostname
        return f"RedisLimiter(host={host!r}, key={self.key!r}, rate={self.rate!r})"

    # ------------------------------------------------------------------ set-up

    def bind(self, base_url: str, token: str, timeout: Timeout) -> None:
        """Called by a client using this limiter: default key, and a lease covering attempts."""
        if not self._fixed_lease:
            self.lease = max(self.lease, _lease_for(timeout))
        if self._key_given:
            return
        derived = default_key(base_url, token)
        if self.key is None:
            self._set_key(derived)
        elif self.key != derived:
            raise ValueError(
                "this RedisLimiter already limits another account or base URL: "
                "give each account its own limiter, or name the budget with key=..."
            )

    def _set_key(self, key: str) -> None:
        if not key or any(c in key for c in "{}\r\n "):
            raise ValueError("key must be non-empty, without braces, spaces or line breaks")
        base = f"dxapi:rl:{{{key}}}"
        self.key = key
        self._keys = [f"{base}:{name}" for name in ("held", "back", "pause", "last", "wake")]
        self._channel = f"{base}:wake"

    def _client(self) -> Redis:
        if self._redis is None:
            try:
                import redis.asyncio as aioredis
            except ImportError:
                raise ImportError(
                    "RedisLimiter needs redis-py: pip install 'dxapi[redis]'"
                ) from None
            self._redis = aioredis.Redis.from_url(self._url, **self._options)
            self._scripts = {
                name: self._redis.register_script(text)
                for name, text in (("acquire", ACQUIRE), ("release", RELEASE), ("pause", PAUSE))
            }
        return self._redis

    @property
    def _window_ms(self) -> int:
        return math.ceil((self.rate.per + self.rate.margin) * 1000)

    # ------------------------------------------------------------ the interface

    async def acquire(self) -> Permit:
        if self.key is None:
            raise ValueError("this RedisLimiter has no key: pass key=... or give it to a Client")
        if self._fallback is not None and self._clock.now() < self._down_until:
            return await self._fallback.acquire()
        self._closed = False
        waiter = Ticket()
        self._queue.append(waiter)
        if self._queue[0] is waiter:
            self._ask_at = -math.inf
        else:  # asked for with the others joining soon, before a token nobody reserved returns
            lead = self._unreserved_at - self._clock.now() - min(0.05, self._gather)
            self._ask_soon(min(self._gather, max(0.0, lead)))
        try:
            while not waiter.settled:
                if self._queue[0] is waiter:
                    await self._serve_queue(waiter)
                else:
                    await waiter.wait(self._clock, None)
        except BaseException:
            self._leave(waiter)
            raise
        if isinstance(waiter.error, _UseFallback):
            assert self._fallback is not None
            return await self._fallback.acquire()
        if waiter.error is not None:
            raise waiter.error
        assert waiter.permit is not None
        return waiter.permit

    def pause_for(self, seconds: float) -> None:
        """Pause this process now and, through Redis, every other one on the key."""
        self._paused_until = max(self._paused_until, self._clock.now() + seconds)
        if self._fallback is not None:
            self._fallback.pause_for(seconds)
        if self.key is not None:
            self._spawn(self._share_pause(math.ceil(seconds * 1000)))

    async def aclose(self) -> None:
        """Fail queued waiters, send pending releases, close the connections (reusable)."""
        self._closed = True
        fail_all(self._queue, closed_error())
        self._return_reserved(math.inf)
        if self._fallback is not None:
            await self._fallback.aclose()
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)  # shared pauses
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._redis is not None:
            redis, self._redis = self._redis, None
            await redis.aclose()

    async def __aenter__(self) -> RedisLimiter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---------------------------------------------------------------- the queue

    async def _serve_queue(self, head: Ticket) -> None:
        """The head's turn: hand out reservations due, ask Redis for the rest, or wait."""
        now = self._clock.now()
        hold = self._paused_until - now
        if hold > 0:
            self._return_reserved(self._paused_until)
            self._ask_at = -math.inf  # after the pause
            await head.wait(self._clock, hold)
            return
        due = bisect.bisect_right(self._reserved, now, key=lambda p: p.start)
        if due:
            permits, self._reserved[:due] = self._reserved[:due], []
            self._hand_out(permits)
            return
        want = min(_BATCH, sum(1 for w in self._queue if not w.settled) - len(self._reserved))
        if want > 0 and now >= self._ask_at:
            await self._ask(want)
            return
        wake = self._ask_at if want > 0 else math.inf
        if self._reserved:
            wake = min(wake, self._reserved[0].start)
        await head.wait(self._clock, None if wake == math.inf else wake - now)

    async def _ask(self, want: int) -> None:
        """Ask Redis for ``want`` permits; say when to ask again."""
        seq = self._seq
        self._seq += want
        self._ask_at = math.inf  # until the answer says, or a waiter joins
        args = [
            self.rate.requests,
            self._window_ms,
            math.ceil(self.lease * 1000),
            math.ceil(self.rate.min_interval * 1000),
            want,
            f"{self._id}:",
            seq,
        ]
        ask = asyncio.ensure_future(self._script("acquire")(keys=self._keys, args=args))
        self._asking = True
        try:
            # Shielded: permits Redis granted reach a waiter (or go back) even if the head is
            # cancelled meanwhile.
            answer = await asyncio.shield(ask)
        except _errors() as exc:
            self._ask_at = -math.inf
            self._unavailable(exc)
            return
        except asyncio.CancelledError:
            ask.add_done_callback(lambda done: self._late(done, seq))
            self._ask_at = -math.inf  # the next head asks again
            raise
        finally:
            self._asking = False
        granted, _, wait_ms, busy = (int(x) for x in answer[:4])
        self._unreserved_at = math.inf
        if granted == want:
            if int(answer[4]) == granted:  # free tokens left: ask at once
                self._ask_at = -math.inf
            elif not busy:
                self._unreserved_at = self._clock.now() + wait_ms / 1000
        elif busy:  # every permit in flight: until a release is published, or the poll
            self._ensure_listener()
            later = self._poll if wait_ms < 0 else min(self._poll, (wait_ms + 1) / 1000)
            self._ask_soon(later)
        else:  # a pause, min_interval spacing, or a lease running out
            self._ask_soon((wait_ms + 1) / 1000 if granted == 0 else 0.0)
        if granted:
            self._granted(seq, answer)

    def _ask_soon(self, delay: float) -> None:
        """Have the head ask again within ``delay`` seconds."""
        self._ask_at = min(self._ask_at, self._clock.now() + delay)
        if self._queue and not self._asking:
            self._queue[0].wake()

    @property
    def _gather(self) -> float:
        """How long the head collects joining waiters and releases before asking for them.

        A token released now returns a window later, so asking up to a tenth of a window
        later still reserves it long before its return.
        """
        return min(self._poll, self.rate.per / 10)

    def _granted(self, seq: int, answer: list[Any]) -> None:
        """Redis's grant: permits free now go to the queue, the others wait for their time."""
        granted, now, free = int(answer[0]), int(answer[1]), int(answer[4])
        self.granted += granted
        local = self._clock.now()  # Redis ran the script before this: a later start, safe
        ids = [f"{self._id}:{seq + i}" for i in range(granted)]
        for permit_id, ahead in zip(ids[free:], map(int, answer[5:]), strict=True):
            later = _RedisPermit(self, permit_id, now + ahead, local + ahead / 1000)
            bisect.insort(self._reserved, later)
        if free < granted:
            self._ensure_listener()  # pauses published by other processes hold them back
        if free:
            self._hand_out([_RedisPermit(self, i, now, local) for i in ids[:free]])

    def _late(self, ask: asyncio.Future[Any], seq: int) -> None:
        """The answer to a cancelled head's request: its permits go to the queue or back."""
        if not ask.cancelled() and ask.exception() is None:
            if ask.result()[0]:
                self._granted(seq, ask.result())
        elif self._queue:
            self._queue[0].wake()

    def _hand_out(self, permits: list[_RedisPermit]) -> None:
        """Give permits to the queue's waiters in order; wake the new head."""
        for permit in permits:
            while self._queue and self._queue[0].settled:
                self._queue.popleft()
            if not self._queue:  # the waiters left meanwhile: back, never used
                permit._released = True
                self._give_back(permit, used=False)
                continue
            waiter = self._queue.popleft()
            waiter.permit = permit
            waiter.wake()
        if self._queue:
            self._queue[0].wake()

    def _leave(self, waiter: Ticket) -> None:
        was_head = bool(self._queue) and self._queue[0] is waiter
        if waiter in self._queue:
            self._queue.remove(waiter)
        permit, waiter.permit = waiter.permit, None
        if isinstance(permit, _RedisPermit):  # granted, but cancelled before it was used
            self._hand_out([permit])  # to the next in line, or back to Redis
        elif was_head and self._queue:
            self._queue[0].wake()
        extra = len(self._reserved) - sum(1 for w in self._queue if not w.settled)
        if extra > 0:  # reserved for waiters that left: the latest go back
            self._return_reserved(math.inf, self._reserved[-extra:])

    def _return_reserved(self, before: float, permits: list[_RedisPermit] | None = None) -> None:
        """Give back unused the reservations starting before ``before`` (or ``permits``)."""
        if permits is None:
            permits = [p for p in self._reserved if p.start < before]
        for permit in permits:
            self._reserved.remove(permit)
            permit._released = True
            self._give_back(permit, used=False)

    def _unavailable(self, exc: BaseException) -> None:
        """Redis did not answer: every queued waiter fails now, or uses the fallback."""
        reason = f"{type(exc).__name__}: {exc}"
        self._return_reserved(math.inf)  # nobody left to use them (their leases end them)
        if self._fallback is not None:
            if self._clock.now() >= self._down_until:
                log.warning("rate limiter: Redis unreachable (%s); using the fallback", reason)
            self._down_until = self._clock.now() + self._retry_redis_after
            fail_all(self._queue, _UseFallback())
            return
        fail_all(
            self._queue,
            LimiterUnavailableError(f"the shared rate limiter's Redis is unreachable: {reason}"),
        )

    # --------------------------------------------------------------- background

    def _script(self, name: str) -> Any:
        self._client()
        return self._scripts[name]

    def _give_back(self, permit: _RedisPermit, used: bool = True) -> None:
        self._pending.append((permit, self._clock.now() if used else math.inf))
        if self._flusher is None or self._flusher.done():
            try:
                self._flusher = asyncio.get_running_loop().create_task(self._flush())
            except RuntimeError:  # no loop any more: the lease brings the token back
                self._pending.clear()

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
            ttl = math.ceil(self.lease * 1000) + self._window_ms + 1000
            now = self._clock.now()
            args: list[Any] = [self._window_ms, ttl, self._channel]
            for permit, ended in batch:  # age in ms, floored; -1: unused, free from its start
                if ended == math.inf:
                    args += [permit.id, -1, max(0, math.ceil((permit.start - now) * 1000))]
                else:
                    args += [permit.id, max(0, int((now - ended) * 1000)), 0]
            try:
                await self._script("release")(keys=self._keys[:2] + self._keys[4:], args=args)
            except _errors() as exc:  # the leases bring these tokens back
                log.warning("rate limiter: could not return %d permit(s): %s", len(batch), exc)
        if self._closed and not self._queue and self._redis is not None:
            redis, self._redis = self._redis, None  # a release after aclose: close again
            await redis.aclose()

    async def _share_pause(self, ms: int) -> None:
        try:
            await self._script("pause")(keys=self._keys[2:3], args=[ms, self._channel])
        except _errors() as exc:
            log.warning("rate limiter: could not share a pause: %s", exc)

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _ensure_listener(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        """Pause on every pause any process publishes; ask again after a release."""
        pubsub = self._client().pubsub()
        try:
            await pubsub.subscribe(self._channel)
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is None:
                    continue
                data = message["data"]
                kind, _, ms = (data.encode() if isinstance(data, str) else data).partition(b":")
                if kind == b"pause":  # counted from now: never shorter than Redis's
                    until = self._clock.now() + int(ms) / 1000
                    self._paused_until = max(self._paused_until, until)
                # "free": a token is free now; "back": one returns a window from now
                self._ask_soon(0.0 if kind != b"back" else self._gather)
        except _errors():
            pass  # waits fall back to computed sleeps; the next wait starts a new listener
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


def _lease_for(timeout: Timeout) -> float:
    return timeout.connect + timeout.read


@functools.cache
def _errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError)
