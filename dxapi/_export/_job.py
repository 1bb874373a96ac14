"""Resumable exports: every page of a list method, optionally fanned out per item, to a file.

An export writes records (``.jsonl``: one compact, key-sorted JSON object per line; a
``.csv`` or ``.parquet`` is written as JSONL while it runs and converted once complete, see
:mod:`dxapi._records`; Parquet is typed by :func:`dxapi._arrow.item_class`) and keeps a
checkpoint beside them (``FILE.checkpoint.json``) saying what they are (the job's identity
and origin, see :mod:`dxapi._checkpoint`) and how far it got: the list position of the first
page not yet fully written, the fan-out inputs already written from that page on, and how
many bytes of the output those records fill. The order of writes is what makes it safe to
kill at any instant:

1. nothing is created until the first record is ready (a failure before it leaves nothing);
   then a checkpoint saying the output is being emptied replaces any older one, the output
   is emptied, and the checkpoint is written again without that mark;
2. records are appended, then flushed and fsynced, and only then does a new checkpoint
   (written to a temporary file and renamed over the old one) claim them;
3. at the end the checkpoint is marked complete and stays: it says what the output holds.

So the output always holds at least what the checkpoint claims. On resume, a partial last
record is cut off, complete records past the claimed offset are read back and counted as
done, and the list restarts at the claimed position, sending only the requests whose records
are not in the file. An export holds ``FILE.lock`` while it runs: a second one is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .._bulk import DEFAULT_CONCURRENCY
from .._errors import ArgumentError
from .._spec import MethodSpec
from ._checkpoint import Checkpoint, checkpoint_path, fsync_dir, lock_output
from ._each import check_names
from ._records import Sink, count_records, format_for, open_sink, work_path, write_csv
from ._runs import EachRun, PlainRun, SupportsExport

__all__ = ["ExportJob", "ExportResult", "ExportStats", "SupportsExport", "export"]


@attrs.frozen
class ExportJob:
    """What to export: a list method and its arguments, and optionally a per-item method."""

    method: str
    out: Path = attrs.field(converter=Path)
    args: Mapping[str, Any] = attrs.field(factory=dict)
    each: str | None = None
    #: Per-item argument → dotted path in the listed item; None maps them automatically.
    each_args: Mapping[str, str] | None = None
    #: Fixed arguments of every per-item call (e.g. ``limit``), not part of the records.
    each_params: Mapping[str, Any] = attrs.field(factory=dict)
    concurrency: int = DEFAULT_CONCURRENCY
    #: Where the records come from (:func:`dxapi._checkpoint.origin`): server, account, fake.
    origin: Mapping[str, Any] = attrs.field(factory=dict)

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed by this job (as JSON would hold it)."""
        identity = {
            "method": self.method,
            "args": dict(self.args),
            "each": self.each,
            "each_args": dict(self.each_args) if self.each_args is not None else None,
            "each_params": dict(self.each_params),
            "format": format_for(self.out),
            "origin": dict(self.origin),
        }
        result: dict[str, Any] = json.loads(json.dumps(identity, sort_keys=True, default=str))
        return result


@attrs.define
class ExportStats:
    """Live counters of a running export, read by progress displays."""

    pages: int = 0
    #: Records in the output (including those found there when resuming).
    records: int = 0
    #: Records that were already in the output when this run started.
    resumed: int = 0
    #: Error records (``--each``) in the output.
    errors: int = 0
    #: Inputs listed so far (``--each``; with those before a resumed position), and whether
    #: the list is exhausted.
    inputs: int = 0
    listing_done: bool = False

    @property
    def total(self) -> int | None:
        """Records the export will hold, once that is known."""
        return self.inputs if self.listing_done else None


@attrs.frozen
class ExportResult:
    path: Path
    records: int
    #: How many of the records are per-item failures (``--each``).
    errors: int
    resumed: int


# --------------------------------------------------------------------------- export


async def export(
    client: SupportsExport,
    job: ExportJob,
    *,
    resume: bool = False,
    stats: ExportStats | None = None,
) -> ExportResult:
    """Run (or resume) an export; returns where the records went and how many there are.

    Raises ``ArgumentError`` for a bad job, a checkpoint of another export, an output being
    written by another export, and ``DXError`` when the list fails or the token is refused
    (the checkpoint stays, so ``resume=True`` continues). Per-item failures of a fan-out are
    written as error records instead (``ExportResult.errors`` counts them).
    """
    list_spec = client._spec(job.method)
    if list_spec.page is None:
        raise ArgumentError(job.method, ["not a list method: export needs a paginated method"])
    each_spec = client._spec(job.each) if job.each else None
    if each_spec is not None:
        check_names(each_spec, list(job.each_args or {}), "--each-arg")
        check_names(each_spec, list(job.each_params), "--each-param")
    check_format(job, list_spec, each_spec)
    stats = stats if stats is not None else ExportStats()
    with lock_output(job.out, job.method):
        return await _export(client, job, list_spec, each_spec, resume, stats)


