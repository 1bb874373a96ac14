"""The call-driving workloads (per call, list page, pagination): clients, blocks, medians.

A child (``python -m benchmarks._calls '<json>'``) builds one client the way users do and
drives a *unit* of work ``per_block`` times at concurrency ``conc``:

- ``info``: one ``catalog.entities.info`` call;
- ``page``: one ``catalog.entities.list`` page of 100 entities;
- ``iterate``: every item of a whole multi-page ``catalog.entities.list`` listing.

Work comes in *blocks*: each block builds a fresh client (dxapi: ``dxapi.Client(token,
base_url=...)`` with nothing else, so its default limiter, the open 1000-per-60-s bucket, is
in the measured path), warms it up with ``warmup`` single requests that open the connections,
then measures. A block never sends more requests than that bucket holds, so the limiter is
paid for on every call and never waits; see :func:`check_bucket`. Clients:

- ``floor``: a bare aiohttp loop (one session, ``GET`` + ``json.loads``, following
  ``response_metadata.next_cursor`` when iterating): the least any aiohttp client can cost;
- ``dxapi``: the typed methods (``await dx.catalog.entities.info(...)``, ``await
  dx.catalog.entities.list(limit=100)``, ``async for entity in dx.catalog.entities.list(...)``);
- ``dxapi-raw``: ``dx.call(...)`` and ``async for item in dx.paginate(...)`` (dicts);
- ``slack_sdk``, ``slack_sdk+session``, ``getdx`` (``info`` only; see ``percall.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._common import Ctx, Server, child_main, child_sample, median, run_child, spread

INFO = "catalog.entities.info"
LIST = "catalog.entities.list"
PAGE_SIZE = 100
#: The default client's bucket: 1000 requests per 60 s. A block stays below it.
BUCKET = 1000
BUCKET_MARGIN = 20

Unit = Callable[[], Awaitable[int]]  # one unit of work; returns the items it saw


def requests_per_unit(workload: str, pages: int) -> int:
    return pages if workload == "iterate" else 1


def check_bucket(workload: str, pages: int, per_block: int, warmup: int) -> int:
    """Requests one block sends; ValueError if a default client's bucket would run dry."""
    sent = warmup + per_block * requests_per_unit(workload, pages)
    if sent > BUCKET - BUCKET_MARGIN:
        raise ValueError(
            f"{workload}: a block sends {sent} requests, more than a default client's "
            f"{BUCKET}-per-60-s bucket allows without waiting (margin {BUCKET_MARGIN})"
        )
    return sent


def expected_items(workload: str, pages: int) -> int:
    return {"info": 1, "page": PAGE_SIZE, "iterate": PAGE_SIZE * pages}[workload]


# --------------------------------------------------------------------------- client side


