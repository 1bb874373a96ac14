"""The one request path: check → encode → limit → send → classify → retry or return.

Every call of every method, typed or raw, goes through :meth:`Session.send`. aiohttp and anyio
exceptions are translated here and nowhere else. Log lines name the method, the attempt and
the status; they never contain headers, so they never contain the token.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import aiohttp
import anyio
import attrs
import cattrs

from ._config import RateLimit, Timeout
from ._convert import structure
from ._errors import (
    DXError,
    RateLimitError,
    RequestTimeoutError,
    TransportError,
)
from ._limiter import MONOTONIC, Clock, KeyedLimiter, Permit, TokenBucket
from ._pagination import CursorCall
from ._retry import RETRYABLE_STATUSES, Outcome, RetryPolicy, parse_retry_after
from ._spec import MethodSpec, check_args
from ._version import __version__
from ._wire import Encoding, Prepared, decode_json_body, encode_request, excerpt

__all__ = ["Response", "Session"]

log = logging.getLogger("dxapi")
R = TypeVar("R")
USER_AGENT = f"dxapi/{__version__}"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@attrs.frozen
class Response:
    """A successful answer: status, headers (lower-case names) and the JSON payload."""

    status: int
    headers: Mapping[str, str]
    payload: dict[str, Any]

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"), time.time())


class _Retryable(Exception):
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

    # ----------------------------------------------------------------- lifecycle

    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            connector = aiohttp.TCPConnector(limit=100, enable_cleanup_closed=True)
            self._http = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": USER_AGENT}
            )
            self._owns_http = True
        return self._http

    async def aclose(self) -> None:
        if self._http is not None and self._owns_http and not self._http.closed:
            await self._http.close()
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
        payload = (await self.send(spec, args)).payload
        return self.structure(spec, payload, result)

    def paginate(
        self, spec: MethodSpec, result: type[R], args: Mapping[str, Any]
    ) -> CursorCall[R, Any]:
        check_args(spec, args)
        return CursorCall(
            self._fetch, spec, args, lambda payload: self.structure(spec, payload, result)
        )

    def paginate_raw(
        self, spec: MethodSpec, args: Mapping[str, Any]
    ) -> CursorCall[dict[str, Any], Any]:
        check_args(spec, args)
        return CursorCall(self._fetch, spec, args, lambda payload: payload)

    @staticmethod
    def structure(spec: MethodSpec, payload: dict[str, Any], result: type[R]) -> R:
        try:
            return structure(payload, result)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
            raise TransportError(
                f"{spec.name}: the answer does not match {result.__name__}: {exc}",
                method=spec.name,
            ) from exc

    async def _fetch(self, spec: MethodSpec, args: Mapping[str, Any]) -> dict[str, Any]:
        return (await self.send(spec, args)).payload

    async def send(
        self, spec: MethodSpec, args: Mapping[str, Any], *, encoding: Encoding | None = None
    ) -> Response:
        """Check, encode and send one call, retrying as the policy allows."""
        given = check_args(spec, args)
        if spec.deprecated:
            _warn_deprecated(spec)
        prepared = encode_request(spec, given, encoding or self.encoding)
        key = str(given.get(spec.rate_limit.key, "")) if spec.rate_limit else ""
        try:
            with anyio.fail_after(self.timeout.deadline):
                return await self._send_with_retries(spec, prepared, key)
        except TimeoutError as exc:
            if isinstance(exc, DXError):
                raise
            raise RequestTimeoutError(
                f"{spec.name}: no answer within the deadline of {self.timeout.deadline} s",
                method=spec.name,
            ) from None

    async def _send_with_retries(
        self, spec: MethodSpec, prepared: Prepared, key: str
    ) -> Response:
        attempt = 0
        started = self.clock.now()
        while True:
            try:
                return await self._attempt(spec, prepared, key)
            except _Retryable as failure:
                attempt += 1
                delay = self.retry.decide(
                    attempt, failure.outcome, idempotent=spec.idempotent, rng=self.rng
                )
                deadline = self.timeout.deadline
                if delay is not None and deadline is not None:
                    if self.clock.now() - started + delay >= deadline:
                        delay = None
                if delay is None:
                    raise failure.error from None
                self.stats["retries"] += 1
                if failure.outcome.kind == "rate_limited" and self.bucket is not None:
                    self.bucket.pause_for(delay)
                log.info(
                    "%s: retry %d in %.2fs after %s", spec.name, attempt, delay, failure.error
                )
                await self.clock.sleep(delay)

    async def _permits(self, spec: MethodSpec, key: str) -> list[Permit]:
        permits: list[Permit] = []
        try:
            if spec.rate_limit is not None:
                limiter = self._keyed.get(spec.name)
                if limiter is None:
                    rate = RateLimit(spec.rate_limit.requests, spec.rate_limit.per)
                    limiter = self._keyed[spec.name] = KeyedLimiter(rate, self.clock)
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
            async with self._open(spec, prepared) as resp:
                status = resp.status
                headers = {k.lower(): v for k, v in resp.headers.items()}
                try:
                    body = await resp.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise self._transport_failure(spec, exc, sent=True) from None
        finally:
            for p in permits:
                p.release()
        log.debug("%s: HTTP %d, %d bytes", spec.name, status, len(body))
        return self._classify(spec, status, headers, body)

    def _classify(
        self, spec: MethodSpec, status: int, headers: dict[str, str], body: bytes
    ) -> Response:
        retry_after = parse_retry_after(headers.get("retry-after"), time.time())
        if status == 429:
            self.stats["429"] += 1
            error = RateLimitError(
                "rate_limited", status=429, method=spec.name, retry_after=retry_after
            )
            if retry_after is not None and retry_after > self.retry.max_retry_after:
                raise error
            raise _Retryable(Outcome("rate_limited", retry_after), error)
        if status in _REDIRECTS:
            raise TransportError(
                f"{spec.name}: unexpected redirect (HTTP {status}); use a download helper",
                method=spec.name,
                status=status,
            )
        try:
            payload = decode_json_body(spec.name, status, body, retry_after)
        except TransportError as exc:
            raise _Retryable(Outcome("sent"), exc) from None
        except DXError as exc:
            if status in RETRYABLE_STATUSES:
                raise _Retryable(Outcome("status", retry_after), exc) from None
            raise
        return Response(status, headers, payload)

    @asynccontextmanager
    async def _open(
        self, spec: MethodSpec, prepared: Prepared, *, allow_redirects: bool = False
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one attempt; translate connection failures into retryable outcomes."""
        url = self.base_url + prepared.path
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        kwargs: dict[str, Any] = {"params": prepared.query or None, "headers": headers}
        if prepared.json is not None:
            kwargs["json"] = prepared.json
        elif prepared.file is not None or prepared.form is not None:
            kwargs["data"] = _body_data(prepared)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout.connect, sock_read=self.timeout.read
        )
        self.stats["requests"] += 1
        log.debug("%s: %s %s", spec.name, prepared.method, prepared.path)
        try:
            async with self.http().request(
                prepared.method,
                url,
                timeout=timeout,
                allow_redirects=allow_redirects,
                **kwargs,
            ) as resp:
                yield resp
        except _Retryable:
            raise
        except aiohttp.ClientConnectorError as exc:
            raise self._transport_failure(spec, exc, sent=False) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_failure(spec, exc, sent=True) from None

    @staticmethod
    def _transport_failure(spec: MethodSpec, exc: BaseException, *, sent: bool) -> _Retryable:
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            sent = False
        kind = type(exc).__name__
        cls = RequestTimeoutError if isinstance(exc, TimeoutError) else TransportError
        error = cls(f"{spec.name}: {kind}: {exc}".rstrip(": "), method=spec.name)
        return _Retryable(Outcome("sent" if sent else "not_sent"), error)

    # -------------------------------------------------------------- downloads

    async def stream(
        self, spec: MethodSpec, args: Mapping[str, Any], *, chunk_size: int = 1 << 16
    ) -> AsyncIterator[bytes]:
        """Stream a download method's body, following a redirect without the token."""
        given = check_args(spec, args)
        prepared = encode_request(spec, given, self.encoding)
        key = str(given.get(spec.rate_limit.key, "")) if spec.rate_limit else ""
        location: str | None = None
        attempt = 0
        while location is None:
            permits = await self._permits(spec, key)
            try:
                async with self._open(spec, prepared) as resp:
                    for p in permits:
                        p.release()
                    if resp.status in _REDIRECTS:
                        location = resp.headers.get("Location")
                        if not location:
                            raise TransportError(
                                f"{spec.name}: redirect without a Location",
                                method=spec.name,
                                status=resp.status,
                            )
                        location = urljoin(self.base_url + "/", location)
                        break
                    if 200 <= resp.status < 300 and not _is_json(resp):
                        async for chunk in resp.content.iter_chunked(chunk_size):
                            yield chunk
                        return
                    body = await resp.read()
                    self._classify(spec, resp.status, dict(resp.headers), body)
                    raise TransportError(
                        f"{spec.name}: expected a file, got JSON", method=spec.name
                    )
            except _Retryable as failure:
                attempt += 1
                delay = self.retry.decide(attempt, failure.outcome, idempotent=True, rng=self.rng)
                if delay is None:
                    raise failure.error from None
                await self.clock.sleep(delay)
            finally:
                for p in permits:
                    p.release()
        async for chunk in self._stream_external(spec, location, chunk_size):
            yield chunk

    async def _stream_external(
        self, spec: MethodSpec, url: str, chunk_size: int
    ) -> AsyncIterator[bytes]:
        """GET a presigned URL: no Authorization, not charged to the DX bucket."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise TransportError(f"{spec.name}: refusing to follow {parts.scheme!r} redirect")
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout.connect, sock_read=self.timeout.read
        )
        try:
            async with self.http().get(
                url, headers={"Accept": "*/*"}, timeout=timeout, allow_redirects=True
            ) as resp:
                if resp.status != 200:
                    body = await resp.read()
                    raise TransportError(
                        f"{spec.name}: download failed with HTTP {resp.status}: {excerpt(body)}",
                        method=spec.name,
                        status=resp.status,
                    )
                async for chunk in resp.content.iter_chunked(chunk_size):
                    yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(
                f"{spec.name}: download failed: {type(exc).__name__}", method=spec.name
            ) from None


def _is_json(resp: aiohttp.ClientResponse) -> bool:
    return resp.content_type == "application/json"


def _body_data(prepared: Prepared) -> Any:
    if prepared.file is None:
        return list(prepared.form or ())
    form = aiohttp.FormData()
    for name, value in prepared.form or ():
        form.add_field(name, value)
    name, source = prepared.file
    form.add_field(name, _file_source(source), filename=_file_name(source))
    return form


def _file_source(source: Any) -> Any:
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    if isinstance(source, str) or hasattr(source, "__fspath__"):
        return open(source, "rb")  # noqa: SIM115 - aiohttp streams and closes it
    return source


def _file_name(source: Any) -> str:
    import os

    if isinstance(source, str) or hasattr(source, "__fspath__"):
        return os.path.basename(os.fspath(source))
    return os.path.basename(str(getattr(source, "name", "upload.csv")))


_warned: set[str] = set()


def _warn_deprecated(spec: MethodSpec) -> None:
    import warnings

    if spec.name not in _warned:
        _warned.add(spec.name)
        warnings.warn(f"{spec.name} is deprecated: {spec.deprecated}", DeprecationWarning, 3)
