"""Run a benchmark server in its own process: ``python -m benchmarks._server --kind mini|fake``.

Prints one JSON line (``url``, ``token``, ``kind``) once it listens, then obeys one command per
line on stdin: ``stats`` (print the counters as one JSON line), ``reset``, ``quit``. Running
the server in a separate process (pinned to its own core when there are two) keeps its CPU
and memory out of the client's measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from contextlib import AsyncExitStack
from typing import Any

from ._mini import MiniServer


class _FakeAdapter:
    """FakeDX behind the same small interface as :class:`MiniServer`."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.url = fake.url
        self.token = fake.token

    def stats(self) -> dict[str, Any]:
        c = self.fake.counters
        return {
            "accepted": int(c.accepted),
            "refused_429": int(c.refused_429),
            "arrivals": list(c.arrivals),
        }

    def reset(self) -> None:
        self.fake.reset()  # recorded requests, counters and the rate window


async def _serve(opts: argparse.Namespace) -> None:
    rate = (opts.limit, opts.per) if opts.limit else None
    async with AsyncExitStack() as stack:
        info: dict[str, Any] = {"kind": opts.kind}
        if opts.kind == "mini":
            server: Any = MiniServer(rate, pages=opts.pages)
            await server.start()
            stack.push_async_callback(server.stop)

            def stats() -> dict[str, Any]:
                snapshot: dict[str, Any] = server.counters.snapshot()
                return snapshot

            reset = server.reset
        else:
            from dxapi.testing import FakeDX

            kwargs: dict[str, Any] = {"seed": opts.seed, "rate_limit": rate}
            if opts.entities is not None:
                kwargs["entities"] = opts.entities
            if opts.csv_rows is not None:
                kwargs["query_rows"] = opts.csv_rows
            fake = await stack.enter_async_context(FakeDX(**kwargs))
            server = _FakeAdapter(fake)
            stats, reset = server.stats, server.reset
        info.update(url=server.url, token=server.token, pid=os.getpid())
        print(json.dumps(info), flush=True)

        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = (await reader.readline()).decode().strip()
            if not line or line == "quit":
                break
            if line == "stats":
                print(json.dumps(stats()), flush=True)
            elif line == "reset":
                reset()
                print("{}", flush=True)
            else:
                print(json.dumps({"error": f"unknown command {line!r}"}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._server")
    parser.add_argument("--kind", choices=("mini", "fake"), default="mini")
    parser.add_argument("--limit", type=int, default=0, help="requests per window (0: off)")
    parser.add_argument("--per", type=float, default=1.0, help="window length, seconds")
    parser.add_argument("--entities", type=int, default=None)
    parser.add_argument("--pages", type=int, default=20, help="mini: pages of a listing")
    parser.add_argument("--csv-rows", type=int, default=None)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    opts = parser.parse_args()
    if opts.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {opts.cpu})
    asyncio.run(_serve(opts))


if __name__ == "__main__":
    main()
