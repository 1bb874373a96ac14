"""The verdicts: issue 14's "Done when" goals and the other targets, from the results dict."""

# Verdicts are read by people: they use typographic signs (times, dashes) on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import importlib
import importlib.util
from typing import Any


def dig(d: Any, *keys: Any) -> Any:
    """``d[k1][k2]...``, or None where a key is missing."""
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "MISS")


def num(x: float | None, fmt: str = "{:.2f}") -> str:
    """``x`` formatted, or a dash when not measured."""
    return "–" if x is None else fmt.format(x)


#: Issue 14's "Done when" table: (workload, goal text, goal value). A row is met when
#: both its CPU-time and its wall-clock figure meet the goal.
GOALS = (
    ("typed `catalog.entities.info`, c=64, default client", "≥ 0.90 × bare aiohttp", 0.90),
    ("raw `dx.call`, same", "≥ 0.95 ×", 0.95),
    ("typed `catalog.entities.list` page of 100 entities", "≥ 0.80 ×", 0.80),
    ("concurrent `async for` at c=64, per page vs c=1", "≤ 1.2 ×", 1.2),
    ("`import dxapi` + first typed call, over aiohttp's", "≤ +40 ms", 40.0),
)


def _both(cpu: float | None, wall: float | None, ok: Any) -> bool | None:
    if cpu is None or wall is None:
        return None
    return bool(ok(cpu) and ok(wall))


