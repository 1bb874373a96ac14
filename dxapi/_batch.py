"""Chunked, concurrent calls of the Data Cloud's batch methods, with a per-chunk report.

``customData.setAll`` and ``aiToolMetrics.pushAll`` take a list of records and reject the whole
request when one record is malformed. :func:`send_chunked` cuts a large input into chunks,
sends up to ``concurrency`` chunks at a time on the bulk engine (:class:`~dxapi.Bulk`: each
chunk is one argument set of one call, and every request still waits for the client's shared
token bucket), and returns a :class:`BatchReport`: which chunks succeeded with what answer, and
which failed with their items and the typed error. A failed chunk never stops the others, so
the caller can fix or resend exactly the records that did not arrive.

The generated ``dc.custom_data`` and ``dc.ai_tool_metrics`` namespaces inherit the mixins at the
bottom (``namespaces: helpers:`` in ``registry/datacloud.yaml``); they use only the generated
``set_all`` / ``push_all`` methods.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ._bulk import Bulk
from ._errors import ResponseValidationError

if TYPE_CHECKING:
    from ._generated.datacloud.ai_tool_metrics import AiToolMetricsPushAllResult
    from ._generated.datacloud.custom_data import CustomDataSetAllResult
    from ._generated.shapes import AiToolMetricItem, CustomDataItem

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CONCURRENCY",
    "AiToolMetricsBatch",
    "BatchReport",
    "ChunkFailure",
    "ChunkSuccess",
    "CustomDataBatch",
    "send_chunked",
]

T = TypeVar("T")
R = TypeVar("R")

#: Records per request. DX documents no limit for setAll/pushAll; 100 matches the limit of the
#: Web API's bulk method (relationEdges.bulkUpsert) and keeps an all-or-nothing rejection small.
DEFAULT_CHUNK_SIZE = 100
#: Chunks in flight at once (the client's rate limit applies on top).
DEFAULT_CONCURRENCY = 4


@attrs.frozen
class ChunkSuccess(Generic[T, R]):
    """A chunk the API accepted: its position, its items and the typed answer.

    When DX accepted the chunk (``ok: true``) but its answer did not fit the typed result,
    ``result`` is None and ``drift`` holds the ResponseValidationError (with the payload):
    the records were written, so the chunk is not failed and must not be resent.
    """

    index: int
    #: Offset of the chunk's first item in the input.
    start: int
    items: tuple[T, ...]
    result: R | None
    drift: ResponseValidationError | None = None


@attrs.frozen
class ChunkFailure(Generic[T]):
    """A chunk that failed: its position, its items (to fix or resend) and the error."""

    index: int
    start: int
    items: tuple[T, ...]
    error: Exception


@attrs.frozen
class BatchReport(Generic[T, R]):
    """What happened to every chunk of a batch, in input order."""

    method: str
    succeeded: tuple[ChunkSuccess[T, R], ...]
    failed: tuple[ChunkFailure[T], ...]

    @property
    def ok(self) -> bool:
        """True when every chunk succeeded."""
        return not self.failed

    @property
    def chunks(self) -> int:
        return len(self.succeeded) + len(self.failed)

    @property
    def sent(self) -> int:
        """Items in chunks the API accepted."""
        return sum(len(c.items) for c in self.succeeded)

    @property
    def results(self) -> list[R]:
        """The typed answers of the successful chunks, in input order (a drifted chunk has
        none: see :attr:`drifted`)."""
        return [c.result for c in self.succeeded if c.result is not None]

    @property
    def drifted(self) -> tuple[ChunkSuccess[T, R], ...]:
        """Chunks DX accepted whose answer did not fit the typed result (``.drift``)."""
        return tuple(c for c in self.succeeded if c.drift is not None)

    def failed_items(self) -> list[T]:
        """Every item of every failed chunk, in input order (e.g. to resend)."""
        return [item for c in self.failed for item in c.items]

    def raise_for_failures(self) -> None:
        """Raise an ExceptionGroup of the chunks' errors if any chunk failed."""
        if self.failed:
            raise ExceptionGroup(
                f"{self.method}: {len(self.failed)} of {self.chunks} chunks failed "
                f"({len(self.failed_items())} items)",
                [c.error for c in self.failed],
            )


