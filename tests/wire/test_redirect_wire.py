"""A 303 to another host, on real sockets: what reaches the download host is exactly the link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import dxapi

RUN = {"id": "r1", "status": "succeeded", "expires_at": "2026-05-13T20:10:05Z"}
SIGNED = "/bucket/r1.csv?X-Amz-Signature=a%2Fb%3D&X-Amz-Expires=60"


class Hosts:
    """An API host on 127.0.0.1 and a storage host on localhost (another origin)."""

    def __init__(self) -> None:
        self.api_url = self.storage_url = ""
        self.storage_seen: list[dict[str, Any]] = []
        self.location = ""
        self._runners: list[web.AppRunner] = []

    async def start(self) -> None:
        api = web.Application()
        api.router.add_get("/prefix/studio.queryRuns.info", self.info)
        api.router.add_get("/prefix/studio.queryRuns.results", self.results)
        storage = web.Application()
        storage.router.add_get("/bucket/r1.csv", self.csv)
        self.api_url = await self._serve(api, "127.0.0.1") + "/prefix"
        self.storage_url = await self._serve(storage, "localhost")

    async def _serve(self, app: web.Application, host: str) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://{host}:{port}"

    async def close(self) -> None:
        for runner in self._runners:
            await runner.cleanup()

    async def info(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "query_run": RUN})

    async def results(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"].startswith("Bearer ")
        # Not HTTPSeeOther: it would normalise the Location, as a real server does not.
        return web.Response(status=303, headers={"Location": self.location})

    async def csv(self, request: web.Request) -> web.Response:
        self.storage_seen.append(
            {"headers": dict(request.headers), "query": request.raw_path.split("?", 1)[1]}
        )
        return web.Response(body=b"id\n1\n2\n", content_type="text/csv")


@pytest.fixture
async def hosts() -> AsyncIterator[Hosts]:
    h = Hosts()
    await h.start()
    yield h
    await h.close()


def names(headers: dict[str, str]) -> set[str]:
    return {k.lower() for k in headers}


async def test_absolute_link_gets_no_authorization(hosts: Hosts, token: str) -> None:
    hosts.location = hosts.storage_url + SIGNED
    async with dxapi.Client(token=token, base_url=hosts.api_url) as dx:
        body = b"".join([c async for c in dx.studio.query_runs.stream_csv("r1")])
    assert body == b"id\n1\n2\n"
    [seen] = hosts.storage_seen
    assert "authorization" not in names(seen["headers"])
    assert token not in repr(seen)
    assert seen["query"] == SIGNED.split("?", 1)[1]  # the signature arrives as it was sent


async def test_relative_link_resolves_against_the_base_url(hosts: Hosts, token: str) -> None:
    # "/bucket/…" on the API host's origin: resolved against the base URL, still tokenless.
    async def csv_on_api(request: web.Request) -> web.Response:
        hosts.storage_seen.append({"headers": dict(request.headers), "query": ""})
        return web.Response(body=b"x\n", content_type="text/csv")

    app = web.Application()
    app.router.add_get("/prefix/studio.queryRuns.info", hosts.info)
    app.router.add_get("/prefix/studio.queryRuns.results", hosts.results)
    app.router.add_get("/bucket/r1.csv", csv_on_api)
    base = await hosts._serve(app, "127.0.0.1")
    hosts.location = "/bucket/r1.csv"
    async with dxapi.Client(token=token, base_url=base + "/prefix") as dx:
        body = b"".join([c async for c in dx.studio.query_runs.stream_csv("r1")])
    assert body == b"x\n"
    assert "authorization" not in names(hosts.storage_seen[0]["headers"])


async def test_a_callers_session_with_default_credentials_is_not_used(
    hosts: Hosts, token: str
) -> None:
    hosts.location = hosts.storage_url + SIGNED
    async with (
        aiohttp.ClientSession(headers={"Authorization": "Bearer caller-secret"}) as http,
        dxapi.Client(token=token, base_url=hosts.api_url, session=http) as dx,
    ):
        body = b"".join([c async for c in dx.studio.query_runs.stream_csv("r1")])
    assert body == b"id\n1\n2\n"
    [seen] = hosts.storage_seen
    assert "authorization" not in names(seen["headers"])
    assert "caller-secret" not in repr(seen)
