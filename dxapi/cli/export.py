"""``dxapi export METHOD --out FILE``: every item of a list method to .jsonl, .csv or .parquet.

The output's suffix names its format; ``--out - --format jsonl|csv|parquet`` writes it to
stdout once the export is complete (a file, not stdout, is what --resume continues).

With ``--each OTHER``, call OTHER once per listed item (arguments mapped from the item),
concurrently within the rate limit, and write one ``{"args", "result" | "error"}`` record per
item; the exit status is 4 when some items failed. A checkpoint beside the output makes an
interrupted export resumable (``--resume``) and says what the output holds.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from .._bulk import DEFAULT_CONCURRENCY
from .._export import ExportJob, ExportStats, export
from .._export._checkpoint import checkpoint_path
from .._export._each import check_names
from .._export._records import EXTENSIONS, format_for
from .._spec import MethodSpec, check_args
from ._env import UsageError, note, open_env, out_path, parse_assignments, plain, spec_or_usage
from ._progress import Progress, Snapshot


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="export every item of a list method (optionally fanned out per item)",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("method", help="a list method, e.g. catalog.entities.list")
    p.add_argument("args", nargs="*", metavar="key=value", help="arguments of the list method")
    p.add_argument(
        "--out",
        required=True,
        type=_out,
        metavar="FILE",
        help="output file: .jsonl, .csv or .parquet (pyarrow); - for stdout (with --format)",
    )
    p.add_argument(
        "--format",
        choices=sorted(set(EXTENSIONS.values())),
        help="the output's format: needed with --out -; a file's suffix must agree",
    )
    p.add_argument("--each", metavar="METHOD", help="call METHOD for every listed item")
    p.add_argument(
        "--each-arg",
        action="append",
        default=[],
        metavar="ARG=FIELD",
        help="map a --each argument from an item field (dotted path); repeatable",
    )
    p.add_argument(
        "--each-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a fixed argument of every --each call (e.g. limit=100); repeatable",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"--each calls in flight at once (default {DEFAULT_CONCURRENCY})",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted export")
    p.set_defaults(run=run)


async def run(opts: argparse.Namespace) -> int:
    spec = spec_or_usage(opts.method)
    each = spec_or_usage(opts.each) if opts.each else None
    args = parse_assignments(opts.args, spec)
    check_args(spec, args)
    each_args: dict[str, str] | None = None
    if opts.each_arg:
        if each is None:
            raise UsageError("--each-arg needs --each METHOD")
        each_args = {}
        for pair in opts.each_arg:
            name, sep, field = pair.partition("=")
            if not sep or not name or not field:
                raise UsageError(f"--each-arg {pair!r} for {each.name} is not ARG=FIELD")
            each_args[name] = field
    each_params = parse_assignments(opts.each_param, each, "--each-param")
    if each_params and each is None:
        raise UsageError("--each-param needs --each METHOD")
    if each is not None:  # a misspelt name fails here, not as one error record per item
        check_names(each, list(each_args or {}), "--each-arg")
        check_names(each, list(each_params), "--each-param")
    if each is not None and each.api != spec.api:
        raise UsageError(f"--each {each.name} and {spec.name} belong to different APIs")
    if opts.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    to_stdout = opts.out == STDOUT
    fmt = _check_format(opts, to_stdout)
    job: dict[str, Any] = {
        "method": spec.name,
        "args": args,
        "each": each.name if each else None,
        "each_args": each_args,
        "each_params": each_params,
        "concurrency": opts.concurrency,
    }
    if to_stdout:
        with tempfile.TemporaryDirectory(prefix="dxapi-export-") as folder:
            opts.out = Path(folder) / f"export.{fmt}"
            status = await _export(opts, spec, job, to_stdout)
            await anyio.to_thread.run_sync(_copy_to_stdout, opts.out)
        return status
    return await _export(opts, spec, job, to_stdout)


def _copy_to_stdout(path: Path) -> None:
    sys.stdout.flush()
    with open(path, "rb") as f:
        shutil.copyfileobj(f, sys.stdout.buffer)
    sys.stdout.buffer.flush()


#: ``--out -``: the records go to stdout.
STDOUT = Path("-")


def _out(text: str) -> Path:
    return STDOUT if text == "-" else out_path(text)


def _check_format(opts: argparse.Namespace, to_stdout: bool) -> str:
    """The output format: --format, or the file's suffix (they must agree when both given)."""
    if to_stdout:
        if opts.format is None:
            raise UsageError("--out - needs --format jsonl, csv or parquet")
        if opts.resume:
            raise UsageError("--resume needs --out FILE: an export to stdout is not resumable")
        return str(opts.format)
    try:
        fmt = format_for(opts.out)
    except ValueError as exc:
        raise UsageError(f"--out: {exc}") from None
    if opts.format is not None and opts.format != fmt:
        raise UsageError(
            f"--format {opts.format} but --out {opts.out.name} names {fmt}: "
            f"name the file .{opts.format}"
        )
    return fmt


async def _export(
    opts: argparse.Namespace, spec: MethodSpec, job_args: dict[str, Any], to_stdout: bool
) -> int:
    stats = ExportStats()
    opts.on_interrupt = lambda: (
        f"stopped after {stats.records:,} records; nothing was written to stdout "
        "(--out FILE makes an export resumable)"
        if to_stdout
        else f"stopped after {stats.records:,} records in {opts.out}; "
        "run the same command with --resume to continue"
    )
    async with open_env(opts, spec.api) as env:
        job = ExportJob(out=opts.out, origin=env.origins[spec.api], **job_args)
        client = env.client_for(spec)
        if opts.resume and checkpoint_path(opts.out).exists():
            note(opts, f"resuming from {checkpoint_path(opts.out)}")
        counters = client.stats
        rate = getattr(client.limiter, "rate", None)  # a RateLimit, when the bucket is local
        progress = Progress(
            lambda: Snapshot(
                items=stats.records,
                pages=stats.pages,
                requests=counters["requests"],
                refused=counters["429"],
                errors=stats.errors,
                total=stats.total,
            ),
            sys.stderr,
            enabled=not opts.quiet,
            rate_limit=(rate.requests, rate.per + rate.margin) if rate is not None else None,
        )
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(progress.run)
                try:
                    result = await export(client, job, resume=opts.resume, stats=stats)
                finally:
                    tg.cancel_scope.cancel()
        finally:
            progress.finish()  # ends the live line, so what follows starts on its own
    errors = f", {result.errors:,} of them failed items" if result.errors else ""
    resumed = f", {result.resumed:,} from the earlier run" if result.resumed else ""
    where = "stdout" if to_stdout else result.path
    summary = f"wrote {result.records:,} records{errors}{resumed} to {where}"
    print(summary, file=sys.stderr if to_stdout else sys.stdout)  # stdout holds the records
    if result.errors:
        print(
            f'dxapi: {result.errors:,} items failed: their records hold an "error" '
            '(code, status, the server\'s message) with their "args"',
            file=sys.stderr,
        )
        return PARTIAL
    return 0


#: Exit status of an export whose ``--each`` items did not all succeed.
PARTIAL = 4
