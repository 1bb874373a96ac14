"""Resumable exports: every page of a list method, optionally fanned out per item, to a file.

An export writes records (``.jsonl``: one compact, key-sorted JSON object per line; a
``.csv`` is written as JSONL while it runs and converted once complete, see
:mod:`dxapi._records`) and keeps a checkpoint beside them (``FILE.checkpoint.json``) saying
what they are (the job's identity and origin, see :mod:`dxapi._checkpoint`) and how far it
got: the list position of the first page not yet fully written, the fan-out inputs already
written from that page on, and how many bytes of the output those records fill. The order of
writes is what makes it safe to kill at any instant:

1. nothing is created until the first record is ready (a failure before it leaves nothing);
   then an older checkpoint goes, the output is emptied, and the new checkpoint is written;
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
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from ._bulk import DEFAULT_CONCURRENCY, SupportsCall, fan_out
from ._checkpoint import Checkpoint, checkpoint_path, fsync_dir, lock_output
from ._each import auto_mapping, check_names, clean_result, error_record, input_key, map_args
from ._errors import ArgumentError, AuthError, DXError, PaginationError
from ._pagination import CursorCall
from ._records import Sink, format_for, open_sink, work_path, write_csv
from ._spec import MethodSpec

__all__ = ["ExportJob", "ExportResult", "ExportStats", "SupportsExport", "export", "page_items"]

_COMMIT_EVERY = 0.25  # seconds between checkpoints (and at every list page of a plain export)


class SupportsExport(SupportsCall, Protocol):
    def paginate(self, name: str, /, **args: Any) -> CursorCall[dict[str, Any], Any]: ...


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


def page_items(spec: MethodSpec, payload: Mapping[str, Any]) -> list[Any]:
    """The items of one page; a page without its items list is an error, never "no items"."""
    assert spec.page is not None
    items = payload.get(spec.page.items)
    if not isinstance(items, list):
        found = "missing" if items is None else f"a {type(items).__name__}, not a list"
        raise PaginationError(
            f"{spec.name}: the page's {spec.page.items!r} items are {found} "
            f"(keys: {', '.join(sorted(payload)) or 'none'}); stopping rather than "
            "exporting nothing"
        )
    return items


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
    afresh = "run the command without --resume to start afresh (it replaces the output)"
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
            return _finished(job, cp, work)
    elif resume and (_has_data(job.out) or _has_data(work)):
        raise ArgumentError(
            job.method,
            [f"{job.out} has no checkpoint ({cp_path.name}): it is not an export to resume; "
             + afresh],
        )  # fmt: skip
    sink: Sink | None = None
    tail: list[dict[str, Any]] = []
    if cp is not None:
        try:
            sink, tail = open_sink(work, offset=cp.offset, fresh=False)
        except ValueError as exc:
            raise ArgumentError(job.method, [f"{exc}; {afresh}"]) from None
    else:
        cp = Checkpoint(job=job.identity())
    stats.records = stats.resumed = cp.records + len(tail)
    stats.errors = cp.errors + sum(1 for r in tail if "error" in r and each_spec is not None)
    run = _EachRun if each_spec is not None else _PlainRun
    runner = run(client, job, list_spec, each_spec, cp, sink, stats, cp_path)
    try:
        await runner.run(tail)
        stats.inputs = max(stats.inputs, stats.records)
        stats.listing_done = True
    finally:
        if runner.sink is not None:
            runner.sink.close()
    if work != job.out:
        write_csv(work, job.out)  # atomic; redone from the JSONL if killed before the unlink
        work.unlink()
        fsync_dir(work.parent)
    return ExportResult(job.out, stats.records, stats.errors, stats.resumed)


def _complete(cp_path: Path) -> bool:
    try:
        return json.loads(cp_path.read_text(encoding="utf-8")).get("complete") is True
    except (OSError, ValueError, AttributeError):
        return False


def _has_data(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _finished(job: ExportJob, cp: Checkpoint, work: Path) -> ExportResult:
    """Resume of a complete export: finish the CSV if that was left, else check the output."""
    if work != job.out and work.exists():
        write_csv(work, job.out)
        work.unlink()
    elif not job.out.exists() or (work == job.out and job.out.stat().st_size != cp.offset):
        raise ArgumentError(
            job.method,
            [f"{job.out} is missing or changed since its export finished; "
             "run the command without --resume to export again"],
        )  # fmt: skip
    return ExportResult(job.out, cp.records, cp.errors, cp.records)


class _Run:
    def __init__(
        self,
        client: SupportsExport,
        job: ExportJob,
        list_spec: MethodSpec,
        each_spec: MethodSpec | None,
        cp: Checkpoint,
        sink: Sink | None,
        stats: ExportStats,
        cp_path: Path,
    ) -> None:
        self.client = client
        self.job = job
        self.list_spec = list_spec
        self.each_spec = each_spec
        self.cp = cp
        self.sink = sink
        self.stats = stats
        self.cp_path = cp_path
        self._last_commit = time.monotonic()

    def listing(self, position: Any) -> CursorCall[dict[str, Any], Any]:
        assert self.list_spec.page is not None
        args = dict(self.job.args)
        if position is not None:
            args[self.list_spec.page.input] = position
        return self.client.paginate(self.job.method, **args)

    def start(self) -> Sink:
        """The output, created (and claimed by a first checkpoint) on the first record."""
        if self.sink is None:
            self.cp_path.unlink(missing_ok=True)  # a finished export's: it no longer applies
            fsync_dir(self.cp_path.parent)
            self.sink, _ = open_sink(work_path(self.job.out), offset=0, fresh=True)
            self.cp.save(self.cp_path)
        return self.sink

    def write(self, record: Mapping[str, Any]) -> None:
        self.start().write(record)
        self.stats.records += 1

    def commit(self, *, force: bool = False) -> None:
        """fsync what was written, then let the checkpoint claim it."""
        now = time.monotonic()
        if self.sink is None or not self.ready():
            return
        if not force and now - self._last_commit < _COMMIT_EVERY:
            return
        self._last_commit = now
        self.cp.offset = self.sink.sync()
        self.cp.records = self.stats.records
        self.cp.errors = self.stats.errors
        self.update_checkpoint()
        self.cp.save(self.cp_path)

    def ready(self) -> bool:
        """Whether the checkpoint can describe the current state (else keep the old one)."""
        return True

    def update_checkpoint(self) -> None:
        raise NotImplementedError

    async def run(self, tail: list[dict[str, Any]]) -> None:
        raise NotImplementedError


class _PlainRun(_Run):
    """Every item of every page, in order; the position advances page by page."""

    async def run(self, tail: list[dict[str, Any]]) -> None:
        # Items written past the claimed offset: the first ones listed from the position.
        self.skip = len(tail)
        self.position = self.cp.position
        call = self.listing(self.position)
        try:
            async for payload in call.raw_pages():
                self.stats.pages += 1
                for item in page_items(self.list_spec, payload):
                    if self.skip:
                        self.skip -= 1
                        continue
                    self.write(item)
                self.stats.inputs = self.stats.records
                self.position = call.cursor  # the file now ends where this page ends
                self.commit(force=call.cursor is None)
            self.stats.listing_done = True
            self.cp.complete = True
            self.start()
        finally:
            self.commit(force=True)

    def ready(self) -> bool:
        # While skipping, the file holds records of pages not listed yet: keep the old claim.
        return self.skip == 0

    def update_checkpoint(self) -> None:
        self.cp.position = self.position


@attrs.define
class _Page:
    position: Any
    keys: set[str] = attrs.field(factory=set)  # inputs of this page
    done: set[str] = attrs.field(factory=set)  # ... whose records are written
    listed: bool = False  # every input of the page is known

    @property
    def complete(self) -> bool:
        return self.listed and self.done >= self.keys


class _EachRun(_Run):
    """List sequentially, fan the per-item method out, write outcomes as they finish."""

    async def run(self, tail: list[dict[str, Any]]) -> None:
        assert self.each_spec is not None
        self.pages: list[_Page] = []
        self.next_position = self.cp.position
        done_before = set(self.cp.done) | {input_key(r.get("args")) for r in tail}
        self.stats.inputs = self.stats.resumed - len(done_before)  # pages before the position
        # Done inputs of pages not listed again yet; they move to their page when it is.
        self.carried = set(done_before)
        bulk = fan_out(
            None,
            self._call_each,
            self._inputs(done_before),
            concurrency=self.job.concurrency,
            errors=DXError,
        )
        try:
            async with bulk as outcomes:
                async for outcome in outcomes:
                    error = outcome.error
                    if isinstance(error, AuthError) and error.reason != "forbidden":
                        raise error  # the token or its scopes: every item would fail the same
                    record: dict[str, Any] = {"args": dict(outcome.args)}
                    if error is None:
                        record["result"] = outcome.result
                    else:
                        record["error"] = error_record(error)
                        self.stats.errors += 1
                    self.write(record)
                    self._page_of.pop(outcome.index).done.add(input_key(outcome.args))
                    self.commit()
            self.cp.complete = True
            self.start()
        finally:
            self.commit(force=True)

    async def _inputs(self, done_before: set[str]) -> AsyncIterator[Mapping[str, Any]]:
        self._page_of: dict[int, _Page] = {}
        index = 0
        mapping: dict[str, str] | None = None
        call = self.listing(self.cp.position)
        position = self.cp.position
        async for payload in call.raw_pages():
            self.stats.pages += 1
            page = _Page(position)
            self.pages.append(page)
            for item in page_items(self.list_spec, payload):
                if mapping is None:
                    mapping = self._mapping(item)
                args = map_args(item, mapping)
                key = input_key(args)
                page.keys.add(key)
                self.stats.inputs += 1
                if key in done_before:
                    page.done.add(key)
                    self.carried.discard(key)
                    continue
                self._page_of[index] = page
                index += 1
                yield args
            page.listed = True
            position = self.next_position = call.cursor
        self.stats.listing_done = True

    def _mapping(self, item: Mapping[str, Any]) -> dict[str, str]:
        assert self.each_spec is not None
        if self.job.each_args is not None:
            return dict(self.job.each_args)
        return auto_mapping(self.each_spec, item)

    async def _call_each(self, **args: Any) -> Any:
        assert self.each_spec is not None
        spec = self.each_spec
        args = {**self.job.each_params, **args}
        if spec.page is None:
            return clean_result(await self.client.call(spec.name, **args), spec)
        merged: dict[str, Any] | None = None
        async for payload in self.client.paginate(spec.name, **args).raw_pages():
            items = page_items(spec, payload)
            if merged is None:
                merged = payload
            else:
                merged[spec.page.items] = [*merged[spec.page.items], *items]
        return clean_result(merged or {}, spec)

    def update_checkpoint(self) -> None:
        while self.pages and self.pages[0].complete:
            self.pages.pop(0)
        self.cp.position = self.pages[0].position if self.pages else self.next_position
        done = set(self.carried)
        for page in self.pages:
            done |= page.done
        self.cp.done = sorted(done)
