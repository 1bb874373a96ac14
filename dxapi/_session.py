"""The one request path: check → encode → limit → send → classify → retry or return.

Every call of every method, typed or raw, goes through :meth:`Session.send`. aiohttp and anyio
exceptions are translated here and nowhere else. Log lines name the method, the attempt and
the status; they never contain headers, so they never contain the token.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import aiohttp
import attrs

from ._config import RateLimit, Timeout
from ._dialect import BEARER, Auth, auth_headers, decode_answer, rate_limit_pause
from ._errors import (
    APIError,
    ArgumentError,
    DXError,
    RateLimitError,
    RequestTimeoutError,
    TransportError,
)
from ._limiter import MONOTONIC, Clock, KeyedLimiter, Permit, TokenBucket
from ._pagination import CursorCall
from ._redact import RedactFilter, redact, remember_secret
from ._retry import RETRYABLE_STATUSES, Outcome, RetryPolicy, parse_retry_after
from ._spec import MethodSpec, WaitDelay, check_args
from ._upload import body_data, buffer_upload, check_upload
from ._version import CLIENT_HEADERS
from ._version import USER_AGENT as USER_AGENT
from ._wire import (
    Encoding,
    Prepared,
    check_json_body,
    encode_request,
    merge_headers,
)

__all__ = ["Response", "Session"]

log = logging.getLogger("dxapi")
if not any(isinstance(f, RedactFilter) for f in log.filters):
    log.addFilter(RedactFilter())  # a safety net: no dxapi log line formats headers
R = TypeVar("R")
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@attrs.frozen
class Response:
    """A successful answer: status, headers (lower-case names) and the JSON payload."""

    status: int
    headers: Mapping[str, str]
    payload: dict[str, Any]

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"), time.time())


class Retryable(Exception):
    """One attempt failed in a way the policy may retry; carries the error to raise otherwise."""

    def __init__(self, outcome: Outcome, error: DXError) -> None:
        self.outcome = outcome
        self.error = error


@attrs.define(eq=False)
class Session:
    """Owns the HTTP session, the token bucket and the retry policy of one client."""

    base_url: str
    _token: str = attrs.field(repr=False, alias="token")
    timeout: Timeout = attrs.field(factory=Timeout)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    bucket: TokenBucket | None = None
    encoding: Encoding = "json"
    clock: Clock = MONOTONIC
    rng: random.Random = attrs.field(factory=random.Random)
    _http: aiohttp.ClientSession | None = attrs.field(default=None, alias="http")
    _owns_http: bool = attrs.field(default=True, alias="owns_http")
    _keyed: dict[str, KeyedLimiter] = attrs.field(factory=dict, repr=False)
    #: Counters for progress displays and tests.
    stats: dict[str, int] = attrs.field(factory=lambda: {"requests": 0, "retries": 0, "429": 0})
    #: Connection pool size of the HTTP session this session creates (not of one passed in).
    max_connections: int = attrs.field(default=100, validator=attrs.validators.gt(0))
    #: How the token travels (a REST API's client may pick an API-key header).
    auth: Auth = BEARER
    _secret: object = attrs.field(default=None, init=False, repr=False, eq=False)
    _closed: bool = attrs.field(default=False, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._secret = remember_secret(self._token)  # redacted from logs while we live

    # ----------------------------------------------------------------- lifecycle

    def http(self) -> aiohttp.ClientSession:
        # A closed client stays closed: a call still running when `async with` ended must not
        # quietly open a new pool that nobody will close.
        if self._closed or (self._http is not None and self._http.closed):
            raise TransportError("the client is closed; create a new one or re-enter it")
        if self._http is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, enable_cleanup_closed=True
            )
            self._http = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": USER_AGENT}
            )
            # aiohttp silently resends a GET once when a kept-alive connection was closed
            # under it; that second arrival would be invisible to the limiter and the retry
            # policy. Retries are ours to decide and to count.
            self._http._retry_connection = False
            self._owns_http = True
        return self._http

    def open(self) -> aiohttp.ClientSession:
        """(Re)open for use: the HTTP session, created now unless the caller gave one."""
        self._closed = False
        if self._http is not None and self._http.closed and self._owns_http:
            self._http = None
        return self.http()

    async def aclose(self) -> None:
        self._closed = True
        if self._http is not None and self._owns_http and not self._http.closed:
            await self._http.close()
        if self._owns_http:
            self._http = None

    def evolve(self, **changes: Any) -> Session:
        """A session sharing HTTP connections, bucket and counters, with other settings."""
        clone = attrs.evolve(self, **changes)
        clone._owns_http = False  # the original closes the connections
        clone._keyed = self._keyed
        clone.stats = self.stats
        if self._http is None:
            clone._http = self.http()
            self._owns_http = True
        return clone

    # ------------------------------------------------------------------ the API

    async def request(self, spec: MethodSpec, result: type[R], args: Mapping[str, Any]) -> R:
        """Call a method and structure its payload into ``result``."""
        resp = await self.send(spec, args)
        return self.structure(spec, resp.payload, result, status=resp.status, headers=resp.headers)

    def paginate(
        self, spec: MethodSpec, result: type[R], args: Mapping[str, Any]
    ) -> CursorCall[R, Any]:
        check_args(spec, args)
        last: list[Response] = []  # the page being structured: its status and headers

        async def fetch(spec: MethodSpec, args: Mapping[str, Any]) -> dict[str, Any]:
            last.clear()  # not kept alive across the next fetch
            last.append(await self.send(spec, args))
            return last[0].payload

        def structure(payload: dict[str, Any]) -> R:
            resp = last[0] if last and last[0].payload is payload else None
            status, headers = (resp.status, resp.headers) if resp else (None, None)
            return self.structure(spec, payload, result, status=status, headers=headers)

        return CursorCall(fetch, spec, args, structure)

    def paginate_raw(
        self, spec: MethodSpec, args: Mapping[str, Any]
    ) -> CursorCall[dict[str, Any], Any]:
        check_args(spec, args)
        return CursorCall(self._fetch, spec, args, lambda payload: payload)

    @staticmethod
    def structure(
        spec: MethodSpec,
        payload: dict[str, Any],
        result: type[R],
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> R:
        """``payload`` as ``result``, or a ResponseValidationError (see :mod:`dxapi._convert`)."""
        typed: R = _structure_result()(spec, result, payload, status=status, headers=headers)
        return typed

    async def _fetch(self, spec: MethodSpec, args: Mapping[str, Any]) -> dict[str, Any]:
        return (await self.send(spec, args)).payload

    async def send(
        self, spec: MethodSpec, args: Mapping[str, Any], *, encoding: Encoding | None = None
    ) -> Response:
        """Check, encode and send one call, retrying as the policy allows.

        Everything the call waits for (the limiter, each attempt, each backoff) runs under the
        one deadline of ``self.timeout.deadline``.
        """
        given = check_args(spec, args)
        if spec.upload is not None and spec.upload in given:
            check_upload(spec, spec.upload, given[spec.upload])
            given[spec.upload] = await buffer_upload(spec, spec.upload, given[spec.upload])
        if spec.deprecated:
            _warn_deprecated(spec)
        if spec.idempotent_when is not None and spec.idempotent_when in given:
            spec = attrs.evolve(spec, idempotent=True)  # the key makes a repeat harmless
        try:
            prepared = encode_request(spec, given, encoding or self.encoding)
        except ArgumentError:
            raise
        except (TypeError, ValueError) as exc:  # e.g. a set inside a json-typed argument
            raise ArgumentError(spec.name, [f"the arguments cannot be encoded: {exc}"]) from None
        check_json_body(spec, prepared)
        key = str(given.get(spec.rate_limit.key, "")) if spec.rate_limit else ""
        if spec.pending_error is not None:
            return await self.within_deadline(spec, self._send_when_ready(spec, prepared, key))
        return await self.within_deadline(spec, self._send_with_retries(spec, prepared, key))

    async def within_deadline(self, spec: MethodSpec, call: Awaitable[R]) -> R:
        """Await ``call`` under the call's deadline; running out is a RequestTimeoutError."""
        try:
            # asyncio's timeout, not anyio's cancel scope: a third of the cost on the hot path
            # (aiohttp ties dxapi to asyncio anyway).
            async with asyncio.timeout(self.timeout.deadline):
                return await call
        except TimeoutError as exc:
            if isinstance(exc, DXError):
                raise
        # Raised outside the handler, so no library exception hangs on as __context__.
        raise RequestTimeoutError(
            f"{spec.name}: no answer within the deadline of {self.timeout.deadline} s",
            method=spec.name,
        )

    async def _send_with_retries(self, spec: MethodSpec, prepared: Prepared, key: str) -> Response:
        attempt = 0
        started = self.clock.now()
        while True:
            try:
                return await self._attempt(spec, prepared, key)
            except Retryable as failure:
                outcome, error = failure.outcome, failure.error
            attempt += 1
            delay = self.retry.decide(attempt, outcome, idempotent=spec.idempotent, rng=self.rng)
            left = _remaining(self.timeout.deadline, self.clock.now() - started)
            if delay is not None and delay >= left:
                delay = None  # waiting would cross the deadline: fail now, with the reason
            if delay is None:
                log.debug("%s: giving up after %d attempt(s): %s", spec.name, attempt, error)
                # Outside the handler: the error's chain holds nothing of aiohttp's.
                raise error
            self.stats["retries"] += 1
            if outcome.kind == "rate_limited" and self.bucket is not None:
                self.bucket.pause_for(delay)
            log.info("%s: retry %d in %.2fs after %s", spec.name, attempt, delay, error)
            await self.clock.sleep(delay)

    async def _permits(self, spec: MethodSpec, key: str) -> list[Permit]:
        permits: list[Permit] = []
        try:
            if spec.rate_limit is not None:
                # Methods of one namespace share a per-key budget (a query run's info and
                # results polls count together), so the server's per-run limit holds either way.
                r = spec.rate_limit
                group = f"{spec.name.rsplit('.', 1)[0]}:{r.key}:{r.requests}/{r.per}"
                limiter = self._keyed.get(group)
                if limiter is None:
                    rate = RateLimit(r.requests, r.per)
                    limiter = self._keyed[group] = KeyedLimiter(rate, self.clock)
                permits.append(await limiter.acquire(key))
            if self.bucket is not None:
                permits.append(await self.bucket.acquire())
        except BaseException:
            for p in permits:
                p.release()
            raise
        return permits

    async def _attempt(self, spec: MethodSpec, prepared: Prepared, key: str) -> Response:
        permits = await self._permits(spec, key)
        try:
            async with self._request(spec, prepared) as resp:
                status = resp.status
                headers = resp.headers  # case-insensitive, and valid after release
                # sock_read bounds each read; this bounds a body that trickles in.
                async with asyncio.timeout(self.timeout.read):
                    body = await resp.read()
        except aiohttp.ClientConnectorError as exc:
            raise self._transport_failure(spec, exc, sent=False) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if isinstance(exc, TimeoutError) and not str(exc):  # our body-read timeout
                exc = TimeoutError(f"the body took over {self.timeout.read} s")
            raise self._transport_failure(spec, exc, sent=True) from None
        finally:
            for p in permits:
                p.release()
        log.debug("%s: HTTP %d, %d bytes", spec.name, status, len(body))
        return self._classify(spec, status, headers, body)

    def _classify(
        self, spec: MethodSpec, status: int, headers: Mapping[str, str], body: bytes
    ) -> Response:
        if (pause := rate_limit_pause(spec, headers, time.time())) and self.bucket is not None:
            self.bucket.pause_for(pause)  # the API says its budget is spent until its reset
        raw_retry_after = headers.get("retry-after")
        retry_after = (
            None if raw_retry_after is None else parse_retry_after(raw_retry_after, time.time())
        )
        if status == 429:
            self.stats["429"] += 1
            error = self._rate_limit_error(spec, body, retry_after)
            if retry_after is not None and retry_after > self.retry.max_retry_after:
                raise error  # longer than we agreed to wait: the caller decides
            raise Retryable(Outcome("rate_limited", retry_after), error)
        if status in REDIRECTS:
            raise TransportError(
                f"{spec.name}: unexpected redirect (HTTP {status}); use a download helper",
                method=spec.name,
                status=status,
            )
        try:
            payload = decode_answer(spec, status, body, retry_after)
        except TransportError as exc:  # not the API's JSON: a proxy page, a cut or empty body
            if status in RETRYABLE_STATUSES:
                raise Retryable(Outcome("status", retry_after), exc) from None
            if 200 <= status < 300:
                raise Retryable(Outcome("sent"), exc) from None
            raise  # e.g. an HTML 404 from a wrong base URL: asking again cannot help
        except DXError as exc:
            if status in RETRYABLE_STATUSES:
                raise Retryable(Outcome("status", retry_after), exc) from None
            raise
        return Response(status, headers, payload)

    def _rate_limit_error(
        self, spec: MethodSpec, body: bytes, retry_after: float | None
    ) -> RateLimitError:
        """A 429 as RateLimitError, keeping the server's code and message when it sent JSON."""
        code, message, details = "rate_limited", None, None
        try:
            decode_answer(spec, 429, body, retry_after)
        except APIError as exc:
            code, message, details = exc.error, exc.message, exc.details
        except DXError:
            pass
        cap = self.retry.max_retry_after
        if retry_after is not None and retry_after > cap:
            beyond = f"Retry-After of {retry_after:.0f} s is beyond max_retry_after={cap:g} s"
            message = f"{message}; {beyond}" if message else beyond
        return RateLimitError(
            code if code != "http_429" else "rate_limited",
            status=429,
            method=spec.name,
            message=message,
            retry_after=retry_after,
            details=details,
        )

    def _request(
        self, spec: MethodSpec, prepared: Prepared, *, allow_redirects: bool = False
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        """Start one attempt: aiohttp's request, with the token, body and timeouts."""
        url = self.base_url + prepared.path
        accept = "*/*" if spec.download else "application/json"
        base = {**CLIENT_HEADERS, **auth_headers(self.auth, self._token), "Accept": accept}
        headers = merge_headers(base, prepared.headers)
        kwargs: dict[str, Any] = {"params": prepared.query or None, "headers": headers}
        if prepared.json is not None:
            kwargs["json"] = prepared.json
        elif prepared.file is not None or prepared.form is not None:
            kwargs["data"] = body_data(prepared)
        timeout = client_timeout(self.timeout.connect, self.timeout.read)
        self.stats["requests"] += 1
        log.debug("%s: %s %s", spec.name, prepared.method, prepared.path)
        return self.http().request(
            prepared.method, url, timeout=timeout, allow_redirects=allow_redirects, **kwargs
        )

    @asynccontextmanager
    async def _open(
        self, spec: MethodSpec, prepared: Prepared, *, allow_redirects: bool = False
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One attempt whose body the caller reads (downloads); failures become Retryable."""
        try:
            async with self._request(spec, prepared, allow_redirects=allow_redirects) as resp:
                yield resp
        except Retryable:
            raise
        except aiohttp.ClientConnectorError as exc:
            raise self._transport_failure(spec, exc, sent=False) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._transport_failure(spec, exc, sent=True) from None

    @staticmethod
    def _transport_failure(spec: MethodSpec, exc: BaseException, *, sent: bool) -> Retryable:
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            sent = False
        outcome = Outcome("sent" if sent else "not_sent")
        if isinstance(exc, aiohttp.ClientSSLError):  # a rejected certificate stays rejected
            outcome = Outcome("fatal")
        kind = type(exc).__name__
        cls = RequestTimeoutError if isinstance(exc, TimeoutError) else TransportError
        detail = redact(str(exc))  # a lower library's text: never trust it with the token
        error = cls(f"{spec.name}: {kind}: {detail}".rstrip(": "), method=spec.name)
        return Retryable(outcome, error)

    # ------------------------------------------------- jobs: "not ready" and downloads

    def stream(
        self, spec: MethodSpec, args: Mapping[str, Any], *, chunk_size: int = 1 << 16
    ) -> AsyncGenerator[bytes, None]:
        """Stream a download method's bytes (see :mod:`dxapi._download`)."""
        from ._download import Download

        return Download(self).stream(spec, args, chunk_size=chunk_size)

    async def _send_when_ready(self, spec: MethodSpec, prepared: Prepared, key: str) -> Response:
        """Send; while DX answers the method's ``pending_error`` (409 "not ready"), ask again.

        The server's Retry-After says when (else 1 s growing to 10 s); the call's deadline
        bounds the whole wait. Any other error, 409 included, is raised as usual.
        """
        polls = 0
        while True:
            try:
                return await self._send_with_retries(spec, prepared, key)
            except APIError as exc:
                if exc.error != spec.pending_error:
                    raise
                polls += 1
                delay = pending_delay(polls, exc.retry_after)
            log.debug(
                "%s: not ready (%s), asking again in %.2fs", spec.name, spec.pending_error, delay
            )
            await self.clock.sleep(delay)


@functools.cache
def _structure_result() -> Callable[..., Any]:
    """Imported with the first typed answer, so `import dxapi` stays cheap."""
    from ._convert import structure_result

    return structure_result


@functools.lru_cache(maxsize=16)
def client_timeout(connect: float, read: float) -> aiohttp.ClientTimeout:
    """aiohttp's per-attempt timeout (made once per setting, not once per request)."""
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)


def pending_delay(polls: int, retry_after: float | None) -> float:
    """How long to wait before asking again after a "not ready" answer."""
    if retry_after is not None and retry_after >= 0:
        return retry_after
    return WaitDelay().after(polls)


def _remaining(deadline: float | None, elapsed: float) -> float:
    return float("inf") if deadline is None else deadline - elapsed


_warned: set[str] = set()


def _warn_deprecated(spec: MethodSpec) -> None:
    import warnings

    if spec.name not in _warned:
        _warned.add(spec.name)
        warnings.warn(f"{spec.name} is deprecated: {spec.deprecated}", DeprecationWarning, 3)
