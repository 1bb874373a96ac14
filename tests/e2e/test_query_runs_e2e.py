"""Query runs and workflow runs end to end against FakeDX (202 → 409 → 200/303 → 410)."""

from __future__ import annotations

import contextlib
import tracemalloc
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

import dxapi
import dxapi.testing
from dxapi import RetryPolicy
from dxapi.testing import QueryPlan
from dxapi.testing._runs import csv_chunks

MILLION = 1_000_000


def plans(sql: str, variables: Mapping[str, Any]) -> QueryPlan | None:
    """SQL keywords pick a plan: FAIL fails, SLOW runs long, BIG/MILLION return many rows."""
    if "FAIL" in sql:
        return QueryPlan(error=("sql_error", "Query timeout."))
    if "SLOW" in sql:
        return QueryPlan(seconds=60.0)
    if "HUGE" in sql:  # generated lazily: only what is read is ever made
        return QueryPlan(rows=50 * MILLION, seconds=0.05, columns=("id", "value"))
    if "MILLION" in sql:
        return QueryPlan(rows=MILLION, seconds=0.05, columns=("id", "value"))
    if "BIG" in sql:
        return QueryPlan(rows=5000, seconds=0.05)
    return None


@pytest.fixture
async def fake() -> AsyncIterator[dxapi.testing.FakeDX]:
    async with dxapi.testing.FakeDX(query_hook=plans, query_run_seconds=0.1) as fake:
        yield fake


@pytest.fixture
async def dx(fake: dxapi.testing.FakeDX) -> AsyncIterator[dxapi.Client]:
    async with fake.client(retries=RetryPolicy(max_retries=3, backoff=0.01)) as client:
        yield client


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def written(directory: Path) -> bool:
    """Whether some file in ``directory`` has bytes (the download's temporary file)."""
    return any(p.stat().st_size > 0 for p in directory.iterdir())


def acquired(dx: dxapi.Client) -> int:
    """Connections the client's pool has handed out and not got back."""
    connector = dx._session.transport.pool().connector
    assert isinstance(connector, aiohttp.BaseConnector)
    return len(connector._acquired)


async def drain(chunks: AsyncIterable[bytes]) -> tuple[int, int]:
    """Consume a byte stream keeping nothing: (total bytes, largest chunk).

    Reusable by benchmarks: wrap a call in :func:`peak_traced` to measure its peak memory.
    """
    total = largest = 0
    async for chunk in chunks:
        total += len(chunk)
        largest = max(largest, len(chunk))
    return total, largest


