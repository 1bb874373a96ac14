"""Kill -9 at random moments of ``export`` and ``export --each``, resume: exact record set.

Each run is a separate process running the CLI's ``main`` against a FakeDX this test starts.
To keep 20 trials fast, processes are forked from one process that has already imported
dxapi (a fork server, :data:`FORKER`), instead of starting a new interpreter each time.
The randomness is seeded (``DXAPI_RESUME_SEED`` overrides it) and every assertion names the
seed and trial, so a failure reproduces.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process

from dxapi.cli.__main__ import amain
from dxapi.testing import FakeDX

SEED = int(os.environ.get("DXAPI_RESUME_SEED", "1313"))
ENTITIES = 60
TRIALS = 10  # per mode: 20 in all

#: Reads {"run": argv, "log": path} or {"wait": pid} lines; answers a pid or an exit status.
FORKER = r"""
import json, os, sys
from dxapi.cli.__main__ import main
for line in sys.stdin:
    order = json.loads(line)
    if "wait" in order:
        _, status = os.waitpid(order["wait"], 0)
        print(os.waitstatus_to_exitcode(status), flush=True)
        continue
    pid = os.fork()
    if pid == 0:
        log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        code = main(order["run"])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(pid, flush=True)
"""


class Forker:
    """Starts CLI processes (forked from :data:`FORKER`) and waits for them."""

    def __init__(self, proc: Process) -> None:
        self.proc = proc
        self.buffer = b""

    async def _ask(self, order: dict[str, Any]) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        await self.proc.stdin.send((json.dumps(order) + "\n").encode())
        while b"\n" not in self.buffer:
            self.buffer += await self.proc.stdout.receive()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return int(line)

    async def start(self, argv: list[str], log: Path) -> int:
        return await self._ask({"run": argv, "log": str(log)})

    async def wait(self, pid: int) -> int:
        with anyio.fail_after(30):
            return await self._ask({"wait": pid})

    async def run(self, argv: list[str], log: Path) -> int:
        return await self.wait(await self.start(argv, log))


@pytest.fixture
async def forker() -> AsyncIterator[Forker]:
    command = [sys.executable, "-c", FORKER]
    async with await anyio.open_process(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as p:
        yield Forker(p)
        assert p.stdin is not None
        await p.stdin.aclose()
        with anyio.fail_after(10):
            await p.wait()


def lines(path: Path) -> list[str]:
    """The complete lines of a file (a torn last line does not count)."""
    data = path.read_bytes() if path.exists() else b""
    return data[: data.rfind(b"\n") + 1].decode().splitlines()


async def until(ready: Callable[[], bool], seconds: float = 20.0) -> None:
    """Poll until another process's files say ``ready()`` (there is no event to wait on)."""
    with anyio.fail_after(seconds):
        while True:
            if ready():
                return
            await anyio.sleep(0.005)


def holder(lock: Path) -> str:
    """The pid written in a lock file ("" while there is none)."""
    try:
        return lock.read_text()
    except FileNotFoundError:
        return ""


def files(folder: Path) -> dict[str, bytes]:
    """The export's output and checkpoint (a stale lock file may come and go)."""
    return {
        p.name: p.read_bytes()
        for p in folder.iterdir()
        if p.name.startswith("out") and not p.name.endswith(".lock")
    }


def leftovers(folder: Path, out: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(out.name + "."))


MODES = {
    # 12 list pages at 40 requests/s: about 0.3 s
    "export": ["--rate-limit", "2/0.05", "export", "catalog.entities.list", "limit=5"],
    # 6 list pages and 60 per-item calls at 200 requests/s after a burst of 20: about 0.3 s
    "each": ["--rate-limit", "20/0.1", "export", "catalog.entities.list", "limit=10",
             "--each", "catalog.entities.scorecards", "--each-param", "limit=100"],
}  # fmt: skip


def key_of(mode: str, line: str) -> str:
    record = json.loads(line)
    return str(record["args"]["identifier"] if mode == "each" else record["identifier"])


