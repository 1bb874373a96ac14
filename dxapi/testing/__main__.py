"""Run the fake DX server standalone: ``python -m dxapi.testing --port 8765``.

It takes the same options as ``dxapi serve-fake`` (``dxapi.cli._server_options``).

Prints the URL and the token, then serves until interrupted, e.g. for::

    curl -H "Authorization: Bearer $TOKEN" "$URL/catalog.entities.list?limit=2"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from ..cli._server_options import add_server_options, fake_options, parse_rate_limit
from ._fake import FakeDX

__all__ = ["add_server_options", "fake_options", "main", "parse_rate_limit"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dxapi.testing", description=__doc__.split("\n")[0])
    add_server_options(p, port=8765, entities=1000)
    return p


async def serve(args: argparse.Namespace) -> None:
    fake = FakeDX(**fake_options(args, {}))
    async with fake:
        print(f"DX_BASE_URL={fake.url}", flush=True)
        print(f"DX_API_TOKEN={fake.token}", flush=True)
        print(f"Data Cloud base URL: {fake.url}/api  (CSV host: {fake.csv_url})", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
