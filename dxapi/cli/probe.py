"""``dxapi probe [METHOD ...]``: compare DX's answers with the registry, propose the patch.

Calls only methods that change nothing (GET, no upload), once each with minimal arguments
(small pages; ids taken from list answers), within the rate limit; or reads answers
recorded before (--from FILE.jsonl of {method, args, answer} lines). Reports fields DX sends
that the registry lacks, required fields that were absent, declared types the answers
contradict and job states no waiter lists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import probe as probing
from .._config import env_token
from .._generated.specs import METHODS
from ._env import UsageError, note, open_env, out_path, parse_value, plain, wants_fake

EPILOG = """\
exit status: 0 no difference, 1 drift found, 2 usage error, 3 no token or token refused

review the report, apply the patch, regenerate, and see what it changes for callers:
  dxapi probe --report probe.md --patch probe.diff
  git apply probe.diff && python -m codegen && python -m codegen --diff HEAD
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "probe",
        help="find where DX's answers drifted from the registry",
        description=plain(__doc__),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("methods", nargs="*", metavar="METHOD", help="only these (default: all safe)")
    p.add_argument(
        "--from", dest="source", type=Path, metavar="FILE", help="read recorded answers (JSONL)"
    )
    p.add_argument("--record", type=out_path, metavar="FILE", help="write the answers (JSONL)")
    p.add_argument("--report", type=out_path, metavar="FILE.md", help="write the report")
    p.add_argument("--patch", type=out_path, metavar="FILE.diff", help="write the registry diff")
    p.add_argument(
        "--registry",
        type=Path,
        default=Path("registry"),
        help="the registry folder the patch is against (default: ./registry)",
    )
    p.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="METHOD:key=value",
        help="an argument for one method, e.g. studio.queryRuns.info:id=r3jv7p0x4gk2",
    )
    p.add_argument("--limit", type=int, default=probing.DEFAULT_LIMIT, help="page size")
    p.set_defaults(run=run)


def parse_method_args(words: list[str]) -> dict[str, dict[str, Any]]:
    """``METHOD:key=value`` words → arguments per method."""
    out: dict[str, dict[str, Any]] = {}
    for word in words:
        method, colon, pair = word.partition(":")
        key, equals, value = pair.partition("=")
        if not colon or not equals or not key or method not in METHODS:
            raise UsageError(f"--arg {word!r}: expected METHOD:key=value with a known METHOD")
        out.setdefault(method, {})[key] = parse_value(value, METHODS[method], key)
    return out


async def run(opts: argparse.Namespace) -> int:
    given = parse_method_args(opts.arg)
    if opts.limit < 1:
        raise UsageError("--limit must be 1 or more")
    probing.select_methods(opts.methods, ["web", "datacloud"])  # refuse writes before anything
    token = opts.token or env_token("DX_API_TOKEN")
    if opts.source is not None:
        report = probing.probe_records(probing.read_records(opts.source), opts.methods)
    elif not token and not wants_fake(opts):
        message = "no token: set DX_API_TOKEN (or --token), or use --fake or --from FILE"
        print(f"dxapi: error: {message}", file=sys.stderr)
        return 3
    else:
        async with open_env(opts) as env:
            assert env.web is not None  # open_env raises rather than open no web client
            report = await probing.probe(
                env.web, opts.methods, datacloud=env.datacloud, args=given, limit=opts.limit
            )
    return _write(opts, report, [token or ""])


def _write(opts: argparse.Namespace, report: probing.ProbeReport, secrets: list[str]) -> int:
    if opts.record:
        count = probing.write_records(opts.record, report.records)
        note(opts, f"wrote {count} answers to {opts.record}")
    text = report.markdown(secrets=secrets)
    if opts.report:
        opts.report.write_text(text, encoding="utf-8")
        note(opts, f"wrote the report to {opts.report}")
    if opts.patch:
        diff = report.patch(opts.registry, prefix=_prefix(opts.registry))
        opts.patch.write_text(diff, encoding="utf-8")
        note(opts, f"wrote the registry patch to {opts.patch}")
    if not opts.report:
        sys.stdout.write(text)
    keys = {f.key for f in report.findings}
    note(opts, f"{len(keys)} difference(s) from the registry" if keys else "no drift")
    return 1 if keys else 0


def _prefix(registry: Path) -> str:
    """The registry folder as the diff names it: relative to the working directory."""
    path = registry.absolute()
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return registry.name
