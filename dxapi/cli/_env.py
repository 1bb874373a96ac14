"""What every command shares: global options → a client (real, or the embedded fake DX)."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import attrs

from .._client import Client, DataCloudClient
from .._config import DX_RATE_LIMIT, RateLimit, env_token
from .._export._checkpoint import origin
from .._generated.specs import METHODS
from .._redis_limiter import RedisLimiter
from .._spec import MethodSpec

__all__ = [
    "FAKE_ENTITIES",
    "Env",
    "MissingTokenError",
    "open_env",
    "out_path",
    "parse_assignments",
    "parse_rate",
    "plain",
    "verbosity",
]

#: Entities the embedded fake server is seeded with unless ``--fake-entities`` says otherwise.
FAKE_ENTITIES = 200


@attrs.define
class Env:
    """The clients a command may use, and whether they talk to the embedded fake."""

    web: Client | None
    datacloud: DataCloudClient | None
    fake: Any | None  # dxapi.testing.FakeDX when embedded
    #: What each client's records come from (base URL, token fingerprint, fake), per API.
    origins: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    def client_for(self, spec: MethodSpec) -> Client | DataCloudClient:
        client = self.web if spec.api == "web" else self.datacloud
        if client is None:  # open_env was asked for the other API
            raise UsageError(f"{spec.name}: no client for the {spec.api} API was opened")
        return client


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


class MissingTokenError(Exception):
    """No token, and the embedded fake was not asked for (exit status 3)."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        super().__init__(
            f"no token: set ${variable} (or pass --token), or pass --fake (or set DX_FAKE=1) "
            "to run against the embedded fake DX server with synthetic data"
        )


def wants_fake(opts: argparse.Namespace) -> bool:
    """``--fake``, or ``$DX_FAKE`` set to 1/true/yes."""
    flag = os.environ.get("DX_FAKE", "").strip().lower()
    return bool(opts.fake) or flag in ("1", "true", "yes")


class _LogLine(logging.StreamHandler):  # type: ignore[type-arg]
    """``dxapi: message`` on stderr; on a terminal it first clears a live progress line."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("dxapi: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stderr)  # the stderr of now (tests swap it)
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[K")
        super().emit(record)


_handler = _LogLine()


def verbosity(level: int) -> None:
    """Show the runtime's ``dxapi`` log on stderr: ``-v`` retries and rate-limit pauses
    (INFO), ``-vv`` every request too (DEBUG); none without ``-v``. The runtime's log never
    holds the token or the request headers."""
    logger = logging.getLogger("dxapi")
    if level <= 0:
        logger.removeHandler(_handler)
        return
    logger.addHandler(_handler)
    logger.setLevel(logging.DEBUG if level > 1 else logging.INFO)


def note(opts: argparse.Namespace, text: str) -> None:
    if not opts.quiet:
        print(f"dxapi: {text}", file=sys.stderr, flush=True)


@asynccontextmanager
async def open_env(opts: argparse.Namespace, api: str = "web") -> AsyncIterator[Env]:
    """Open the client of ``api`` the global options describe, or the embedded fake's.

    Without a token the command fails (:class:`MissingTokenError`) unless the fake was asked
    for: synthetic data is never written in place of an account's by surprise.
    """
    rate = opts.rate_limit
    async with AsyncExitStack() as stack:
        limiter = None
        if getattr(opts, "limiter", None):  # else Client() reads $DX_RATE_LIMIT_URL
            limiter = RedisLimiter.from_url(opts.limiter, rate or DX_RATE_LIMIT)
            stack.push_async_callback(limiter.aclose)
        fake = None
        web: Client | None = None
        datacloud: DataCloudClient | None = None
        origins: dict[str, dict[str, Any]] = {}
        if wants_fake(opts):
            from ..testing import FakeDX

            fake = await stack.enter_async_context(
                FakeDX(
                    seed=opts.seed,
                    entities=opts.fake_entities,
                    rate_limit=(rate.requests, rate.per) if rate else (1000, 60.0),
                )
            )
            print(
                f"dxapi: --fake: using the embedded fake DX server at {fake.url} "
                f"({opts.fake_entities} seeded entities, seed {opts.seed}); "
                "its data is synthetic",
                file=sys.stderr,
                flush=True,
            )
            rate = rate or DX_RATE_LIMIT
            web = Client(token=fake.token, base_url=fake.url, rate_limit=rate, limiter=limiter)
            datacloud = DataCloudClient(
                token=fake.token, base_url=fake.url + "/api", limiter=web.limiter
            )
            where = f"embedded fake (seed {opts.seed}, {opts.fake_entities} entities)"
            for name in ("web", "datacloud"):
                origins[name] = origin(where, fake.token, fake=True)
        elif api == "web":
            token = opts.token or env_token("DX_API_TOKEN")
            if not token:
                raise MissingTokenError("DX_API_TOKEN")
            kwargs: dict[str, Any] = {"token": token, "base_url": opts.base_url}
            kwargs["limiter"] = limiter
            if rate is not None:
                kwargs["rate_limit"] = rate
            web = Client(**kwargs)
            origins["web"] = origin(web.base_url, token)
        else:
            dc_token = env_token("DX_DATACLOUD_TOKEN")
            if not dc_token:
                raise MissingTokenError("DX_DATACLOUD_TOKEN")
            dc_kwargs: dict[str, Any] = {"token": dc_token, "limiter": limiter}
            if opts.base_url:
                dc_kwargs["base_url"] = opts.base_url
            if rate is not None:
                dc_kwargs["rate_limit"] = rate
            datacloud = DataCloudClient(**dc_kwargs)
            origins["datacloud"] = origin(datacloud.base_url, dc_token)
        for client in (web, datacloud):
            if client is not None:
                await stack.enter_async_context(client)
        yield Env(web, datacloud, fake, origins)


def spec_or_usage(name: str) -> MethodSpec:
    spec = METHODS.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(METHODS), n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise UsageError(f"no such method {name!r}{hint}; see `dxapi methods`")
    return spec
