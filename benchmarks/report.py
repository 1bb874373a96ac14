"""Turn the results dict into the Markdown report (``benchmarks/results/latest.md``)."""

# The report is Markdown for people: it uses typographic signs (times, dashes) on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from typing import Any

from .verdicts import goals, num, shared_limit_module


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
        "## Done when (issue 14)",
        "",
        "Ratios against a bare aiohttp loop measured side by side in this run, on the same "
        "server; met when both the CPU-time figure and the wall-clock one meet the goal.",
        "",
        "| workload | measured | goal | met? |",
        "| --- | --- | --- | --- |",
    ]
    for g in r.get("goals") or goals(r):
        lines.append(f"| {g['workload']} | {g['measured']} | {g['goal']} | {g['status']} |")
    lines += [
        "",
        _samples_note(meta),
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
        "columns are affected less).",
        "",
        _busy_note(meta),
        "",
        "Packages: "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v is not None)
        + ".",
        "",
        "## Other targets",
        "",
        "| target | result | |",
        "| --- | --- | --- |",
    ]
    for t in r.get("targets", []):
        lines.append(f"| {t['name']} | {t['value']} | {t['status']} |")
    lines += _percall(r.get("percall"))
    lines += _instructions(r.get("instructions"), "instructions" in r)
    lines += _listpage(r.get("listpage"), r.get("structuring"))
    lines += _pagination(r.get("pagination"))
    lines += _limiter(r.get("limiter"))
    lines += _bulk(r.get("bulk"))
    lines += _streaming(r.get("streaming"))
    lines += _startup(r.get("startup"))
    lines += _shared_limit(r.get("shared_limit"), "shared_limit" in r)
    lines += ["", "Raw numbers, every sample and the run log: `latest.json`.", ""]
    return "\n".join(lines)


def _samples_note(meta: dict[str, Any]) -> str:
    s = meta.get("samples") or {}
    if not s.get("count"):
        return ""
    spent, budget = s.get("budget_spent") or [], s.get("repeat_budget_per_workload_s", 0)
    return (
        f"Stability: {s['count']} measured samples; a sample during which other processes "
        f"used more than {s['other_load_max']:.0%} of the machine's CPUs was taken again (at "
        f"most twice, within {budget:g} s of repeats per workload, "
        f"the least disturbed reading kept): {s['repeated']} sample(s) repeated "
        f"({s['repeats']} repeats in all), {s['still_over']} still over the threshold"
        + (f" (repeat budget spent in: {', '.join(spent)})" if spent else "")
        + "."
        + (
            " **Other load disturbed samples beyond the threshold: treat the wall-clock "
            "figures of this run as noisy.**"
            if s["still_over"]
            else ""
        )
    )


def _busy_note(meta: dict[str, Any]) -> str:
    b = meta.get("busy_before_measurements") or {}
    if not b.get("count"):
        return ""
    return (
        f"Before each of {b['count']} measurements the run waited for other work to leave the "
        f"CPUs (≤ 15 % busy, 20 s at most per measurement): median busy share then "
        f"{b['median']:.0%}, max {b['max']:.0%}; {b['over_threshold']} measurement(s) started "
        "on a busier machine."
    )


def _error(section: Any) -> list[str]:
    if section is None:
        return ["", "Not run."]
    if isinstance(section, dict) and "error" in section:
        return ["", f"Failed: `{section['error'][:500]}`"]
    return []


_COLUMNS_NOTE = (
    "Server in its own process on its own core. 'CPU µs' is the client process's CPU time "
    "per request (user + system, all threads); 'CPU × floor' = the floor's CPU per request "
    "÷ the client's, which other load skews less than wall time. 'server busy' is the share "
    "of its core the server used (near 100 % would mean the server, not the client, is the "
    "cap); 'other load' the share of the machine's CPUs that processes not ours used "
    "meanwhile (0 on a quiet machine); 'rep.' how many samples were taken again for it."
)


def _calls_table(sec: dict[str, Any], concs: list[str], unit: str) -> list[str]:
    head = "| client |"
    rule = "| --- |"
    for c in concs:
        head += f" c={c} {unit}/s | × floor | CPU µs | CPU × floor |"
        rule += " ---: | ---: | ---: | ---: |"
    out = [head + " server busy | other load | rep. |", rule + " ---: | ---: | ---: |"]
    for client, cells in sec["clients"].items():
        row = f"| {client} |"
        for c in concs:
            x = cells[c]
            row += (
                f" {num(x.get('per_s'), '{:,.0f}')} | {num(x.get('vs_floor'))} | "
                f"{num(x.get('cpu_us'), '{:,.0f}')} | {num(x.get('cpu_vs_floor'))} |"
            )
        x = cells[concs[-1]]
        reps = sum(cells[c].get("repeats") or 0 for c in concs)
        out.append(
            row + f" {num(x.get('server_busy'), '{:.0%}')} | "
            f"{num(x.get('other_load'), '{:.0%}')} | {reps} |"
        )
    if sec.get("errors"):
        out += ["", f"Errors: `{str(sec['errors'])[:400]}`"]
    return out


