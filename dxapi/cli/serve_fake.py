"""``dxapi serve-fake``: run the fake DX server until Ctrl-C (seeded data, real pagination).

It takes the options of ``python -m dxapi.testing`` (``--seed``, ``--token``, ``--rate-limit``
and ``--fake-entities`` may also come before the command, as global options).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import anyio

from ._env import FAKE_ENTITIES, UsageError, plain
from ._server_options import add_server_options, fake_options


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve-fake",
        help="run the fake DX server",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_server_options(p, port=0, entities=FAKE_ENTITIES, suppress=True)
    p.add_argument(
        "--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no banner"
    )
    p.add_argument(
        "--verbose", "-v", action="count", default=argparse.SUPPRESS, help="log to stderr"
    )
    p.set_defaults(run=run, own_options=True)


async def run(opts: argparse.Namespace) -> int:
    from ..testing import FakeDX

    client_only = ("--base-url", "base_url"), ("--fake", "fake"), ("--limiter", "limiter")
    for option, dest in client_only:
        if getattr(opts, dest, None):
            raise UsageError(f"serve-fake does not use {option}: it is the server")
    fallback: dict[str, Any] = {"seed": opts.seed, "entities": opts.fake_entities}
    if opts.token is not None:
        fallback["token"] = opts.token
    if opts.rate_limit is not None:
        fallback["rate_limit"] = (opts.rate_limit.requests, opts.rate_limit.per)
    kwargs = fake_options(opts, fallback)
    fake = FakeDX(**kwargs)
    async with fake:
        print(f"export DX_BASE_URL={fake.url}", flush=True)
        print(f"export DX_API_TOKEN={fake.token}", flush=True)
        if not opts.quiet:
            print(
                f"dxapi: fake DX serving {kwargs['entities']} entities "
                f"(seed {kwargs['seed']}) at {fake.url}; Ctrl-C stops it",
                file=sys.stderr,
                flush=True,
            )
        await anyio.sleep_forever()
    return 0
