"""``dxapi serve-fake``: run the fake DX server until Ctrl-C (seeded data, real pagination)."""

from __future__ import annotations

import argparse
import sys

import anyio

from ._env import plain


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve-fake", help="run the fake DX server", description=plain(__doc__))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="default: a free port")
    p.set_defaults(run=run)


async def run(opts: argparse.Namespace) -> int:
    from ..testing import FakeDX

    rate = opts.rate_limit
    fake = FakeDX(
        seed=opts.seed,
        entities=opts.fake_entities,
        rate_limit=(rate.requests, rate.per) if rate else (1000, 60.0),
        host=opts.host,
        port=opts.port,
    )
    async with fake:
        print(f"export DX_BASE_URL={fake.url}", flush=True)
        print(f"export DX_API_TOKEN={fake.token}", flush=True)
        if not opts.quiet:
            print(
                f"dxapi: fake DX serving {opts.fake_entities} entities (seed {opts.seed}) "
                f"at {fake.url}; Ctrl-C stops it",
                file=sys.stderr,
                flush=True,
            )
        await anyio.sleep_forever()
    return 0
