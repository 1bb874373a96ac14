"""Workload 3, concurrent pagination: ``async for`` over every item of multi-page listings.

Each iterator walks its own listing of :data:`PAGES` pages of 100 entities
(``async for entity in dx.catalog.entities.list(limit=100)``; raw: ``dx.paginate(...)``;
floor: a bare aiohttp loop following ``next_cursor``). At concurrency 1 the 64 listings of a
block run one after another, at 64 all at once; same pages, same server. Reported: the cost
per page at 64 ÷ at 1, in CPU time (the goal: it should not grow with concurrency) and in
wall time. Default dxapi client, blocks of a fresh client each (inside its bucket).
"""

from __future__ import annotations

from typing import Any

from ._calls import measure
from ._common import Ctx, Server

CLIENTS = ["floor", "dxapi", "dxapi-raw"]
#: Pages per listing: 64 listings of 14 pages and 64 warm-up pages stay inside 1000 requests.
PAGES = 14
LISTINGS = 64


def growth(cells: dict[str, Any], key: str) -> float | None:
    """``key`` (per-page cost) at concurrency 64 ÷ at 1: 1.0 means no growth."""
    hi, lo = (cells.get(c, {}).get(key) for c in ("64", "1"))
    return hi / lo if hi and lo else None


def run(ctx: Ctx) -> dict[str, Any]:
    blocks = 1 if ctx.quick else 2
    plan = {c: {"blocks": blocks, "per_block": LISTINGS, "warmup": 64} for c in (1, 64)}
    ctx.say(
        f"pagination: {LISTINGS} listings of {PAGES} pages at c=1 and c=64: " + ", ".join(CLIENTS)
    )
    with Server(ctx, "mini", pages=PAGES) as server:
        out = measure(ctx, server, "iterate", plan, CLIENTS, pages=PAGES)
    out["growth"] = {
        client: {"cpu": growth(cells, "cpu_us"), "wall": growth(cells, "wall_us")}
        for client, cells in out["clients"].items()
    }
    return out