def _percall(pc: Any) -> list[str]:
    out = ["", "## 1. Per-call overhead (`catalog.entities.info`, default client)", ""]
    if _error(pc):
        return out + _error(pc)
    n = pc["n"]
    out.append(
        f"{n['1']:,} calls at concurrency 1 and {n['64']:,} at 64 per sample, in blocks of "
        "880 measured calls after 100 warm-up calls, each block a fresh client: dxapi is "
        "`dxapi.Client(token, base_url=...)` with its default limiter (the open 1000-per-60-s "
        "bucket) in the path, never waiting (the server enforces no limit). The entity has "
        "every field of `Entity`. " + _COLUMNS_NOTE + " Server busy and other load at c=64."
    )
    for kind in pc["servers"]:
        sec = pc.get(kind)
        if not isinstance(sec, dict):
            continue
        out += ["", f"**{kind} server**" + (" (cross-check)" if kind != pc["servers"][0] else "")]
        out += ["", *_calls_table(sec, ["1", "64"], "calls")]
    if pc.get("missing"):
        out += ["", f"Not installed, not measured: {', '.join(pc['missing'])}."]
    return out


def _instructions(ins: Any, ran: bool) -> list[str]:
    out = ["", "### 1b. The same calls counted by callgrind (`instructions.py`)", ""]
    if not ran:
        return [*out, "Not run."]
    if _error(ins):
        return out + _error(ins)
    out.append(
        f"Instructions the client process executes per `catalog.entities.info` call at "
        f"concurrency 64 against the mini server (the difference of {ins['calls']} calls, "
        "default client, fixed hash seed): the same on every run of the same code, where CPU "
        "time drifts with the host. User space only; the system calls are alike for all."
    )
    out += ["", "| client | instructions per call | floor ÷ client |", "| --- | ---: | ---: |"]
    for client, cell in ins["clients"].items():
        ratio = num(cell.get("vs_floor"), "{:.3f}")
        out.append(f"| {client} | {cell['instructions']:,.0f} | {ratio} |")
    return out


def _listpage(lp: Any, st: Any) -> list[str]:
    out = ["", "## 2. List pages (`catalog.entities.list`, 100 entities per page)", ""]
    if _error(lp):
        return out + _error(lp)
    plan = lp["plans"]["64"]
    out += [
        f"{plan['blocks'] * plan['per_block']:,} pages at concurrency 64 per sample "
        f"(blocks of {plan['per_block']} after {plan['warmup']} warm-up pages, a fresh default "
        "client each), mini server. dxapi: `await dx.catalog.entities.list(limit=100)` (typed); "
        "dxapi-raw: `await dx.call('catalog.entities.list', limit=100)`; floor: GET + "
        "`json.loads` of the same page. " + _COLUMNS_NOTE,
        "",
        *_calls_table(lp, ["64"], "pages"),
    ]
    if isinstance(st, dict):
        out += [
            "",
            f"Structuring (`benchmarks/structuring.py`): typed page {st['typed_cpu_us']:.0f} µs "
            f"CPU − raw page {st['raw_cpu_us']:.0f} µs = {st['per_page_us']:.0f} µs per page, "
            f"{st['per_entity_us']:.1f} µs per entity ({st['share_of_typed']:.0%} of the typed "
            "page's CPU).",
        ]
    return out


def _pagination(pg: Any) -> list[str]:
    out = ["", "## 3. Concurrent pagination (`async for` over multi-page listings)", ""]
    if _error(pg):
        return out + _error(pg)
    plan = pg["plans"]["64"]
    out += [
        f"Per sample {plan['blocks']} block(s) of {plan['per_block']} listings of "
        f"{pg['pages']} pages of 100 entities (a fresh default client per block), one listing "
        "after another at c=1, all at once at c=64. dxapi: `async for entity in "
        "dx.catalog.entities.list(limit=100)`; dxapi-raw: `async for item in "
        "dx.paginate(...)`; floor: a bare aiohttp loop following `next_cursor`. Rates are "
        "pages/s, CPU per page. " + _COLUMNS_NOTE,
        "",
        *_calls_table(pg, ["1", "64"], "pages"),
        "",
        "Cost per page at c=64 ÷ at c=1 (1.00: concurrency adds nothing per page; wall time "
        "at c=1 also waits for each answer, so its ratio is the lower one):",
        "",
        "| client | CPU per page | wall per page |",
        "| --- | ---: | ---: |",
    ]
    for client, g in (pg.get("growth") or {}).items():
        out.append(f"| {client} | {num(g.get('cpu'))} × | {num(g.get('wall'))} × |")
    return out


