"""Retry safety of Data Cloud writes against a real socket that drops connections.

A tiny asyncio HTTP server reads each request whole (so it has "reached the server"), then
either hangs up without answering or answers ``{"ok": true}``. A plain create must not be
resent after such a fault; a keyed upsert must be, and then succeed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

import dxapi
from dxapi import RetryPolicy, TransportError


@attrs.define
class DroppingServer:
    """Hangs up on the first ``drops`` requests, then answers ``answer`` (status ``status``)."""

    drops: int = 0
    status: int = 200
    answer: dict[str, Any] = attrs.field(factory=lambda: {"ok": True})
    received: list[tuple[str, str, bytes]] = attrs.field(factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            verb, target, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length)
            self.received.append((verb, target, body))
            if self.drops > 0:
                self.drops -= 1
                writer.transport.abort()  # the request arrived; the answer never comes
                return
            payload = json.dumps(self.answer).encode()
            writer.write(
                f"HTTP/1.1 {self.status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[DroppingServer]:
    state = DroppingServer()
    srv = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield state
        srv.close()


def client(server: DroppingServer, **options: Any) -> dxapi.DataCloudClient:
    return dxapi.DataCloudClient(
        token="t",
        base_url=f"http://127.0.0.1:{server.port}/api",
        retries=RetryPolicy(max_retries=3, backoff=0.01),
        rate_limit=None,
        **options,
    )


async def test_dropped_connection_during_create_is_not_retried(server: DroppingServer) -> None:
    server.drops = 1
    async with client(server) as dc:
        with pytest.raises(TransportError) as info:
            await dc.deployments.create(service="api", deployed_at=1680723287)
        assert dc.stats["retries"] == 0
    assert info.value.method == "deployments.create"
    assert len(server.received) == 1
    verb, target, body = server.received[0]
    assert (verb, target) == ("POST", "/api/deployments.create")
    assert json.loads(body) == {"service": "api", "deployed_at": 1680723287}


@pytest.mark.parametrize("encoding", ["json", "form"])
async def test_dropped_connection_during_upsert_is_retried(
    server: DroppingServer, encoding: str
) -> None:
    server.drops = 1
    async with client(server, encoding=encoding) as dc:
        result = await dc.incidents.upsert(
            reference_id="36b1f37a", started_at="2024-01-01T11:22:33", priority="p1"
        )
        assert dc.stats["retries"] == 1
    assert type(result).__name__ == "IncidentsUpsertResult"
    assert len(server.received) == 2
    assert server.received[0] == server.received[1]  # the same request, resent whole
    assert server.received[1][1] == "/api/incidents.upsert"


async def test_server_errors_follow_the_same_rule(server: DroppingServer) -> None:
    server.status = 503
    server.answer = {"ok": False, "error": "unavailable"}
    async with client(server) as dc:
        with pytest.raises(dxapi.APIError) as info:
            await dc.ai_tool_metrics.push(
                email="a@example.com", date="2025-01-15", is_active=True, tool="t"
            )
        assert info.value.status == 503
        assert len(server.received) == 1
        with pytest.raises(dxapi.APIError):
            await dc.custom_data.set(reference="o/r", key="k", value={"v": 1})
    assert len(server.received) == 1 + 4  # idempotent: first attempt + 3 retries


async def test_several_drops_then_success_for_a_keyed_delete(server: DroppingServer) -> None:
    server.drops = 2
    server.answer = {"ok": True, "action": "deleted", "reference_id": "r1"}
    async with client(server) as dc:
        result = await dc.deployments.delete(reference_id="r1")
    assert (result.action, result.reference_id) == ("deleted", "r1")
    assert len(server.received) == 3


async def test_an_idempotency_key_makes_an_upsert_safe_to_resend(server: DroppingServer) -> None:
    server.drops = 1
    async with client(server) as dc:
        with pytest.raises(TransportError):  # no key: a resend could create a second group
            await dc.repo_groups.upsert(name="Frontend")
        assert len(server.received) == 1
        server.drops = 1
        await dc.repo_groups.upsert(name="Frontend", reference_id="frontend-team")
    assert len(server.received) == 3  # with the key: dropped once, resent once
    assert server.received[1] == server.received[2]
