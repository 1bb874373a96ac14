"""Resumable exports: every page of a list method, optionally fanned out per item, to a file.

An export writes records (``.jsonl``: one compact, key-sorted JSON object per line; a
``.csv`` is written as JSONL while it runs and converted once complete, see
:mod:`dxapi._records`) and keeps a checkpoint beside them (``FILE.checkpoint.json``) saying
how far it got: the list position of the first page not yet fully written, the fan-out inputs
already written from that page on, and how many bytes of the output those records fill. The
order of writes is what makes it safe to kill at any instant:

1. the initial checkpoint exists before the output file is touched;
2. records are appended, then flushed and fsynced, and only then does a new checkpoint
   (written to a temporary file and renamed over the old one) claim them.

So the output always holds at least what the checkpoint claims. On resume, a partial last
record is cut off, complete records past the claimed offset are read back and counted as
done, and the list restarts at the claimed position, sending only the requests whose records
are not in the file. When the export finishes, the checkpoint is removed.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from ._bulk import DEFAULT_CONCURRENCY, SupportsCall, fan_out
from ._checkpoint import Checkpoint, checkpoint_path, fsync_dir
from ._each import auto_mapping, clean_result, error_record, input_key, map_args
from ._errors import ArgumentError, AuthError, DXError
from ._pagination import CursorCall
from ._records import Sink, count_records, format_for, open_sink, work_path, write_csv
from ._spec import MethodSpec

__all__ = ["ExportJob", "ExportResult", "ExportStats", "SupportsExport", "export"]

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

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed by this job (as JSON would hold it)."""
        identity = {
            "method": self.method,
            "args": dict(self.args),
            "each": self.each,
            "each_args": dict(self.each_args) if self.each_args is not None else None,
            "each_params": dict(self.each_params),
            "format": format_for(self.out),
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
    #: Error records written (``--each``) by this run.
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

    Raises ``ArgumentError`` for a bad job or checkpoint, and ``DXError`` when the list
    fails or the token is refused (the checkpoint stays, so ``resume=True`` continues).
    Per-item failures of a fan-out are written as error records instead.
    """
    list_spec = client._spec(job.method)
    if list_spec.page is None:
        raise ArgumentError(job.method, ["not a list method: export needs a paginated method"])
    each_spec = client._spec(job.each) if job.each else None
    stats = stats if stats is not None else ExportStats()
    cp_path = checkpoint_path(job.out)
    if cp_path.exists() and not resume:
        raise ArgumentError(
            job.method,
            [f"{cp_path} exists: add --resume to continue that export, or delete it"],
        )
    resuming = resume and cp_path.exists()
    if resume and not resuming and job.out.exists():
        # The checkpoint goes only after the last record is durable: the export is complete.
        if work_path(job.out) != job.out:  # a CSV's JSONL, left if killed before its unlink
            work_path(job.out).unlink(missing_ok=True)
        records = count_records(job.out)
        stats.records = stats.resumed = stats.inputs = records
        stats.listing_done = True
        return ExportResult(job.out, records, 0, records)
    if resuming:
        cp = Checkpoint.load(cp_path, job.method, job.identity())
    else:
        cp = Checkpoint(job=job.identity())
        cp.save(cp_path)  # before the output exists: an output without one is complete
    work = work_path(job.out)
    try:
        sink, tail = open_sink(work, offset=cp.offset, fresh=not resuming)
    except ValueError as exc:
        raise ArgumentError(job.method, [str(exc)]) from None
    stats.records = stats.resumed = cp.records + len(tail)
    try:
        if not cp.complete:
            run = _EachRun if each_spec is not None else _PlainRun
            runner = run(client, job, list_spec, each_spec, cp, sink, stats, cp_path)
            await runner.run(tail)
        stats.inputs = max(stats.inputs, stats.records)
        stats.listing_done = True
    finally:
        sink.close()
    if work != job.out:
        write_csv(work, job.out)  # atomic; redone from the JSONL if killed before the unlinks
    cp_path.unlink()
    fsync_dir(cp_path.parent)
    if work != job.out:
        work.unlink()
    return ExportResult(job.out, stats.records, stats.errors, stats.resumed)


class _Run:
    def __init__(
        self,
        client: SupportsExport,
        job: ExportJob,
        list_spec: MethodSpec,
        each_spec: MethodSpec | None,
        cp: Checkpoint,
        sink: Sink,
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

    def commit(self, *, force: bool = False) -> None:
        """fsync what was written, then let the checkpoint claim it."""
        now = time.monotonic()
        if not self.ready() or (not force and now - self._last_commit < _COMMIT_EVERY):
            return
        self._last_commit = now
        self.cp.offset = self.sink.sync()
        self.cp.records = self.stats.records
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
        assert self.list_spec.page is not None
        items_key = self.list_spec.page.items
        # Items written past the claimed offset: the first ones listed from the position.
        self.skip = len(tail)
        self.position = self.cp.position
        call = self.listing(self.position)
        try:
            async for payload in call.raw_pages():
                self.stats.pages += 1
                for item in payload.get(items_key) or []:
                    if self.skip:
                        self.skip -= 1
                        continue
                    self.sink.write(item)
                    self.stats.records += 1
                self.stats.inputs = self.stats.records
                self.position = call.cursor  # the file now ends where this page ends
                self.commit(force=call.cursor is None)
            self.stats.listing_done = True
            self.cp.complete = True
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
                    if isinstance(outcome.error, AuthError):
                        raise outcome.error  # every item would fail the same way
                    record: dict[str, Any] = {"args": dict(outcome.args)}
                    if outcome.error is None:
                        record["result"] = outcome.result
                    else:
                        record["error"] = error_record(outcome.error)
                        self.stats.errors += 1
                    self.sink.write(record)
                    self.stats.records += 1
                    self._page_of.pop(outcome.index).done.add(input_key(outcome.args))
                    self.commit()
            self.cp.complete = True
        finally:
            self.commit(force=True)

    async def _inputs(self, done_before: set[str]) -> AsyncIterator[Mapping[str, Any]]:
        self._page_of: dict[int, _Page] = {}
        index = 0
        mapping: dict[str, str] | None = None
        call = self.listing(self.cp.position)
        position = self.cp.position
        assert self.list_spec.page is not None
        items_key = self.list_spec.page.items
        async for payload in call.raw_pages():
            self.stats.pages += 1
            page = _Page(position)
            self.pages.append(page)
            for item in payload.get(items_key) or []:
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
            if merged is None:
                merged = payload
            else:
                merged[spec.page.items] = list(merged.get(spec.page.items) or []) + list(
                    payload.get(spec.page.items) or []
                )
        return clean_result(merged or {}, spec)

    def update_checkpoint(self) -> None:
        while self.pages and self.pages[0].complete:
            self.pages.pop(0)
        self.cp.position = self.pages[0].position if self.pages else self.next_position
        done = set(self.carried)
        for page in self.pages:
            done |= page.done
        self.cp.done = sorted(done)