async def peak_traced(chunks: AsyncIterable[bytes]) -> tuple[int, int]:
    """(total bytes, peak bytes allocated while draining) — the memory a stream really costs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        total, _ = await drain(chunks)
        return total, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------- lifecycle


async def test_run_goes_queued_running_succeeded(
    fake: dxapi.testing.FakeDX, dx: dxapi.Client
) -> None:
    result = await dx.studio.query_runs.run("SELECT id, name FROM repos", timeout=30)
    assert result.columns == ["id", "name", "value", "created_on"]
    assert len(result.rows) == 100 and result.rows[0][0] == 1
    assert result.truncated is False
    assert result.query_run.status == "succeeded" and result.query_run.finished_at is not None
    methods = [r.method for r in fake.requests]
    assert methods[0] == "studio.queryRuns.execute" and methods[-1] == "studio.queryRuns.results"
    assert "studio.queryRuns.info" in methods
    assert [r.status for r in fake.requests if r.method == "studio.queryRuns.execute"] == [202]


async def test_big_result_is_truncated_inline(dx: dxapi.Client) -> None:
    result = await dx.studio.query_runs.run("SELECT BIG", timeout=30)
    assert len(result.rows) == 1000 and result.truncated is True


async def test_failed_run(dx: dxapi.Client) -> None:
    with pytest.raises(dxapi.QueryRunFailedError) as info:
        await dx.studio.query_runs.run("SELECT FAIL", timeout=30)
    assert info.value.details == {"code": "sql_error", "message": "Query timeout."}
    assert info.value.job_id and info.value.state == "failed"


async def test_expired_results_are_410(fake: dxapi.testing.FakeDX, dx: dxapi.Client) -> None:
    fake.query_runs.results_ttl = 0.0  # results expire the moment the run ends
    started = await dx.studio.query_runs.execute(sql="SELECT 1")
    run_id = started.query_run.id
    await anyio.sleep(0.3)
    with pytest.raises(dxapi.QueryRunExpiredError) as info:  # info already says expired
        await dx.studio.query_runs.wait(run_id)
    assert info.value.job_id == run_id and "expired at" in str(info.value)
    with pytest.raises(dxapi.QueryRunExpiredError) as raw:  # results answers 410
        await dx.studio.query_runs.results(id=run_id)
    assert raw.value.status == 410


async def test_results_409_is_retried_until_done(
    fake: dxapi.testing.FakeDX, dx: dxapi.Client
) -> None:
    started = await dx.studio.query_runs.execute(sql="SELECT 1")
    page = await dx.studio.query_runs.results(id=started.query_run.id)  # asked at once
    assert len(page.results.rows) == 100
    statuses = [r.status for r in fake.requests_for("studio.queryRuns.results")]
    assert statuses[0] == 409 and statuses[-1] == 200


async def test_run_started_elsewhere(fake: dxapi.testing.FakeDX, dx: dxapi.Client) -> None:
    async with fake.client() as other:
        started = await other.studio.query_runs.execute(sql="SELECT 1")
    final = await dx.studio.query_runs.wait(started.query_run.id, timeout=30)
    assert final.status == "succeeded"
    assert len((await dx.studio.query_runs.fetch(final.id)).rows) == 100


# ------------------------------------------------------------------------- 303 and CSV


async def test_download_is_byte_identical_and_tokenless(
    fake: dxapi.testing.FakeDX, dx: dxapi.Client, tmp_path: Path
) -> None:
    started = await dx.studio.query_runs.execute(sql="SELECT BIG")
    run_id = started.query_run.id
    out = await dx.studio.query_runs.download(run_id, tmp_path / "big.csv", timeout=30)
    expected = b"".join(csv_chunks(fake.query_runs.runs[run_id].plan))
    assert out.read_bytes() == expected
    assert listing(tmp_path) == ["big.csv"]
    assert [r.status for r in fake.requests_for("studio.queryRuns.results")] == [303]
    [csv_request] = fake.csv_requests
    assert "authorization" not in {k.lower() for k in csv_request.headers}
    assert fake.token not in str(csv_request.headers)
    api_request = fake.requests_for("studio.queryRuns.results")[0]
    assert api_request.headers["Authorization"] == "Bearer ***"


async def test_a_million_rows_stream_in_bounded_memory(dx: dxapi.Client) -> None:
    started = await dx.studio.query_runs.execute(sql="SELECT MILLION")
    chunks = dx.studio.query_runs.stream_csv(started.query_run.id, chunk_size=1 << 16)
    total, largest = await drain(chunks)
    assert total > 10 * MILLION  # every row: "id,value\n" is ≥ 5 bytes, plus the header
    assert largest <= 1 << 16


async def test_stream_csv_peak_memory_is_independent_of_size(dx: dxapi.Client) -> None:
    started = await dx.studio.query_runs.execute(sql="SELECT BIG")
    total, peak = await peak_traced(dx.studio.query_runs.stream_csv(started.query_run.id))
    assert total > 100_000 and peak < 2_000_000  # the server's chunks included


async def test_faults_while_polling_and_fetching_are_retried(
    fake: dxapi.testing.FakeDX, dx: dxapi.Client, tmp_path: Path
) -> None:
    fake.inject("studio.queryRuns.info", status=503, times=2)
    fake.inject("studio.queryRuns.info", status=429, headers={"Retry-After": "0"})
    fake.inject("studio.queryRuns.results", drop_connection=True)
    result = await dx.studio.query_runs.run("SELECT 1", timeout=30)
    assert len(result.rows) == 100
    fake.inject("studio.queryRuns.results", drop_connection=True)
    out = await dx.studio.query_runs.download(result.query_run.id, tmp_path / "r.csv")
    assert out.read_bytes().startswith(b"id,name,value,created_on\n1,")


# ------------------------------------------------------------ limits and cancellation


async def test_fifty_concurrent_runs_earn_no_429(
    fake: dxapi.testing.FakeDX, dx: dxapi.Client
) -> None:
    results: list[dxapi._query_runs.QueryResult] = []

    async def one(i: int) -> None:
        results.append(await dx.studio.query_runs.run(f"SELECT {i}", timeout=60))

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(one, i)
    assert len(results) == 50
    assert fake.counters.refused_429 == 0 and dx.stats["429"] == 0


async def test_tight_polling_of_many_runs_stays_under_the_per_run_limit(
    fake: dxapi.testing.FakeDX, dx: dxapi.Client
) -> None:
    """12 back-to-back info calls for each of 50 runs: the client holds the 11th and 12th."""
    run_ids = [(await dx.studio.query_runs.execute(sql="SELECT SLOW")).query_run.id]
    async with anyio.create_task_group() as tg:

        async def start() -> None:
            run_ids.append((await dx.studio.query_runs.execute(sql="SELECT SLOW")).query_run.id)

        for _ in range(49):
            tg.start_soon(start)

    async def hammer(run_id: str) -> None:
        for _ in range(12):
            await dx.studio.query_runs.info(id=run_id)

    async with anyio.create_task_group() as tg:
        for run_id in run_ids:
            tg.start_soon(hammer, run_id)
    assert len(fake.requests_for("studio.queryRuns.info")) == 600
    assert fake.counters.refused_429 == 0


async def test_cancelling_a_wait_stops_polling_and_frees_connections(
    fake: dxapi.testing.FakeDX, dx: dxapi.Client
) -> None:
    with anyio.move_on_after(1.5) as scope:
        await dx.studio.query_runs.run("SELECT SLOW", timeout=None)
    assert scope.cancelled_caught
    assert acquired(dx) == 0
    seen = len(fake.requests)
    await anyio.sleep(1.2)  # longer than the Retry-After the fake sends
    assert len(fake.requests) == seen


async def test_timeout_names_the_run(dx: dxapi.Client) -> None:
    with pytest.raises(dxapi.QueryRunTimeoutError) as info:
        await dx.studio.query_runs.run("SELECT SLOW", timeout=0.5)
    assert info.value.job_id is not None and isinstance(info.value, TimeoutError)
    assert acquired(dx) == 0


async def test_stopping_a_download_midway_frees_the_connection(
    dx: dxapi.Client, tmp_path: Path
) -> None:
    started = await dx.studio.query_runs.execute(sql="SELECT HUGE")
    run_id = started.query_run.id
    chunks = dx.studio.query_runs.stream_csv(run_id, chunk_size=4096)
    async with contextlib.aclosing(chunks):
        async for _ in chunks:
            break
    assert acquired(dx) == 0

    target = tmp_path / "out.csv"
    async with anyio.create_task_group() as tg:
        tg.start_soon(dx.studio.query_runs.download, run_id, target)
        while not written(tmp_path):  # noqa: ASYNC110 - watching the file system, not a task
            await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert acquired(dx) == 0
    assert listing(tmp_path) == []  # no partial file, no temp file


# ------------------------------------------------------------------------ workflow runs


async def test_workflow_trigger_and_wait(dx: dxapi.Client) -> None:
    run = await dx.workflow_runs.trigger_and_wait(
        workflow_identifier="deploy", data={"greeting": "hi"}, timeout=30
    )
    assert run.status == "SUCCEEDED" and run.data == {"greeting": "hi"}


async def test_workflow_failure_names_the_status() -> None:
    async with (
        dxapi.testing.FakeDX(workflow_outcomes={"risky": "REJECTED"}) as fake,
        fake.client() as dx,
    ):
        started = await dx.workflow_runs.trigger(workflow_identifier="risky")
        with pytest.raises(dxapi.WorkflowRunError) as info:
            await dx.workflow_runs.wait(started.workflow_run.id, timeout=30)
    assert info.value.state == "REJECTED" and "REJECTED" in str(info.value)
    assert info.value.job_id == started.workflow_run.id
