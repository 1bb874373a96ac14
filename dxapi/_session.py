"""The one request loop: prepare → permit → attempt → classify → decide.

Every call of every method, typed or raw, every page, every "not ready yet" poll and every
download goes through :meth:`Session._run`. One attempt is sent by the transport
(:mod:`dxapi._transport`), bounded by the sooner of its ``Timeout.read`` and the call's
deadline (the loop's one timer for all attempts: :mod:`dxapi._watchdog`).
:func:`~dxapi._classify.classify` says what the answer means; the loop decides: return it,
wait and ask again (429, a safe retry, "not ready yet"), follow a download's redirect, ask for
a fresh download link, or raise. Log lines name the method, the attempt and the status; they
never contain headers, so they never contain the token.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping
from contextlib import aclosing
from typing import Any, TypeAlias, TypeVar
from urllib.parse import urljoin, urlsplit

import attrs

from ._classify import REDIRECTS, classify, is_json
from ._config import Limits, RateLimit, Timeout, check_link
from ._dialect import BEARER, Auth, excerpt, rate_limit_pause
from ._download import read_body
from ._errors import ArgumentError, DXError, RequestTimeoutError, TransportError
from ._hooks import HookEvent, Hooks
from ._limiter import MONOTONIC, Clock, KeyedLimiter, Limiter, Permit, TokenBucket
from ._pagination import CursorCall
from ._prepare import check, client_headers, link, plain, prepare
from ._redact import RedactFilter, remember_secret
from ._response import Response
from ._result import Result
from ._retry import AttemptFailed, RetryPolicy, Verdict
from ._spec import MethodSpec, check_args
from ._transport import AiohttpTransport, Request, Stream, Transport, translate
from ._upload import buffer_upload
from ._watchdog import watch
from ._wire import Encoding

__all__ = ["Response", "Session"]

log = logging.getLogger("dxapi")
if not any(isinstance(f, RedactFilter) for f in log.filters):
    log.addFilter(RedactFilter())  # a safety net: no dxapi log line formats headers
R = TypeVar("R")
#: A call as the loop takes it: the spec as this call sees it, its request, its per-key limit key.
_Call: TypeAlias = tuple[MethodSpec, Request, str]
STALE_LINK = frozenset({400, 401, 403, 404, 410})


@attrs.define(eq=False)
class Session:
    """The request loop of one client: its transport, limiters, retry policy and limits."""

    base_url: str
    _token: str = attrs.field(repr=False, alias="token")
    timeout: Timeout = attrs.field(factory=Timeout)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    bucket: Limiter | None = None
    encoding: Encoding = "json"
    clock: Clock = MONOTONIC
    rng: random.Random = attrs.field(factory=random.Random)
    #: Connection pool size of the transport this session creates (not of one passed in).
    max_connections: int = attrs.field(default=100, validator=attrs.validators.gt(0))
    transport: Transport = attrs.field(default=None)
    limits: Limits = attrs.field(factory=Limits)
    #: How the token travels (a REST API's client may pick an API-key header).
    auth: Auth = BEARER
    #: A client's own headers, sent with every DX request (never with a download link).
    default_headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    hooks: Hooks | None = None
    _owns_transport: bool = attrs.field(default=True, alias="owns_transport")
    _keyed: dict[str, KeyedLimiter] = attrs.field(factory=dict, repr=False)
    #: Counters for progress displays and tests.
    stats: dict[str, int] = attrs.field(factory=lambda: {"requests": 0, "retries": 0, "429": 0})
    _secret: object = attrs.field(default=None, init=False, repr=False)
    #: Prepared once per client: the headers of a JSON call and of a download's DX request.
    _headers: dict[str, str] = attrs.field(factory=dict, init=False, repr=False)
    _file_headers: dict[str, str] = attrs.field(factory=dict, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._secret = remember_secret(self._token)  # redacted from logs while we live
        if self.transport is None:
            self.transport = AiohttpTransport(max_connections=self.max_connections)
        self._headers, self._file_headers = client_headers(
            self._token, self.auth, self.default_headers
        )

    def use_auth(self, auth: Auth) -> None:
        """Send the token as ``auth`` says (a REST API's API-key header, say) from now on."""
        self.auth = auth
        self._headers, self._file_headers = client_headers(self._token, auth, self.default_headers)

    # ----------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """(Re)open for use after :meth:`aclose` (the transport's pool opens on first use)."""
        reopen = getattr(self.transport, "reopen", None)
        if reopen is not None:
            reopen()

    async def aclose(self) -> None:
        for keyed in self._keyed.values():  # queued polls fail now, not after their wait
            await keyed.aclose()
        if self._owns_transport:
            await self.transport.aclose()

    def evolve(self, **changes: Any) -> Session:
        """A session sharing transport, bucket and counters, with other settings."""
        clone = attrs.evolve(self, **changes)
        clone._owns_transport = False  # the original closes the transport
        clone._keyed = self._keyed
        clone.stats = self.stats
        return clone

    # ------------------------------------------------------------------ the API

    async def request(self, spec: MethodSpec, result: type[R], args: Mapping[str, Any]) -> R:
        """Call a method and structure its payload into ``result``."""
        # No local holds the request: its headers carry the token (see _run).
        call = self._plain(spec, args, None) or await self._uploading(spec, args, None)
        into = _result_class(result)
        response: Response = await self._run(*call, into=into, bare=into is not None)
        typed: R = _structure_answer()(spec, result, response)
        return typed

    async def send(
        self, spec: MethodSpec, args: Mapping[str, Any], *, encoding: Encoding | None = None
    ) -> Response:
        """Check, encode and send one call, as the policy allows; the whole answer."""
        call = self._plain(spec, args, encoding) or await self._uploading(spec, args, encoding)
        response: Response = await self._run(*call)
        return response

    async def payload(self, spec: MethodSpec, args: Mapping[str, Any]) -> dict[str, Any]:
        """Like :meth:`send`, for the answer's payload alone (no Response is built for it)."""
        call = self._plain(spec, args, None) or await self._uploading(spec, args, None)
        answer = await self._run(*call, bare=True)
        payload: dict[str, Any] = answer.payload if isinstance(answer, Response) else answer
        return payload

    def paginate(
        self, spec: MethodSpec, result: type[R], args: Mapping[str, Any]
    ) -> CursorCall[R, Any]:
        check_args(spec, args)
        pages = _TypedPages(self, spec, result)
        return CursorCall(
            pages.fetch, spec, args, pages.structure, payload_of=_payload_of, head_of=_head_of
        )

    def paginate_raw(
        self, spec: MethodSpec, args: Mapping[str, Any]
    ) -> CursorCall[dict[str, Any], Any]:
        check_args(spec, args)
        return CursorCall(self.payload, spec, args, _same)

    def stream(
        self, spec: MethodSpec, args: Mapping[str, Any], *, chunk_size: int = 1 << 16
    ) -> AsyncGenerator[bytes, None]:
        """Stream a download method's bytes: the answer's body, or its redirect target's.

        The DX request goes through the limiters and the retry policy, and waits out the
        method's ``pending_error`` within the call's deadline. Each redirect hop is checked
        (:func:`~dxapi._config.check_link`) and fetched as given, without the client's
        headers and outside the DX rate limit. When a link fails before its first byte (e.g.
        an expired presigned URL), DX is asked once more for a fresh one. Memory stays
        bounded by ``chunk_size``; time by ``Timeout.download``; size by
        ``Limits.max_download_bytes``. Nothing is sent until the first chunk is asked for.
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
            raise ArgumentError(
                spec.name, [f"chunk_size must be a whole number of bytes > 0, got {chunk_size!r}"]
            )
        call = self._plain(spec, args, None) or self._checked(spec, args, None)
        return self._download(call[0], [call[1:]], chunk_size)

    @staticmethod
    def structure(
        spec: MethodSpec,
        payload: dict[str, Any],
        result: type[R],
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> R:
        """The one place a payload becomes a result class, or a ResponseValidationError
        (see :mod:`dxapi._convert`); with the status, the result keeps its Response."""
        typed: R = _structure_result()(spec, result, payload, status=status, headers=headers)
        return typed

    async def _answer(
        self, spec: MethodSpec, args: Mapping[str, Any], *, into: type[Result] | None = None
    ) -> Response:
        call = self._plain(spec, args, None) or self._checked(spec, args, None)
        response: Response = await self._run(*call, into=into)
        return response

    async def _download(
        self, spec: MethodSpec, prepared: list[tuple[Request, str]], chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        # Popped, not held: no frame on an error's traceback keeps the request (or its token).
        opened = await self._run(spec, *prepared.pop(), download=True)
        body = read_body(
            opened, spec.name, chunk_size, self.timeout.download, self.limits.max_download_bytes
        )
        async with aclosing(body):  # a consumer that stops early must not leave it open
            async for chunk in body:
                yield chunk

    # -------------------------------------------------------------------- prepare

    def _plain(
        self, spec: MethodSpec, args: Mapping[str, Any], encoding: Encoding | None
    ) -> _Call | None:
        """A plain call in one pass (:func:`~dxapi._prepare.plain`), or None."""
        headers = self._file_headers if spec.download else self._headers
        encoding = encoding or self.encoding
        done = plain(spec, args, encoding, self.base_url, headers, self.timeout, self.limits)
        return None if done is None else (spec, *done)

    def _checked(
        self, spec: MethodSpec, args: Mapping[str, Any], encoding: Encoding | None
    ) -> _Call:
        """Any call, by the full rules: checked, then prepared."""
        spec, given = check(spec, args)
        return (spec, *self._prepare(spec, given, encoding))

    async def _uploading(
        self, spec: MethodSpec, args: Mapping[str, Any], encoding: Encoding | None
    ) -> _Call:
        """Like :meth:`_checked`, reading an upload's bytes first (off the event loop)."""
        spec, given = check(spec, args)
        if spec.upload is not None and spec.upload in given:
            given[spec.upload] = await buffer_upload(spec, spec.upload, given[spec.upload])
        return (spec, *self._prepare(spec, given, encoding))

    def _prepare(
        self, spec: MethodSpec, given: Mapping[str, Any], encoding: Encoding | None
    ) -> tuple[Request, str]:
        headers = self._file_headers if spec.download else self._headers
        encoding = encoding or self.encoding
        return prepare(spec, given, encoding, self.base_url, headers, self.timeout, self.limits)

    # ----------------------------------------------------------------- the loop

    def _run(
        self,
        spec: MethodSpec,
        request: Request,
        key: str,
        *,
        download: bool = False,
        into: type[Result] | None = None,
        bare: bool = False,
    ) -> Coroutine[Any, Any, Any]:
        """Attempt until there is an answer to return (a Response, or a download's Stream),
        or an error to raise; with hooks, tell them when the call ends. A ``bare`` call may
        get a success's payload alone (:func:`~dxapi._classify.classify`)."""
        if self.hooks is None:  # no coroutine of its own on the common path
            return self._attempts(spec, request, key, download, None, into, bare)
        trace = _Trace()  # the hooks are told the status: the answer stays whole
        attempts = self._attempts(spec, request, key, download, trace, into, False)
        return self._traced(trace, spec, attempts)

    async def _traced(
        self, trace: _Trace, spec: MethodSpec, attempts: Coroutine[Any, Any, Any]
    ) -> Any:
        started = asyncio.get_running_loop().time()
        error: str | None = None
        status: int | None = None
        try:
            answer = await attempts
            status = answer.status
            return answer
        except BaseException as exc:
            error, status = type(exc).__name__, getattr(exc, "status", None)
            raise
        finally:
            duration = asyncio.get_running_loop().time() - started
            assert self.hooks is not None
            await self.hooks.emit(
                HookEvent(
                    "end", spec.name, spec.http, trace.call, trace.sends, status, error, duration
                )
            )

    async def _attempts(
        self,
        spec: MethodSpec,
        request: Request,
        key: str,
        download: bool,
        trace: _Trace | None,
        into: type[Result] | None,
        bare: bool,
    ) -> Any:
        loop = asyncio.get_running_loop()
        deadline = self.timeout.deadline
        expires = None if deadline is None else loop.time() + deadline
        read = self.timeout.read
        started = self.clock.now()
        limited = spec.rate_limit is not None or self.bucket is not None
        first = request
        attempt = polls = hops = 0
        refreshed = timed_out = False
        error: DXError
        while True:
            # ---- permit, attempt: the permit wait is bounded by the deadline, the attempt by
            # the sooner of its read limit and the deadline (the loop's one watchdog timer)
            answer: Any
            permits: list[Permit] | None = None
            needs_permit = limited and not request.presigned
            if needs_permit and spec.rate_limit is None and type(self.bucket) is TokenBucket:
                token = self.bucket.try_acquire()  # the uncontended path: no wait, no timer
                if token is not None:
                    permits, needs_permit = [token], False
            ends = loop.time() + read
            if expires is not None and expires < ends:
                ends = expires
            if trace is not None:
                trace.sends, trace.sent_at = trace.sends + 1, None
                await self._emit("request", spec, request, trace)
            try:
                if needs_permit:  # waiting for a permit counts against the deadline only
                    async with asyncio.timeout_at(expires):
                        permits = await self._permits(spec, key)
                    ends = loop.time() + read
                    if expires is not None and expires < ends:
                        ends = expires
                with watch(ends, loop):
                    self.stats["requests"] += 1
                    if trace is not None:
                        trace.sent_at = loop.time()
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("%s: %s %s", spec.name, request.method, _shown(request))
                    if download:
                        answer = await self._open(spec, request)
                    else:
                        reply = await self.transport.send(request)
                        if spec.dialect is not None and self.bucket is not None:
                            pause = rate_limit_pause(spec, reply.headers, time.time())
                            if pause:  # the API says its budget is spent until its reset
                                self.bucket.pause_for(pause)
                        answer = classify(
                            spec,
                            reply.status,
                            reply.headers,
                            reply.body,
                            max_retry_after=self.retry.max_retry_after,
                            into=into,
                            bare=bare,
                        )
            except AttemptFailed as failure:  # a copy: the original's traceback holds frames
                answer = AttemptFailed(failure.outcome, failure.error)
            except TimeoutError:
                if expires is not None and loop.time() >= expires:
                    timed_out = True
                else:
                    answer = translate(TimeoutError(f"the answer took over {read} s"), spec.name)
            finally:
                if permits is not None:
                    for p in permits:
                        p.release()
            if timed_out:
                error = RequestTimeoutError(
                    f"{spec.name}: no answer within the deadline of {deadline} s",
                    method=spec.name,
                )
                break
            if trace is not None:
                await self._emit("response", spec, request, trace, answer)
            if not isinstance(answer, AttemptFailed):
                return answer  # a Response, or a download's open Stream

            # ---- decide
            outcome, error = answer.outcome, answer.error
            del answer
            kind = outcome.kind
            if request.presigned and kind not in ("redirect", "fatal"):
                kind = "stale_link"  # the link failed before its first byte
            if kind == "redirect":
                hops += 1
                base = request.url if request.presigned else self.base_url + "/"
                url = urljoin(base, outcome.location or "")
                problem = check_link(url)
                if problem is None and hops > self.limits.max_redirects:
                    problem = (
                        f"more than {self.limits.max_redirects} redirects (Limits.max_redirects)"
                    )
                if problem is not None:
                    error = TransportError(f"{spec.name}: {problem}", method=spec.name)
                    break
                request = link(spec, url, self.timeout, self.limits)
                continue
            if kind == "stale_link":
                if refreshed:
                    break
                refreshed, hops, request = True, 0, first
                log.info("%s: download link failed (%s); asking for a fresh one", spec.name, error)
                continue
            left = _remaining(deadline, self.clock.now() - started)
            if kind == "pending":
                polls += 1
                delay = self.retry.poll_delay(polls, outcome.retry_after)
                if delay >= left:
                    error = RequestTimeoutError(
                        f"{spec.name}: still not ready ({spec.pending_error}) within the "
                        f"deadline of {deadline} s",
                        method=spec.name,
                    )
                    break
                log.debug("%s: not ready, asking again in %.2fs", spec.name, delay)
                if trace is not None:
                    await self._emit("retry", spec, request, trace, error, wait=delay)
                await self.clock.sleep(delay)
                continue
            if kind == "rate_limited":
                self.stats["429"] += 1
            attempt += 1
            wait = self.retry.decide(attempt, outcome, idempotent=spec.idempotent, rng=self.rng)
            if wait is None or wait >= left:  # waiting would cross the deadline: fail now
                log.debug("%s: giving up after %d attempt(s): %s", spec.name, attempt, error)
                break
            self.stats["retries"] += 1
            if kind == "rate_limited" and self.bucket is not None:
                self.bucket.pause_for(wait)
            log.info("%s: retry %d in %.2fs after %s", spec.name, attempt, wait, error)
            if trace is not None:
                await self._emit("retry", spec, request, trace, error, wait=wait)
            await self.clock.sleep(wait)
        # Raised outside any handler, so its chain holds nothing of the transport's; and with
        # the requests (their headers carry the token) dropped from this frame first.
        del request, first
        raise error.with_traceback(None)

    async def _emit(
        self,
        kind: Any,
        spec: MethodSpec,
        request: Request,
        trace: _Trace,
        answer: Any = None,
        *,
        wait: float | None = None,
    ) -> None:
        """Tell the hooks (only called when there are some)."""
        assert self.hooks is not None
        status: int | None = None
        error: str | None = None
        duration: float | None = None
        if isinstance(answer, AttemptFailed):
            answer = answer.error
        if isinstance(answer, BaseException):
            error, status = type(answer).__name__, getattr(answer, "status", None)
        elif answer is not None:
            status = answer.status
        if kind == "response" and trace.sent_at is not None:
            duration = asyncio.get_running_loop().time() - trace.sent_at
        if kind == "retry" and error is None:
            error = "pending"
        event = HookEvent(
            kind, spec.name, request.method, trace.call, trace.sends, status, error, duration, wait
        )
        await self.hooks.emit(event)

    async def _open(self, spec: MethodSpec, request: Request) -> Stream | AttemptFailed:
        """One download attempt: a file left open for the caller, or what went wrong."""
        stream = await self.transport.open(request)
        status, headers = stream.status, stream.headers
        if 200 <= status < 300 and (request.presigned or not is_json(headers)):
            return stream
        try:
            body = b"" if status in REDIRECTS else await stream.read()
        finally:
            await stream.aclose()
        if not request.presigned:
            answer = classify(
                spec,
                status,
                headers,
                body,
                max_retry_after=self.retry.max_retry_after,
                download=True,
            )
            if isinstance(answer, AttemptFailed):
                return answer
            error = TransportError(
                f"{spec.name}: expected a file or a redirect, got a JSON answer", method=spec.name
            )
            return AttemptFailed(Verdict("fatal"), error)
        host = urlsplit(request.url).hostname
        if status in REDIRECTS and headers.get("location"):
            hop = TransportError(f"{spec.name}: redirect from {host}", method=spec.name)
            return AttemptFailed(Verdict("redirect", location=headers["location"]), hop)
        error = TransportError(
            f"{spec.name}: download from {host} failed with HTTP {status}: {excerpt(body)}",
            method=spec.name,
            status=status,
        )
        return AttemptFailed(Verdict("stale_link" if status in STALE_LINK else "fatal"), error)

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


class _Trace:
    """What the hooks of one call need across its attempts."""

    __slots__ = ("call", "sends", "sent_at")
    _calls = itertools.count(1)

    def __init__(self) -> None:
        self.call = next(_Trace._calls)
        self.sends = 0
        self.sent_at: float | None = None


class _TypedPages:
    """One paginated call's pages as results, each keeping its own page's Response."""

    __slots__ = ("_into", "_result", "_session", "_spec")

    def __init__(self, session: Session, spec: MethodSpec, result: type[Any]) -> None:
        self._session, self._spec, self._result = session, spec, result
        self._into = _result_class(result)

    async def fetch(self, spec: MethodSpec, args: Mapping[str, Any]) -> Response:
        return await self._session._answer(spec, args, into=self._into)

    def structure(self, response: Response) -> Any:
        return _structure_answer()(self._spec, self._result, response)


def _payload_of(response: Response) -> dict[str, Any]:
    return response.payload


def _head_of(response: Response) -> Mapping[str, Any]:
    """What a page generator reads the next position from (not the whole payload, if the
    answer is still undecoded)."""
    head: Mapping[str, Any] | None = getattr(response, "head", None)
    return response.payload if head is None else head


def _shown(request: Request) -> str:
    """Where a request goes, for a log line: a DX path, or only the host of a link (whose
    query may carry a signature)."""
    parts = urlsplit(request.url)
    return f"link on {parts.hostname}" if request.presigned else parts.path


def _same(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def _result_class(cls: Any) -> type[Result] | None:
    """``cls`` if it is a generated result class (decoded straight from the body), else None."""
    return cls if isinstance(cls, type) and issubclass(cls, Result) else None


@functools.cache
def _structure_answer() -> Callable[..., Any]:
    """Imported with the first typed answer, so `import dxapi` stays cheap."""
    from ._convert import structure_answer

    return structure_answer


@functools.cache
def _structure_result() -> Callable[..., Any]:
    """Imported with the first typed answer, so `import dxapi` stays cheap."""
    from ._convert import structure_result

    return structure_result


def _remaining(deadline: float | None, elapsed: float) -> float:
    return float("inf") if deadline is None else deadline - elapsed
