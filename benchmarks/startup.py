"""Workload 5, import time, the first typed call, and codegen time.

First call: a fresh process imports dxapi and makes one typed ``catalog.entities.info`` call
through a default client against the mini server (its own process), against a fresh process
importing aiohttp and making one GET + ``json.loads``; the time from before the first import
to the answer, wall and CPU, median of several pairs (the interpreter's own start-up, the same
for both, is left out).

Import: ``python -X importtime -c "import dxapi"`` in fresh processes (after one discarded run
that writes the bytecode caches), the cumulative microseconds of the top-level ``dxapi``
line, against ``import aiohttp`` alone; median of several processes. The wall time of the
same processes is kept as a cross-check. Codegen: ``python -m codegen --check`` (load,
validate, render, ruff-format, compare) and render alone (load + validate + render, in
process), median of several runs.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import time
from typing import Any

from ._common import (
    PY,
    ROOT,
    Ctx,
    Server,
    available,
    child_main,
    median,
    pin_client,
    run_child,
    sample,
    spread,
    wait_quiet,
)

# The measured processes may write and read bytecode caches, as an installed package does
# (pip compiles aiohttp's at install time): PYTHONDONTWRITEBYTECODE in the environment would
# otherwise make dxapi's modules, and only those, compile from source in every process.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

# Each script prints: ms to the end of the imports, ms to the answer, CPU ms to the answer.
_CLOCK = "import sys, time\nt0, c0 = time.perf_counter(), time.process_time()\n"
_DONE = (
    "t2, c2 = time.perf_counter(), time.process_time()\n"
    "print((t1 - t0) * 1e3, (t2 - t0) * 1e3, (c2 - c0) * 1e3)\n"
)
FIRST_CALL = {
    "dxapi": _CLOCK
    + """import asyncio
import dxapi
t1 = time.perf_counter()


async def main():
    async with dxapi.Client(sys.argv[1], base_url=sys.argv[2]) as dx:
        entity = await dx.catalog.entities.info(identifier="service-00000")
    assert entity.entity.identifier == "service-00000"


asyncio.run(main())
"""
    + _DONE,
    "aiohttp": _CLOCK
    + """import asyncio
import json
import aiohttp
t1 = time.perf_counter()


async def main():
    headers = {"Authorization": "Bearer " + sys.argv[1]}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = sys.argv[2] + "/catalog.entities.info"
        async with http.get(url, params={"identifier": "service-00000"}) as resp:
            payload = json.loads(await resp.read())
    assert payload["entity"]["identifier"] == "service-00000"


