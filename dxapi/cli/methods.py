"""``dxapi methods``: list the registry's methods (filter by family, scope or API).

Each line names the method, its API (web or datacloud), HTTP verb and scope; a list method is
marked [list], a deprecated one [deprecated: why]. An unknown --family or --scope is an error
naming the valid values.
"""

from __future__ import annotations

import argparse
import difflib
import json

from .._generated.specs import METHODS
from .._spec import MethodSpec
from ._env import UsageError, plain


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "methods",
        help="list the API methods",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--family", help="only methods under this prefix (catalog, catalog.entities)")
    p.add_argument("--scope", help="only methods needing this token scope (catalog:read)")
    p.add_argument("--api", choices=["web", "datacloud"], help="only this API's methods")
    p.add_argument("--json", action="store_true", help="one JSON object per method")
    p.set_defaults(run=run)


def families() -> set[str]:
    """Every dotted prefix of a method name (``catalog``, ``catalog.entities``, …)."""
    out: set[str] = set()
    for name in METHODS:
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return out


def scopes() -> set[str]:
    return {word for spec in METHODS.values() for word in (spec.scope or "").split()}


def _check(option: str, value: str, valid: set[str], shown: list[str]) -> None:
    if value in valid:
        return
    close = difflib.get_close_matches(value, sorted(valid), n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise UsageError(f"{option} {value!r} matches no method{hint}; valid: {', '.join(shown)}")


def select(family: str | None, scope: str | None, api: str | None) -> list[MethodSpec]:
    """The methods the filters keep, by name; an unknown family or scope is a UsageError."""
    if family is not None:
        family = family.rstrip(".")
        tops = sorted({f for f in families() if "." not in f})
        _check("--family", family, families(), [*tops, "or a longer prefix"])
    if scope is not None:
        _check("--scope", scope, scopes(), sorted(scopes()))
    rows = []
    for name in sorted(METHODS):
        spec = METHODS[name]
        if family and name != family and not name.startswith(family + "."):
            continue
        if scope and scope not in (spec.scope or "").split():
            continue
        if api and spec.api != api:
            continue
        rows.append(spec)
    return rows


def run(opts: argparse.Namespace) -> int:
    rows = select(opts.family, opts.scope, opts.api)
    if opts.json:
        for spec in rows:
            info = {
                "name": spec.name,
                "api": spec.api,
                "http": spec.http,
                "scope": spec.scope,
                "summary": spec.summary,
                "paginated": spec.page is not None,
                "deprecated": spec.deprecated,
                "args": {a.name: {"required": a.required, "doc": a.doc} for a in spec.args},
            }
            print(json.dumps(info, sort_keys=True))
        return 0
    width = max((len(s.name) for s in rows), default=0)
    scope_width = max((len(s.scope or "-") for s in rows), default=0)
    for spec in rows:
        flags = " [list]" if spec.page is not None else ""
        if spec.deprecated:
            flags += f" [deprecated: {spec.deprecated}]"
        print(
            f"{spec.name:<{width}}  {spec.api:<9}  {spec.http:<4}  "
            f"{spec.scope or '-':<{scope_width}}  {spec.summary}{flags}"
        )
    return 0
