"""``dxapi``: the command line of the DX SDK (see ``dxapi --help``).

Exit status: 0 done; 1 an API or network failure; 2 a usage or argument mistake (the message
names the argument and the method); 3 no token, or the token was refused (the message says
whether DX did not accept it or it lacks the method's scope); 4 an export finished but some
``--each`` items failed; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM): an export can be
continued with ``--resume``.
"""

from __future__ import annotations

import argparse
import inspect
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import anyio

from .._bulk import sole_error
from .._errors import ArgumentError, AuthError, DXError
from .._generated.specs import METHODS
from .._version import __version__
from . import call, completion, export, methods, query, serve_fake
from ._env import FAKE_ENTITIES, MissingTokenError, UsageError, parse_rate, verbosity
from .probe import add_parser as add_probe_parser

__all__ = ["amain", "build_parser", "main"]

EPILOG = """\
Set $DX_API_TOKEN, or try it against an embedded fake DX server with synthetic data:
  dxapi --fake export catalog.entities.list --each catalog.entities.scorecards \\
    --out scorecards.jsonl

exit status: 0 ok, 1 API/network error, 2 usage/argument error, 3 no token or token refused,
4 export done but some --each items failed, 130 interrupted, 143 terminated (SIGTERM)
"""


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("global options")
    g.add_argument("--token", default=default(None), help="API token (default: $DX_API_TOKEN)")
    g.add_argument(
        "--base-url", default=default(None), help="API base URL (default: $DX_BASE_URL)"
    )
    g.add_argument(
        "--rate-limit",
        type=parse_rate,
        default=default(None),
        metavar="REQUESTS/SECONDS",
        help="client-side limit, e.g. 1000/60 (also the embedded fake's window)",
    )
    g.add_argument(
        "--limiter",
        default=default(None),
        metavar="URL",
        help="share the rate limit with other processes through Redis, redis://host:port "
        "(default: $DX_RATE_LIMIT_URL)",
    )
    g.add_argument(
        "--fake",
        action="store_true",
        default=default(False),
        help="use the embedded fake DX server and its synthetic data (also: DX_FAKE=1)",
    )
    g.add_argument(
        "--fake-entities",
        type=int,
        default=default(FAKE_ENTITIES),
        metavar="N",
        help=f"entities the fake server is seeded with (default {FAKE_ENTITIES})",
    )
    g.add_argument(
        "--seed", type=int, default=default(0), help="the fake server's data seed (default 0)"
    )
    g.add_argument(
        "--quiet", "-q", action="store_true", default=default(False), help="no progress output"
    )
    g.add_argument(
        "--verbose",
        "-v",
        action="count",
        default=default(0),
        help="log retries and rate-limit pauses (-vv: every request) to stderr",
    )


class _Intermixed(argparse.ArgumentParser):
    """A command's parser: options may come between and after its positional arguments
    (``dxapi call M --raw key=v``), as argparse's intermixed parsing allows."""

    _nested = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._nested:  # parse_known_intermixed_args calls back in here
            return super().parse_known_args(args, namespace)
        self._nested = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._nested = False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dxapi",
        description="Call the DX Web API, export data in bulk, run Data Studio queries.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dxapi {__version__}")
    _global_options(parser, suppress=False)
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Intermixed
    )
    for module in (methods, call, export, query, serve_fake):
        module.add_parser(sub)
    add_probe_parser(sub)
    completion.add_parser(sub)
    for child in sub.choices.values():  # global options are accepted after the command too
        if not child.get_default("own_options"):  # serve-fake: the fake server's options
            _global_options(child, suppress=True)
    sub.choices["completion"].set_defaults(root_parser=parser)  # what the script completes
    return parser


async def amain(argv: Sequence[str] | None = None, state: dict[str, Any] | None = None) -> int:
    """Run one command inside a running event loop; returns the exit status.

    ``state`` receives ``on_interrupt``, a function describing how to continue the command.
    """
    try:
        opts = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if state is not None:
        state["opts"] = opts
    verbosity(opts.verbose)
    try:
        try:
            outcome = opts.run(opts)
            return int(await outcome) if inspect.isawaitable(outcome) else int(outcome)
        except BaseExceptionGroup as group:
            raise sole_error(group) from None
    except BrokenPipeError:  # `dxapi call ... | head`: the reader is gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        return report(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run a command, turn failures into a message and an exit status.

    Ctrl-C (SIGINT) and SIGTERM (what schedulers and containers send) both cancel the command,
    so an export flushes its records and checkpoint; the message says how to continue.
    """
    state: dict[str, Any] = {}
    try:
        status = anyio.run(_until_terminated, argv, state)
    except KeyboardInterrupt:
        return _stopped(state, 130)
    return _stopped(state, 143) if state.get("terminated") else status


async def _until_terminated(argv: Sequence[str] | None, state: dict[str, Any]) -> int:
    """``amain``, cancelled (like Ctrl-C) when SIGTERM arrives."""
    status = 143
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                async for _ in signals:
                    state["terminated"] = True
                    tg.cancel_scope.cancel()
                    return

            tg.start_soon(watch)
            status = await amain(argv, state)
            tg.cancel_scope.cancel()
    return status


def _stopped(state: dict[str, Any], status: int) -> int:
    opts = state.get("opts")
    if opts is not None and opts.command == "serve-fake":
        return 0  # Ctrl-C (or SIGTERM) is how the fake server stops
    hint = getattr(opts, "on_interrupt", None)
    what = "interrupted" if status == 130 else "terminated (SIGTERM)"
    print(f"\ndxapi: {what}: {hint() if hint else 'stopped'}", file=sys.stderr)
    return status


def report(exc: BaseException) -> int:
    """Print what went wrong in terms a shell user can act on; return the exit status."""
    if isinstance(exc, BaseExceptionGroup):
        exc = sole_error(exc)
    if isinstance(exc, UsageError):
        return _say(f"error: {exc}", 2)
    if isinstance(exc, ArgumentError):
        problems = "; ".join(exc.problems)
        return _say(f"error: {exc.method}: {problems}", 2)
    if isinstance(exc, MissingTokenError):
        return _say(f"error: {exc}", 3)
    if isinstance(exc, AuthError):
        return _say(f"error: {_refusal(exc)}", 3)
    if isinstance(exc, DXError):
        return _say(f"error: {exc}", 1)
    if isinstance(exc, ValueError | OSError):
        return _say(f"error: {exc}", 2 if isinstance(exc, ValueError) else 1)
    raise exc


def _refusal(exc: AuthError) -> str:
    """Which refusal it was, the server's message, and what to do about it."""
    spec = METHODS.get(exc.method)
    head = str(exc)  # which refusal, DX's code and status, the server's message
    if exc.reason == "token":
        variable = "DX_DATACLOUD_TOKEN" if spec and spec.api == "datacloud" else "DX_API_TOKEN"
        return f"{head}; check ${variable} (or --token)"
    if exc.reason == "scope" and spec is not None and spec.scope:
        return f"{head}; {exc.method} needs a token with scope {spec.scope!r}"
    return head


def _say(text: str, status: int) -> int:
    print(f"dxapi: {text}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
