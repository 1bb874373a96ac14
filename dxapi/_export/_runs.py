"""How an export walks its list: every item in order (:class:`PlainRun`) or one per-item
call per listed item (:class:`EachRun`). Both append records, fsync them, and only then let
the checkpoint claim them (:meth:`Run.commit`); the output and its first checkpoint are
created with the first record (:meth:`Run.start`). :mod:`dxapi._export` decides where a run
starts from.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .._bulk import SupportsCall, fan_out
from .._errors import AuthError, DXError, PaginationError
from .._pagination import CursorCall
from .._spec import MethodSpec
from ._checkpoint import Checkpoint
from ._each import (
    auto_mapping,
    clean_result,
    error_record,
    input_key,
    item_kinds,
    map_args,
)
from ._records import Sink, open_sink, work_path

if TYPE_CHECKING:
    from ._job import ExportJob, ExportStats

__all__ = ["EachRun", "PlainRun", "Run", "SupportsExport", "page_items"]

_COMMIT_EVERY = 0.25  # seconds between checkpoints (and at every list page of a plain export)


class SupportsExport(SupportsCall, Protocol):
    def paginate(self, name: str, /, **args: Any) -> CursorCall[dict[str, Any], Any]: ...


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


class Run:
    """One export's walk of its list: writes records, commits them to the checkpoint."""

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
        """The output, emptied and claimed by a first checkpoint, on the first record.

        The checkpoint says it is emptying the output before it does: a process killed in
        between leaves a checkpoint whose resume empties the output again, never an output
        without a checkpoint, nor a checkpoint that claims what an older export wrote.
        """
        if self.sink is None:
            self.cp.truncate = True
            self.cp.save(self.cp_path)  # replaces the checkpoint of an older, finished export
            self.sink, _ = open_sink(work_path(self.job.out), offset=0, fresh=True)
            self.cp.truncate = False
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


class PlainRun(Run):
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


class EachRun(Run):
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
        kinds = item_kinds(self.list_spec)
        return auto_mapping(self.each_spec, item, kinds, fixed=self.job.each_params)

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
