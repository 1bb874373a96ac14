"""Downloads: a method whose answer is a file, as a body or as a redirect to another host.

The DX request goes through the session's limiters and retry policy; the redirect target (a
presigned URL) is fetched exactly as given, without the Authorization header and outside the
DX rate limit. Memory stays bounded by the chunk size whatever the file's size.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import AsyncExitStack, aclosing
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import yarl

from ._config import is_loopback
from ._errors import APIError, DXError, TransportError
from ._session import REDIRECTS, USER_AGENT, Retryable, Session, log, pending_delay
from ._spec import MethodSpec, check_args
from ._wire import Prepared, encode_request, excerpt

__all__ = ["Download"]


class Download:
    """One download through a session (see :meth:`dxapi._session.Session.stream`)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    async def stream(
        self, spec: MethodSpec, args: Mapping[str, Any], *, chunk_size: int = 1 << 16
    ) -> AsyncGenerator[bytes, None]:
        """Stream a download's bytes: the answer's body, or its redirect target's.

        The DX request goes through the limiters and the retry policy, and waits out the
        method's ``pending_error`` within the call's deadline. A redirect's ``Location``
        (a relative one is resolved against the base URL) is fetched as given, without the
        Authorization header and outside the DX rate limit. When that fetch fails before its
        first byte (e.g. an expired presigned URL), DX is asked once more for a fresh link.
        Memory stays bounded by ``chunk_size`` whatever the file's size.
        """
        given = check_args(spec, args)
        prepared = encode_request(spec, given, self.s.encoding)
        key = str(given.get(spec.rate_limit.key, "")) if spec.rate_limit else ""
        for fresh_link in (False, True):
            failure: DXError | None = None
            async with AsyncExitStack() as stack:
                target = await self._locate(spec, prepared, key, stack)
                if not isinstance(target, str):
                    try:
                        async for chunk in target.content.iter_chunked(chunk_size):
                            yield chunk
                        return
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        failure = TransportError(
                            f"{spec.name}: download broke off: {type(exc).__name__}",
                            method=spec.name,
                        )
            if failure is not None:
                raise failure
            assert isinstance(target, str)
            _check_link(spec, target)
            started = False
            try:
                # aclosing: a consumer that stops early must not leave the download open
                async with aclosing(self._stream_external(spec, target, chunk_size)) as chunks:
                    async for chunk in chunks:
                        started = True
                        yield chunk
                return
            except TransportError as exc:
                if started or fresh_link or not _is_stale_link(exc):
                    raise
                log.info("%s: download link failed (%s); asking for a fresh one", spec.name, exc)

    async def _locate(
        self, spec: MethodSpec, prepared: Prepared, key: str, stack: AsyncExitStack
    ) -> str | aiohttp.ClientResponse:
        """The redirect target's URL, or a 2xx file response left open on ``stack``."""
        return await self.s.within_deadline(
            spec, self._locate_when_ready(spec, prepared, key, stack)
        )

    async def _locate_when_ready(
        self, spec: MethodSpec, prepared: Prepared, key: str, stack: AsyncExitStack
    ) -> str | aiohttp.ClientResponse:
        attempt = polls = 0
        while True:
            error: DXError | None = None
            try:
                return await self._locate_once(spec, prepared, key, stack)
            except Retryable as failure:
                attempt += 1
                delay = self.s.retry.decide(
                    attempt, failure.outcome, idempotent=spec.idempotent, rng=self.s.rng
                )
                if delay is None:
                    error = failure.error
                else:
                    self.s.stats["retries"] += 1
                    if failure.outcome.kind == "rate_limited" and self.s.bucket is not None:
                        self.s.bucket.pause_for(delay)
            except APIError as exc:
                if spec.pending_error is None or exc.error != spec.pending_error:
                    raise
                polls += 1
                delay = pending_delay(polls, exc.retry_after)
            if error is not None or delay is None:
                raise error or TransportError(spec.name)
            await self.s.clock.sleep(delay)

    async def _locate_once(
        self, spec: MethodSpec, prepared: Prepared, key: str, stack: AsyncExitStack
    ) -> str | aiohttp.ClientResponse:
        permits = await self.s._permits(spec, key)
        attempt = AsyncExitStack()
        try:  # the permits cover the DX request, not the download that follows
            resp = await attempt.enter_async_context(self.s._open(spec, prepared))
        finally:
            for p in permits:
                p.release()
        keep = False
        try:
            if resp.status in REDIRECTS:
                location = resp.headers.get("Location")
                if not location:
                    raise TransportError(
                        f"{spec.name}: redirect without a Location",
                        method=spec.name,
                        status=resp.status,
                    )
                return urljoin(self.s.base_url + "/", location)
            if 200 <= resp.status < 300 and not is_json(resp):
                await stack.enter_async_context(attempt)  # the caller reads the body
                keep = True
                return resp
            status = resp.status
            headers = {k.lower(): v for k, v in resp.headers.items()}
            try:
                body = await resp.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise self.s._transport_failure(spec, exc, sent=True) from None
        finally:
            if not keep:
                await attempt.aclose()
        self.s._classify(spec, status, headers, body)
        raise TransportError(
            f"{spec.name}: expected a file or a redirect, got a JSON answer", method=spec.name
        )

    async def _stream_external(
        self, spec: MethodSpec, url: str, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        """GET a redirect target (a presigned URL) exactly as given.

        No Authorization header, none of the DX defaults, not charged to the DX bucket. If
        the HTTP session carries credentials of its own (a caller's session with default
        headers or auth), a bare one-off session is used instead.
        """
        parts = urlsplit(url)
        _check_link(spec, url)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.s.timeout.connect, sock_read=self.s.timeout.read
        )
        headers = {"Accept": "text/csv, */*;q=0.5", "User-Agent": USER_AGENT}
        failure: DXError | None = None
        async with AsyncExitStack() as stack:
            http = self.s.http()
            if _carries_credentials(http):
                http = await stack.enter_async_context(aiohttp.ClientSession())
            try:
                async with http.get(
                    yarl.URL(url, encoded=True),  # presigned: the signature must stay as sent
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=True,
                ) as resp:
                    if resp.status != 200:
                        body = await resp.content.read(512)
                        failure = TransportError(
                            f"{spec.name}: download from {parts.hostname} failed with "
                            f"HTTP {resp.status}: {excerpt(body)}",
                            method=spec.name,
                            status=resp.status,
                        )
                    else:
                        async for chunk in resp.content.iter_chunked(chunk_size):
                            yield chunk
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = TransportError(
                    f"{spec.name}: download from {parts.hostname} failed: {type(exc).__name__}",
                    method=spec.name,
                )
        if failure is not None:
            raise failure


def _check_link(spec: MethodSpec, url: str) -> None:
    """Refuse a redirect target that is not http(s), or plain http beyond this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(
            f"{spec.name}: refusing to follow a redirect to {url[:40]!r}", method=spec.name
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise TransportError(
            f"{spec.name}: refusing a plain-http download link to {parts.hostname!r}",
            method=spec.name,
        )


def _is_stale_link(error: TransportError) -> bool:
    """A download link that failed in a way a fresh link may fix (expired, refused, gone)."""
    return error.status is None or error.status in (400, 401, 403, 404, 410)


def _carries_credentials(http: aiohttp.ClientSession) -> bool:
    headers = {k.lower() for k in http.headers}
    return "authorization" in headers or "cookie" in headers or http.auth is not None


def is_json(resp: aiohttp.ClientResponse) -> bool:
    return resp.content_type == "application/json"
