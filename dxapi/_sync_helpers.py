"""The hand-written namespace helpers, blocking: one ``Blocking(...)`` line per helper method.

The generated sync namespaces inherit these mixins where their async twins inherit the async
helpers (``helpers:`` in the registry); each line runs the async helper in the client's loop
with the same parameters. ``tests/test_sync_client.py`` checks none is missing.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from ._batch import AiToolMetricsBatch, CustomDataBatch
from ._query_runs import QueryRunHelpers
from ._sync import SyncNamespace, SyncStream
from ._workflow_runs import WorkflowRunHelpers

__all__ = [
    "Blocking",
    "BlockingIter",
    "SyncAiToolMetricsBatch",
    "SyncCustomDataBatch",
    "SyncQueryRunHelpers",
    "SyncWorkflowRunHelpers",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class Blocking(Generic[P, R]):
    """A hand-written async helper method of a namespace, exposed blocking on its sync twin.

    ``run = Blocking(QueryRunHelpers.run)`` in a sync namespace class calls the async
    namespace's ``run`` in the loop, with the same parameters (mypy sees them).
    """

    def __init__(self, fn: Callable[Concatenate[Any, P], Awaitable[R]]) -> None:
        self._fn = fn
        self._signature = _bound_signature(fn)

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: SyncNamespace[Any], owner: type) -> Callable[P, R]: ...
    def __get__(self, obj: SyncNamespace[Any] | None, owner: type) -> Self | Callable[P, R]:
        if obj is None:
            return self
        fn, loop, ns = self._fn, obj._loop, obj._ns

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return loop.run(fn, ns, *args, **kwargs)

        call.__signature__ = self._signature  # type: ignore[attr-defined]
        return call


class BlockingIter(Generic[P, T]):
    """Like :class:`Blocking`, for a helper that is an async generator (a sync iterator)."""

    def __init__(self, fn: Callable[Concatenate[Any, P], AsyncIterator[T]]) -> None:
        self._fn = fn
        self._signature = _bound_signature(fn, returns="SyncStream")

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: SyncNamespace[Any], owner: type) -> Callable[P, SyncStream[T]]: ...
    def __get__(
        self, obj: SyncNamespace[Any] | None, owner: type
    ) -> Self | Callable[P, SyncStream[T]]:
        if obj is None:
            return self
        fn, loop, ns = self._fn, obj._loop, obj._ns

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> SyncStream[T]:
            return loop.stream(fn, ns, *args, **kwargs)

        call.__signature__ = self._signature  # type: ignore[attr-defined]
        return call


def _bound_signature(fn: Callable[..., Any], returns: str | None = None) -> inspect.Signature:
    """``fn``'s signature without ``self`` (what ``help()`` shows for the blocking twin)."""
    sig = inspect.signature(fn)
    sig = sig.replace(parameters=list(sig.parameters.values())[1:])
    return sig if returns is None else sig.replace(return_annotation=returns)


class SyncQueryRunHelpers:
    """``sc.studio.query_runs.run/wait/fetch/download/stream_csv``, blocking."""

    run = Blocking(QueryRunHelpers.run)
    wait = Blocking(QueryRunHelpers.wait)
    fetch = Blocking(QueryRunHelpers.fetch)
    download = Blocking(QueryRunHelpers.download)
    stream_csv = BlockingIter(QueryRunHelpers.stream_csv)


class SyncWorkflowRunHelpers:
    """``sc.workflow_runs.wait/trigger_and_wait``, blocking."""

    wait = Blocking(WorkflowRunHelpers.wait)
    trigger_and_wait = Blocking(WorkflowRunHelpers.trigger_and_wait)


class SyncCustomDataBatch:
    """``sdc.custom_data.set_all_chunked``, blocking."""

    set_all_chunked = Blocking(CustomDataBatch.set_all_chunked)


class SyncAiToolMetricsBatch:
    """``sdc.ai_tool_metrics.push_all_chunked``, blocking."""

    push_all_chunked = Blocking(AiToolMetricsBatch.push_all_chunked)
