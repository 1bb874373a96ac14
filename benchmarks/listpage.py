"""Workload 2, list pages: ``catalog.entities.list`` pages of 100 entities, typed and raw.

``await dx.catalog.entities.list(limit=100)`` (structures 100 attrs ``Entity`` objects with
every field present, as DX answers) and ``await dx.call("catalog.entities.list", limit=100)``
(a dict), against a bare aiohttp loop fetching and ``json.loads``-ing the same 100-entity page,
at concurrency 64 on the mini server. Default dxapi client, blocks of a fresh client each
(64 warm-up + 880 measured pages, inside its bucket), as in :mod:`benchmarks.percall`.
"""

from __future__ import annotations

from typing import Any

from ._calls import measure
from ._common import Ctx, Server

CLIENTS = ["floor", "dxapi", "dxapi-raw"]


def run(ctx: Ctx) -> dict[str, Any]:
    plan = {64: {"blocks": 1 if ctx.quick else 2, "per_block": 880, "warmup": 64}}
    ctx.say("list pages of 100 entities (mini server): " + ", ".join(CLIENTS))
    with Server(ctx, "mini") as server:
        return measure(ctx, server, "page", plan, CLIENTS)
