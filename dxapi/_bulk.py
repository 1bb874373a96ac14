"""Bounded concurrent fan-out of one method over many argument sets, on one client.

::

    async with dx.bulk("catalog.entities.scorecards", ({"identifier": e["identifier"]}
                       async for e in dx.paginate("catalog.entities.list"))) as outcomes:
        async for outcome in outcomes:          # in the order calls finish
            if outcome.error is None:
                ...outcome.result...
            else:
                ...outcome.args, outcome.error...   # collected, never raised midway

The inputs (an iterable or an async iterable) are pulled lazily: the next argument set is
taken only when one of ``concurrency`` slots is free, and a finished call keeps its slot until
its outcome has been handed to the consumer, so memory stays bounded by the window however
many inputs there are. Every call goes through the client's session, so the shared token
bucket, retries and per-method limits apply to the fan-out as to any other call.

The calls run in an anyio task group owned by the ``async with`` block: leaving it early
(``break``, an exception, a cancellation) cancels the calls still running and returns their
rate-limit tokens. Iterating a :class:`Bulk` directly (``async for o in dx.bulk(...)``) works
too, as long as the loop runs to the end or is wrapped in ``contextlib.aclosing``.

This is the one fan-out engine: the Data Cloud's chunked batches (:mod:`dxapi._batch`) run
each chunk as one argument set of a call here and build their report from the outcomes.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar, overload

import attrs

# anyio is imported where a fan-out runs, not here: `import dxapi` must not pay for it.
if TYPE_CHECKING:
    import anyio
    from anyio.abc import TaskGroup
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._errors import DXError, ResponseValidationError

__all__ = [
    "DEFAULT_CONCURRENCY",
    "Bulk",
    "BulkMixin",
    "Outcome",
    "SupportsCall",
    "fan_out",
    "sole_error",
]

T = TypeVar("T")

#: Calls in flight at once unless told otherwise. With DX's 1000/min window the bucket,
#: not this number, is what paces a long job; the window only has to hide latency.
DEFAULT_CONCURRENCY = 32

ArgSets = Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]]
Call = Callable[..., Awaitable[T]]
Errors = type[BaseException] | tuple[type[BaseException], ...]


class SupportsCall(Protocol):
    """What a fan-out needs of a client: the raw call by name (``Client`` has it)."""

    def _spec(self, name: str) -> Any: ...

    async def call(self, name: str, /, **args: Any) -> dict[str, Any]: ...


@attrs.frozen
class Outcome(Generic[T]):
    """One finished call of a fan-out: its input, and a result or the error it raised."""

    #: The argument set, as given.
    args: Mapping[str, Any]
    result: T | None
    error: BaseException | None
    #: The input's position (0-based) in the argument sets, for callers that need order.
    index: int
    #: A write DX accepted (``ok: true``) whose answer did not fit the typed result: the call
    #: took effect (``ok`` is True, ``result`` None); the error holds the payload.
    drift: ResponseValidationError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Bulk(Generic[T]):
    """A running (or ready to run) fan-out: an async context manager and async iterator.

    Use :func:`fan_out` or ``Client.bulk`` to make one. ``errors`` names the exception types
    that become :attr:`Outcome.error` (by default every :class:`~dxapi.DXError`: API,
    transport and argument errors); anything else is a bug, cancels the fan-out and
    propagates.
    """

    def __init__(
        self,
        call: Call[T],
        arg_sets: ArgSets,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        errors: Errors = DXError,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self._call = call
        self._arg_sets = arg_sets
        self._concurrency = concurrency
        self._errors = errors
        self._tg: TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[Outcome[T]] | None = None
        self._started = False
        #: Inputs taken so far, calls finished so far, and of those, how many failed.
        self.submitted = 0
        self.completed = 0
        self.failed = 0

    # ----------------------------------------------------------- structured use

    async def __aenter__(self) -> Self:
        if self._started:
            raise RuntimeError("a Bulk runs once; make a new one")
        self._started = True
        import anyio

        # Unbuffered: a finished call keeps its slot until the consumer takes its outcome.
        send, receive = anyio.create_memory_object_stream[Outcome[T]](0)
        self._receive = receive
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._produce, send)
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        assert self._tg is not None
        assert self._receive is not None
        tg, self._tg = self._tg, None
        if exc[0] is not None or not self._drained():
            tg.cancel_scope.cancel()  # left early: stop the calls still running
        try:
            return await tg.__aexit__(*exc)
        except BaseExceptionGroup as group:
            raise sole_error(group) from None
        finally:
            self._receive.close()

    def _drained(self) -> bool:
        assert self._receive is not None
        stats = self._receive.statistics()
        return stats.open_send_streams == 0 and stats.current_buffer_used == 0

    def __aiter__(self) -> AsyncIterator[Outcome[T]]:
        if self._tg is not None:
            return self._iterate()
        return self._run_and_iterate()

    async def _iterate(self) -> AsyncIterator[Outcome[T]]:
        assert self._receive is not None
        async for outcome in self._receive:
            yield outcome

    async def _run_and_iterate(self) -> AsyncIterator[Outcome[T]]:
        async with self:
            async for outcome in self._iterate():
                yield outcome

    async def collect(self) -> list[Outcome[T]]:
        """Run to the end and return every outcome, in input order."""
        outcomes = [o async for o in self]
        outcomes.sort(key=lambda o: o.index)
        return outcomes

    # ------------------------------------------------------------------ workers

    async def _produce(self, send: MemoryObjectSendStream[Outcome[T]]) -> None:
        import anyio.lowlevel

        slots = anyio.Semaphore(self._concurrency)
        inputs = _aiter(self._arg_sets)
        async with aclosing(inputs), anyio.create_task_group() as workers:
            with send:  # the producer owns the calls: they end before the stream closes
                index = 0
                while True:
                    await slots.acquire()  # take the next input only when a slot is free
                    try:
                        args = await anext(inputs)
                    except StopAsyncIteration:
                        slots.release()
                        break
                    await anyio.lowlevel.checkpoint_if_cancelled()  # start nothing once stopping
                    self.submitted += 1
                    workers.start_soon(self._work, index, args, send.clone(), slots)
                    index += 1

    async def _work(
        self,
        index: int,
        args: Mapping[str, Any],
        send: MemoryObjectSendStream[Outcome[T]],
        slots: anyio.Semaphore,
    ) -> None:
        try:
            with send:
                outcome: Outcome[T]
                try:
                    result = await self._call(**args)
                except ResponseValidationError as exc:
                    if exc.accepted:  # written: done, never failed (so never resent)
                        outcome = Outcome(args, None, None, index, drift=exc)
                    elif isinstance(exc, self._errors):
                        self.failed += 1
                        outcome = Outcome(args, None, exc, index)
                    else:
                        raise
                except self._errors as exc:
                    self.failed += 1
                    outcome = Outcome(args, None, exc, index)
                else:
                    outcome = Outcome(args, result, None, index)
                self.completed += 1
                await send.send(outcome)
        finally:
            slots.release()


def sole_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one real error in a (nested) task-group exception group, else the group."""
    import anyio

    found: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        elif not isinstance(exc, anyio.get_cancelled_exc_class()):
            found.append(exc)

    walk(group)
    return found[0] if len(found) == 1 else group


