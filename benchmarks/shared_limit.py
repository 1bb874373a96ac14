"""Workload 6, one account shared by many processes: ``dxapi.RedisLimiter``.

``fleet``: 8 worker processes, 200 ``catalog.entities.info`` calls each (1,600 in all, a bulk
fan-out per process at its default concurrency), against FakeDX enforcing a true sliding
window of 200 per 2 s for the account. With ``RedisLimiter`` (one key, Redis on loopback)
and, for contrast, with a 200-per-2-s bucket in every process; as the best a limiter does
here, the same calls at the same total concurrency in one process, through its in-process
bucket ("one process") and through ``RedisLimiter`` ("one process, redis").

Reported: the time from the first request the server saw to the last answer ÷ the ideal
schedule ``(ceil(N/L) - 1) * W`` = 14 s (the first 200 go at t = 0, the last 200 at
t = 14 s; 1,600 / 200 * 2 s = 16 s less the last window, which needs no waiting out), also
from the common start signal; the 429s the server sent, failed calls. Each worker warms up
first (imports, connections) with unlimited calls that the server forgets before the start.

``overhead``: µs per grant (acquire + release) at concurrency 64, ``RedisLimiter`` vs the
in-process ``TokenBucket``, with a limit never reached, so only the mechanism is timed.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._common import PY, ROOT, Ctx, Server, child_main, median, spread, wait_quiet

WORKERS, PER_WORKER, LIMIT, PER = 8, 200, 200, 2.0


# --------------------------------------------------------------------------- client side


async def _worker(args: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    import dxapi
    from dxapi._bulk import DEFAULT_CONCURRENCY, fan_out

    http = aiohttp.ClientSession()
    kwargs: dict[str, Any] = {"token": args["token"], "base_url": args["url"], "session": http}
    # The first calls of a process import and build what later calls reuse, and open the
    # connections: done before the start, unlimited, on the same connection pool (the
    # server forgets these calls before the start).
    async with dxapi.Client(**kwargs, rate_limit=None) as warm:
        call = warm.catalog.entities.info
        await asyncio.gather(*(call(identifier=args["identifier"]) for _ in range(32)))
    if args["mode"].endswith("redis"):
        kwargs["limiter"] = dxapi.RedisLimiter.from_url(
            args["redis"], (LIMIT, PER), key=args["key"]
        )
    else:
        kwargs["rate_limit"] = (LIMIT, PER)
    errors = 0
    async with dxapi.Client(**kwargs) as dx:
        if isinstance(dx.limiter, dxapi.RedisLimiter):
            await dx.limiter._client().ping()  # connected before the start
        print("ready", flush=True)  # then wait for the common start time
        start_at = float(await asyncio.to_thread(sys.stdin.readline))
        await asyncio.sleep(max(0.0, start_at - time.time()))
        inputs = ({"identifier": args["identifier"]} for _ in range(args["n"]))
        conc = args.get("conc") or DEFAULT_CONCURRENCY
        async with fan_out(None, dx.catalog.entities.info, inputs, concurrency=conc) as out:
            async for outcome in out:
                errors += outcome.error is not None
        ended, ended_mono = time.time(), time.monotonic()
        stats = dict(dx.stats)
        if isinstance(dx.limiter, dxapi.RedisLimiter):
            await dx.limiter.aclose()
    await http.close()
    return {
        "ended": ended,
        "errors": errors,
        "client_stats": stats,
        "ended_mono": ended_mono,
    }


async def _overhead(args: dict[str, Any]) -> dict[str, Any]:
    import dxapi

    n, conc = args["n"], 64
    out: dict[str, Any] = {}
    for kind in ("local", "redis"):
        rate = dxapi.RateLimit(10**7, 1.0)
        limiter: Any = (
            dxapi.TokenBucket(rate)
            if kind == "local"
            else dxapi.RedisLimiter.from_url(args["redis"], rate, key=f"overhead-{time.time()}")
        )
        left = n

        async def loop(lim: Any = limiter) -> None:
            nonlocal left
            while left > 0:
                left -= 1
                permit = await lim.acquire()
                await asyncio.sleep(0)  # the attempt
                permit.release()

        (await limiter.acquire()).release()  # connect and load the scripts first
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(conc)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        await limiter.aclose()  # (sends the last releases)
        out[kind] = {"us_per_grant": wall / n * 1e6, "cpu_us_per_grant": cpu / n * 1e6}
    out["overhead_us"] = out["redis"]["us_per_grant"] - out["local"]["us_per_grant"]
    out["n"], out["concurrency"] = n, conc
    return out


def child(args: dict[str, Any]) -> dict[str, Any]:
    if args.get("overhead"):
        return asyncio.run(_overhead(args))
    return asyncio.run(_worker(args))


# ------------------------------------------------------------------------ orchestration


@contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port: its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def ideal(n: int = WORKERS * PER_WORKER) -> float:
    return (math.ceil(n / LIMIT) - 1) * PER


def _fleet_once(ctx: Ctx, srv: Server, redis: str, mode: str, run: int, ident: str) -> Any:
    srv.reset()
    from dxapi._bulk import DEFAULT_CONCURRENCY

    workers = 1 if mode.startswith("one process") else WORKERS
    base = {"mode": mode, "url": srv.url, "token": srv.token, "redis": redis}
    base.update(key=f"fleet-{run}-{os.getpid()}", identifier=ident)
    # "one process": the same 1,600 calls and total concurrency in one process.
    base.update(n=PER_WORKER * WORKERS // workers, conc=DEFAULT_CONCURRENCY * WORKERS // workers)

    def pin() -> None:
        if ctx.client_cpu is not None:
            os.sched_setaffinity(0, {ctx.client_cpu})

    procs = [
        subprocess.Popen(
            [PY, "-m", "benchmarks.shared_limit", json.dumps(base)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=pin if ctx.client_cpu is not None else None,
        )
        for _ in range(workers)
    ]
    for proc in procs:  # every worker has imported dxapi and opened its client
        assert proc.stdout is not None
        proc.stdout.readline()
    srv.reset()  # forget the warm-up calls
    start_at = time.time() + 0.2
    answers = []
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"{start_at}\n")
        proc.stdin.flush()
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            return {"error": f"worker exited {proc.returncode}: {stderr[-1500:]}"}
        answers.append(json.loads(lines[-1]))
    stats = srv.stats()
    from .limiter import max_in_window

    # CLOCK_MONOTONIC is one clock for every process of the machine (the server's too).
    elapsed = max(a["ended_mono"] for a in answers) - min(stats["arrivals"])
    return {
        "elapsed": elapsed,
        "from_start": max(a["ended"] for a in answers) - start_at,
        "vs_ideal": elapsed / ideal(),
        "server_429": stats["refused_429"],
        "server_accepted": stats["accepted"],
        "max_in_window": max_in_window(stats["arrivals"], PER),
        "errors": sum(a["errors"] for a in answers),
        "client_429": sum(a["client_stats"]["429"] for a in answers),
    }


def run(ctx: Ctx) -> dict[str, Any]:
    from .percall import _identifier

    runs = max(1, ctx.runs if not ctx.quick else 1)
    modes = ("redis", "local", "one process", "one process, redis")
    samples: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    ctx.say(
        f"shared limit: {WORKERS} processes x {PER_WORKER} calls against {LIMIT}/{PER:g}s, "
        f"ideal {ideal():.0f} s"
    )
    with redis_server() as redis, Server(ctx, "fake", limit=LIMIT, per=PER, entities=100) as srv:
        ident = _identifier(srv)
        for run_no in range(runs):
            for mode in modes:
                wait_quiet(ctx)
                res = _fleet_once(ctx, srv, redis, mode, run_no, ident)
                samples[mode].append(res)
                ctx.say(f"  shared run {run_no + 1} {mode:5s} {res}"[:300])
        wait_quiet(ctx)
        overhead = _overhead_run(ctx, redis)
        ctx.say(f"  overhead: {overhead}"[:300])
    table: dict[str, Any] = {}
    for mode, rows in samples.items():
        ok = [r for r in rows if "error" not in r]
        elapsed = [r["elapsed"] for r in ok]
        table[mode] = {
            "elapsed": median(elapsed),
            "range": spread(elapsed),
            "from_start": median(r["from_start"] for r in ok),
            "vs_ideal": (median(elapsed) or 0) / ideal() if ok else None,
            "server_429": median(r["server_429"] for r in ok),
            "errors": median(r["errors"] for r in ok),
            "max_in_window": max((r["max_in_window"] for r in ok), default=None),
            "runs": rows,
        }
    return {
        "workers": WORKERS,
        "per_worker": PER_WORKER,
        "limit": LIMIT,
        "per": PER,
        "ideal": ideal(),
        "modes": table,
        "overhead": overhead,
    }


def _overhead_run(ctx: Ctx, redis: str) -> dict[str, Any]:
    from ._common import run_child

    n = 5_000 if ctx.quick else 20_000
    return run_child(ctx, "shared_limit", {"overhead": True, "redis": redis, "n": n})


if __name__ == "__main__":
    child_main(child)
