"""What every command shares: global options → a client (real, or the embedded fake DX)."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import attrs

from .._client import Client, DataCloudClient
from .._config import DX_RATE_LIMIT, RateLimit
from .._generated.specs import METHODS
from .._redis_limiter import RedisLimiter
from .._spec import MethodSpec

__all__ = [
    "FAKE_ENTITIES",
    "Env",
    "open_env",
    "out_path",
    "parse_assignments",
    "parse_rate",
    "plain",
]

#: Entities the embedded fake server is seeded with unless ``--fake-entities`` says otherwise.
FAKE_ENTITIES = 200


@attrs.define
class Env:
    """The clients a command may use, and whether they talk to the embedded fake."""

    web: Client
    datacloud: DataCloudClient | None
    fake: Any | None  # dxapi.testing.FakeDX when embedded

    def client_for(self, spec: MethodSpec) -> Client | DataCloudClient:
        if spec.api == "web":
            return self.web
        if self.datacloud is None:
            raise UsageError(
                f"{spec.name} is a Data Cloud method: set $DX_DATACLOUD_TOKEN and "
                "$DX_DATACLOUD_INSTANCE (or use --fake)"
            )
        return self.datacloud


def plain(doc: str | None) -> str:
    """A module docstring as help text (without reST literal markup)."""
    return (doc or "").replace("``", "")


def out_path(text: str) -> Path:
    """An output path, made absolute when parsed (so messages can say where it went)."""
    return Path(text).absolute()


def parse_rate(text: str) -> RateLimit:
    """``REQUESTS/SECONDS`` (``1000/60``) → RateLimit."""
    try:
        requests, _, seconds = text.partition("/")
        return RateLimit(int(requests), float(seconds or "60"))
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(
            f"expected REQUESTS/SECONDS such as 1000/60, got {text!r}"
        ) from None


def parse_value(text: str, spec: MethodSpec | None, name: str) -> Any:
    """A JSON literal or array if it parses (``50``, ``true``, ``["a","b"]``), else the text.

    An argument the registry types as text keeps the text as typed (``identifier=123``).
    """
    arg = spec.arg(name) if spec is not None else None
    if arg is not None and arg.type in ("str", "date", "datetime") and arg.format != "unix":
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignments(
    pairs: list[str], spec: MethodSpec | None, what: str = "argument"
) -> dict[str, Any]:
    """``key=value`` words → arguments (raises ``SystemExit(2)`` naming a bad word)."""
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            method = f" for {spec.name}" if spec else ""
            raise UsageError(f"{what} {pair!r}{method} is not key=value")
        args[key] = parse_value(value, spec, key)
    return args


class UsageError(Exception):
    """A mistake on the command line (exit status 2)."""


def note(opts: argparse.Namespace, text: str) -> None:
    if not opts.quiet:
        print(f"dxapi: {text}", file=sys.stderr, flush=True)


@asynccontextmanager
async def open_env(opts: argparse.Namespace) -> AsyncIterator[Env]:
    """Open the clients the global options describe; start the embedded fake if needed."""
    token = opts.token or os.environ.get("DX_API_TOKEN")
    rate = opts.rate_limit
    async with AsyncExitStack() as stack:
        limiter = None
        if getattr(opts, "limiter", None):  # else Client() reads $DX_RATE_LIMIT_URL
            limiter = RedisLimiter.from_url(opts.limiter, rate or DX_RATE_LIMIT)
            stack.push_async_callback(limiter.aclose)
        fake = None
        if opts.fake or not token:
            from ..testing import FakeDX

            fake = await stack.enter_async_context(
                FakeDX(
                    seed=opts.seed,
                    entities=opts.fake_entities,
                    rate_limit=(rate.requests, rate.per) if rate else (1000, 60.0),
                )
            )
            why = "--fake" if opts.fake else "no token ($DX_API_TOKEN or --token)"
            print(
                f"dxapi: {why}: using the embedded fake DX server at {fake.url} "
                f"({opts.fake_entities} seeded entities, seed {opts.seed})",
                file=sys.stderr,
                flush=True,
            )
            rate = rate or DX_RATE_LIMIT
            web = Client(token=fake.token, base_url=fake.url, rate_limit=rate, limiter=limiter)
            datacloud: DataCloudClient | None = DataCloudClient(
                token=fake.token, base_url=fake.url + "/api", limiter=web.limiter
            )
        else:
            kwargs: dict[str, Any] = {"token": token, "base_url": opts.base_url}
            kwargs["limiter"] = limiter
            if rate is not None:
                kwargs["rate_limit"] = rate
            web = Client(**kwargs)
            datacloud = None
            dc_token = os.environ.get("DX_DATACLOUD_TOKEN")
            if dc_token and os.environ.get("DX_DATACLOUD_INSTANCE"):
                datacloud = DataCloudClient(token=dc_token)
        await stack.enter_async_context(web)
        if datacloud is not None:
            await stack.enter_async_context(datacloud)
        yield Env(web, datacloud, fake)


def spec_or_usage(name: str) -> MethodSpec:
    spec = METHODS.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(METHODS), n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise UsageError(f"no such method {name!r}{hint}; see `dxapi methods`")
    return spec
