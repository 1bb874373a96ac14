"""Workload 1, per-call overhead: N small ``catalog.entities.info`` calls, limiter out of the way.

Every client makes the same GET against the same server (its own process, its own core) at
concurrency 1 and 64, after a warm-up that opens the connections. Clients:

- ``floor``: a bare aiohttp loop (one session, ``GET`` + ``json.loads``): the least any
  aiohttp-based client can cost;
- ``dxapi``: ``await dx.catalog.entities.info(identifier=...)`` with ``rate_limit=None``
  (typed: checks, encodes, sends, classifies and structures an attrs ``Entity``);
- ``dxapi-raw``: ``await dx.call("catalog.entities.info", ...)`` (the same without structuring);
- ``slack_sdk``: ``AsyncWebClient(...).api_call(..., http_verb="GET")`` as shipped (it opens a
  new aiohttp session, hence a new connection, per call unless given one);
- ``slack_sdk+session``: the same with a shared ``aiohttp.ClientSession`` passed in;
- ``getdx``: the sync httpx client, one thread per concurrent caller.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from time import monotonic as now
from typing import Any

from ._common import (
    Ctx,
    Server,
    available,
    child_main,
    children_cpu,
    cpu_times,
    median,
    run_child,
    spread,
    wait_quiet,
)

METHOD = "catalog.entities.info"
CLIENTS = ("floor", "dxapi", "dxapi-raw", "slack_sdk", "slack_sdk+session", "getdx")
PEER_MODULE = {"slack_sdk": "slack_sdk", "slack_sdk+session": "slack_sdk", "getdx": "getdx"}


# --------------------------------------------------------------------------- client side


async def _drive(call: Any, n: int, conc: int) -> tuple[float, int]:
    """Run ``n`` calls on ``conc`` workers; (elapsed seconds, errors)."""
    left = n
    errors = 0

    async def worker() -> None:
        nonlocal left, errors
        while left > 0:
            left -= 1
            try:
                await call()
            except Exception:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return time.perf_counter() - start, errors


async def _async_client(args: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    kind, url, token, ident = args["client"], args["url"], args["token"], args["identifier"]
    n, conc, warmup = args["n"], args["conc"], args["warmup"]
    closers: list[Any] = []
    if kind == "floor":
        session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})
        closers.append(session.close)
        target = f"{url}/{METHOD}"

        async def call() -> Any:
            async with session.get(target, params={"identifier": ident}) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(resp.status)
                return json.loads(body)

    elif kind in ("dxapi", "dxapi-raw"):
        import dxapi

        dx = dxapi.Client(token=token, base_url=url, rate_limit=None)
        await dx.__aenter__()
        closers.append(dx.aclose)
        if kind == "dxapi":

            async def call() -> Any:
                return await dx.catalog.entities.info(identifier=ident)

        else:

            async def call() -> Any:
                return await dx.call(METHOD, identifier=ident)

    else:
        from slack_sdk.web.async_client import AsyncWebClient

        session = None
        if kind == "slack_sdk+session":
            session = aiohttp.ClientSession()
            closers.append(session.close)
        slack = AsyncWebClient(token=token, base_url=url + "/", session=session)

        async def call() -> Any:
            return await slack.api_call(METHOD, http_verb="GET", params={"identifier": ident})

    try:
        _, warm_errors = await _drive(call, warmup, conc)
        cpu = _cpu()
        elapsed, errors = await _drive(call, n, conc)
        cpu = _cpu() - cpu
    finally:
        for close in closers:
            await close()
    return _result(n, elapsed, cpu, errors + warm_errors)


def _cpu() -> float:
    """CPU seconds this process used (all threads): robust to other load on the core."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _result(n: int, elapsed: float, cpu: float, errors: int) -> dict[str, Any]:
    return {
        "elapsed": elapsed,
        "errors": errors,
        "calls_per_s": n / elapsed,
        "cpu_us_per_call": cpu / n * 1e6,
        "cpu_busy": cpu / elapsed,
    }


def _getdx_client(args: dict[str, Any]) -> dict[str, Any]:
    from getdx import DXClient, DXWebConfig

    ident, n, conc, warmup = args["identifier"], args["n"], args["conc"], args["warmup"]
    client = DXClient(web=DXWebConfig(token=args["token"], base_url=args["url"]))
    lock = threading.Lock()
    state = {"left": 0, "errors": 0}

    def worker() -> None:
        while True:
            with lock:
                if state["left"] <= 0:
                    return
                state["left"] -= 1
            try:
                client.web.entities.info(identifier=ident)
            except Exception:
                with lock:
                    state["errors"] += 1

    def drive(count: int) -> float:
        state["left"] = count
        start = time.perf_counter()
        with ThreadPoolExecutor(conc) as pool:
            for f in [pool.submit(worker) for _ in range(conc)]:
                f.result()
        return time.perf_counter() - start

    try:
        drive(warmup)
        cpu = _cpu()
        elapsed = drive(n)
        cpu = _cpu() - cpu
    finally:
        client.close()
    return _result(n, elapsed, cpu, state["errors"])


def child(args: dict[str, Any]) -> dict[str, Any]:
    if args["client"] == "getdx":
        return _getdx_client(args)
    return asyncio.run(_async_client(args))


# ------------------------------------------------------------------------ orchestration