def _chunks(items: Iterable[T], size: int) -> Iterator[tuple[T, ...]]:
    it = iter(items)
    while chunk := tuple(itertools.islice(it, size)):
        yield chunk


async def send_chunked(
    method: str,
    send: Callable[[tuple[T, ...]], Awaitable[R]],
    items: Iterable[T],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> BatchReport[T, R]:
    """Send ``items`` in chunks of ``chunk_size``, at most ``concurrency`` chunks at a time.

    ``items`` is read lazily: the next chunk is cut only when one of the ``concurrency``
    slots is free, so reading never runs ahead of the sending. An exception from one
    chunk's ``send`` is recorded in the report; cancellation (and ``BaseException``) still
    propagates, after the chunks in flight are cancelled.
    """

    async def call(*, data: tuple[T, ...]) -> R:
        return await send(data)

    return await _fan_out_chunks(method, call, items, chunk_size, concurrency)


async def _fan_out_chunks(
    method: str,
    call: Callable[..., Awaitable[R]],
    items: Iterable[T],
    chunk_size: int,
    concurrency: int,
) -> BatchReport[T, R]:
    """Run ``call(data=chunk)`` for every chunk on the bulk engine; report its outcomes.

    Each chunk is one argument set of one call, so concurrency, cancellation and the
    accepted-drift rule are :class:`~dxapi.Bulk`'s; every ``Exception`` is collected.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    arg_sets = ({"data": chunk} for chunk in _chunks(items, chunk_size))
    outcomes = await Bulk(call, arg_sets, concurrency=concurrency, errors=Exception).collect()
    succeeded: list[ChunkSuccess[T, R]] = []
    failed: list[ChunkFailure[T]] = []
    for o in outcomes:  # in input order; every chunk but the last is full
        start, chunk = o.index * chunk_size, o.args["data"]
        if o.error is None:
            succeeded.append(ChunkSuccess(o.index, start, chunk, o.result, o.drift))
        else:
            assert isinstance(o.error, Exception)  # errors=Exception: nothing else is kept
            failed.append(ChunkFailure(o.index, start, chunk, o.error))
    return BatchReport(method, tuple(succeeded), tuple(failed))


# ------------------------------------------------------------------- namespace mixins


class CustomDataBatch:
    """Helpers of ``dc.custom_data``."""

    if TYPE_CHECKING:

        async def set_all(
            self, *, data: Sequence[CustomDataItem | Mapping[str, Any]]
        ) -> CustomDataSetAllResult: ...

    async def set_all_chunked(
        self,
        records: Iterable[CustomDataItem | Mapping[str, Any]],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> BatchReport[CustomDataItem | Mapping[str, Any], CustomDataSetAllResult]:
        """Store any number of records with ``customData.setAll``, ``chunk_size`` per request.

        DX rejects a whole setAll request when one record is malformed, so a bad record costs
        only its chunk: the report lists each failed chunk's records and error, and every other
        chunk is still sent. Chunks run ``concurrency`` at a time within the client's rate limit.
        """
        return await _fan_out_chunks(
            "customData.setAll", self.set_all, records, chunk_size, concurrency
        )


class AiToolMetricsBatch:
    """Helpers of ``dc.ai_tool_metrics``."""

    if TYPE_CHECKING:

        async def push_all(
            self, *, data: Sequence[AiToolMetricItem | Mapping[str, Any]]
        ) -> AiToolMetricsPushAllResult: ...

    async def push_all_chunked(
        self,
        records: Iterable[AiToolMetricItem | Mapping[str, Any]],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> BatchReport[AiToolMetricItem | Mapping[str, Any], AiToolMetricsPushAllResult]:
        """Push any number of daily usage records with ``aiToolMetrics.pushAll``, in chunks.

        ``pushAll`` is not idempotent, so a chunk whose request may have reached DX is not
        resent; it is reported as failed with its records and error. Other chunks carry on.
        The created records are in ``[r.data for r in report.results]``.
        """
        return await _fan_out_chunks(
            "aiToolMetrics.pushAll", self.push_all, records, chunk_size, concurrency
        )
