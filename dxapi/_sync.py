"""Blocking use of the async runtime: one event loop thread per sync client.

A :class:`LoopThread` runs an asyncio loop (with an anyio blocking portal) in a daemon thread.
Every sync call is one task in that loop, so the async client living there keeps its one
connection pool, token bucket and retry policy for every calling thread; its exceptions are
raised again, unchanged, in the caller's thread. The thread is a daemon and an unclosed loop is
closed at interpreter exit (``weakref.finalize``), so forgetting ``close()`` never hangs exit.

Async iterators (pages, downloads, fan-outs) are driven by one task each, one step per
``next()``: nothing is fetched ahead of the consumer, and cancel scopes or open responses held
across steps stay in the task that opened them.

Calling a sync client from inside a running event loop works (the caller's loop is blocked
for the call, as any blocking call blocks it); calling it from its own loop thread, i.e. from
code the client itself runs, raises ``RuntimeError`` instead of deadlocking.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import CancelledError, Future
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    ParamSpec,
    Self,
    TypeVar,
    cast,
)

import anyio
from anyio.from_thread import BlockingPortal

from ._errors import TransportError

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from ._pagination import CursorCall

__all__ = ["LoopThread", "SyncCursorCall", "SyncNamespace", "SyncStream"]

P = ParamSpec("P")
R = TypeVar("R")
I = TypeVar("I")  # noqa: E741
T = TypeVar("T")
NS = TypeVar("NS")

#: Seconds ``close()`` (or interpreter exit) waits for the async client to close.
CLOSE_TIMEOUT = 10.0


class LoopThread:
    """An event loop in a daemon thread, reached through an anyio blocking portal."""

    def __init__(self, name: str = "dxapi-sync") -> None:
        ready: Future[BlockingPortal] = Future()
        self._thread = threading.Thread(target=_serve, args=(ready,), name=name, daemon=True)
        self._thread.start()
        self._portal = ready.result()
        self._closing: list[Callable[[], Awaitable[object]]] = []
        self._finalizer = weakref.finalize(
            self, _shutdown, self._portal, self._thread, self._closing
        )

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def closed(self) -> bool:
        """Whether ``close()`` ran (or the loop was closed at exit or when collected)."""
        return not self._finalizer.alive

    def on_close(self, close: Callable[[], Awaitable[object]]) -> None:
        """Await ``close()`` in the loop when this loop closes (or at interpreter exit)."""
        self._closing.append(close)

    def submit(self, fn: Callable[[], Awaitable[R]]) -> Future[R]:
        """Start ``fn`` in the loop; its result (or exception) arrives in the future."""
        if threading.get_ident() == self._thread.ident:
            raise RuntimeError(
                "a sync client was called from its own event loop thread (from code the "
                "client runs); use the async client there"
            )
        if not self.closed:
            with contextlib.suppress(RuntimeError):  # the portal stopped: closing right now
                return self._portal.start_task_soon(fn)
        raise TransportError("the client is closed; create a new one")

    def call(self, fn: Callable[[], Awaitable[R]]) -> R:
        """Run ``fn`` in the loop and wait; an interrupt (Ctrl-C) cancels it there."""
        future = self.submit(fn)
        try:
            return future.result()
        except CancelledError:
            raise TransportError("the client was closed while the call ran") from None
        except BaseException:
            future.cancel()  # no-op once done; else cancels the task in the loop
            raise

    def run(self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``await fn(*args, **kwargs)`` in the loop; return its result here."""

        async def call() -> R:
            return await fn(*args, **kwargs)

        return self.call(call)

    def paginate(
        self, fn: Callable[P, CursorCall[R, I]], /, *args: P.args, **kwargs: P.kwargs
    ) -> SyncCursorCall[R, I]:
        """The sync counterpart of the paginated call ``fn(*args, **kwargs)`` (no request yet).

        The call is made in the loop, as everything touching the async client is; bad
        arguments raise here before anything is sent.
        """

        async def make() -> CursorCall[R, I]:
            return fn(*args, **kwargs)  # not awaited: that would fetch the first page

        return SyncCursorCall(self, self.call(make))

    def stream(
        self, fn: Callable[P, AsyncIterator[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> SyncStream[T]:
        """Iterate ``fn(*args, **kwargs)`` from here, one item per step (no request yet)."""
        return SyncStream(self, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Run the ``on_close`` callbacks, then stop the loop and join its thread."""
        if threading.get_ident() == self._thread.ident:
            raise RuntimeError("a sync client cannot be closed from its own event loop thread")
        self._finalizer()


def _serve(ready: Future[BlockingPortal]) -> None:
    async def main() -> None:
        async with BlockingPortal() as portal:
            ready.set_result(portal)
            await portal.sleep_until_stopped()

    try:
        anyio.run(main, backend="asyncio")
    except BaseException as exc:  # reported to the thread that waits
        if not ready.done():
            ready.set_exception(exc)


def _shutdown(
    portal: BlockingPortal,
    thread: threading.Thread,
    closing: list[Callable[[], Awaitable[object]]],
) -> None:
    """Close what the loop owns, stop it (cancelling what still runs) and join the thread."""

    async def stop() -> None:
        try:
            with anyio.move_on_after(CLOSE_TIMEOUT):
                for close in closing:
                    await close()
        finally:  # even when a close failed (its error is raised by close())
            await portal.stop(cancel_remaining=True)

    if threading.get_ident() == thread.ident or not thread.is_alive():
        return
    try:
        portal.start_task_soon(stop).result(timeout=CLOSE_TIMEOUT + 1)
    except (CancelledError, RuntimeError, TimeoutError):
        pass  # the portal was already stopping: the join below still bounds the wait
    finally:
        thread.join(timeout=CLOSE_TIMEOUT)


# ----------------------------------------------------------------------------- iterators

_ITEM, _DONE, _ERROR = "item", "done", "error"


class SyncStream(Iterator[T]):
    """A sync iterator over an async one, stepped in the loop by one task of its own.

    Stop early with ``close()`` or a ``with`` block (it also closes when garbage-collected,
    and when its client closes). One stream is for one thread at a time.
    """

    def __init__(self, loop: LoopThread, make: Callable[[], AsyncIterator[T]]) -> None:
        self._loop = loop
        self._make = make
        self._requests: MemoryObjectSendStream[None] | None = None
        self._replies: MemoryObjectReceiveStream[tuple[str, Any]] | None = None
        self._task: Future[None] | None = None
        self._done = False

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        if self._requests is None:
            self._requests, wanted = anyio.create_memory_object_stream[None](0)
            answer, self._replies = anyio.create_memory_object_stream[tuple[str, Any]](0)
            # the task holds no reference to this object, so dropping it closes the stream
            self._task = self._loop.submit(functools.partial(_drive, self._make, wanted, answer))
        try:
            kind, value = self._loop.call(self._step)
        except BaseException:
            self.close()
            raise
        if kind == _ITEM:
            return cast(T, value)
        self._done = True
        if kind == _ERROR:
            raise value
        raise StopIteration

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop iterating; the async iterator is closed in its own task."""
        if self._done:
            return
        self._done = True
        if self._task is None:
            return
        if self._loop.closed:  # the loop's stop ended the task; nothing waits on these
            self._release()
            return
        self._loop.call(self._stop)
        with contextlib.suppress(Exception, CancelledError):
            self._task.result()  # its cleanup has run

    def __del__(self) -> None:
        if self._done or self._task is None:
            return
        if self._loop.closed:
            self._release()
            return
        with contextlib.suppress(Exception):  # in the loop thread: the loop's stop ends it
            self._loop.submit(self._stop)

    async def _step(self) -> tuple[str, Any]:
        assert self._requests is not None and self._replies is not None
        await self._requests.send(None)
        try:
            reply = await self._replies.receive()
        except anyio.EndOfStream:  # the driving task was cancelled without an answer
            reply = (_ERROR, TransportError("the iteration stopped: the client was closed"))
        if reply[0] != _ITEM:
            await self._stop()
        return reply

    async def _stop(self) -> None:
        self._release()

    def _release(self) -> None:
        assert self._requests is not None and self._replies is not None
        self._requests.close()
        self._replies.close()


async def _drive(
    make: Callable[[], AsyncIterator[T]],
    wanted: MemoryObjectReceiveStream[None],
    answer: MemoryObjectSendStream[tuple[str, Any]],
) -> None:
    """Advance the async iterator once per request, in this one task, until it ends."""
    source = make()
    try:
        with wanted, answer:
            async for _ in wanted:
                try:
                    item = await anext(source)
                except StopAsyncIteration:
                    await answer.send((_DONE, None))
                    return
                except Exception as exc:  # raised again in the caller's thread
                    await answer.send((_ERROR, exc))
                    return
                try:
                    await answer.send((_ITEM, item))
                except anyio.BrokenResourceError:
                    return  # the consumer stopped while this item was on its way
    finally:
        # Not under a new cancel scope: a scope the source holds across its yields (a
        # fan-out's task group) must exit inside the scopes it was entered in.
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


class SyncCursorCall(Generic[R, I]):
    """A paginated call, blocking: iterate it for every item, ``first()`` for the first page.

    The mapping to :class:`~dxapi.CursorCall`: ``await call`` ↔ ``call.first()``, ``async for``
    ↔ ``for``, ``.pages()`` / ``.raw_pages()`` / ``.items()`` ↔ the same names, returning
    iterators. Each page is fetched when the iteration reaches it, never ahead.
    """

    def __init__(self, loop: LoopThread, call: CursorCall[R, I]) -> None:
        self._loop = loop
        self._call = call

    @property
    def cursor(self) -> Any:
        """The argument value that resumes after the last page fetched (None at the end)."""
        return self._call.cursor

    @property
    def pages_fetched(self) -> int:
        return self._call.pages_fetched

    def first(self) -> R:
        """Fetch the first page (``await call`` in async code)."""
        return self._loop.run(self._await)

    async def _await(self) -> R:
        return await self._call

    def pages(self, *, max_pages: int | None = None) -> SyncStream[R]:
        """Each page, typed."""
        return self._loop.stream(self._call.pages, max_pages=max_pages)

    def raw_pages(self, *, max_pages: int | None = None) -> SyncStream[dict[str, Any]]:
        """Each page's payload as the API returned it."""
        return self._loop.stream(self._call.raw_pages, max_pages=max_pages)

    def items(self, *, max_items: int | None = None) -> SyncStream[I]:
        """Every item of every page (at most ``max_items``)."""
        return self._loop.stream(self._call.items, max_items=max_items)

    def __iter__(self) -> SyncStream[I]:
        return self.items()


# ----------------------------------------------------------------------------- namespaces


class SyncNamespace(Generic[NS]):
    """A generated sync namespace: the loop and the async namespace it calls into."""

    def __init__(self, loop: LoopThread, ns: NS) -> None:
        self._loop = loop
        self._ns = ns

    def __repr__(self) -> str:
        return f"<sync {type(self._ns).__name__}>"
