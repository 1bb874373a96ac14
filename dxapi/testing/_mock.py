"""MockTransport: the whole request pipeline of a client, answered by a function, no sockets."""

from __future__ import annotations

import inspect
import json as jsonlib
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from typing import Any

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from .._retry import AttemptFailed
from .._transport import FAILURES, Reply, Request, check_size, translate

__all__ = ["MockResponse", "MockTransport"]

Body = bytes | Iterable[bytes] | AsyncIterable[bytes]


@attrs.frozen
class MockResponse:
    """What the handler answers: ``json`` (sent as application/json) or raw ``body`` bytes,
    which may be an (async) iterable of chunks to stream or trickle."""

    status: int = 200
    json: Any = None
    body: Body = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)


Handler = Callable[[Request], MockResponse | Awaitable[MockResponse]]


class MockTransport:
    """``dxapi.Client(transport=MockTransport(handler))``: every attempt calls ``handler``.

    The handler gets the :class:`~dxapi._transport.Request` (method, url, query, headers,
    json, form, presigned) and returns a :class:`MockResponse`, or raises what a network
    would (``ConnectionRefusedError``, ``ConnectionResetError``, ``TimeoutError``...), which
    is translated exactly as the real transport translates it. ``requests`` lists every
    request made.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []

    async def send(self, request: Request) -> Reply:
        stream = await self.open(request)
        return Reply(stream.status, stream.headers, await stream.read())

    async def open(self, request: Request) -> _MockStream:
        self.requests.append(request)
        try:
            answer = self.handler(request)
            if inspect.isawaitable(answer):
                answer = await answer
        except FAILURES as exc:
            failure = translate(exc, request.name)
        else:
            return _MockStream(answer, request)
        raise failure

    async def aclose(self) -> None:
        pass


class _MockStream:
    def __init__(self, answer: MockResponse, request: Request) -> None:
        headers = CIMultiDict(answer.headers)
        body = answer.body
        if answer.json is not None:
            body = jsonlib.dumps(answer.json).encode()
            headers.setdefault("Content-Type", "application/json")
        self.status = answer.status
        self.headers = CIMultiDictProxy(headers)
        self._body = body
        self._request = request

    async def read(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        try:
            async for chunk in _chunks(self._body):
                size += len(chunk)
                check_size(self._request.name, size, self._request.max_bytes)
                parts.append(chunk)
        except FAILURES as exc:
            failure = translate(exc, self._request.name)
        else:
            return b"".join(parts)
        raise failure

    async def iter_bytes(self, chunk_size: int) -> AsyncGenerator[bytes, None]:
        failure: AttemptFailed | None = None
        try:
            async for part in _chunks(self._body):
                for start in range(0, len(part), chunk_size):
                    yield part[start : start + chunk_size]
        except FAILURES as exc:
            failure = translate(exc, self._request.name)
        if failure is not None:
            raise failure.error

    async def aclose(self) -> None:
        pass


async def _chunks(body: Body) -> AsyncIterator[bytes]:
    if isinstance(body, bytes | bytearray):
        yield bytes(body)
    elif isinstance(body, AsyncIterable):
        async for part in body:
            yield part
    else:
        for part in body:
            yield part
