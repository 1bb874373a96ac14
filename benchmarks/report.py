"""Turn the results dict into the targets verdicts and the Markdown report."""

# The report is Markdown for people: it uses typographic signs (times, dashes) on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from typing import Any


def _get(d: Any, *keys: Any) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "MISS")


def _f(x: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if x is None else fmt.format(x)


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, ok: bool | None, value: str) -> None:
        out.append({"name": name, "status": _verdict(ok), "value": value})

    pc = r.get("percall") or {}
    kinds = pc.get("servers") or []
    if kinds and isinstance(pc.get(kinds[0]), dict):
        cells = pc[kinds[0]]["clients"]
        ratio = _get(cells, "dxapi", "64", "vs_floor")
        cpu_ratio = _get(cells, "dxapi", "64", "cpu_vs_floor")
        other = [
            f"{k}: {_f(_get(pc, k, 'clients', 'dxapi', '64', 'vs_floor'))}" for k in kinds[1:]
        ]
        add(
            "per-call: dxapi ≥ 0.8 × floor at concurrency 64",
            None if ratio is None else ratio >= 0.8,
            f"{_f(ratio)} × floor in calls/s ({kinds[0]} server"
            + (f"; {', '.join(other)} server" if other else "")
            + f"); {_f(cpu_ratio)} × floor in CPU per call",
        )
        mine = _get(cells, "dxapi", "64", "calls_per_s")
        peers = {
            p: _get(cells, p, "64", "calls_per_s")
            for p in ("slack_sdk", "slack_sdk+session", "getdx")
            if p in cells
        }
        ok = None if mine is None or not peers else all(mine > (v or 0) for v in peers.values())
        add(
            "per-call: dxapi ahead of slack_sdk and getdx at concurrency 64",
            ok,
            f"dxapi {_f(mine, '{:.0f}')}/s vs "
            + ", ".join(f"{p} {_f(v, '{:.0f}')}/s" for p, v in peers.items()),
        )
    win = _get(r, "limiter", "window")
    if isinstance(win, dict) and "clients" in win:
        d = win["clients"].get("dxapi", {})
        add(
            "limiter: within 5% of the ideal schedule",
            None if d.get("vs_ideal") is None else d["vs_ideal"] <= 1.05,
            f"{_f(d.get('elapsed'))} s = {_f(d.get('vs_ideal'), '{:.3f}')} × ideal "
            f"{win['ideal']:.0f} s",
        )
        add(
            "limiter: zero 429s",
            None if d.get("server_429") is None else d["server_429"] == 0,
            f"{_f(d.get('server_429'), '{:.0f}')} 429s",
        )
        peers = {p: v.get("elapsed") for p, v in win["clients"].items() if p != "dxapi"}
        mine = d.get("elapsed")
        ok = None if mine is None or not peers else all(mine < (v or 1e9) for v in peers.values())
        add(
            "limiter: ahead of slack_sdk and getdx on time",
            ok,
            f"dxapi {_f(mine)} s vs " + ", ".join(f"{p} {_f(v)} s" for p, v in peers.items()),
        )
    sh = _get(r, "shared_limit", "modes", "redis")
    if isinstance(sh, dict) and sh.get("vs_ideal") is not None:
        add(
            "shared limit: 8 processes via Redis ≤ 1.05 × ideal, zero 429s",
            sh["vs_ideal"] <= 1.05 and sh["server_429"] == 0,
            f"{_f(sh['elapsed'])} s = {_f(sh['vs_ideal'], '{:.3f}')} × ideal "
            f"{r['shared_limit']['ideal']:.0f} s, {_f(sh['server_429'], '{:.0f}')} 429s",
        )
    i2 = _get(r, "limiter", "burst")
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
    s = _get(r, "streaming", "dxapi")
    if isinstance(s, dict) and "peak_growth_kb" in s:
        growth = max(s["peak_growth_kb"], s["rss_growth_kb"]) / 1024
        add(
            f"streaming: peak RSS growth ≤ 10 MB for {r['streaming']['rows']:,} rows",
            growth <= 10,
            f"{growth:.2f} MB",
        )
    imp = _get(r, "startup", "imports")
    if isinstance(imp, dict) and imp.get("added_ms") is not None:
        add(
            "import dxapi adds ≤ 50 ms over import aiohttp",
            imp["added_ms"] <= 50,
            f"+{imp['added_ms']:.1f} ms",
        )
    return out


# ------------------------------------------------------------------------- markdown


