"""The transport seam: aiohttp lives in one module, and what the real transport bounds.

Each server here is a few lines of raw asyncio on 127.0.0.1 that misbehaves in one way: it
sends its headers a byte at a time, or a body that never ends.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import pathlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

import dxapi
from dxapi import Client, Timeout
from tests._faultserver import Fault, FaultServer

ROOT = pathlib.Path(__file__).resolve().parent.parent / "dxapi"
OK = b'{"ok": true, "entity": {"identifier": "a", "name": "A"}}'


# ------------------------------------------------------------------------ the layout


def runtime_imports() -> dict[str, set[str]]:
    """Module name → the absolute names it imports, for every runtime module of dxapi.

    Deferred imports (inside functions) count; those under ``if TYPE_CHECKING:`` do not.
    """
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        if rel.parts[1] == "testing":
            continue
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        names: set[str] = set()
        for node in _load_time(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
                names.add(module)
                names.update(f"{module}.{a.name}" for a in node.names)
            elif node.module:
                names.add(node.module)
        found[name] = names
    return found


def _load_time(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append(node)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out += _load_time(node.orelse)
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                out += _load_time(getattr(node, field, []))
    return out


def test_aiohttp_is_imported_by_the_transport_alone() -> None:
    importers = {
        module
        for module, names in runtime_imports().items()
        if any(n == "aiohttp" or n.startswith("aiohttp.") for n in names)
    }
    assert importers == {"dxapi._transport"}


def test_dxapi_has_no_import_cycle() -> None:
    imports = runtime_imports()
    graph = {m: {n for n in names if n in imports and n != m} for m, names in imports.items()}
    # A package's __init__ re-exporting its modules is not a cycle of the modules themselves.
    graph = {m: {n for n in deps if not m.startswith(n + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


# --------------------------------------------------------------------- raw servers


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    tasks: set[asyncio.Task[Any]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def trickled_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Headers one byte every 50 ms: each read is quick, the whole answer never comes."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"x" * 10_000
    for byte in head:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.05)


async def endless_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A chunked JSON body that never ends, as fast as the client reads it."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
    writer.write(b'5\r\n{"a":\r\n')
    chunk = b"[" + b"0," * 32_000 + b"0]"
    while True:
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()


async def test_headers_that_trickle_in_are_bounded_by_read_even_without_a_deadline(
    token: str,
) -> None:
    async with raw_server(trickled_headers) as url:
        timeout = Timeout(read=0.4, connect=1, deadline=None)
        async with Client(token, base_url=url, timeout=timeout, retries=0) as dx:
            started = time.monotonic()
            with pytest.raises(dxapi.RequestTimeoutError, match=r"took over 0\.4 s"):
                async with asyncio.timeout(10):  # a plain TimeoutError here would fail the test
                    await dx.call("catalog.entities.info", identifier="a")
            assert time.monotonic() - started < 3


async def test_a_body_that_never_ends_is_cut_at_the_size_limit(token: str) -> None:
    from dxapi import Limits

    async with raw_server(endless_body) as url:
        limits = Limits(max_response_bytes=1 << 20)
        async with Client(token, base_url=url, limits=limits, retries=3) as dx:
            with pytest.raises(dxapi.ResponseTooLargeError, match="1048576 bytes"):
                await dx.call("catalog.entities.info", identifier="a")
            assert dx.stats["requests"] == 1  # the same answer would come back: not retried


async def test_a_declared_length_over_the_limit_is_refused_unread(token: str) -> None:
    from dxapi import Limits

    async with FaultServer(Fault(body=OK + b" " * 5000)) as srv:
        limits = Limits(max_response_bytes=1000)
        async with Client(token, base_url=srv.url, limits=limits) as dx:
            with pytest.raises(dxapi.ResponseTooLargeError):
                await dx.call("catalog.entities.info", identifier="a")
            with pytest.raises(dxapi.ResponseTooLargeError):
                await dx.call("catalog.entities.create", identifier="a", type="service")
        assert len(srv.seen) == 2  # one each: a write is never resent, a read neither


# ------------------------------------------------------------ a caller's own session


async def test_a_callers_session_with_raise_for_status_keeps_the_error_model(token: str) -> None:
    body = b'{"ok": false, "error": "not_found"}'
    async with (
        FaultServer(Fault(404, body)) as srv,
        aiohttp.ClientSession(raise_for_status=True) as http,
    ):
        dx = Client(token, base_url=srv.url, session=http, retries=0)
        with pytest.raises(dxapi.NotFoundError) as info:
            await dx.call("catalog.entities.info", identifier="a")
        assert info.value.error == "not_found"
        await dx.aclose()
        assert not http.closed  # the caller's session is the caller's to close


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": "http://127.0.0.1:9"}, "base_url"),
        ({"auth": aiohttp.BasicAuth("u", "p")}, "auth"),
        ({"auto_decompress": False}, "auto_decompress"),
    ],
)
async def test_a_callers_session_that_would_change_requests_is_refused(
    token: str, options: dict[str, Any], message: str
) -> None:
    async with aiohttp.ClientSession(**options) as http:
        with pytest.raises(ValueError, match=message):
            Client(token, session=http)


async def test_session_and_transport_together_are_refused(token: str) -> None:
    from dxapi.testing import MockResponse, MockTransport

    async with aiohttp.ClientSession() as http:
        with pytest.raises(ValueError, match="not both"):
            Client(token, session=http, transport=MockTransport(lambda r: MockResponse()))


# ------------------------------------------------------------- the one translation


@pytest.mark.parametrize(
    ("exc", "kind", "error"),
    [
        (ConnectionRefusedError(111, "refused"), "not_sent", dxapi.TransportError),
        (aiohttp.ConnectionTimeoutError("connect"), "not_sent", dxapi.RequestTimeoutError),
        (ConnectionResetError(104, "reset"), "sent", dxapi.TransportError),
        (aiohttp.ServerDisconnectedError(), "sent", dxapi.TransportError),
        (aiohttp.ClientPayloadError("cut"), "sent", dxapi.TransportError),
        (TimeoutError("slow"), "sent", dxapi.RequestTimeoutError),
        (aiohttp.InvalidURL("bad"), "fatal", dxapi.TransportError),
    ],
)
def test_translate_turns_every_failure_into_an_outcome(
    exc: BaseException, kind: str, error: type[Exception]
) -> None:
    from dxapi._transport import translate

    failure = translate(exc, "catalog.entities.info")
    assert failure.outcome.kind == kind
    assert type(failure.error) is error and failure.error.method == "catalog.entities.info"
    assert failure.error.__context__ is None and failure.error.__cause__ is None
    assert type(exc).__name__ in str(failure.error)


def test_translate_redacts_a_token_in_a_library_message(token: str) -> None:
    from dxapi._redact import remember_secret
    from dxapi._transport import translate

    handle = remember_secret(token)
    failure = translate(OSError(f"boom Authorization: Bearer {token}"), "x.y")
    assert token not in str(failure.error) and handle is not None