def _cpu() -> float:
    """CPU seconds this process used (all threads): robust to other load on the core."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drive(unit: Unit, n: int, conc: int) -> tuple[float, int, int]:
    """Run ``n`` units on ``conc`` workers; (elapsed seconds, errors, items seen)."""
    left, errors, items = n, 0, 0

    async def worker() -> None:
        nonlocal left, errors, items
        while left > 0:
            left -= 1
            try:
                got = await unit()  # not `items += await ...`: that reads items before awaiting
            except Exception:
                errors += 1
            else:
                items += got

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(conc, n))))
    return time.perf_counter() - start, errors, items


@contextlib.asynccontextmanager
async def _floor(args: dict[str, Any]) -> AsyncIterator[tuple[Unit, Unit]]:
    import aiohttp

    url, ident, workload = args["url"], args["identifier"], args["workload"]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {args['token']}"}) as s:

        async def get(method: str, params: dict[str, str]) -> Any:
            async with s.get(f"{url}/{method}", params=params) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(resp.status)
                return json.loads(body)

        async def info() -> int:
            await get(INFO, {"identifier": ident})
            return 1

        async def page() -> int:
            return len((await get(LIST, {"limit": "100"}))["entities"])

        async def iterate() -> int:
            params, n = {"limit": "100"}, 0
            while True:
                payload = await get(LIST, params)
                for _item in payload["entities"]:
                    n += 1
                cursor = (payload.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return n
                params = {"limit": "100", "cursor": cursor}

        units = {"info": info, "page": page, "iterate": iterate}
        yield units[workload], (info if workload == "info" else page)


@contextlib.asynccontextmanager
async def _dxapi(args: dict[str, Any]) -> AsyncIterator[tuple[Unit, Unit]]:
    import dxapi

    ident, workload, typed = args["identifier"], args["workload"], args["client"] == "dxapi"
    # The default client: only the token and the server's address are given.
    async with dxapi.Client(args["token"], base_url=args["url"]) as dx:
        if typed:

            async def info() -> int:
                await dx.catalog.entities.info(identifier=ident)
                return 1

            async def page() -> int:
                return len((await dx.catalog.entities.list(limit=PAGE_SIZE)).entities or ())

            async def iterate() -> int:
                n = 0
                async for _entity in dx.catalog.entities.list(limit=PAGE_SIZE):
                    n += 1
                return n

        else:

            async def info() -> int:
                await dx.call(INFO, identifier=ident)
                return 1

            async def page() -> int:
                return len((await dx.call(LIST, limit=PAGE_SIZE))["entities"])

            async def iterate() -> int:
                n = 0
                async for _item in dx.paginate(LIST, limit=PAGE_SIZE):
                    n += 1
                return n

        units = {"info": info, "page": page, "iterate": iterate}
        yield units[workload], (info if workload == "info" else page)


@contextlib.asynccontextmanager
async def _slack(args: dict[str, Any]) -> AsyncIterator[tuple[Unit, Unit]]:
    import aiohttp
    from slack_sdk.web.async_client import AsyncWebClient

    ident = args["identifier"]
    async with contextlib.AsyncExitStack() as stack:
        session = None
        if args["client"] == "slack_sdk+session":
            session = await stack.enter_async_context(aiohttp.ClientSession())
        slack = AsyncWebClient(token=args["token"], base_url=args["url"] + "/", session=session)

        async def info() -> int:
            await slack.api_call(INFO, http_verb="GET", params={"identifier": ident})
            return 1

        yield info, info


OPENERS = {
    "floor": _floor,
    "dxapi": _dxapi,
    "dxapi-raw": _dxapi,
    "slack_sdk": _slack,
    "slack_sdk+session": _slack,
}


async def _async_child(args: dict[str, Any]) -> dict[str, Any]:
    opener = OPENERS[args["client"]]
    elapsed = cpu = 0.0
    errors = items = 0
    for _ in range(args["blocks"]):
        async with opener(args) as (unit, warm):
            _, warm_errors, _ = await _drive(warm, args["warmup"], args["conc"])
            cpu0 = _cpu()
            e, err, n = await _drive(unit, args["per_block"], args["conc"])
            cpu += _cpu() - cpu0
        elapsed += e
        errors += err + warm_errors
        items += n
    return _result(args, elapsed, cpu, errors, items)


def _getdx_child(args: dict[str, Any]) -> dict[str, Any]:
    """getdx is synchronous (httpx): one thread per concurrent caller."""
    from getdx import DXClient, DXWebConfig

    ident, conc = args["identifier"], args["conc"]
    lock = threading.Lock()
    state = {"left": 0, "errors": 0}
    elapsed = cpu = 0.0

    def drive(client: Any, count: int) -> float:
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

        state["left"] = count
        start = time.perf_counter()
        with ThreadPoolExecutor(conc) as pool:
            for f in [pool.submit(worker) for _ in range(conc)]:
                f.result()
        return time.perf_counter() - start

    for _ in range(args["blocks"]):
        client = DXClient(web=DXWebConfig(token=args["token"], base_url=args["url"]))
        try:
            drive(client, args["warmup"])
            cpu0 = _cpu()
            elapsed += drive(client, args["per_block"])
            cpu += _cpu() - cpu0
        finally:
            client.close()
    units = args["blocks"] * args["per_block"]
    return _result(args, elapsed, cpu, state["errors"], units)


def _result(
    args: dict[str, Any], elapsed: float, cpu: float, errors: int, items: int
) -> dict[str, Any]:
    per_unit = requests_per_unit(args["workload"], args.get("pages", 1))
    requests = args["blocks"] * args["per_block"] * per_unit
    want = args["blocks"] * args["per_block"] * expected_items(args["workload"], args["pages"])
    return {
        "elapsed": elapsed,
        "errors": errors,
        "items": items,
        "items_expected": want,
        "requests": requests,
        "requests_all": requests + args["blocks"] * args["warmup"],
        "per_s": requests / elapsed,
        "cpu_us": cpu / requests * 1e6,
        "wall_us": elapsed / requests * 1e6,
        "cpu_busy": cpu / elapsed,
    }


def child(args: dict[str, Any]) -> dict[str, Any]:
    if args["client"] == "getdx":
        return _getdx_child(args)
    return asyncio.run(_async_child(args))


# ------------------------------------------------------------------------ orchestration


def identifier(server: Server) -> str:
    """An identifier the server knows (FakeDX answers not_found for others)."""
    if server.kind == "mini":
        return "service-00000"
    import urllib.request

    req = urllib.request.Request(
        f"{server.url}/{LIST}?limit=1",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        payload = json.loads(resp.read())
    return str(payload["entities"][0]["identifier"])


def vs_floor(cell: dict[str, Any], base: dict[str, Any]) -> None:
    """Add ``vs_floor`` (throughput ÷ floor's) and ``cpu_vs_floor`` (floor's CPU ÷ this):
    the median of the runs' own ratios, each run's client against that run's floor, so a
    machine whose speed drifts from run to run moves both sides of each ratio alike."""
    pairs = list(zip(base.get("runs", ()), cell.get("runs", ()), strict=False))
    per_s = [c["per_s"] / f["per_s"] for f, c in pairs if f and c]
    cpu = [f["cpu_us"] / c["cpu_us"] for f, c in pairs if f and c]
    if per_s:
        cell["vs_floor"], cell["cpu_vs_floor"] = median(per_s), median(cpu)


def measure(
    ctx: Ctx,
    server: Server,
    workload: str,
    plans: dict[int, dict[str, int]],
    clients: list[str],
    pages: int = 1,
) -> dict[str, Any]:
    """Median of ``ctx.runs`` runs per (client, concurrency), clients interleaved in each run.

    ``plans`` maps a concurrency to its ``blocks``, ``per_block`` and ``warmup``.
    """
    ident = identifier(server)
    for plan in plans.values():
        check_bucket(workload, pages, plan["per_block"], plan["warmup"])
    keys = ("per_s", "cpu_us", "wall_us", "server_busy", "other_load")
    raw: dict[str, dict[int, dict[str, list[Any]]]] = {
        c: {k: {key: [] for key in (*keys, "repeats", "runs")} for k in plans} for c in clients
    }
    errors: dict[str, list[str]] = {}
    base = {"url": server.url, "token": server.token, "identifier": ident, "pages": pages}
    # Discarded: the first client process after a server starts is measurably slower.
    warm = {"client": "floor", "conc": 64, "blocks": 1, "warmup": 64}
    per_block = max(1, 200 // requests_per_unit(workload, pages))
    run_child(ctx, "_calls", {**base, **warm, "workload": workload, "per_block": per_block})
    for run in range(ctx.runs):
        for conc, plan in plans.items():
            # back to back, in turn forwards and backwards: drift within a run cancels out
            for client in clients if run % 2 == 0 else clients[::-1]:
                args = {**base, **plan, "workload": workload, "client": client, "conc": conc}
                res = child_sample(ctx, "_calls", args, [server])
                ok = "error" not in res
                if ok and res["items"] != res["items_expected"]:
                    res["error"] = f"saw {res['items']} items, expected {res['items_expected']}"
                if "error" in res or res.get("errors"):
                    errors.setdefault(client, []).append(
                        res.get("error") or f"{res['errors']} failed calls"
                    )
                cell = raw[client][conc]
                cell["runs"].append(None)  # this run's sample, None if it failed
                if "error" not in res:
                    active = res["elapsed"] * res["requests_all"] / res["requests"]
                    res["server_busy"] = res["server_cpu_s"] / active
                    for key in keys:
                        cell[key].append(res[key])
                    cell["runs"][-1] = {"per_s": res["per_s"], "cpu_us": res["cpu_us"]}
                cell["repeats"].append(res.get("repeats", 0))
                ctx.say(
                    f"  {workload}[{server.kind}] run {run + 1} {client:18s} c={conc:<3d} "
                    + (
                        f"{res['per_s']:8.0f} req/s {res['cpu_us']:7.0f} µs CPU/req "
                        f"other load {res['other_load']:.0%}"
                        if "error" not in res
                        else f"failed: {res['error'][:300]}"
                    )
                )
    table: dict[str, Any] = {}
    for client in clients:
        table[client] = {}
        for conc, plan in plans.items():
            cell = raw[client][conc]
            table[client][str(conc)] = {
                **{key: median(cell[key]) for key in keys},
                "range": spread(cell["per_s"]),
                "samples": cell["per_s"],
                "cpu_samples": cell["cpu_us"],
                "repeats": sum(cell["repeats"]),
                "runs": cell["runs"],
                "requests": plan["blocks"]
                * plan["per_block"]
                * requests_per_unit(workload, pages),
            }
    for client in clients:
        for conc in plans:
            vs_floor(table[client][str(conc)], table.get("floor", {}).get(str(conc), {}))
    return {
        "server": server.kind,
        "workload": workload,
        "plans": {str(k): v for k, v in plans.items()},
        "pages": pages,
        "clients": table,
        "errors": errors,
        "identifier": ident,
    }


if __name__ == "__main__":
    child_main(child)