async def _export(
    client: SupportsExport,
    job: ExportJob,
    list_spec: MethodSpec,
    each_spec: MethodSpec | None,
    resume: bool,
    stats: ExportStats,
) -> ExportResult:
    cp_path, work = checkpoint_path(job.out), work_path(job.out)
    afresh = f"run the command without --resume to start afresh (it replaces {job.out.name})"
    if not resume and cp_path.exists() and not _complete(cp_path):
        raise ArgumentError(
            job.method,
            [f"{cp_path} exists: add --resume to continue that export, or delete it"],
        )
    cp: Checkpoint | None = None
    if resume and cp_path.exists():
        cp = Checkpoint.load(cp_path, job.method, job.identity())
        if cp.complete:
            stats.records = stats.resumed = stats.inputs = cp.records
            stats.errors, stats.listing_done = cp.errors, True
            return _finished(job, cp, work, list_spec, each_spec)
    elif resume and (_has_data(job.out) or _has_data(work)):
        raise ArgumentError(
            job.method,
            [f"{job.out} has no checkpoint ({cp_path.name}): it is not an export to resume; "
             + afresh],
        )  # fmt: skip
    sink: Sink | None = None
    tail: list[dict[str, Any]] = []
    if cp is not None and cp.truncate:  # killed while emptying the output: start over
        cp = None
    if cp is not None:
        try:
            sink, tail = open_sink(work, offset=cp.offset, fresh=False)
        except ValueError as exc:
            raise ArgumentError(job.method, [f"{exc}; {afresh}"]) from None
    else:
        cp = Checkpoint(job=job.identity())
    stats.records = stats.resumed = cp.records + len(tail)
    stats.errors = cp.errors + sum(1 for r in tail if "error" in r and each_spec is not None)
    run = EachRun if each_spec is not None else PlainRun
    runner = run(client, job, list_spec, each_spec, cp, sink, stats, cp_path)
    try:
        await runner.run(tail)
        stats.inputs = max(stats.inputs, stats.records)
        stats.listing_done = True
    finally:
        if runner.sink is not None:
            runner.sink.close()
    if work != job.out:
        _convert(job, work, list_spec, each_spec)
        fsync_dir(work.parent)
    return ExportResult(job.out, stats.records, stats.errors, stats.resumed)


def check_format(job: ExportJob, list_spec: MethodSpec, each_spec: MethodSpec | None) -> None:
    """Refuse, before any request, an output whose format cannot be written: an unknown
    suffix; Parquet without pyarrow, or of records with no typed shape."""
    try:
        fmt = format_for(job.out)
    except ValueError as exc:
        raise ArgumentError(job.method, [str(exc)]) from None
    if fmt != "parquet":
        return
    try:
        import pyarrow.parquet  # noqa: F401 - only whether it is there
    except ImportError:
        raise ArgumentError(
            job.method, [f"{job.out.name}: Parquet needs pyarrow: pip install 'dxapi[arrow]'"]
        ) from None
    from .._arrow import item_class

    try:
        item_class(each_spec or list_spec, each=each_spec is not None)
    except ValueError as exc:
        raise ArgumentError(job.method, [f"{job.out.name}: no Parquet schema: {exc}"]) from None


def _convert(
    job: ExportJob, work: Path, list_spec: MethodSpec, each_spec: MethodSpec | None
) -> None:
    """The finished JSONL work file → the output's format (atomically), then drop the JSONL;
    a kill before the unlink redoes it from the JSONL on resume."""
    if format_for(job.out) == "parquet":
        from .._arrow import export_parquet

        try:
            export_parquet(work, job.out, each_spec or list_spec, each=each_spec is not None)
        except ValueError as exc:
            raise ValueError(f"{job.out.name}: {exc}; the records stay in {work}") from None
    else:
        write_csv(work, job.out)
    work.unlink()


def _rows(path: Path) -> int | None:
    try:
        return count_records(path)
    except (OSError, ValueError, ImportError):
        return None  # unreadable: not what the export wrote


def _complete(cp_path: Path) -> bool:
    try:
        return json.loads(cp_path.read_text(encoding="utf-8")).get("complete") is True
    except (OSError, ValueError, AttributeError):
        return False


def _has_data(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _finished(
    job: ExportJob,
    cp: Checkpoint,
    work: Path,
    list_spec: MethodSpec,
    each_spec: MethodSpec | None,
) -> ExportResult:
    """Resume of a complete export: finish the conversion if that was left, else check that
    the output still holds what the checkpoint says."""
    if work != job.out and work.exists():
        _convert(job, work, list_spec, each_spec)
    elif not job.out.exists() or (
        job.out.stat().st_size != cp.offset if work == job.out else _rows(job.out) != cp.records
    ):
        raise ArgumentError(
            job.method,
            [f"{job.out} is missing or changed since its export finished; "
             "run the command without --resume to export again"],
        )  # fmt: skip
    return ExportResult(job.out, cp.records, cp.errors, cp.records)