async def _aiter(source: ArgSets) -> AsyncGenerator[Mapping[str, Any], None]:
    if not isinstance(source, AsyncIterable):
        for item in source:
            yield item
        return
    iterator = aiter(source)
    try:
        async for item in iterator:
            yield item
    finally:  # close an abandoned async generator here, not in the garbage collector
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            import anyio

            with anyio.CancelScope(shield=True):
                await aclose()


@overload
def fan_out(
    client: SupportsCall,
    method: str,
    arg_sets: ArgSets,
    *,
    concurrency: int = ...,
    errors: Errors = ...,
) -> Bulk[dict[str, Any]]: ...


@overload
def fan_out(
    client: SupportsCall | None,
    method: Call[T],
    arg_sets: ArgSets,
    *,
    concurrency: int = ...,
    errors: Errors = ...,
) -> Bulk[T]: ...


def fan_out(
    client: SupportsCall | None,
    method: str | Call[Any],
    arg_sets: ArgSets,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    errors: Errors = DXError,
) -> Bulk[Any]:
    """Call ``method`` once per argument set, at most ``concurrency`` at a time.

    ``method`` is a method name (called raw through ``client.call``: each result is the
    payload dict) or any async callable taking the argument set as keyword arguments (a
    typed method such as ``dx.teams.info``; ``client`` may then be None).
    """
    if isinstance(method, str):
        if client is None:
            raise TypeError("fan_out needs a client to call a method by name")
        call: Call[Any] = _named(client, method)
    else:
        call = method
    return Bulk(call, arg_sets, concurrency=concurrency, errors=errors)


def _named(client: SupportsCall, name: str) -> Call[dict[str, Any]]:
    client._spec(name)  # an unknown method fails now, not once per input

    async def call(**args: Any) -> dict[str, Any]:
        return await client.call(name, **args)

    return call


class BulkMixin:
    """``Client.bulk``: the fan-out bound to this client."""

    @overload
    def bulk(
        self: SupportsCall,
        method: str,
        arg_sets: ArgSets,
        *,
        concurrency: int = ...,
        errors: Errors = ...,
    ) -> Bulk[dict[str, Any]]: ...

    @overload
    def bulk(
        self: SupportsCall,
        method: Call[T],
        arg_sets: ArgSets,
        *,
        concurrency: int = ...,
        errors: Errors = ...,
    ) -> Bulk[T]: ...

    def bulk(
        self: SupportsCall,
        method: str | Call[Any],
        arg_sets: ArgSets,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        errors: Errors = DXError,
    ) -> Bulk[Any]:
        """Call ``method`` for every argument set, ``concurrency`` at a time, within this
        client's rate limit; iterate the outcomes as they finish (see :mod:`dxapi._bulk`).

        ``method`` is a method name (results are raw payload dicts) or an async callable
        such as a typed method (``dx.teams.info``). Errors in ``errors`` (every ``DXError``
        by default) become :attr:`Outcome.error` instead of being raised.
        """
        return fan_out(self, method, arg_sets, concurrency=concurrency, errors=errors)