asyncio.run(main())
"""
    + _DONE,
}


def _importtime(module: str) -> tuple[float | None, float]:
    """(cumulative import ms of ``module`` per -X importtime, process wall ms)."""
    start = time.perf_counter()
    done = subprocess.run(
        [PY, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env=_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    wall = (time.perf_counter() - start) * 1000
    cumulative = None
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        if len(parts) == 3 and parts[2].rstrip() == f" {module}":
            with contextlib.suppress(ValueError):
                cumulative = int(parts[1]) / 1000
    return cumulative, wall


def _cpu_ms(module: str) -> float | None:
    """CPU milliseconds of ``import module`` in a fresh process (robust to other load)."""
    code = (
        "import time; t = time.process_time(); import "
        + module
        + "; print((time.process_time() - t) * 1000)"
    )
    done = subprocess.run(
        [PY, "-c", code], cwd=ROOT, env=_ENV, capture_output=True, text=True, timeout=60
    )
    try:
        return float(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [PY, "-c", code], cwd=ROOT, env=_ENV, capture_output=True, timeout=60, check=True
    )
    return (time.perf_counter() - start) * 1000


def imports(ctx: Ctx) -> dict[str, Any]:
    runs = 3 if ctx.quick else 9
    for module in ("dxapi", "aiohttp"):  # write bytecode caches; not measured
        _importtime(module)
    samples: dict[str, dict[str, list[float | None]]] = {
        m: {"cumulative_ms": [], "wall_ms": [], "cpu_ms": []} for m in ("dxapi", "aiohttp")
    }
    bare: list[float | None] = []
    for _ in range(runs):
        wait_quiet(ctx)
        for module in ("dxapi", "aiohttp"):
            cum, wall = _importtime(module)
            samples[module]["cumulative_ms"].append(cum)
            samples[module]["wall_ms"].append(wall)
            samples[module]["cpu_ms"].append(_cpu_ms(module))
        bare.append(_wall("pass"))
    out: dict[str, Any] = {"runs": runs, "python_bare_wall_ms": median(bare)}
    for module, s in samples.items():
        out[module] = {
            "cumulative_ms": median(s["cumulative_ms"]),
            "range": spread(s["cumulative_ms"]),
            "wall_ms": median(s["wall_ms"]),
            "cpu_ms": median(s["cpu_ms"]),
            "min_ms": min((v for v in s["cumulative_ms"] if v is not None), default=None),
        }
    d, a = out["dxapi"]["cumulative_ms"], out["aiohttp"]["cumulative_ms"]
    out["added_ms"] = d - a if d is not None and a is not None else None
    out["added_wall_ms"] = out["dxapi"]["wall_ms"] - out["aiohttp"]["wall_ms"]
    dc, ac = out["dxapi"]["cpu_ms"], out["aiohttp"]["cpu_ms"]
    out["added_cpu_ms"] = dc - ac if dc is not None and ac is not None else None
    out["top_self"] = _top_self("dxapi")
    return out


def _top_self(module: str, n: int = 8) -> list[tuple[str, float]]:
    """The modules with the largest self time in one import of ``module`` (ms)."""
    done = subprocess.run(
        [PY, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env=_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and line.startswith("import time:"):
            try:
                rows.append((parts[2].strip(), int(parts[0].split(":")[1]) / 1000))
            except ValueError:
                continue
    rows.sort(key=lambda r: -r[1])
    return rows[:n]


def child(args: dict[str, Any]) -> dict[str, Any]:
    """Render-only codegen timing, in process."""
    import sys
    from pathlib import Path

    sys.path.insert(0, ROOT)
    from codegen.load import load_files
    from codegen.render import render
    from codegen.validate import build

    times = []
    files = {}
    for _ in range(args["runs"]):
        start = time.perf_counter()
        files = render(build(load_files(Path(ROOT) / "registry")))
        times.append((time.perf_counter() - start) * 1000)
    return {"render_ms": median(times), "range": spread(times), "files": len(files)}


def codegen(ctx: Ctx) -> dict[str, Any]:
    if not (available("yaml") and available("ruff")):
        return {"error": "PyYAML and ruff are needed (benchmarks/requirements.txt installs them)"}
    runs = 2 if ctx.quick else 3
    check: list[float | None] = []
    status = 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [PY, "-m", "codegen", "--check"], cwd=ROOT, capture_output=True, text=True
        )
        check.append((time.perf_counter() - start) * 1000)
        status = done.returncode
    render = run_child(ctx, "startup", {"runs": runs + 2})
    return {
        "check_ms": median(check),
        "check_range": spread(check),
        "check_status": status,
        "render": render,
    }


def _first_call(ctx: Ctx, who: str, server: Server) -> dict[str, Any]:
    done = subprocess.run(
        [PY, "-c", FIRST_CALL[who], server.token, server.url],
        cwd=ROOT,
        env=_ENV,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=pin_client(ctx),
    )
    try:
        imported, answered, cpu = (float(x) for x in done.stdout.split())
    except ValueError:
        return {"error": f"{who} first call exited {done.returncode}: {done.stderr[-800:]}"}
    return {"import_ms": imported, "wall_ms": answered, "cpu_ms": cpu}


def first_call(ctx: Ctx) -> dict[str, Any]:
    """``import dxapi`` + one typed call vs ``import aiohttp`` + one GET, fresh processes."""
    runs = 3 if ctx.quick else 9
    keys = ("import_ms", "wall_ms", "cpu_ms")
    samples: dict[str, dict[str, list[float | None]]] = {
        who: {k: [] for k in keys} for who in FIRST_CALL
    }
    errors: list[str] = []
    with Server(ctx, "mini") as server:
        for who in FIRST_CALL:  # writes bytecode caches; not measured
            _first_call(ctx, who, server)
        for _ in range(runs):
            for who in FIRST_CALL:
                res = sample(ctx, functools.partial(_first_call, ctx, who, server), [server], who)
                if "error" in res:
                    errors.append(res["error"])
                    continue
                for k in keys:
                    samples[who][k].append(res[k])
    out: dict[str, Any] = {"runs": runs, "errors": errors}
    for who, s in samples.items():
        out[who] = {k: median(v) for k, v in s.items()} | {"range": spread(s["wall_ms"])}
    for k in keys:
        d, a = out["dxapi"][k], out["aiohttp"][k]
        out["added_" + k] = d - a if d is not None and a is not None else None
    return out


def run(ctx: Ctx) -> dict[str, Any]:
    ctx.say("import time, first typed call and codegen time")
    out = {"imports": imports(ctx), "first_call": first_call(ctx), "codegen": codegen(ctx)}
    ctx.say(
        f"  import dxapi {out['imports']['dxapi']['cumulative_ms']:.1f} ms, aiohttp "
        f"{out['imports']['aiohttp']['cumulative_ms']:.1f} ms; first typed call adds "
        f"{out['first_call'].get('added_wall_ms') or 0:.1f} ms; codegen --check "
        f"{out['codegen'].get('check_ms') or 0:.0f} ms"
    )
    return out


if __name__ == "__main__":
    child_main(child)
