"""A tiny HTTP/1.1 server on 127.0.0.1 that misbehaves on cue, for the reliability tests.

Unlike FakeDX it knows nothing of DX: each request is answered by the next :class:`Fault` in
its script (then by ``default``), so a test can say exactly which bytes come back, when the
connection breaks, and count how many requests reached the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, Literal

import aiohttp
import aiohttp.abc
import attrs

Action = Literal["answer", "reset_mid_body", "close_before_answer", "slow", "trickle"]

OK_BODY = json.dumps({"ok": True, "entity": {"identifier": "svc-1", "name": "Service"}}).encode()


@attrs.frozen
class Fault:
    """What the server does with one request."""

    status: int = 200
    body: bytes = OK_BODY
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    action: Action = "answer"
    #: For "slow": seconds to wait before answering; for "trickle": between body bytes.
    delay: float = 0.0


@attrs.frozen
class Seen:
    """One request that reached the server, as it arrived."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    #: time.monotonic() when the request had fully arrived.
    at: float = 0.0


class FaultServer:
    """``async with FaultServer() as srv``: ``srv.url``, ``srv.script(...)``, ``srv.seen``."""

    def __init__(self, default: Fault = Fault()) -> None:
        self.default = default
        self.seen: list[Seen] = []
        self._script: deque[Fault] = deque()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, faults: Iterable[Fault]) -> None:
        """Answer the next requests with ``faults``, in order."""
        self._script.extend(faults)

    async def __aenter__(self) -> FaultServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (raw := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.seen.append(Seen(method, target, headers, body, time.monotonic()))
        fault = self._script.popleft() if self._script else self.default
        if fault.action == "close_before_answer":
            return False
        if fault.action == "slow":
            await asyncio.sleep(fault.delay)
        head = [
            f"HTTP/1.1 {fault.status} X",
            f"Content-Type: {fault.content_type}",
            f"Content-Length: {len(fault.body)}",
            *(f"{k}: {v}" for k, v in fault.headers),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if fault.action == "trickle":  # each byte in time, the whole body never
            for byte in fault.body * 1000:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(fault.delay)
            return False
        if fault.action == "reset_mid_body":
            writer.write(fault.body[: len(fault.body) // 2])
            await writer.drain()
            await asyncio.sleep(0.01)
            sock = writer.get_extra_info("socket")
            if sock is not None:  # RST, not FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        writer.write(fault.body)
        await writer.drain()
        return True


def http_date(seconds_from_now: float) -> str:
    """An IMF-fixdate ``seconds_from_now`` from the wall clock."""
    from email.utils import formatdate

    return formatdate(time.time() + seconds_from_now, usegmt=True)


def dead_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FlakyResolver(aiohttp.abc.AbstractResolver):
    """Resolves every host to 127.0.0.1: the first ``refuse`` lookups to a port nobody serves."""

    def __init__(self, port: int, refuse: int = 0) -> None:
        self.port = port
        self.refuse = refuse
        self._dead = dead_port()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        target = self._dead if self.refuse > 0 else self.port
        self.refuse -= 1
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": target,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


@contextlib.asynccontextmanager
async def flaky_http(port: int, refuse: int = 0) -> Any:
    """An aiohttp session whose first ``refuse`` connections are refused."""
    connector = aiohttp.TCPConnector(
        resolver=FlakyResolver(port, refuse), use_dns_cache=False, limit=10
    )
    async with aiohttp.ClientSession(connector=connector) as http:
        yield http


class FastClock:
    """A session clock that records every wait and skips it (no test sleeps for real)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self._offset

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._offset += seconds
        await asyncio.sleep(0)
