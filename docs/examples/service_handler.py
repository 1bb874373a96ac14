"""Await dxapi calls in a web service: one client for the app's life, shared by every handler.

    DX_API_TOKEN=... python docs/examples/service_handler.py    # serves http://127.0.0.1:8080
    curl http://127.0.0.1:8080/teams/MTJ2

One ``dxapi.Client`` holds one connection pool and one rate limiter, so every request the
service handles shares the account's 1000-requests-per-minute budget; a client per request
would open a pool each time and let concurrent handlers overrun the limit together. The
client reads ``$DX_API_TOKEN`` and ``$DX_BASE_URL``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

import dxapi

DX = web.AppKey("dx", dxapi.Client)


async def dx_client(app: web.Application) -> AsyncIterator[None]:
    """Open the client when the app starts; close it (and its pool) when the app stops."""
    async with dxapi.Client() as dx:
        app[DX] = dx
        yield


async def team(request: web.Request) -> web.Response:
    try:
        answer = await request.app[DX].teams.info(team_id=request.match_info["team_id"])
    except dxapi.NotFoundError:
        raise web.HTTPNotFound(text="no such team") from None
    except dxapi.DXError as exc:  # every other failure, after the retries that were safe
        raise web.HTTPBadGateway(text=f"DX: {exc}") from None
    lead = answer.team.lead
    return web.json_response(
        {"id": answer.team.id, "name": answer.team.name, "lead": lead.name if lead else None}
    )


async def services(request: web.Request) -> web.Response:
    # Every item of every page, fetched page by page within the shared rate limit.
    names = [e.identifier async for e in request.app[DX].catalog.entities.list(type="service")]
    return web.json_response({"services": names})


def make_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(dx_client)
    app.add_routes([web.get("/teams/{team_id}", team), web.get("/services", services)])
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=8080)