def render(r: dict[str, Any]) -> str:
    meta = r["meta"]
    m = meta["machine"]
    lines = [
        "# dxapi benchmarks",
        "",
        f"Run {meta['started']} (`{meta['command'].strip()}`), git `{meta['git']}`, "
        f"{meta['elapsed_s']:.0f} s, {'quick' if meta['quick'] else 'full'}, "
        f"medians of {meta['runs']} run(s) unless noted.",
        "",
        f"Machine: {m['cpu_model']}, {m['cores']} cores ({m['cores_usable']} usable), "
        f"{m['memory_gb']} GB, {m['os']}, {m['python_impl']} {m['python']}. "
        + (
            f"Server pinned to CPU {meta['pinning']['server_cpu']}, clients to CPU "
            f"{meta['pinning']['client_cpu']}."
            if meta["pinning"]["server_cpu"] is not None
            else "No CPU pinning."
        ),
        "",
        "Load average (1/5/15 min) at the start and after each workload: "
        + "; ".join(f"{k} {'/'.join(f'{x:.1f}' for x in v)}" for k, v in meta["load"].items())
        + ". The machine has "
        + f"{m['cores']} cores; a 1-min load above {m['cores']} means other processes "
        "competed with the benchmark and its wall-clock numbers are pessimistic (the CPU-time "
        "columns are not affected).",
        "",
        _busy_note(meta),
        "",
        "Packages: "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v is not None)
        + ".",
        "",
        "## Targets",
        "",
        "| target | result | |",
        "| --- | --- | --- |",
    ]
    for t in r.get("targets", []):
        lines.append(f"| {t['name']} | {t['value']} | {t['status']} |")
    lines += _percall(r.get("percall"))
    lines += _limiter(r.get("limiter"))
    lines += _bulk(r.get("bulk"))
    lines += _streaming(r.get("streaming"))
    lines += _startup(r.get("startup"))
    lines += _shared_limit(r.get("shared_limit"))
    lines += ["", "Raw numbers, every sample and the run log: `latest.json`.", ""]
    return "\n".join(lines)


def _busy_note(meta: dict[str, Any]) -> str:
    b = meta.get("busy_before_measurements") or {}
    if not b.get("count"):
        return ""
    return (
        f"Before each of {b['count']} measurements the run waited for other work to leave the "
        f"CPUs (≤ 15 % busy, 20 s at most, 90 s in all): median busy share then "
        f"{b['median']:.0%}, max {b['max']:.0%}; {b['over_threshold']} measurement(s) started "
        "on a busier machine."
    )


def _error(section: Any) -> list[str]:
    if section is None:
        return ["", "Not run."]
    if isinstance(section, dict) and "error" in section:
        return ["", f"Failed: `{section['error'][:500]}`"]
    return []


