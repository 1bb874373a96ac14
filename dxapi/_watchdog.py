"""One loop timer bounds every attempt in flight.

``asyncio.timeout()`` arms and cancels a timer per use, which costs a short call several
microseconds of CPU. A :class:`Watchdog` (one per event loop) keeps the due time of every
attempt in flight and a single timer, set for the earliest. When it fires it cancels the tasks
whose time is up and sets itself for the next one; an attempt that ends in time only leaves
the set. A cancellation is told apart from any other exactly as ``asyncio.timeout()`` does, by
the task's count of cancel requests, so the caller's own cancellation still propagates and a
time-out surfaces as ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from types import TracebackType

__all__ = ["Watch", "watch", "watchdog"]


class Watchdog:
    """The due times of one loop's attempts in flight, and the one timer for the earliest."""

    __slots__ = ("_at", "_handle", "_watches")

    def __init__(self) -> None:
        self._watches: set[Watch] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._at = math.inf

    def _rearm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._at = at
        self._handle = asyncio.get_running_loop().call_at(at, self._fire)

    def _fire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._handle, self._at = None, math.inf
        due = [w for w in self._watches if w.due <= now]
        for w in due:
            self._watches.discard(w)
            w.fired = True
            w.task.cancel()
        if self._watches:
            self._at = min(w.due for w in self._watches)
            self._handle = loop.call_at(self._at, self._fire)


class Watch:
    """One task's bound: ``with dog.watch(due):`` raises ``TimeoutError`` when it is crossed."""

    __slots__ = ("_cancelling", "_dog", "due", "fired", "task")

    def __init__(self, dog: Watchdog, task: asyncio.Task[object], due: float) -> None:
        self._dog, self.task, self.due, self.fired = dog, task, due, False
        self._cancelling = 0

    def __enter__(self) -> Watch:
        self._cancelling = self.task.cancelling()
        dog = self._dog
        dog._watches.add(self)
        if self.due < dog._at:
            dog._rearm(self.due)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.fired:
            self._dog._watches.discard(self)
        elif self.task.uncancel() <= self._cancelling and kind is asyncio.CancelledError:
            raise TimeoutError from exc


_DOGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Watchdog] = weakref.WeakKeyDictionary()
_last: tuple[weakref.ref[asyncio.AbstractEventLoop] | None, Watchdog] = (None, Watchdog())


def watchdog(loop: asyncio.AbstractEventLoop | None = None) -> Watchdog:
    """The watchdog of ``loop`` (the running one by default); the last one asked for is found
    without a lookup."""
    global _last
    if loop is None:
        loop = asyncio.get_running_loop()
    ref, dog = _last
    if ref is not None and ref() is loop:
        return dog
    dog = _DOGS.get(loop) or _DOGS.setdefault(loop, Watchdog())
    _last = (weakref.ref(loop), dog)
    return dog


def watch(due: float, loop: asyncio.AbstractEventLoop | None = None) -> Watch:
    """Bound the current task until loop time ``due``: ``with watch(due, loop):``.

    Pass the running ``loop`` when at hand: on Python 3.11 each look-up of the running loop
    is a ``getpid`` system call.
    """
    if loop is None:
        loop = asyncio.get_running_loop()
    task = asyncio.current_task(loop)
    if task is None:
        raise RuntimeError("a watch bounds a task; none is running")
    return Watch(watchdog(loop), task, due)
