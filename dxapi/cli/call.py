"""``dxapi call METHOD key=value…``: call one method and print its answer as JSON."""

from __future__ import annotations

import argparse
from typing import Any

import attrs

from .._convert import converter
from .._export._records import json_text
from .._session import Session
from .._spec import MethodSpec, check_args
from ..types import result_type
from ._env import open_env, parse_assignments, plain, spec_or_usage


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "call",
        help="call one method, print JSON",
        description=plain(__doc__),
        epilog='Values are JSON when they parse (50, true, ["a","b"]), else text.',
    )
    p.add_argument("method", help="method name, e.g. catalog.entities.info")
    p.add_argument("args", nargs="*", metavar="key=value", help="wire-named arguments")
    p.add_argument(
        "--raw", action="store_true", help="print the payload as the API sent it (not typed)"
    )
    p.set_defaults(run=run)


async def run(opts: argparse.Namespace) -> int:
    spec = spec_or_usage(opts.method)
    args = parse_assignments(opts.args, spec)
    check_args(spec, args)  # a mistake fails before any server starts or request goes out
    async with open_env(opts, spec.api) as env:
        payload = await env.client_for(spec).call(spec.name, **args)
    value: Any = payload if opts.raw else typed(spec, payload)
    print(json_text(value, indent=2, default=str))  # lone surrogates stay JSON escapes
    return 0


def typed(spec: MethodSpec, payload: dict[str, Any]) -> Any:
    """The payload structured into the method's result class, then back to plain data."""
    cls = result_class(spec)
    if cls is None:
        return payload
    return converter.unstructure(Session.structure(spec, payload, cls))


def result_class(spec: MethodSpec) -> type[Any] | None:
    """The method's result class; None for a loose result (the payload is printed as is)."""
    cls = result_type(spec) if spec.result else None
    return cls if isinstance(cls, type) and attrs.has(cls) else None
