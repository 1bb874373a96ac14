"""Workload 4, streaming memory: peak RSS growth while streaming a 1,000,000-row query CSV.

A child process (so nothing else it did is counted) opens a client, runs one small call so
that the session, connector and TLS-free connection are set up, then records its peak RSS
(``resource.getrusage``) as the idle baseline. It then starts a query run on FakeDX (in its
own process, so the server's memory is not counted), streams the CSV with
``dx.studio.query_runs.stream_csv(run_id)`` and counts bytes and lines, sampling the current
RSS as it goes. Growth = peak after - peak at idle. A second pass repeats it under
``tracemalloc`` for the Python-heap peak. ``floor``: the same CSV read with a bare aiohttp
``iter_chunked`` loop from the presigned URL.
"""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Any

from ._common import Ctx, Server, child_main, run_child


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def _stream(args: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    import dxapi

    trace = args.get("tracemalloc", False)
    async with dxapi.Client(token=args["token"], base_url=args["url"], rate_limit=None) as dx:
        started = await dx.studio.query_runs.execute(sql="SELECT * FROM bench_rows")
        run_id = started.query_run.id
        await dx.studio.query_runs.wait(run_id, timeout=60)
        if args["client"] == "floor":
            source = _floor_chunks(aiohttp, args, run_id)
        else:
            source = dx.studio.query_runs.stream_csv(run_id)
        if trace:
            import tracemalloc

            tracemalloc.start()
        idle_peak, idle_rss = _peak_kb(), _rss_kb()
        max_rss = idle_rss
        nbytes = lines = chunks = 0
        start = time.perf_counter()
        async for chunk in source:
            nbytes += len(chunk)
            lines += chunk.count(b"\n")
            chunks += 1
            if chunks % 64 == 0:
                max_rss = max(max_rss, _rss_kb())
        elapsed = time.perf_counter() - start
        max_rss = max(max_rss, _rss_kb())
        result: dict[str, Any] = {
            "rows": lines - 1,
            "bytes": nbytes,
            "chunks": chunks,
            "elapsed": elapsed,
            "mb_per_s": nbytes / elapsed / 1e6,
            "idle_peak_kb": idle_peak,
            "peak_kb": _peak_kb(),
            "peak_growth_kb": _peak_kb() - idle_peak,
            "rss_growth_kb": max_rss - idle_rss,
        }
        if trace:
            import tracemalloc

            result["tracemalloc_peak_kb"] = tracemalloc.get_traced_memory()[1] // 1024
            tracemalloc.stop()
    return result


async def _floor_chunks(aiohttp: Any, args: dict[str, Any], run_id: str) -> Any:
    headers = {"Authorization": f"Bearer {args['token']}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{args['url']}/studio.queryRuns.results",
            params={"id": run_id, "format": "csv"},
            headers=headers,
            allow_redirects=False,
        ) as resp:
            location = resp.headers["Location"]
        async with http.get(location) as resp:
            async for chunk in resp.content.iter_chunked(1 << 16):
                yield chunk


def child(args: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_stream(args))


def run(ctx: Ctx) -> dict[str, Any]:
    rows = 200_000 if ctx.quick else 1_000_000
    ctx.say(f"streaming: {rows:,}-row CSV through stream_csv (FakeDX in its own process)")
    out: dict[str, Any] = {"rows": rows}
    with Server(ctx, "fake", csv_rows=rows, limit=0) as srv:
        for client, trace in (("dxapi", False), ("floor", False), ("dxapi", True)):
            args = {"client": client, "url": srv.url, "token": srv.token, "tracemalloc": trace}
            res = run_child(ctx, "streaming", args)
            key = client + ("+tracemalloc" if trace else "")
            out[key] = res
            ctx.say(f"  {key}: {res}"[:300])
        out["server_rss_kb"] = srv.rss_kb()
    return out


if __name__ == "__main__":
    child_main(child)
