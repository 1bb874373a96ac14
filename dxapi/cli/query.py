"""``dxapi query "SQL" --out FILE.csv``: run a Data Studio query and save every row.

Without ``--out``, the first rows (at most 1000) are printed as JSON lines.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import anyio

from .._export._records import json_text
from ._env import open_env, out_path, plain


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("query", help="run a Data Studio SQL query", description=plain(__doc__))
    p.add_argument("sql", help="the SQL text (or @FILE to read it from a file)")
    p.add_argument("--out", type=out_path, help="write the full result as CSV here")
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a query variable; repeatable",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (default 300)")
    p.set_defaults(run=run)


async def run(opts: argparse.Namespace) -> int:
    sql: str = opts.sql
    if sql.startswith("@"):
        sql = await anyio.Path(sql[1:]).read_text(encoding="utf-8")
    variables: dict[str, Any] = {}
    for pair in opts.var:
        name, _, value = pair.partition("=")
        variables[name] = value
    async with open_env(opts, "web") as env:
        assert env.web is not None
        runs: Any = env.web.studio.query_runs
        if not hasattr(runs, "run"):
            print(
                "dxapi: this build has no query-run helpers (dx.studio.query_runs.run)",
                file=sys.stderr,
            )
            return 1
        kwargs: dict[str, Any] = {"timeout": opts.timeout}
        if variables:
            kwargs["variables"] = variables
        result = await runs.run(sql, **kwargs)
        if opts.out is None:
            for record in result.records():
                print(json_text(record, default=str))
            if result.truncated and not opts.quiet:
                print("dxapi: more rows exist; add --out FILE.csv for all", file=sys.stderr)
            return 0
        await runs.download(result.query_run.id, opts.out, timeout=opts.timeout)
    print(f"wrote the query's rows to {opts.out}")
    return 0