def _percall(pc: Any) -> list[str]:
    out = ["", "## 1. Per-call overhead (`catalog.entities.info`, limiter off)", ""]
    if _error(pc):
        return out + _error(pc)
    n = pc["n"]
    out.append(
        f"calls/s (median; range in `latest.json`), N = {n['1']:,} calls at concurrency 1 "
        f"and {n['64']:,} at concurrency 64 after a warm-up (scaled down from 20,000 to fit "
        "the 10-minute budget). Server in its own process on its own core; "
        "'server busy' is the share of that core the server used at concurrency 64 "
        "(near 100 % would mean the server, not the client, is the cap). 'CPU µs/call' is "
        "the client process's CPU time per call (user + system, all threads); 'CPU × floor' "
        "= floor's CPU per call ÷ the client's, which other load on the machine skews less. "
        "'other load' = CPU cores used by processes not ours during the measurement "
        "(0 on a quiet machine)."
    )
    for kind in pc["servers"]:
        sec = pc.get(kind)
        if not isinstance(sec, dict):
            continue
        out += [
            "",
            f"**{kind} server**" + (" (cross-check)" if kind != pc["servers"][0] else ""),
            "",
            "| client | c=1 calls/s | × floor | c=64 calls/s | × floor "
            "| c=64 CPU µs/call | CPU × floor | server busy (c=64) | other load (c=64) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for client, cells in sec["clients"].items():
            c1, c64 = cells["1"], cells["64"]
            out.append(
                f"| {client} | {_f(c1['calls_per_s'], '{:,.0f}')} | "
                f"{_f(c1.get('vs_floor'))} | {_f(c64['calls_per_s'], '{:,.0f}')} | "
                f"{_f(c64.get('vs_floor'))} | {_f(c64.get('cpu_us_per_call'), '{:.0f}')} | "
                f"{_f(c64.get('cpu_vs_floor'))} | {_f(c64.get('server_busy'), '{:.0%}')} | "
                f"{_f(c64.get('other_load_cores'), '{:.2f}')} |"
            )
        if sec.get("errors"):
            out.append("")
            out.append(f"Errors: `{str(sec['errors'])[:400]}`")
    if pc.get("missing"):
        out += ["", f"Not installed, not measured: {', '.join(pc['missing'])}."]
    return out


def _limiter(lim: Any) -> list[str]:
    out = ["", "## 2. Limiter efficiency", ""]
    if _error(lim):
        return out + _error(lim)
    w = lim["window"]
    out += [
        f"{w['n']:,} calls against a true sliding window of {w['limit']} per {w['per']:g} s "
        f"({w['server']} server), {w['concurrency']} in flight; ideal "
        f"(ceil(N/L) − 1)·W = {w['ideal']:.0f} s. dxapi: bulk fan-out, "
        f"`rate_limit=({w['limit']}, {w['per']:g})`, defaults otherwise. slack_sdk: "
        f"`AsyncRateLimitErrorRetryHandler(max_retry_count={w['peer_retries']})`; getdx: "
        f"`RetryConfig(max_attempts={w['peer_retries'] + 1})` (their defaults, 1 retry and 3 "
        "attempts, turn refusals into failed calls).",
        "",
        "| client | elapsed s | range | × ideal | 429s | failed calls | max in any window |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for client, c in w["clients"].items():
        rng = c.get("range")
        out.append(
            f"| {client} | {_f(c['elapsed'])} | "
            f"{'–' if not rng else f'{rng[0]:.2f}–{rng[1]:.2f}'} | "
            f"{_f(c['vs_ideal'], '{:.3f}')} | {_f(c['server_429'], '{:.0f}')} | "
            f"{_f(c['errors'], '{:.0f}')} | {_f(c['max_in_window'], '{:.0f}')} |"
        )
    i2 = lim.get("burst")
    out += ["", "**Burst acceptance** (1500 calls at once, default client, 1000 per 60 s)", ""]
    if i2 is None:
        out.append("Skipped (`--quick`).")
    elif "error" in i2:
        out.append(f"Failed: `{i2['error'][:400]}`")
    else:
        out.append(
            f"{i2['answered_by_8s']} answered in the first 8 s; {i2['server_429']} 429s; "
            f"{i2['errors']} failed; all {i2['n']} done in {i2['elapsed']:.1f} s "
            f"(ideal {i2['ideal']:.0f} s); most accepted in any 60-s window: "
            f"{i2['max_in_window']}."
        )
    return out


def _bulk(b: Any) -> list[str]:
    out = ["", "## 3. Bulk export (`dxapi export catalog.entities.list --each "
           "catalog.entities.scorecards`)", ""]  # fmt: skip
    if _error(b):
        return out + _error(b)
    out += [
        f"{b['entities']:,} seeded entities on FakeDX enforcing {b['limit']} per {b['per']:g} s; "
        f"the CLI with `--rate-limit {b['limit']}/{b['per']:g}`. The job took R = "
        f"{b['requests']:,} requests (list pages and the scorecards of every entity, as the "
        "server counted them); minimum (ceil(R/L) − 1)·W.",
        "",
        "| wall s (CLI process) | minimum s | × minimum | requests/s | allowed/s | × allowed "
        "| 429s | records | client CPU busy |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {b['wall']:.1f} | {b['minimum']:.0f} | {b['vs_minimum']:.3f} | "
        f"{b['requests_per_s']:.0f} | {b['allowed_per_s']:.0f} | {b['vs_allowed']:.3f} | "
        f"{b['server_429']} | {b['records']:,} | {b.get('client_cpu_busy', 0):.0%} |",
    ]
    return out


def _streaming(s: Any) -> list[str]:
    out = ["", "## 4. Streaming memory (`stream_csv`)", ""]
    if _error(s):
        return out + _error(s)
    out += [
        f"{s['rows']:,}-row CSV from FakeDX (own process) in a fresh client process; growth "
        "of peak RSS (`ru_maxrss`) over the idle client, and of sampled current RSS.",
        "",
        "| reader | rows | MB | s | MB/s | peak RSS growth | current RSS growth "
        "| tracemalloc peak |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in ("dxapi", "floor", "dxapi+tracemalloc"):
        c = s.get(key)
        if not isinstance(c, dict) or "error" in c:
            out.append(f"| {key} | failed: {str(c)[:200]} | | | | | | |")
            continue
        tm = c.get("tracemalloc_peak_kb")
        out.append(
            f"| {key} | {c['rows']:,} | {c['bytes'] / 1e6:.1f} | {c['elapsed']:.2f} | "
            f"{c['mb_per_s']:.1f} | {c['peak_growth_kb'] / 1024:.2f} MB | "
            f"{c['rss_growth_kb'] / 1024:.2f} MB | "
            f"{'–' if tm is None else f'{tm / 1024:.2f} MB'} |"
        )
    return out


def _startup(st: Any) -> list[str]:
    out = ["", "## 5. Import and codegen time", ""]
    if _error(st):
        return out + _error(st)
    imp, cg = st["imports"], st["codegen"]
    out += [
        f"`python -X importtime -c 'import X'`, cumulative time of the top-level module, "
        f"median of {imp['runs']} fresh processes (bytecode cached). Cross-checks: the "
        "process's wall time, and the import's CPU time (`time.process_time()`), which other "
        "load on the machine skews less. Note that `import aiohttp` alone also pays for "
        "asyncio, ssl and friends, which inside `import dxapi` are charged before aiohttp.",
        "",
        "| import | cumulative ms | range | process wall ms | CPU ms |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for mod in ("dxapi", "aiohttp"):
        c = imp[mod]
        rng = c.get("range")
        out.append(
            f"| {mod} | {_f(c['cumulative_ms'], '{:.1f}')} | "
            f"{'–' if not rng else f'{rng[0]:.1f}–{rng[1]:.1f}'} | {c['wall_ms']:.0f} | "
            f"{_f(c.get('cpu_ms'), '{:.0f}')} |"
        )
    out += [
        "",
        f"dxapi adds {_f(imp['added_ms'], '{:.1f}')} ms over aiohttp "
        f"(process wall: {imp['added_wall_ms']:.0f} ms; CPU time: "
        f"{_f(imp.get('added_cpu_ms'), '{:.0f}')} ms; bare interpreter "
        f"{imp['python_bare_wall_ms']:.0f} ms). Largest self times in `import dxapi`: "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in imp.get("top_self", [])[:6])
        + ".",
        "",
    ]
    if "error" in cg:
        out.append(f"Codegen: {cg['error']}")
    else:
        rnd = cg.get("render", {})
        out.append(
            f"Codegen: `python -m codegen --check` {cg['check_ms']:.0f} ms (exit "
            f"{cg['check_status']}); load + validate + render alone "
            f"{_f(rnd.get('render_ms'), '{:.0f}')} ms for {rnd.get('files', '?')} files."
        )
    return out


def _shared_limit(sh: Any) -> list[str]:
    out = ["", "## 6. One account, many processes (`RedisLimiter`)", ""]
    if _error(sh):
        return out + _error(sh)
    out += [
        f"{sh['workers']} worker processes × {sh['per_worker']} `catalog.entities.info` calls "
        f"(bulk fan-out each) against one account limited to {sh['limit']} per {sh['per']:g} s "
        f"(FakeDX, true sliding window); ideal (ceil(N/L) − 1)·W = {sh['ideal']:.0f} s. "
        "'redis': every process on one `RedisLimiter` key (Redis on loopback); 'local': a "
        f"{sh['limit']}-per-{sh['per']:g}-s bucket in each process; 'one process': the same "
        "calls and total concurrency in one process, through its bucket (the baseline for what "
        "the machine allows) or through `RedisLimiter`. Elapsed: first request "
        "the server saw → last answer; 'from start': from the common start signal.",
        "",
        "| limiter | elapsed s | range | × ideal | from start s | 429s | failed calls "
        "| max in any window |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, c in sh["modes"].items():
        rng = c.get("range")
        out.append(
            f"| {mode} | {_f(c['elapsed'])} | "
            f"{'–' if not rng else f'{rng[0]:.2f}–{rng[1]:.2f}'} | "
            f"{_f(c['vs_ideal'], '{:.3f}')} | {_f(c.get('from_start'))} | "
            f"{_f(c['server_429'], '{:.0f}')} | "
            f"{_f(c['errors'], '{:.0f}')} | {_f(c['max_in_window'], '{:.0f}')} |"
        )
    o = sh.get("overhead") or {}
    if "overhead_us" in o:
        out += [
            "",
            f"Per grant (acquire + release) at concurrency {o['concurrency']}, {o['n']:,} grants, "
            "limit never reached: `TokenBucket` "
            f"{o['local']['us_per_grant']:.1f} µs, `RedisLimiter` "
            f"{o['redis']['us_per_grant']:.1f} µs (client CPU "
            f"{o['redis']['cpu_us_per_grant']:.1f} µs): {o['overhead_us']:.1f} µs more per grant.",
        ]
    elif o:
        out += ["", f"Overhead run failed: `{str(o.get('error'))[:400]}`"]
    return out