async def test_kill_9_at_random_moments_then_resume_gives_the_exact_record_set(
    forker: Forker, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    async with FakeDX(entities=ENTITIES, rate_limit=None) as fake:
        base = ["--base-url", fake.url, "--token", fake.token, "--quiet"]
        midway = 0
        for mode, argv in MODES.items():
            reference = tmp_path / f"reference-{mode}.jsonl"
            assert await amain([*base, *argv, "--out", str(reference)]) == 0
            want = sorted(lines(reference))
            assert len(want) == ENTITIES
            for trial in range(TRIALS):
                where = f"seed {SEED}, {mode} trial {trial}"
                out = tmp_path / f"{mode}-{trial}.jsonl"
                command = [*base, *argv, "--out", str(out)]
                pid = await forker.start(command, tmp_path / "log")
                await anyio.sleep(rng.uniform(0.0, 0.4))
                os.kill(pid, signal.SIGKILL)
                code = await forker.wait(pid)
                assert code in (0, -signal.SIGKILL), (where, code)
                written = {key_of(mode, line) for line in lines(out)}
                midway += 0 < len(written) < ENTITIES
                mark = len(fake.requests)
                log = tmp_path / "resume.log"
                code = await forker.run([*command, "--resume"], log)
                assert code == 0, (where, log.read_text())
                got = lines(out)
                assert len(got) == ENTITIES, where  # no record twice …
                assert sorted(got) == want, where  # … and exactly the records of a clean run
                if mode == "each":
                    resent = {
                        r.query.get("identifier")
                        for r in fake.requests[mark:]
                        if r.method == "catalog.entities.scorecards"
                    }
                    assert not resent & written, f"{where}: re-sent requests already written"
                assert leftovers(tmp_path, out) == [out.name + ".checkpoint.json"], where
        assert midway >= 2, f"seed {SEED}: the kills never landed mid-export ({midway})"


async def test_a_killed_export_refuses_every_other_resume_then_resumes_exactly(
    forker: Forker, tmp_path: Path
) -> None:
    async with (
        FakeDX(entities=ENTITIES, rate_limit=None) as fake,
        FakeDX(entities=ENTITIES, rate_limit=None) as other,
    ):
        fake.add_token("dx-other-token")
        listing = ["--rate-limit", "10/0.1", "export", "catalog.entities.list", "limit=10"]
        slow = [*listing, "--each", "catalog.entities.scorecards"]
        base = ["--base-url", fake.url, "--token", fake.token, "--quiet"]
        reference = tmp_path / "reference.jsonl"
        assert await amain([*base, *slow, "--out", str(reference)]) == 0
        out = tmp_path / "out.jsonl"
        command = [*base, *slow, "--out", str(out)]
        pid = await forker.start(command, tmp_path / "log")
        await until(lambda: len(lines(out)) >= 5)
        os.kill(pid, signal.SIGKILL)
        assert await forker.wait(pid) == -signal.SIGKILL
        state = files(tmp_path)
        unrelated = tmp_path / "notes.jsonl"
        unrelated.write_text('{"mine": true}\n')
        refusals = {
            "another server": ["--base-url", other.url, "--token", other.token, "--quiet",
                               *slow, "--out", str(out)],
            "another token": ["--base-url", fake.url, "--token", "dx-other-token", "--quiet",
                              *slow, "--out", str(out)],
            "another export": [*base, *listing, "type=service", *slow[len(listing):],
                               "--out", str(out)],
            "no checkpoint": [*base, *slow, "--out", str(unrelated)],
        }  # fmt: skip
        for said, argv in refusals.items():
            log = tmp_path / "refused.log"
            assert await forker.run([*argv, "--resume"], log) == 2, (said, log.read_text())
            text = log.read_text()
            assert said in text, text
            assert "without --resume" in text, text
        assert other.requests == []
        assert unrelated.read_text() == '{"mine": true}\n'
        assert files(tmp_path) == state  # nothing was touched by the refused runs
        # Two resumes at once: the second is refused while the first holds the lock.
        first = await forker.start([*command, "--resume"], tmp_path / "first.log")
        lock = tmp_path / "out.jsonl.lock"
        await until(lambda: holder(lock) == str(first))
        log = tmp_path / "second.log"
        assert await forker.run([*command, "--resume"], log) == 2
        assert "being written by another export" in log.read_text()
        assert await forker.wait(first) == 0, (tmp_path / "first.log").read_text()
    got = lines(out)
    assert len(got) == ENTITIES
    assert sorted(got) == sorted(lines(reference))
    assert not lock.exists()
