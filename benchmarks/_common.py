"""Shared plumbing: server and client subprocesses, CPU pinning, statistics, machine facts."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

PY = sys.executable
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("dxapi", "aiohttp", "anyio", "attrs", "cattrs", "slack_sdk", "getdx", "httpx")


def cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def pinning() -> tuple[int | None, int | None]:
    """(server CPU, client CPU): separate cores when there are at least two."""
    avail = cpus()
    if len(avail) >= 2 and hasattr(os, "sched_setaffinity"):
        return avail[0], avail[1]
    return None, None


@dataclass
class Ctx:
    quick: bool = False
    runs: int = 3
    server_cpu: int | None = None
    client_cpu: int | None = None
    only: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)
    #: Machine busy share seen just before each measurement (after waiting for quiet).
    waited_busy: list[float] = field(default_factory=list)
    #: Seconds of waiting for quiet left for the whole run (keeps the run inside its budget).
    wait_budget: float = 90.0
    #: Seconds the current workload may still spend repeating samples disturbed by other load.
    repeat_budget: float = 25.0
    #: The workload running now (labels the samples).
    workload: str = ""
    #: Per measured sample: how often it was repeated, and whether its kept reading was
    #: still over :data:`OTHER_LOAD_MAX` (see :func:`sample`).
    sampled: list[dict[str, Any]] = field(default_factory=list)

    def say(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, file=sys.stderr, flush=True)
        self.log.append(line)


class Server:
    """A benchmark server in a child process (see :mod:`benchmarks._server`)."""

    def __init__(self, ctx: Ctx, kind: str = "mini", **opts: Any) -> None:
        args = [PY, "-m", "benchmarks._server", "--kind", kind]
        for key, value in opts.items():
            if value is not None:
                args += [f"--{key.replace('_', '-')}", str(value)]
        if ctx.server_cpu is not None:
            args += ["--cpu", str(ctx.server_cpu)]
        self.kind = kind
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(f"{kind} server failed to start (exit {self.proc.returncode})")
        info = json.loads(line)
        self.url: str = info["url"]
        self.token: str = info["token"]
        self.pid: int = info["pid"]

    def _command(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        result: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return result

    def stats(self) -> dict[str, Any]:
        return self._command("stats")

    def reset(self) -> None:
        self._command("reset")

    def rss_kb(self) -> int:
        return _rss_kb(self.pid)

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system)."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return 0.0

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_cpu() -> float:
    """CPU seconds used by this process's finished children (user + system)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def machine_busy(interval: float = 0.2) -> float:
    """Share of all CPUs busy over ``interval`` seconds (0..1)."""
    b0, t0 = cpu_times()
    time.sleep(interval)
    b1, t1 = cpu_times()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


def wait_quiet(ctx: Ctx, threshold: float = 0.15, max_wait: float = 20.0) -> float:
    """Wait (up to ``max_wait`` s) until other work leaves the machine nearly idle.

    Between measurements nothing of ours runs, so whatever keeps the CPUs busy is someone
    else's; measuring then would charge their load to our client. Returns the last reading.
    """
    start = time.monotonic()
    deadline = start + min(max_wait, ctx.wait_budget)
    busy = machine_busy()
    while busy > threshold and time.monotonic() < deadline:
        time.sleep(0.5)
        busy = machine_busy()
    ctx.wait_budget = max(0.0, ctx.wait_budget - (time.monotonic() - start))
    ctx.waited_busy.append(busy)
    return busy


#: A sample during which processes not ours used more than this share of the machine's CPUs
#: is taken again (at most :data:`MAX_REPEATS` times; the least disturbed reading is kept).
OTHER_LOAD_MAX = 0.10
MAX_REPEATS = 2


def other_load(busy_s: float, ours_s: float, wall_s: float, cores: int) -> float:
    """Share (0..1) of ``cores`` CPUs that processes not ours kept busy over ``wall_s``.

    ``busy_s`` is the CPU time the whole machine spent meanwhile, ``ours_s`` the part our
    servers and client children used.
    """
    if wall_s <= 0 or cores <= 0:
        return 0.0
    return min(1.0, max(0.0, (busy_s - ours_s) / (wall_s * cores)))


