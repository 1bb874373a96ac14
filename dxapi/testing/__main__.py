"""Run the fake DX server standalone: ``python -m dxapi.testing --port 8765``.

Prints the URL and the token, then serves until interrupted, e.g. for::

    curl -H "Authorization: Bearer $TOKEN" "$URL/catalog.entities.list?limit=2"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from ._fake import FakeDX

__all__ = ["main", "parse_rate_limit"]


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """``1000/60`` → (1000, 60.0); ``off`` → None."""
    if text.lower() in ("off", "none", "0"):
        return None
    requests, _, per = text.partition("/")
    try:
        result = int(requests), float(per or 60)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected REQUESTS/SECONDS or off, got {text!r}"
        ) from None
    if result[0] < 1 or result[1] <= 0:
        raise argparse.ArgumentTypeError("requests and seconds must be positive")
    return result


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dxapi.testing", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="API port (0: any free port)")
    p.add_argument("--csv-port", type=int, default=0, help="CSV download host port")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--entities", type=int, default=1000)
    p.add_argument("--teams", type=int, default=12)
    p.add_argument("--users", type=int, default=40)
    p.add_argument("--token", help="the token to accept (default: derived from the seed)")
    p.add_argument(
        "--rate-limit", type=parse_rate_limit, default=(1000, 60.0), metavar="N/SECONDS",
        help="sliding-window limit per token, or 'off' (default 1000/60)",
    )  # fmt: skip
    p.add_argument("--query-rows", type=int, default=100, help="rows of each query run")
    p.add_argument("--query-run-seconds", type=float, default=1.0)
    return p


async def serve(args: argparse.Namespace) -> None:
    fake = FakeDX(
        seed=args.seed,
        entities=args.entities,
        teams=args.teams,
        users=args.users,
        token=args.token,
        rate_limit=args.rate_limit,
        host=args.host,
        port=args.port,
        csv_port=args.csv_port,
        query_rows=args.query_rows,
        query_run_seconds=args.query_run_seconds,
    )
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