def goals(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The "Done when" rows: workload, measured (CPU · wall), goal, met."""
    rows: list[dict[str, Any]] = []

    def add(i: int, cpu: float | None, wall: float | None, text: str) -> None:
        name, goal, value = GOALS[i]
        ok = (lambda x: x <= value) if i >= 3 else (lambda x: x >= value)
        rows.append({"workload": name, "measured": text, "goal": goal,
                     "status": _verdict(_both(cpu, wall, ok))})  # fmt: skip

    def ratio_row(i: int, cell: Any, unit: str) -> None:
        cpu, wall = dig(cell, "cpu_vs_floor"), dig(cell, "vs_floor")
        add(i, cpu, wall, f"{num(cpu)} × in CPU per {unit}, {num(wall)} × in {unit}s/s")

    kind = (dig(r, "percall", "servers") or ["mini"])[0]
    ratio_row(0, dig(r, "percall", kind, "clients", "dxapi", "64"), "call")
    ratio_row(1, dig(r, "percall", kind, "clients", "dxapi-raw", "64"), "call")
    ratio_row(2, dig(r, "listpage", "clients", "dxapi", "64"), "page")
    g = dig(r, "pagination", "growth", "dxapi") or {}
    fl = dig(r, "pagination", "growth", "floor") or {}
    add(3, g.get("cpu"), g.get("wall"),
        f"{num(g.get('cpu'))} × in CPU per page, {num(g.get('wall'))} × in wall time per page "
        f"(floor: {num(fl.get('cpu'))} ×, {num(fl.get('wall'))} ×)")  # fmt: skip
    fc = dig(r, "startup", "first_call") or {}
    wall, cpu = fc.get("added_wall_ms"), fc.get("added_cpu_ms")
    add(4, cpu, wall, f"{num(wall, '{:+.1f}')} ms wall, {num(cpu, '{:+.1f}')} ms CPU")
    return rows


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The other targets (limiter, peers, bulk, streaming, import): name, status, value."""
    out: list[dict[str, Any]] = []

    def add(name: str, ok: bool | None, value: str) -> None:
        out.append({"name": name, "status": _verdict(ok), "value": value})

    pc = r.get("percall") or {}
    kinds = pc.get("servers") or []
    if kinds and isinstance(pc.get(kinds[0]), dict):
        cells = pc[kinds[0]]["clients"]
        mine = dig(cells, "dxapi", "64", "per_s")
        peers = {
            p: dig(cells, p, "64", "per_s")
            for p in ("slack_sdk", "slack_sdk+session", "getdx")
            if p in cells
        }
        ok = None if mine is None or not peers else all(mine > (v or 0) for v in peers.values())
        add(
            "per-call: dxapi ahead of slack_sdk and getdx at concurrency 64",
            ok,
            f"dxapi {num(mine, '{:.0f}')}/s vs "
            + ", ".join(f"{p} {num(v, '{:.0f}')}/s" for p, v in peers.items()),
        )
    win = dig(r, "limiter", "window")
    if isinstance(win, dict) and "clients" in win:
        d = win["clients"].get("dxapi", {})
        add(
            "limiter: within 5% of the ideal schedule",
            None if d.get("vs_ideal") is None else d["vs_ideal"] <= 1.05,
            f"{num(d.get('elapsed'))} s = {num(d.get('vs_ideal'), '{:.3f}')} × ideal "
            f"{win['ideal']:.0f} s",
        )
        add(
            "limiter: zero 429s",
            None if d.get("server_429") is None else d["server_429"] == 0,
            f"{num(d.get('server_429'), '{:.0f}')} 429s",
        )
        peers = {p: v.get("elapsed") for p, v in win["clients"].items() if p != "dxapi"}
        mine = d.get("elapsed")
        ok = None if mine is None or not peers else all(mine < (v or 1e9) for v in peers.values())
        add(
            "limiter: ahead of slack_sdk and getdx on time",
            ok,
            f"dxapi {num(mine)} s vs " + ", ".join(f"{p} {num(v)} s" for p, v in peers.items()),
        )
    i2 = dig(r, "limiter", "burst")
    if isinstance(i2, dict) and "answered_by_8s" in i2:
        add(
            "burst: ≥ 970 of 1500 answered in the first 8 s at 1000/60 s, zero 429s",
            i2["answered_by_8s"] >= 0.97 * i2["limit"] and i2["server_429"] == 0,
            f"{i2['answered_by_8s']} answered by 8 s, {i2['server_429']} 429s, "
            f"all done in {i2['elapsed']:.1f} s",
        )
    b = r.get("bulk")
    if isinstance(b, dict) and "vs_minimum" in b:
        add(
            "bulk export within 1.05 × the rate-limit minimum",
            b["vs_minimum"] <= 1.05 and b["server_429"] == 0,
            f"{b['wall']:.1f} s = {b['vs_minimum']:.3f} × {b['minimum']:.0f} s, "
            f"{b['server_429']} 429s",
        )
    s = dig(r, "streaming", "dxapi")
    if isinstance(s, dict) and "peak_growth_kb" in s:
        growth = max(s["peak_growth_kb"], s["rss_growth_kb"]) / 1024
        add(
            f"streaming: peak RSS growth ≤ 10 MB for {r['streaming']['rows']:,} rows",
            growth <= 10,
            f"{growth:.2f} MB",
        )
    imp = dig(r, "startup", "imports")
    if isinstance(imp, dict) and imp.get("added_ms") is not None:
        add(
            "import dxapi adds ≤ 50 ms over import aiohttp",
            imp["added_ms"] <= 50,
            f"+{imp['added_ms']:.1f} ms",
        )
    sh = dig(r, "shared_limit", "modes", "redis")
    if isinstance(sh, dict) and sh.get("vs_ideal") is not None:
        add(
            "shared limit: 8 processes via Redis ≤ 1.05 × ideal, zero 429s",
            sh["vs_ideal"] <= 1.05 and sh["server_429"] == 0,
            f"{num(sh['elapsed'])} s = {num(sh['vs_ideal'], '{:.3f}')} × ideal "
            f"{r['shared_limit']['ideal']:.0f} s, {num(sh['server_429'], '{:.0f}')} 429s",
        )
    return out


def shared_limit_module() -> Any:
    """``benchmarks.shared_limit`` if it exists (see ``SHARED_LIMIT`` in ``__main__``)."""
    if importlib.util.find_spec("benchmarks.shared_limit") is None:
        return None
    return importlib.import_module("benchmarks.shared_limit")
