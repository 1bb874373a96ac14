"""``python -m benchmarks [--quick] [--only W,...] [--runs N]``: run every workload, write results.

Writes ``benchmarks/results/latest.json`` (every number, every sample) and ``latest.md`` (the
tables and the targets). See ``benchmarks/README.md`` for how to read them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from typing import Any

from . import (
    bulk,
    instructions,
    limiter,
    listpage,
    pagination,
    percall,
    startup,
    streaming,
    structuring,
)
from ._common import OTHER_LOAD_MAX, ROOT, Ctx, available, git_rev, machine, pinning
from .report import render
from .verdicts import goals, targets

#: ``benchmarks/shared_limit.py`` (``run(ctx) -> dict``; needs redis-server and dxapi[redis]) is
#: run when the module is there; the report then judges and renders its result.
SHARED_LIMIT = "benchmarks.shared_limit"
WORKLOADS = (
    "startup", "percall", "instructions", "listpage", "pagination", "limiter", "streaming", "bulk",
    "shared_limit",
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smaller workloads, 1 run, skip the 60-s ones"
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per measurement (median)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {', '.join(WORKLOADS)}"
    )
    parser.add_argument(
        "--out", default=os.path.join(ROOT, "benchmarks", "results"), help="output directory"
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin server and client to separate cores"
    )
    opts = parser.parse_args(argv)
    only = {w.strip() for w in opts.only.split(",") if w.strip()}
    unknown = only - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    server_cpu, client_cpu = (None, None) if opts.no_pin else pinning()
    ctx = Ctx(
        quick=opts.quick,
        runs=opts.runs or (1 if opts.quick else 3),
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        only=only,
        wait_budget=30.0 if opts.quick else 90.0,
    )
    # Seconds each workload may spend repeating disturbed samples (so none starves the next).
    repeat_budget = 8.0 if opts.quick else 25.0
    have_fake = available("dxapi.testing")
    results: dict[str, Any] = {
        "meta": {
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": "python -m benchmarks " + " ".join(argv or sys.argv[1:]),
            "quick": ctx.quick,
            "runs": ctx.runs,
            "git": git_rev(),
            "pinning": {"server_cpu": server_cpu, "client_cpu": client_cpu},
            "machine": machine(),
            "load": {"start": _load()},
        }
    }
    start = time.monotonic()

    def want(name: str) -> bool:
        return not only or name in only

    # Lightest first: a failure late in a long run still leaves the early numbers.
    steps: list[tuple[str, Any]] = [
        ("startup", lambda: startup.run(ctx)),
        # The minimal server first: FakeDX itself saturates its core near the floor's rate.
        ("percall", lambda: percall.run(ctx, ["mini", "fake"] if have_fake else ["mini"])),
        ("instructions", lambda: instructions.run(ctx)),
        ("listpage", lambda: listpage.run(ctx)),
        ("pagination", lambda: pagination.run(ctx)),
        ("limiter", lambda: limiter.run(ctx, "fake" if have_fake else "mini")),
        ("streaming", lambda: streaming.run(ctx) if have_fake else {"error": "no FakeDX"}),
        ("bulk", lambda: bulk.run(ctx) if have_fake else {"error": "no FakeDX"}),
        ("shared_limit", lambda: _shared_limit(ctx) if have_fake else {"error": "no FakeDX"}),
    ]
    for name, step in steps:
        if not want(name):
            continue
        t0 = time.monotonic()
        ctx.repeat_budget, ctx.workload = repeat_budget, name
        try:
            results[name] = step()
        except Exception as exc:  # keep the other workloads' numbers
            ctx.say(f"{name} failed: {type(exc).__name__}: {exc}")
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results[name + "_seconds"] = round(time.monotonic() - t0, 1)
        results["meta"]["load"][name] = _load()
    if "listpage" in results:
        results["structuring"] = structuring.derive(results["listpage"])
    results["meta"]["elapsed_s"] = round(time.monotonic() - start, 1)
    busy = sorted(ctx.waited_busy)
    results["meta"]["busy_before_measurements"] = {
        "count": len(busy),
        "median": busy[len(busy) // 2] if busy else None,
        "max": busy[-1] if busy else None,
        "over_threshold": sum(1 for b in busy if b > 0.15),
        "wait_budget_left_s": round(ctx.wait_budget, 1),
    }
    results["meta"]["samples"] = {
        "count": len(ctx.sampled),
        "repeated": sum(1 for s in ctx.sampled if s["repeats"]),
        "repeats": sum(s["repeats"] for s in ctx.sampled),
        "still_over": sum(1 for s in ctx.sampled if s["over"]),
        "other_load_max": OTHER_LOAD_MAX,
        "repeat_budget_per_workload_s": repeat_budget,
        "budget_spent": sorted({s["workload"] for s in ctx.sampled if s["budget_spent"]}),
    }
    results["goals"] = goals(results)
    results["targets"] = targets(results)
    results["log"] = ctx.log

    os.makedirs(opts.out, exist_ok=True)
    with open(os.path.join(opts.out, "latest.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True, default=str)
        f.write("\n")
    md = render(results)
    with open(os.path.join(opts.out, "latest.md"), "w") as f:
        f.write(md)
    ctx.say(f"done in {results['meta']['elapsed_s']:.0f} s; wrote {opts.out}/latest.md, .json")
    for g in results["goals"]:
        ctx.say(f"  {g['status']:4s} {g['workload']}: {g['measured']} (goal {g['goal']})")
    for t in results["targets"]:
        ctx.say(f"  {t['status']:4s} {t['name']}: {t['value']}")
    return 0


def _shared_limit(ctx: Ctx) -> dict[str, Any] | None:
    """The shared-limit workload if its module exists (None: not present)."""
    if not available(SHARED_LIMIT):
        return None
    import importlib

    result: dict[str, Any] = importlib.import_module(SHARED_LIMIT).run(ctx)
    return result


def _load() -> list[float]:
    """1-, 5- and 15-minute load averages: other work on the machine skews wall times."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


if __name__ == "__main__":
    sys.exit(main())
