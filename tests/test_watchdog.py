"""The loop's one timer for every attempt in flight (dxapi._watchdog)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from dxapi._watchdog import watch, watchdog


async def test_a_watch_crossed_raises_timeout_error_at_its_time() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError), watch(start + 0.05):
        await asyncio.sleep(10)
    assert 0.05 <= loop.time() - start < 5
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # no cancel request left behind


async def test_a_watch_ended_in_time_leaves_nothing_armed() -> None:
    dog = watchdog()
    loop = asyncio.get_running_loop()
    with watch(loop.time() + 60):
        await asyncio.sleep(0)
    assert not dog._watches
    await asyncio.sleep(0.01)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_each_of_many_watches_fires_at_its_own_time_on_one_timer() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    ended: dict[str, float] = {}

    async def bounded(name: str, after: float) -> None:
        try:
            with watch(start + after):
                await asyncio.sleep(10)
        except TimeoutError:
            ended[name] = loop.time() - start

    async def finishes(after: float) -> str:
        with watch(start + after):
            await asyncio.sleep(0.01)
        return "done"

    results = await asyncio.gather(
        bounded("late", 0.3), bounded("early", 0.1), bounded("middle", 0.2), finishes(0.15)
    )
    assert results[3] == "done"
    assert sorted(ended, key=ended.__getitem__) == ["early", "middle", "late"]
    assert ended["early"] >= 0.1 and ended["middle"] >= 0.2 and ended["late"] >= 0.3
    assert not watchdog()._watches and watchdog()._handle is None


async def test_the_callers_own_cancellation_is_not_a_timeout() -> None:
    loop = asyncio.get_running_loop()
    started = asyncio.Event()

    async def watched() -> None:
        with watch(loop.time() + 60):
            started.set()
            await asyncio.sleep(10)

    task = asyncio.ensure_future(watched())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not watchdog()._watches


async def test_a_cancel_during_an_expired_watch_still_propagates() -> None:
    """The watch fired and the caller cancelled too: the caller's cancel wins."""
    loop = asyncio.get_running_loop()
    outcome: list[str] = []

    async def watched() -> None:
        try:
            with watch(loop.time() + 0.01):
                try:
                    await asyncio.sleep(10)
                finally:
                    asyncio.current_task().cancel()  # type: ignore[union-attr]
                    await asyncio.sleep(0)
        except TimeoutError:
            outcome.append("timeout")
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    with pytest.raises(asyncio.CancelledError):
        await asyncio.ensure_future(watched())
    assert outcome == ["cancelled"]


def test_each_loop_has_its_own_and_a_closed_loop_is_not_kept() -> None:
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def once() -> float:
        loop = asyncio.get_running_loop()
        loops.append(weakref.ref(loop))
        start = loop.time()
        try:
            with watch(start + 0.02):
                await asyncio.sleep(5)
        except TimeoutError:
            return loop.time() - start
        raise AssertionError("the watch did not fire")

    for _ in range(3):  # a new loop each time; the last one's dog must not be reused
        assert asyncio.run(once()) < 4
    gc.collect()
    assert [ref() for ref in loops] == [None, None, None]


def test_a_watch_outside_a_task_is_refused() -> None:
    async def loop_only() -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def outside() -> None:
            try:
                watch(loop.time() + 1)
            except RuntimeError as exc:
                done.set_exception(exc)

        loop.call_soon(outside)
        await done

    with pytest.raises(RuntimeError, match="bounds a task"):
        asyncio.run(loop_only())
