"""The sync clients' helpers end to end against FakeDX: query runs, workflow runs, downloads,
the Data Cloud client and its batch helper, the raw escape hatches."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

import dxapi
import dxapi.testing
from dxapi import RetryPolicy
from dxapi.testing import QueryPlan

FAST = RetryPolicy(max_retries=3, backoff=0.01)


def plans(sql: str, variables: Mapping[str, Any]) -> QueryPlan | None:
    if "FAIL" in sql:
        return QueryPlan(error=("sql_error", "Query timeout."))
    if "BIG" in sql:
        return QueryPlan(rows=5000, seconds=0.05)
    return None


@pytest.fixture
def fake() -> Iterator[dxapi.testing.FakeDX]:
    server = dxapi.testing.FakeDX(query_hook=plans, query_run_seconds=0.1)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(server) as fake:
        yield fake


@pytest.fixture
def sc(fake: dxapi.testing.FakeDX) -> Iterator[dxapi.SyncClient]:
    with dxapi.SyncClient(token=fake.token, base_url=fake.url, retries=FAST) as client:
        yield client


def test_query_run_helpers_block_and_return_the_async_results(
    sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX, tmp_path: Path
) -> None:
    result = sc.studio.query_runs.run("select 1", timeout=30)
    assert isinstance(result, dxapi.QueryResult)
    assert len(result.rows) == 100 and not result.truncated
    assert sc.studio.query_runs.wait(result.query_run.id).status == "succeeded"
    out = sc.studio.query_runs.download(result.query_run.id, tmp_path / "r.csv", timeout=30)
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == result.columns and len(rows) == 101
    with pytest.raises(dxapi.QueryRunFailedError) as info:
        sc.studio.query_runs.run("FAIL", timeout=30)
    assert info.value.state == "failed"


def test_stream_csv_is_a_lazy_iterator(sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX) -> None:
    started = sc.studio.query_runs.execute(sql="BIG")
    chunks = sc.studio.query_runs.stream_csv(started.query_run.id, chunk_size=1024, timeout=30)
    assert fake.csv_requests == []  # nothing until iterated
    body = b"".join(chunks)
    assert len(list(csv.reader(io.StringIO(body.decode())))) == 5001
    assert len(fake.csv_requests) == 1


def test_workflow_trigger_and_wait(sc: dxapi.SyncClient) -> None:
    run = sc.workflow_runs.trigger_and_wait(
        workflow_identifier="deploy", data={"greeting": "hi"}, timeout=30
    )
    assert run.status == "SUCCEEDED" and run.data == {"greeting": "hi"}


def test_download_errors_surface_from_the_iteration(
    sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX
) -> None:
    # FakeDX answers snapshots.getFile with JSON, not a file: the async stream's error is
    # raised by next(), in this thread, and the stream is over.
    chunks = sc.snapshots.get_file(snapshot_id="s1")
    assert fake.requests_for("snapshots.getFile") == []  # lazy, like the async stream
    with pytest.raises(dxapi.TransportError, match="expected a file"):
        next(chunks)
    assert list(chunks) == []
    assert len(fake.requests_for("snapshots.getFile")) == 1


def test_raw_escape_hatches(sc: dxapi.SyncClient) -> None:
    payload = sc.call("teams.list")
    assert payload["ok"] is True and len(payload["teams"]) == 12
    response = sc.call_response("teams.list")
    assert response.status == 200 and response.payload == payload
    with pytest.raises(dxapi.ArgumentError, match="no such web method"):
        sc.call("teams.nope")
    pages = list(sc.paginate("catalog.entities.list", limit=40).pages())
    assert [len(p["entities"]) for p in pages] == [40, 40, 20]
    assert "catalog.entities.list" in dxapi.SyncClient.methods()


def test_datacloud_client_with_both_encodings_and_batches(fake: dxapi.testing.FakeDX) -> None:
    when = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    with dxapi.SyncDataCloudClient(
        token=fake.token, base_url=fake.url + "/api", retries=FAST
    ) as dc:
        form = dc.with_options(encoding="form")
        stored = form.custom_data.set(
            reference="org/repo", key="version", value={"v": "1"}, timestamp=when
        )
        assert stored.data is not None and stored.data.value == {"v": "1"}
        report = dc.custom_data.set_all_chunked(
            ({"reference": "org/repo", "key": f"k{i}", "value": {"i": i}} for i in range(25)),
            chunk_size=10,
            concurrency=3,
        )
        assert report.ok and report.chunks == 3 and report.sent == 25
        every = dc.custom_data.get_all_by_reference(reference="org/repo")
        assert every.data is not None and len(every.data) == 26
    assert dc.closed and form.closed  # a clone shares its parent's loop
    (seen,) = fake.requests_for("customData.set")
    content_type = {k.lower(): v for k, v in seen.headers.items()}["content-type"]
    assert content_type.startswith("application/x-www-form-urlencoded")


def test_a_thread_with_its_own_running_loop_can_call(sc: dxapi.SyncClient) -> None:
    import asyncio

    got: list[int] = []

    def notebook_kernel() -> None:  # a thread whose loop is running, as a kernel's is
        async def cell() -> None:
            got.append(len(sc.teams.list().teams))

        asyncio.run(cell())

    thread = threading.Thread(target=notebook_kernel)
    thread.start()
    thread.join(timeout=30)
    assert got == [12]


def test_bulk_fans_out_from_blocking_code(
    sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX
) -> None:
    # The inputs come from the same client's page iterator: read off the loop, lazily.
    inputs = ({"identifier": e.identifier} for e in sc.catalog.entities.list(limit=25))
    bulk = sc.bulk(sc.catalog.entities.info, inputs, concurrency=4)
    outcomes = list(bulk)
    assert len(outcomes) == 100 and all(o.ok for o in outcomes)
    assert {o.result.entity.identifier for o in outcomes if o.result} == {
        o.args["identifier"] for o in outcomes
    }
    assert (bulk.submitted, bulk.completed, bulk.failed) == (100, 100, 0)
    named = sc.bulk("teams.info", [{"team_id": "nope"}, {"team_id": "MTAwMA"}]).collect()
    assert [type(o.error) for o in named] == [dxapi.NotFoundError, type(None)]
    assert named[1].result is not None and named[1].result["team"]["id"] == "MTAwMA"
    with pytest.raises(TypeError, match="typed method of a sync client"):
        sc.bulk(print, [])


def test_bulk_stopped_early_cancels_the_rest(
    sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX
) -> None:
    fake.inject("teams.info", delay=0.3, times=10)
    bulk = sc.bulk("teams.info", ({"team_id": "nope"} for _ in range(10)), concurrency=2)
    with iter(bulk) as outcomes:
        first = next(outcomes)
    assert type(first.error) is dxapi.NotFoundError
    assert bulk.submitted < 10 and bulk.completed < 10  # the rest were never started
    assert len(fake.requests_for("teams.info")) <= bulk.submitted
    assert len(sc.teams.list().teams) == 12  # the client carries on
