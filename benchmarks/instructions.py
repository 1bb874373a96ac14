"""Workload 9, per-call instructions: the per-call workload counted by callgrind, not timed.

CPU time per call on a shared machine drifts with the host (20 % and more between minutes
here), which is as large as the differences the per-call goals are about. Valgrind's callgrind
counts the instructions a process executes, the same on every run of the same code. A child
(``python -m benchmarks.instructions '<json>'``) opens a client as :mod:`benchmarks._calls`
does (``floor``, ``dxapi``, ``dxapi-raw``), warms it with 100 calls and makes ``n`` more at
concurrency 64 against the mini server. It runs twice under callgrind, with ``n`` = 100 and
800; the difference ÷ 700 is the instructions of one call, start-up and warm-up cancelled out.
``PYTHONHASHSEED`` is fixed so that set and dict layouts repeat. The client's user-space
instructions only: system calls are the same for every client (one send, one receive each).

Needs ``valgrind`` (``apt install valgrind``); without it the workload says so and is skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from typing import Any

from ._calls import OPENERS, _drive
from ._common import PY, ROOT, Ctx, Server, child_main

CLIENTS = ("floor", "dxapi", "dxapi-raw")
SMALL, LARGE, WARMUP = 100, 800, 100  # 100 + 800 stay inside a default client's bucket
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def run(ctx: Ctx) -> dict[str, Any]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"error": "valgrind is not installed (apt install valgrind)"}
    out: dict[str, Any] = {"clients": {}, "calls": LARGE - SMALL}
    with Server(ctx, "mini") as server:
        for client in CLIENTS:
            counts = [_count(valgrind, server, client, n) for n in (SMALL, LARGE)]
            per_call = (counts[1] - counts[0]) / (LARGE - SMALL)
            out["clients"][client] = {"instructions": per_call}
            ctx.say(f"  instructions {client:10s} {per_call:10,.0f} per call")
    floor = out["clients"]["floor"]["instructions"]
    for cell in out["clients"].values():
        cell["vs_floor"] = floor / cell["instructions"]
    return out


def _count(valgrind: str, server: Server, client: str, n: int) -> int:
    args = {"url": server.url, "token": server.token, "client": client, "n": n}
    cmd = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    cmd += [PY, "-m", "benchmarks.instructions", json.dumps(args)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        tail = done.stderr[-500:]
        raise RuntimeError(f"{client} under callgrind exited {done.returncode}: {tail}")
    return int(found.group(1))


def child(args: dict[str, Any]) -> dict[str, Any]:
    async def main() -> int:
        spec = {**args, "identifier": "service-00000", "workload": "info", "pages": 1}
        async with OPENERS[args["client"]](spec) as (unit, warm):
            await _drive(warm, WARMUP, 64)
            _, errors, _ = await _drive(unit, args["n"], 64)
        return errors

    errors = asyncio.run(main())
    if errors:
        raise SystemExit(f"{errors} calls failed")
    return {"errors": errors}


if __name__ == "__main__":
    child_main(child)