def _shared_limit(sh: Any, ran: bool) -> list[str]:
    out = ["", "## 8. One account, many processes (`RedisLimiter`, `shared_limit.py`)", ""]
    if shared_limit_module() is None:
        return [*out, "Not present: `benchmarks/shared_limit.py` does not exist in this tree."]
    if not ran or _error(sh):
        return out + _error(sh if ran else None)[1:]
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
            f"| {mode} | {num(c['elapsed'])} | "
            f"{'–' if not rng else f'{rng[0]:.2f}–{rng[1]:.2f}'} | "
            f"{num(c['vs_ideal'], '{:.3f}')} | {num(c.get('from_start'))} | "
            f"{num(c['server_429'], '{:.0f}')} | "
            f"{num(c['errors'], '{:.0f}')} | {num(c['max_in_window'], '{:.0f}')} |"
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


def _limiter(lim: Any) -> list[str]:
    out = ["", "## 4. Limiter efficiency", ""]
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
            f"| {client} | {num(c['elapsed'])} | "
            f"{'–' if not rng else f'{rng[0]:.2f}–{rng[1]:.2f}'} | "
            f"{num(c['vs_ideal'], '{:.3f}')} | {num(c['server_429'], '{:.0f}')} | "
            f"{num(c['errors'], '{:.0f}')} | {num(c['max_in_window'], '{:.0f}')} |"
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
    out = ["", "## 5. Bulk export (`dxapi export catalog.entities.list --each "
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
    out = ["", "## 6. Streaming memory (`stream_csv`)", ""]
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
    out = ["", "## 7. Import, first typed call and codegen time", ""]
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
            f"| {mod} | {num(c['cumulative_ms'], '{:.1f}')} | "
            f"{'–' if not rng else f'{rng[0]:.1f}–{rng[1]:.1f}'} | {c['wall_ms']:.0f} | "
            f"{num(c.get('cpu_ms'), '{:.0f}')} |"
        )
    out += [
        "",
        f"dxapi adds {num(imp['added_ms'], '{:.1f}')} ms over aiohttp "
        f"(process wall: {imp['added_wall_ms']:.0f} ms; CPU time: "
        f"{num(imp.get('added_cpu_ms'), '{:.0f}')} ms; bare interpreter "
        f"{imp['python_bare_wall_ms']:.0f} ms). Largest self times in `import dxapi`: "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in imp.get("top_self", [])[:6])
        + ".",
        "",
    ]
    fc = st.get("first_call")
    if isinstance(fc, dict) and isinstance(fc.get("dxapi"), dict):
        out += [
            "",
            "**First typed call**: a fresh process imports dxapi and makes one "
            "`catalog.entities.info` call through a default client (mini server, its own "
            "process), against a fresh process importing aiohttp and making one GET + "
            "`json.loads`; from before the first import to the answer (the interpreter's start "
            f"is the same for both and left out), median of {fc['runs']} pairs.",
            "",
            "| process | imports ms | to the answer ms | range | CPU ms |",
            "| --- | ---: | ---: | --- | ---: |",
        ]
        for who in ("dxapi", "aiohttp"):
            c = fc[who]
            rng = c.get("range")
            out.append(
                f"| {who} | {num(c.get('import_ms'), '{:.1f}')} | "
                f"{num(c.get('wall_ms'), '{:.1f}')} | "
                f"{'–' if not rng else f'{rng[0]:.1f}–{rng[1]:.1f}'} | "
                f"{num(c.get('cpu_ms'), '{:.1f}')} |"
            )
        out += [
            "",
            f"dxapi adds {num(fc.get('added_wall_ms'), '{:+.1f}')} ms to the answer "
            f"({num(fc.get('added_cpu_ms'), '{:+.1f}')} ms CPU), of which "
            f"{num(fc.get('added_import_ms'), '{:+.1f}')} ms in the imports.",
            "",
        ]
        if fc.get("errors"):
            out += [f"Errors: `{str(fc['errors'])[:400]}`", ""]
    if "error" in cg:
        out.append(f"Codegen: {cg['error']}")
    else:
        rnd = cg.get("render", {})
        out.append(
            f"Codegen: `python -m codegen --check` {cg['check_ms']:.0f} ms (exit "
            f"{cg['check_status']}); load + validate + render alone "
            f"{num(rnd.get('render_ms'), '{:.0f}')} ms for {rnd.get('files', '?')} files."
        )
    return out