def _identifier(server: Server) -> str:
    """An identifier the server knows (FakeDX answers not_found for others)."""
    if server.kind == "mini":
        return "dx-marketing-site"
    import urllib.request

    req = urllib.request.Request(
        f"{server.url}/catalog.entities.list?limit=1",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        payload = json.loads(resp.read())
    return str(payload["entities"][0]["identifier"])


def measure(ctx: Ctx, server: Server, n: dict[int, int], clients: list[str]) -> dict[str, Any]:
    """Median calls/s per (client, concurrency) over ``ctx.runs`` runs, interleaved."""
    ident = _identifier(server)
    samples: dict[str, dict[int, list[float | None]]] = {c: {k: [] for k in n} for c in clients}
    busy_samples: dict[str, dict[int, list[float | None]]] = {
        c: {k: [] for k in n} for c in clients
    }
    cpu_samples: dict[str, dict[int, list[float | None]]] = {
        c: {k: [] for k in n} for c in clients
    }
    other_samples: dict[str, dict[int, list[float | None]]] = {
        c: {k: [] for k in n} for c in clients
    }
    errors: dict[str, list[str]] = {}
    # One discarded run: the first client process after a server starts is measurably slower.
    run_child(
        ctx,
        "percall",
        {
            "client": "floor",
            "url": server.url,
            "token": server.token,
            "identifier": ident,
            "n": 2000,
            "conc": 64,
            "warmup": 200,
        },
    )
    for run in range(ctx.runs):
        for conc, count in n.items():
            for client in clients:
                args = {
                    "client": client,
                    "url": server.url,
                    "token": server.token,
                    "identifier": ident,
                    "n": count,
                    "conc": conc,
                    "warmup": min(count // 5, 1000) or 1,
                }
                wait_quiet(ctx)
                cpu, before, kids, t0 = server.cpu_seconds(), cpu_times(), children_cpu(), now()
                res = run_child(ctx, "percall", args, quiet=False)
                if "elapsed" in res:  # share of its core the server used while measured
                    calls = count + args["warmup"]
                    server_cpu = server.cpu_seconds() - cpu
                    busy = server_cpu / (res["elapsed"] * calls / count)
                    busy_samples[client][conc].append(busy)
                    cpu_samples[client][conc].append(res["cpu_us_per_call"])
                    # CPU anything else on the machine used meanwhile, in cores
                    after, wall = cpu_times(), now() - t0
                    ours = server_cpu + children_cpu() - kids
                    hz = os.sysconf("SC_CLK_TCK")
                    other_samples[client][conc].append(
                        max(0.0, ((after[0] - before[0]) / hz - ours) / wall)
                    )
                if "error" in res or res.get("errors"):
                    errors.setdefault(client, []).append(
                        res.get("error") or f"{res['errors']} failed calls"
                    )
                rate = res.get("calls_per_s") if "error" not in res else None
                samples[client][conc].append(rate)
                ctx.say(
                    f"  percall[{server.kind}] run {run + 1} {client:18s} c={conc:<3d} "
                    + (
                        f"{rate:8.0f} calls/s {res['cpu_us_per_call']:6.0f} µs CPU/call"
                        if rate
                        else "failed"
                    )
                )
    table: dict[str, Any] = {}
    for client in clients:
        table[client] = {}
        for conc in n:
            vals = samples[client][conc]
            table[client][str(conc)] = {
                "calls_per_s": median(vals),
                "range": spread(vals),
                "samples": vals,
                "n": n[conc],
                "server_busy": median(busy_samples[client][conc]),
                "cpu_us_per_call": median(cpu_samples[client][conc]),
                "cpu_samples": cpu_samples[client][conc],
                "other_load_cores": median(other_samples[client][conc]),
            }
    floor = table.get("floor", {})
    for client in clients:
        for conc in n:
            cell, base = table[client][str(conc)], floor.get(str(conc), {})
            if cell["calls_per_s"] and base.get("calls_per_s"):
                cell["vs_floor"] = cell["calls_per_s"] / base["calls_per_s"]
            if cell["cpu_us_per_call"] and base.get("cpu_us_per_call"):
                # floor CPU per call ÷ this client's: 1.0 = as cheap as the bare loop
                cell["cpu_vs_floor"] = base["cpu_us_per_call"] / cell["cpu_us_per_call"]
    return {"server": server.kind, "clients": table, "errors": errors, "identifier": ident}


#: Against the second server (FakeDX) only these run, as a cross-check of the ratios on the
#: server the rest of the benchmarks use. FakeDX needs about as much CPU per request as the
#: floor client, so at concurrency 64 it can be the cap (its 'server busy' shows when).
CROSS_CHECK = ("floor", "dxapi", "dxapi-raw")


def run(ctx: Ctx, kinds: list[str]) -> dict[str, Any]:
    """Every client against ``kinds[0]``; the cross-check clients against the others."""
    clients = [c for c in CLIENTS if c not in PEER_MODULE or available(PEER_MODULE[c])]
    missing = [c for c in CLIENTS if c not in clients]
    n = {1: 500, 64: 2000} if ctx.quick else {1: 1000, 64: 5000}
    out: dict[str, Any] = {
        "n": {str(k): v for k, v in n.items()},
        "missing": missing,
        "servers": kinds,
    }
    for i, kind in enumerate(kinds):
        chosen = clients if i == 0 else [c for c in clients if c in CROSS_CHECK]
        ctx.say(f"per-call overhead against the {kind} server: {', '.join(chosen)}")
        with Server(ctx, kind, entities=100 if kind == "fake" else None) as server:
            out[kind] = measure(ctx, server, n, chosen)
    return out


if __name__ == "__main__":
    child_main(child)
