"""Workload 1, per-call overhead: small ``catalog.entities.info`` calls, default clients.

Every client makes the same GET against the same server (its own process, its own core) at
concurrency 1 and 64 (drivers and clients: :mod:`benchmarks._calls`). dxapi is the default
client, ``dxapi.Client(token, base_url=...)``: its limiter (the open 1000-per-60-s bucket)
is on and in the measured path. A client process works in blocks of a fresh client each
(warm-up, then 880 measured calls), so that bucket never runs dry and never waits; the server
enforces no limit. Peers (``info`` only):

- ``slack_sdk``: ``AsyncWebClient(...).api_call(..., http_verb="GET")`` as shipped (it opens a
  new aiohttp session, hence a new connection, per call unless given one);
- ``slack_sdk+session``: the same with a shared ``aiohttp.ClientSession`` passed in;
- ``getdx``: the sync httpx client, one thread per concurrent caller.
"""

from __future__ import annotations

from typing import Any

from ._calls import identifier as _identifier  # noqa: F401 (shared_limit.py imports it here)
from ._calls import measure
from ._common import Ctx, Server, available

CLIENTS = ("floor", "dxapi", "dxapi-raw", "slack_sdk", "slack_sdk+session", "getdx")
PEER_MODULE = {"slack_sdk": "slack_sdk", "slack_sdk+session": "slack_sdk", "getdx": "getdx"}
#: Against the second server (FakeDX) only these run, as a cross-check of the ratios on the
#: server the rest of the benchmarks use. FakeDX needs about as much CPU per request as the
#: floor client, so at concurrency 64 it can be the cap (its 'server busy' shows when).
CROSS_CHECK = ("floor", "dxapi", "dxapi-raw")


def plans(quick: bool) -> dict[int, dict[str, int]]:
    """Blocks of 100 warm-up + 880 measured calls (inside a default client's bucket)."""
    return {
        1: {"blocks": 1 if quick else 3, "per_block": 880, "warmup": 100},
        64: {"blocks": 3 if quick else 8, "per_block": 880, "warmup": 100},
    }


def run(ctx: Ctx, kinds: list[str]) -> dict[str, Any]:
    """Every client against ``kinds[0]``; the cross-check clients against the others."""
    clients = [c for c in CLIENTS if c not in PEER_MODULE or available(PEER_MODULE[c])]
    missing = [c for c in CLIENTS if c not in clients]
    plan = plans(ctx.quick)
    out: dict[str, Any] = {
        "n": {str(k): p["blocks"] * p["per_block"] for k, p in plan.items()},
        "missing": missing,
        "servers": kinds,
    }
    for i, kind in enumerate(kinds):
        chosen = clients if i == 0 else [c for c in clients if c in CROSS_CHECK]
        ctx.say(f"per-call overhead against the {kind} server: {', '.join(chosen)}")
        with Server(ctx, kind, entities=100 if kind == "fake" else None) as server:
            out[kind] = measure(ctx, server, "info", plan, chosen)
    return out
