"""Workload 2, limiter efficiency against a server enforcing a true sliding window.

``window``: 1200 ``catalog.entities.info`` calls against 200 per 2 s. dxapi runs them as a
bulk fan-out (``dx.bulk`` with its default concurrency) on a client built with
``rate_limit=(200, 2.0)`` and otherwise default settings; slack_sdk (with its
``AsyncRateLimitErrorRetryHandler``) and getdx (threads) run the same calls at the same
concurrency. Reported: elapsed ÷ the ideal schedule ``(ceil(N/L) - 1) * W`` = 10 s, and the
429s the server sent.

``burst``: 1500 calls started at once through a default ``dxapi.Client`` (1000 per 60 s)
against a server enforcing 1000 per 60 s: how many were answered in the first 8 s, and how
many 429s. Takes 60+ s; ``--quick`` skips it.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._calls import identifier
from ._common import Ctx, Server, available, child_main, median, run_child, spread

METHOD = "catalog.entities.info"
#: Retries granted to the peers so that the job finishes (their defaults give up after 1
#: retry for slack_sdk and 2 for getdx, turning refusals into failed calls).
PEER_RETRIES = 10


# --------------------------------------------------------------------------- client side


async def _dxapi(args: dict[str, Any]) -> dict[str, Any]:
    import dxapi

    n, ident = args["n"], args["identifier"]
    kwargs: dict[str, Any] = {"token": args["token"], "base_url": args["url"]}
    if args.get("rate_limit"):
        kwargs["rate_limit"] = tuple(args["rate_limit"])
    done: list[float] = []
    errors = 0
    async with dxapi.Client(**kwargs) as dx:
        start = time.monotonic()
        if args["mode"] == "bulk":  # dx.bulk at its default concurrency
            inputs = ({"identifier": ident} for _ in range(n))
            async with dx.bulk(dx.catalog.entities.info, inputs) as out:
                async for outcome in out:
                    done.append(time.monotonic() - start)
                    errors += outcome.error is not None
        else:  # every call started at once

            async def one() -> None:
                nonlocal errors
                try:
                    await dx.catalog.entities.info(identifier=ident)
                except dxapi.DXError:
                    errors += 1
                done.append(time.monotonic() - start)

            await asyncio.gather(*(one() for _ in range(n)))
        elapsed = time.monotonic() - start
        stats = dict(dx.stats)
    return {"elapsed": elapsed, "errors": errors, "done": done, "client_stats": stats}


async def _slack(args: dict[str, Any]) -> dict[str, Any]:
    from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
    from slack_sdk.web.async_client import AsyncWebClient

    n, conc, ident = args["n"], args["conc"], args["identifier"]
    slack = AsyncWebClient(
        token=args["token"],
        base_url=args["url"] + "/",
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=PEER_RETRIES)],
    )
    left, errors = n, 0
    done: list[float] = []
    start = time.monotonic()

    async def worker() -> None:
        nonlocal left, errors
        while left > 0:
            left -= 1
            try:
                await slack.api_call(METHOD, http_verb="GET", params={"identifier": ident})
            except Exception:
                errors += 1
            done.append(time.monotonic() - start)

    await asyncio.gather(*(worker() for _ in range(conc)))
    return {"elapsed": time.monotonic() - start, "errors": errors, "done": done}


def _getdx(args: dict[str, Any]) -> dict[str, Any]:
    from getdx import DXClient, DXWebConfig
    from getdx.config import RetryConfig

    n, conc, ident = args["n"], args["conc"], args["identifier"]
    client = DXClient(
        web=DXWebConfig(
            token=args["token"],
            base_url=args["url"],
            retry=RetryConfig(max_attempts=PEER_RETRIES + 1),
        )
    )
    lock = threading.Lock()
    state = {"left": n, "errors": 0}
    done: list[float] = []
    start = time.monotonic()

    def worker() -> None:
        while True:
            with lock:
                if state["left"] <= 0:
                    return
                state["left"] -= 1
            failed = 0
            try:
                client.web.entities.info(identifier=ident)
            except Exception:
                failed = 1
            with lock:
                state["errors"] += failed
                done.append(time.monotonic() - start)

    try:
        with ThreadPoolExecutor(conc) as pool:
            for f in [pool.submit(worker) for _ in range(conc)]:
                f.result()
    finally:
        client.close()
    return {"elapsed": time.monotonic() - start, "errors": state["errors"], "done": done}


def child(args: dict[str, Any]) -> dict[str, Any]:
    if args["client"] == "getdx":
        return _getdx(args)
    if args["client"] == "slack_sdk":
        return asyncio.run(_slack(args))
    return asyncio.run(_dxapi(args))


# ------------------------------------------------------------------------ orchestration


def ideal(n: int, limit: int, per: float) -> float:
    return (math.ceil(n / limit) - 1) * per


def max_in_window(times: list[float], per: float) -> int:
    times = sorted(times)
    best = 0
    for i, start in enumerate(times):
        best = max(best, bisect.bisect_left(times, start + per, lo=i) - i)
    return best


def _one(ctx: Ctx, server: Server, args: dict[str, Any], per: float) -> dict[str, Any]:
    server.reset()
    res = run_child(ctx, "limiter", {**args, "url": server.url, "token": server.token})
    stats = server.stats()
    done = res.pop("done", [])
    res["server_429"] = stats["refused_429"]
    res["server_accepted"] = stats["accepted"]
    res["max_in_window"] = max_in_window(stats["arrivals"], per)
    res["answered_by_8s"] = sum(1 for t in done if t <= 8.0)
    return res


def _bulk_concurrency() -> int:
    """``dx.bulk``'s default concurrency (the peers run at the same)."""
    import inspect

    import dxapi

    default = inspect.signature(dxapi.Client.bulk).parameters["concurrency"].default
    return default if isinstance(default, int) else 32


