"""dxapi._bulk: bounded fan-out, streamed outcomes, errors kept with their inputs, cancellation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

import anyio
import pytest

import dxapi
from dxapi import APIError, Outcome, fan_out
from dxapi.testing import FakeDX


class Probe:
    """An async callable that records how many calls run at once."""

    def __init__(self, delays: dict[int, float] | None = None, fail: set[int] = frozenset()):
        self.delays = delays or {}
        self.fail = fail
        self.running = 0
        self.peak = 0
        self.started = 0
        self.finished = 0

    async def __call__(self, n: int) -> int:
        self.started += 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await anyio.sleep(self.delays.get(n, 0.01))
            if n in self.fail:
                raise APIError("not_found", status=404, method="probe")
            return n * n
        finally:
            self.running -= 1
            self.finished += 1


async def test_concurrency_is_bounded_and_reached() -> None:
    probe = Probe()
    outcomes = await fan_out(None, probe, ({"n": i} for i in range(50)), concurrency=7).collect()
    assert probe.peak == 7
    assert [o.result for o in outcomes] == [i * i for i in range(50)]
    assert [o.index for o in outcomes] == list(range(50))


async def test_inputs_are_pulled_lazily() -> None:
    pulled = 0
    taken = 0

    def inputs() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in range(10_000):
            pulled += 1
            # never more than the window ahead of what the consumer has taken
            assert pulled - taken <= 4 + 1
            yield {"n": i}

    async with fan_out(None, Probe(), inputs(), concurrency=4) as outcomes:
        async for _ in outcomes:
            taken += 1
            if taken == 200:
                break
    assert pulled <= 200 + 5


async def test_outcomes_stream_as_they_finish() -> None:
    probe = Probe(delays={0: 0.3})
    seen: list[int] = []
    async with fan_out(None, probe, [{"n": i} for i in range(6)], concurrency=6) as outcomes:
        async for outcome in outcomes:
            seen.append(outcome.index)
    assert seen[-1] == 0  # the slow first input did not hold the others back
    assert sorted(seen) == list(range(6))


async def test_errors_are_collected_with_their_inputs() -> None:
    probe = Probe(fail={3, 7})
    outcomes = await fan_out(None, probe, [{"n": i} for i in range(10)], concurrency=3).collect()
    failed = [o for o in outcomes if not o.ok]
    assert [o.args for o in failed] == [{"n": 3}, {"n": 7}]
    assert all(isinstance(o.error, APIError) and o.result is None for o in failed)
    assert sum(o.ok for o in outcomes) == 8
    assert probe.finished == 10


async def test_a_bug_in_the_callable_propagates_unwrapped() -> None:
    async def broken(n: int) -> int:
        if n == 3:
            raise ZeroDivisionError(n)
        await anyio.sleep(5)
        return n

    with anyio.fail_after(2), pytest.raises(ZeroDivisionError):
        await fan_out(None, broken, [{"n": i} for i in range(10)]).collect()


async def test_leaving_early_cancels_the_calls_still_running() -> None:
    probe = Probe(delays={i: 10.0 for i in range(1, 100)})
    with anyio.fail_after(2):
        async with fan_out(None, probe, [{"n": i} for i in range(100)], concurrency=5) as out:
            async for outcome in out:
                assert outcome.index == 0
                break
    assert probe.running == 0
    assert probe.started == probe.finished <= 6


async def test_cancelling_the_consumer_leaves_nothing_running() -> None:
    probe = Probe(delays={i: 10.0 for i in range(100)})
    with anyio.move_on_after(0.2):
        async for _ in fan_out(None, probe, [{"n": i} for i in range(100)], concurrency=8):
            pass
    assert probe.running == 0
    assert probe.started == 8


async def test_direct_iteration_with_aclosing() -> None:
    probe = Probe()
    async with aclosing(aiter(fan_out(None, probe, [{"n": i} for i in range(20)]))) as it:  # type: ignore[type-var]
        first: Outcome[Any] = await anext(it)
    assert first.ok
    assert probe.running == 0


# ------------------------------------------------------------- on a client and FakeDX


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=150, rate_limit=(60, 0.5)) as server:
        yield server


async def test_bulk_over_paginated_items_stays_within_the_rate_limit(fake: FakeDX) -> None:
    async with fake.client(rate_limit=(60, 0.5)) as dx:

        async def identifiers() -> AsyncIterator[dict[str, Any]]:
            async for entity in dx.paginate("catalog.entities.list", limit=100):
                yield {"identifier": entity["identifier"]}

        results: dict[str, Any] = {}
        async with dx.bulk("catalog.entities.info", identifiers(), concurrency=16) as outcomes:
            async for outcome in outcomes:
                assert outcome.error is None, outcome.error
                results[outcome.args["identifier"]] = outcome.result
    assert len(results) == 150
    assert all(r["entity"]["identifier"] == k for k, r in results.items())
    assert fake.counters.refused_429 == 0
    assert dx.stats["429"] == 0


async def test_bulk_keeps_api_errors_and_typed_methods(fake: FakeDX) -> None:
    async with fake.client(rate_limit=None) as dx:
        args = [{"identifier": "amber-falcon-00000"}, {"identifier": "missing"}]
        outcomes = await dx.bulk(dx.catalog.entities.info, args).collect()
    assert outcomes[0].ok
    assert outcomes[0].result.entity.identifier == "amber-falcon-00000"  # type: ignore[union-attr]
    assert isinstance(outcomes[1].error, dxapi.NotFoundError)
    assert outcomes[1].args == {"identifier": "missing"}


async def test_unknown_method_fails_before_any_call(fake: FakeDX) -> None:
    async with fake.client() as dx:
        with pytest.raises(dxapi.ArgumentError):
            dx.bulk("catalog.entities.nope", [{}])
    assert fake.requests == []


def _drift(accepted: bool) -> dxapi.ResponseValidationError:
    return dxapi.ResponseValidationError(
        "teams.update", result="R", path="team.name", declared="str", got="null",
        payload={"ok": True, "team": {"name": None}}, status=200, accepted=accepted,
    )  # fmt: skip


@pytest.mark.parametrize("errors", [dxapi.DXError, APIError])
async def test_an_accepted_write_whose_answer_drifted_is_done_not_failed(
    errors: type[BaseException],
) -> None:
    calls: list[int] = []

    async def write(n: int) -> int:
        calls.append(n)
        if n == 1:
            raise _drift(accepted=True)
        return n

    bulk = fan_out(None, write, ({"n": i} for i in range(3)), errors=errors)
    outcomes = await bulk.collect()
    assert sorted(calls) == [0, 1, 2]  # each sent once
    assert [o.ok for o in outcomes] == [True, True, True] and bulk.failed == 0
    assert outcomes[1].result is None and outcomes[1].error is None
    assert outcomes[1].drift is not None and outcomes[1].drift.path == "team.name"
    assert outcomes[0].drift is None


async def test_a_drifted_answer_not_accepted_is_an_error_outcome() -> None:
    async def read(n: int) -> int:
        raise _drift(accepted=False)

    bulk = fan_out(None, read, [{"n": 0}])
    [outcome] = await bulk.collect()
    assert isinstance(outcome.error, dxapi.ResponseValidationError) and bulk.failed == 1
    assert outcome.drift is None
