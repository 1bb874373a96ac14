"""Workload 3, bulk export: ``dxapi export catalog.entities.list --each ...scorecards``.

FakeDX (its own process) is seeded with 10,000 entities and enforces a scaled sliding window
(1000 per 6 s, DX's 1000 per 60 s sped up tenfold); the CLI runs in a child process with
``--rate-limit 1000/6`` and writes JSONL. The job needs R requests (list pages
and every scorecards page, counted by the server); no client can finish faster than
``(ceil(R/L) - 1) * W``. Reported: CLI wall time (process start to exit) ÷ that minimum,
requests/s achieved ÷ allowed (L/W), the 429s, and how busy the CLI kept its core.
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
import time
from typing import Any

from ._common import PY, ROOT, Ctx, Server, children_cpu, wait_quiet
from .limiter import max_in_window


def run(ctx: Ctx) -> dict[str, Any]:
    if ctx.quick:
        entities, limit, per = 3000, 1000, 6.0
    else:
        entities, limit, per = 10_000, 1000, 6.0
    ctx.say(f"bulk export: {entities:,} entities, --each scorecards, at {limit}/{per:g}s")
    with Server(ctx, "fake", entities=entities, limit=limit, per=per) as srv:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "scorecards.jsonl")
            cmd = [
                PY,
                "-m",
                "dxapi.cli",
                "--token",
                srv.token,
                "--base-url",
                srv.url,
                "--rate-limit",
                f"{limit}/{per:g}",
                "--quiet",
                "export",
                "catalog.entities.list",
                "--each",
                "catalog.entities.scorecards",
                "--out",
                out,
            ]

            def pin() -> None:
                if ctx.client_cpu is not None:
                    os.sched_setaffinity(0, {ctx.client_cpu})

            wait_quiet(ctx)
            srv.reset()
            cpu_before = children_cpu()
            start = time.perf_counter()
            done = subprocess.run(
                cmd,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
                preexec_fn=pin if ctx.client_cpu is not None else None,
            )
            wall = time.perf_counter() - start
            client_cpu = children_cpu() - cpu_before
            records = 0
            if os.path.exists(out):
                with open(out, "rb") as f:
                    records = sum(1 for _ in f)
        stats = srv.stats()
    if done.returncode != 0:
        return {"error": f"dxapi export exited {done.returncode}: {done.stderr[-1500:]}"}
    requests = stats["accepted"]
    arrivals = sorted(stats["arrivals"])
    minimum = (math.ceil(requests / limit) - 1) * per
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else wall
    allowed = limit / per
    res = {
        "entities": entities,
        "limit": limit,
        "per": per,
        "records": records,
        "requests": requests,
        "server_429": stats["refused_429"],
        "wall": wall,
        "minimum": minimum,
        "vs_minimum": wall / minimum if minimum else None,
        "requests_per_s": requests / wall,
        "allowed_per_s": allowed,
        "vs_allowed": requests / wall / allowed,
        "server_span": span,
        "client_cpu_s": client_cpu,
        "client_cpu_busy": client_cpu / wall,
        "max_in_window": max_in_window(arrivals, per),
        "stdout": done.stdout.strip()[-300:],
    }
    ctx.say(
        f"  export: {wall:.2f}s for {requests:,} requests (min {minimum:.0f}s), "
        f"429s={stats['refused_429']}, records={records:,}, client CPU {client_cpu / wall:.0%}"
    )
    return res
