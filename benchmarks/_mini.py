"""A minimal HTTP/1.1 server on raw asyncio: the fast floor for per-call overhead.

It answers every ``GET /<method>`` with one canned DX-shaped JSON body, keeps connections
alive, and can enforce a true sliding-window limit (counted on arrival, 429 + Retry-After)
so the limiter workloads can run without FakeDX. It does as little as possible per request
so that, on its own core, it is never what limits a client.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from typing import Any

ENTITY: dict[str, Any] = {
    "ok": True,
    "entity": {
        "identifier": "dx-marketing-site",
        "type": "service",
        "name": "www",
        "description": "The main DX marketing site",
        "created_at": "2025-01-02T20:48:45Z",
        "updated_at": "2025-01-02T20:48:45Z",
        "owner_teams": [{"id": "MzI1NTk", "name": "Front end"}],
        "properties": {"Language": ["Ruby", "HTML", "Shell"]},
        "aliases": {"github_repo": [{"identifier": "671150935", "name": "get-dx/www"}]},
    },
}


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


OK = _response("200 OK", json.dumps(ENTITY).encode())
LIMITED_BODY = b'{"ok":false,"error":"rate_limited"}'


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
    def __init__(self, rate_limit: tuple[int, float] | None = None) -> None:
        self.rate_limit = rate_limit
        self.counters = Counters()
        self._log: deque[float] = deque()
        self._server: asyncio.Server | None = None
        self.url = ""
        self.token = "bench-token"

    def reset(self) -> None:
        self.counters.reset()
        self._log.clear()

    def answer(self) -> bytes:
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
        return OK

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
            out.append(self.server.answer())
        self.buf = buf
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
