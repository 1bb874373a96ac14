"""A minimal HTTP/1.1 server on raw asyncio: the fast floor for per-call overhead.

It answers ``GET /catalog.entities.list`` with canned pages of 100 entities (``?cursor=c<k>``
picks page k of a fixed-length listing) and every other ``GET /<method>`` with one canned
entity, keeps connections alive, and can enforce a true sliding-window limit (counted on
arrival, 429 + Retry-After) so the limiter workloads can run without FakeDX. It does as
little as possible per request so that, on its own core, it is never what limits a client.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from typing import Any

_LANGUAGES = ("Ruby", "Go", "TypeScript", "Python", "Java", "HTML", "Shell", "Kotlin")
_TYPES = ("service", "library", "website", "data-pipeline")


def entity(i: int) -> dict[str, Any]:
    """Catalog entity number ``i`` as DX answers it: every field of ``Entity`` present.

    Shaped like DX's documented answers (space-separated timestamps with microseconds, free-form
    property values of mixed types, aliases keyed by alias type) and like FakeDX's synthetic
    entities (owner teams and users, a null domain on some), so a typed client structures what
    it would structure against DX.
    """
    ident = f"service-{i:05d}"
    stamp = f"2025-01-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:45.{77969 + i:06d}"
    return {
        "identifier": ident,
        "type": _TYPES[i % len(_TYPES)],
        "name": f"Service {i}",
        "description": f"Service number {i}, handling one part of payment processing",
        "domain": None if i % 3 else f"domain-{i % 7}",
        "created_at": stamp,
        "updated_at": stamp,
        "owner_teams": [{"id": f"MTJ{i % 12}", "name": f"Team {i % 12}"}],
        "owner_users": [
            {"id": f"NTA{i % 40}", "name": f"User {i % 40}", "email": f"user{i % 40}@example.com"}
        ],
        "properties": {
            "Language": [_LANGUAGES[i % 8], _LANGUAGES[(i + 3) % 8]],
            "Architecture Approved": i % 2 == 0,
            "Tier": f"Tier-{1 + i % 3}",
            "On-call rotation": None if i % 4 else f"rotation-{i % 5}",
        },
        "aliases": {
            "github_repo": [{"identifier": str(671150935 + i), "name": f"get-dx/{ident}"}]
        },
    }


#: ``catalog.entities.info``'s answer (one entity).
ENTITY: dict[str, Any] = {"ok": True, "entity": entity(0)}
#: Entities per ``catalog.entities.list`` page.
PAGE_SIZE = 100


def page(k: int, pages: int) -> dict[str, Any]:
    """Page ``k`` (from 0) of a ``pages``-page listing: cursor ``c<k>``, next ``c<k+1>``."""
    nxt = f"c{k + 1}" if k + 1 < pages else None
    return {
        "ok": True,
        "entities": [entity(k * PAGE_SIZE + i) for i in range(PAGE_SIZE)],
        "response_metadata": {"next_cursor": nxt},
    }


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


OK = _response("200 OK", json.dumps(ENTITY).encode())
LIMITED_BODY = b'{"ok":false,"error":"rate_limited"}'
NOT_FOUND = _response("404 Not Found", b'{"ok":false,"error":"invalid_cursor"}')


class Counters:
    def __init__(self) -> None:
        self.accepted = 0
        self.refused_429 = 0
        self.arrivals: list[float] = []

    def snapshot(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "refused_429": self.refused_429,
            "arrivals": list(self.arrivals),
        }

    def reset(self) -> None:
        self.accepted = self.refused_429 = 0
        self.arrivals.clear()


class MiniServer:
    def __init__(self, rate_limit: tuple[int, float] | None = None, pages: int = 20) -> None:
        self.rate_limit = rate_limit
        self.pages = [
            _response("200 OK", json.dumps(page(k, pages)).encode()) for k in range(pages)
        ]
        self.counters = Counters()
        self._log: deque[float] = deque()
        self._server: asyncio.Server | None = None
        self.url = ""
        self.token = "bench-token"

    def reset(self) -> None:
        self.counters.reset()
        self._log.clear()

    def answer(self, head: bytes) -> bytes:
        """The answer to the request whose head (request line and headers) is ``head``."""
        now = time.monotonic()
        if self.rate_limit is not None:
            limit, per = self.rate_limit
            log = self._log
            while log and log[0] <= now - per:
                log.popleft()
            if len(log) >= limit:
                self.counters.refused_429 += 1
                wait = max(1, math.ceil(log[0] + per - now))
                return _response("429 Too Many Requests", LIMITED_BODY, f"Retry-After: {wait}\r\n")
            log.append(now)
            self.counters.arrivals.append(now)
        self.counters.accepted += 1
        line = head[: head.find(b" HTTP/")]
        if b"/catalog.entities.list" not in line:
            return OK
        i = line.find(b"cursor=c")
        if i < 0:
            return self.pages[0]
        j = line.find(b"&", i)
        k = line[i + 8 : j if j >= 0 else len(line)]
        return self.pages[int(k)] if k.isdigit() and int(k) < len(self.pages) else NOT_FOUND

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Protocol(self), host, port, backlog=4096)
        sock = self._server.sockets[0]
        self.url = "http://{}:{}".format(*sock.getsockname()[:2])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class _Protocol(asyncio.Protocol):
    def __init__(self, server: MiniServer) -> None:
        self.server = server
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        out = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end]
            length = 0
            i = head.lower().find(b"\ncontent-length:")
            if i >= 0:
                j = head.find(b"\r", i + 1)
                length = int(head[i + 16 : j if j >= 0 else len(head)])
            total = end + 4 + length
            if len(buf) < total:
                break
            buf = buf[total:]
            out.append(self.server.answer(head))
        self.buf = buf
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