def sample(
    ctx: Ctx,
    measure: Callable[[], dict[str, Any]],
    servers: Sequence[Server] = (),
    label: str = "",
) -> dict[str, Any]:
    """One measurement (``measure()`` runs a child process), repeated while other load disturbs it.

    Waits for quiet, measures, and meanwhile counts the CPU the rest of the machine used. If
    that exceeded :data:`OTHER_LOAD_MAX` of the machine, the sample is taken again, at most
    :data:`MAX_REPEATS` times and while ``ctx.repeat_budget`` lasts; the reading with the least
    other load is kept. Adds ``other_load``, ``repeats`` and ``server_cpu_s`` to the result.
    """
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    cores = len(cpus())
    best: dict[str, Any] | None = None
    repeats = 0
    while True:
        wait_quiet(ctx)
        server_cpu = [s.cpu_seconds() for s in servers]
        busy0, kids0, t0 = cpu_times()[0], children_cpu(), time.monotonic()
        res = measure()
        wall = time.monotonic() - t0
        spent = sum(s.cpu_seconds() - c for s, c in zip(servers, server_cpu, strict=True))
        ours = spent + children_cpu() - kids0
        res["other_load"] = other_load((cpu_times()[0] - busy0) / hz, ours, wall, cores)
        res["server_cpu_s"] = spent
        if best is None or res["other_load"] < best["other_load"]:
            best = res
        if (
            "error" in res
            or best["other_load"] <= OTHER_LOAD_MAX
            or repeats >= MAX_REPEATS
            or ctx.repeat_budget <= 0
        ):
            break
        repeats += 1
        ctx.repeat_budget -= wall
        ctx.say(f"  repeating {label}: other load {res['other_load']:.0%} of the machine")
    best["repeats"] = repeats
    ctx.sampled.append(
        {
            "label": label,
            "workload": ctx.workload,
            "repeats": repeats,
            "over": best["other_load"] > OTHER_LOAD_MAX,
            "budget_spent": ctx.repeat_budget <= 0,
        }
    )
    return best


def child_sample(
    ctx: Ctx, module: str, args: dict[str, Any], servers: Sequence[Server] = ()
) -> dict[str, Any]:
    """:func:`sample` of ``python -m benchmarks.<module> '<json args>'``."""
    label = f"{module} {args.get('client', '')} c={args.get('conc', '')}"
    return sample(ctx, lambda: run_child(ctx, module, args, quiet=False), servers, label)


def pin_client(ctx: Ctx) -> Callable[[], None] | None:
    """A ``preexec_fn`` pinning a child to the client core (None without pinning)."""
    if ctx.client_cpu is None:
        return None
    cpu = ctx.client_cpu
    return lambda: os.sched_setaffinity(0, {cpu})


def run_child(
    ctx: Ctx, module: str, args: dict[str, Any], timeout: float = 600, *, quiet: bool = True
) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module> '<json args>'`` on the client core; its JSON answer."""
    cmd = [PY, "-m", f"benchmarks.{module}", json.dumps(args)]
    if quiet:
        wait_quiet(ctx)
    done = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, preexec_fn=pin_client(ctx)
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout)[-2000:]
        return {"error": f"{module} exited {done.returncode}: {tail.strip()}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def child_main(handler: Any) -> None:
    """Entry point of a child: parse the JSON argument, run, print one JSON line."""
    args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    result = handler(args)
    print(json.dumps(result), flush=True)


def median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def spread(values: Sequence[float | None]) -> tuple[float, float] | None:
    vals = [v for v in values if v is not None]
    return (min(vals), max(vals)) if vals else None


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def machine() -> dict[str, Any]:
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "cores_usable": len(cpus()),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "packages": {name: version(name) for name in PACKAGES},
    }


def git_rev() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
