"""``dxapi methods``: list the registry's methods (filter by family or scope)."""

from __future__ import annotations

import argparse
import json

from .._generated.specs import METHODS
from ._env import plain


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("methods", help="list the API methods", description=plain(__doc__))
    p.add_argument("--family", help="only methods under this prefix (catalog, catalog.entities)")
    p.add_argument("--scope", help="only methods needing this token scope (catalog:read)")
    p.add_argument("--api", choices=["web", "datacloud"], help="only this API's methods")
    p.add_argument("--json", action="store_true", help="one JSON object per method")
    p.set_defaults(run=run)


def run(opts: argparse.Namespace) -> int:
    rows = []
    for name in sorted(METHODS):
        spec = METHODS[name]
        family = opts.family.rstrip(".") if opts.family else None
        if family and name != family and not name.startswith(family + "."):
            continue
        if opts.scope and spec.scope != opts.scope:
            continue
        if opts.api and spec.api != opts.api:
            continue
        rows.append(spec)
    if opts.json:
        for spec in rows:
            info = {
                "name": spec.name,
                "api": spec.api,
                "http": spec.http,
                "scope": spec.scope,
                "summary": spec.summary,
                "paginated": spec.page is not None,
                "args": {a.name: {"required": a.required, "doc": a.doc} for a in spec.args},
            }
            print(json.dumps(info, sort_keys=True))
        return 0
    width = max((len(s.name) for s in rows), default=0)
    scope_width = max((len(s.scope or "-") for s in rows), default=0)
    for spec in rows:
        flags = " [list]" if spec.page is not None else ""
        print(
            f"{spec.name:<{width}}  {spec.http:<4}  {spec.scope or '-':<{scope_width}}  "
            f"{spec.summary}{flags}"
        )
    return 0
