"""The fake server's command-line options, shared by ``dxapi serve-fake`` and
``python -m dxapi.testing`` (here, not in :mod:`dxapi.testing`, so ``dxapi`` starts without
importing the server)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

__all__ = ["OPTIONS", "add_server_options", "fake_options", "parse_rate_limit"]


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


def add_server_options(
    parser: argparse.ArgumentParser, *, port: int, entities: int, suppress: bool = False
) -> None:
    """The fake server's options, shared by ``python -m dxapi.testing`` and ``dxapi serve-fake``
    (their defaults of ``port`` and ``entities`` differ). With ``suppress``, an option not
    given is absent from the namespace, so :func:`fake_options` can fall back to another."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    def add(*names: str, dest: str, value: Any, **kwargs: Any) -> None:
        kwargs.setdefault("metavar", names[0].lstrip("-").upper().replace("-", "_"))
        parser.add_argument(*names, dest=f"server_{dest}", default=default(value), **kwargs)

    add("--host", dest="host", value="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", dest="port", value=port, type=int, help=f"API port (default {port}; 0: any)")
    add("--csv-port", dest="csv_port", value=0, type=int, help="CSV download host port")
    add("--seed", dest="seed", value=0, type=int, help="the data seed (default 0)")
    add(
        "--entities", "--fake-entities", dest="entities", value=entities, type=int,
        metavar="N", help=f"entities to seed (default {entities})",
    )  # fmt: skip
    add("--teams", dest="teams", value=12, type=int, help="teams to seed (default 12)")
    add("--users", dest="users", value=40, type=int, help="users to seed (default 40)")
    add("--token", dest="token", value=None, help="the token to accept (default: from the seed)")
    add(
        "--rate-limit", dest="rate_limit", value=(1000, 60.0), type=parse_rate_limit,
        metavar="N/SECONDS", help="sliding-window limit per token, or 'off' (default 1000/60)",
    )  # fmt: skip
    add("--query-rows", dest="query_rows", value=100, type=int, help="rows of each query run")
    add(
        "--query-run-seconds", dest="query_run_seconds", value=1.0, type=float,
        help="how long a query run takes (default 1.0)",
    )  # fmt: skip


#: FakeDX's keyword arguments that :func:`add_server_options` defines.
OPTIONS = (
    "host", "port", "csv_port", "seed", "entities", "teams", "users", "token", "rate_limit",
    "query_rows", "query_run_seconds",
)  # fmt: skip


def fake_options(args: argparse.Namespace, fallback: Mapping[str, Any]) -> dict[str, Any]:
    """FakeDX's keyword arguments from :func:`add_server_options`'s namespace; an option
    absent from it (``suppress``) is taken from ``fallback``, else FakeDX's default."""
    out = {name: fallback[name] for name in OPTIONS if name in fallback}
    out.update({n: getattr(args, f"server_{n}") for n in OPTIONS if hasattr(args, f"server_{n}")})
    return out