def window(ctx: Ctx, kind: str) -> dict[str, Any]:
    n, limit, per = 1200, 200, 2.0
    clients = ["dxapi"] + [c for c in ("slack_sdk", "getdx") if available(c)]
    conc = _bulk_concurrency()
    runs = max(1, ctx.runs if not ctx.quick else 1)
    samples: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    ctx.say(f"limiter: {n} calls at {limit}/{per:g}s against the {kind} server, c={conc}")
    with Server(ctx, kind, limit=limit, per=per, entities=100 if kind == "fake" else None) as srv:
        ident = identifier(srv)
        for run in range(runs):
            for client in clients:
                args = {
                    "client": client,
                    "mode": "bulk",
                    "n": n,
                    "conc": conc,
                    "identifier": ident,
                    "rate_limit": [limit, per],
                }
                res = _one(ctx, srv, args, per)
                samples[client].append(res)
                ctx.say(
                    f"  limiter run {run + 1} {client:9s} "
                    + (
                        f"{res['elapsed']:6.2f}s  429s={res['server_429']}  "
                        f"errors={res['errors']}  max/window={res['max_in_window']}"
                        if "error" not in res
                        else res["error"][:300]
                    )
                )
    best = ideal(n, limit, per)
    table: dict[str, Any] = {}
    for client, rows in samples.items():
        ok = [r for r in rows if "error" not in r]
        elapsed = [r["elapsed"] for r in ok]
        table[client] = {
            "elapsed": median(elapsed),
            "range": spread(elapsed),
            "vs_ideal": (median(elapsed) or 0) / best if ok else None,
            "server_429": median(r["server_429"] for r in ok),
            "errors": median(r["errors"] for r in ok),
            "max_in_window": max((r["max_in_window"] for r in ok), default=None),
            "runs": rows,
        }
    return {
        "server": kind,
        "n": n,
        "limit": limit,
        "per": per,
        "concurrency": conc,
        "ideal": best,
        "peer_retries": PEER_RETRIES,
        "clients": table,
    }


def burst(ctx: Ctx, kind: str) -> dict[str, Any]:
    n, limit, per = 1500, 1000, 60.0
    ctx.say(f"burst acceptance: {n} concurrent calls at {limit}/{per:g}s ({kind} server)")
    with Server(ctx, kind, limit=limit, per=per, entities=100 if kind == "fake" else None) as srv:
        ident = identifier(srv)
        args = {"client": "dxapi", "mode": "gather", "n": n, "identifier": ident}
        res = _one(ctx, srv, args, per)
    ctx.say(f"  burst: {res}"[:400])
    res.update(n=n, limit=limit, per=per, ideal=ideal(n, limit, per), server=kind)
    return res


def run(ctx: Ctx, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"window": window(ctx, kind)}
    out["burst"] = None if ctx.quick else burst(ctx, kind)
    return out


if __name__ == "__main__":
    child_main(child)
