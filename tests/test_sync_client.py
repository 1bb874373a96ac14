"""The blocking clients on FakeDX: typed calls, lazy page iterators, errors, threads, lifecycle.

FakeDX runs in a loop thread of the test's own (an anyio blocking portal), so the test
functions themselves are plain blocking code, as a script or a notebook cell is.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

import dxapi
import dxapi.testing
from dxapi import RetryPolicy, TokenBucket
from dxapi._generated.web.catalog import CatalogEntitiesInfoResult, CatalogEntitiesListResult
from dxapi._generated.web.teams import TeamsListResult
from dxapi._query_runs import QueryRunHelpers
from dxapi._sync import SyncNamespace
from dxapi._sync_helpers import (
    Blocking,
    BlockingIter,
    SyncAiToolMetricsBatch,
    SyncCustomDataBatch,
    SyncQueryRunHelpers,
    SyncWorkflowRunHelpers,
)

FAST = RetryPolicy(max_retries=3, backoff=0.01, max_backoff=0.05)


@pytest.fixture
def fake() -> Iterator[dxapi.testing.FakeDX]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(dxapi.testing.FakeDX(entities=30)) as fake,
    ):
        yield fake


@pytest.fixture
def sc(fake: dxapi.testing.FakeDX) -> Iterator[dxapi.SyncClient]:
    with dxapi.SyncClient(token=fake.token, base_url=fake.url, retries=FAST) as client:
        yield client


def _loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dxapi-sync" and t.is_alive()]


# ----------------------------------------------------------------------------- calls


def test_typed_calls_return_the_async_result_classes(
    sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX
) -> None:
    teams = sc.teams.list()
    assert type(teams) is TeamsListResult
    assert len(teams.teams) == 12
    first = sc.catalog.entities.list(limit=1).first()
    assert type(first) is CatalogEntitiesListResult
    info = sc.catalog.entities.info(identifier=first.entities[0].identifier)
    assert type(info) is CatalogEntitiesInfoResult
    assert info.entity.identifier == first.entities[0].identifier
    (seen,) = fake.requests_for("catalog.entities.info")
    assert seen.query == {"identifier": first.entities[0].identifier}


def test_pagination_fetches_one_page_per_step(
    sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX
) -> None:
    def sent() -> int:
        return len(fake.requests_for("catalog.entities.list"))

    call = sc.catalog.entities.list(limit=10)
    assert sent() == 0  # making the call sends nothing
    items = iter(call)
    assert sent() == 0
    got = [next(items).identifier for _ in range(10)]
    assert sent() == 1 and call.pages_fetched == 1  # the first page's items: one request
    got.append(next(items).identifier)
    assert sent() == 2
    got += [e.identifier for e in items]
    assert len(got) == len(set(got)) == 30
    assert call.cursor is None and sent() == call.pages_fetched


def test_pages_raw_pages_first_and_limits(sc: dxapi.SyncClient) -> None:
    call = sc.catalog.entities.list(limit=7)
    pages = list(call.pages(max_pages=2))
    assert [type(p) for p in pages] == [CatalogEntitiesListResult] * 2
    assert len(pages[0].entities) == 7
    raw = next(iter(call.raw_pages()))
    assert isinstance(raw, dict) and len(raw["entities"]) == 7
    assert [e.identifier for e in call.items(max_items=9)] == [
        e.identifier for e in pages[0].entities + pages[1].entities
    ][:9]
    assert call.first().entities[0].identifier == pages[0].entities[0].identifier
    raw_call = sc.paginate("catalog.entities.list", limit=15)
    assert sum(1 for _ in raw_call) == 30 and raw_call.pages_fetched == 2


def test_stopping_early_sends_no_more_requests(
    sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX
) -> None:
    with sc.catalog.entities.list(limit=5).items() as items:
        for n, _ in enumerate(items):
            if n == 6:
                break
    assert len(fake.requests_for("catalog.entities.list")) == 2
    items.close()  # idempotent
    assert list(items) == []


def test_bad_arguments_fail_before_any_request(
    sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX
) -> None:
    with pytest.raises(TypeError, match="identifier"):  # as the async method: a Python error
        sc.catalog.entities.info()  # type: ignore[call-arg]
    with pytest.raises(dxapi.ArgumentError):
        sc.catalog.entities.list(limit="many")  # type: ignore[arg-type]
    assert fake.requests == []


def test_api_errors_are_raised_in_the_callers_thread(sc: dxapi.SyncClient) -> None:
    caught: dict[str, BaseException] = {}

    def worker() -> None:
        try:
            sc.teams.info(team_id="nope")
        except dxapi.DXError as exc:
            caught[threading.current_thread().name] = exc

    thread = threading.Thread(target=worker, name="caller")
    thread.start()
    thread.join()
    exc = caught["caller"]
    assert type(exc) is dxapi.NotFoundError
    assert exc.status == 404 and exc.method == "teams.info"


def test_retries_use_the_async_policy(sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX) -> None:
    fake.inject("teams.list", status=503, times=2)
    assert len(sc.teams.list().teams) == 12
    assert sc.stats["retries"] == 2
    assert len(fake.requests_for("teams.list")) == 3
    fake.inject("teams.list", status=503, times=10)
    with pytest.raises(dxapi.APIError) as info:
        sc.teams.list()
    assert info.value.status == 503


def test_token_never_in_repr_or_errors(sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX) -> None:
    assert fake.token not in repr(sc)
    fake.inject("teams.list", status=401, times=1)
    with pytest.raises(dxapi.AuthError) as info:
        sc.with_options(retries=0).teams.list()
    assert fake.token not in str(info.value) and fake.token not in repr(info.value)


# ---------------------------------------------------------------------------- threads


def test_threads_share_one_limiter_and_pool() -> None:
    # The server refuses more than 60 requests per second per token; 8 threads x 25 calls
    # through one client stay within it only if they share the client's one bucket.
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(
            dxapi.testing.FakeDX(entities=30, rate_limit=(60, 1.0))
        ) as fake,
    ):
        bucket = TokenBucket((60, 1.0))
        with dxapi.SyncClient(
            token=fake.token, base_url=fake.url, limiter=bucket, retries=0
        ) as sc:
            assert sc.limiter is bucket
            errors: list[BaseException] = []
            results: list[int] = []

            def worker() -> None:
                try:
                    for _ in range(25):
                        results.append(len(sc.teams.list().teams))
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=worker) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            assert results == [12] * 200
            assert bucket.granted == 200
            assert sc.stats["requests"] == 200 and sc.stats["429"] == 0
            assert fake.counters.refused_429 == 0
            assert len(_loop_threads()) == 1  # one loop served every thread


def test_works_inside_a_running_event_loop(sc: dxapi.SyncClient) -> None:
    # A notebook cell runs inside a running loop: the sync client blocks it, never deadlocks.
    async def cell() -> int:
        return len(sc.teams.list().teams) + sum(1 for _ in sc.catalog.entities.list(limit=10))

    assert asyncio.run(cell()) == 12 + 30


def test_calling_from_its_own_loop_raises_instead_of_deadlocking(sc: dxapi.SyncClient) -> None:
    async def inside() -> None:
        sc.teams.list()

    with pytest.raises(RuntimeError, match="own event loop thread"):
        sc._loop.call(inside)


# -------------------------------------------------------------------------- lifecycle


def test_close_stops_the_loop_and_later_calls_fail(fake: dxapi.testing.FakeDX) -> None:
    before = len(_loop_threads())
    sc = dxapi.SyncClient(token=fake.token, base_url=fake.url)
    assert len(_loop_threads()) == before + 1
    sc.teams.list()
    thread = sc._loop.thread
    sc.close()
    sc.close()  # idempotent
    assert sc.closed and not thread.is_alive()
    assert len(_loop_threads()) == before
    with pytest.raises(dxapi.TransportError, match="closed"):
        sc.teams.list()


def test_with_block_closes_and_close_ends_calls_in_flight(fake: dxapi.testing.FakeDX) -> None:
    fake.inject("teams.list", delay=2.0)
    outcome: list[BaseException] = []
    with dxapi.SyncClient(token=fake.token, base_url=fake.url) as sc:
        thread = sc._loop.thread

        def slow() -> None:
            try:
                sc.teams.list()
            except BaseException as exc:  # checked below
                outcome.append(exc)

        caller = threading.Thread(target=slow)
        caller.start()
        while not fake.requests_for("teams.list"):
            threading.Event().wait(0.01)
    caller.join(timeout=15)
    assert not caller.is_alive() and not thread.is_alive()
    assert [type(e) for e in outcome] == [dxapi.TransportError]


def test_a_dropped_client_stops_its_thread(fake: dxapi.testing.FakeDX) -> None:
    sc = dxapi.SyncClient(token=fake.token, base_url=fake.url)
    sc.teams.list()
    thread = sc._loop.thread
    del sc
    gc.collect()
    thread.join(timeout=15)
    assert not thread.is_alive()


def test_an_iteration_cut_by_close_raises_instead_of_ending(
    fake: dxapi.testing.FakeDX,
) -> None:
    sc = dxapi.SyncClient(token=fake.token, base_url=fake.url)
    items = iter(sc.catalog.entities.list(limit=5))
    next(items)
    sc.close()
    with pytest.raises(dxapi.TransportError, match="closed"):
        next(items)


def test_bad_construction_leaves_no_thread() -> None:
    before = len(_loop_threads())
    with pytest.raises(ValueError, match="instance"):
        dxapi.SyncDataCloudClient(token="t")
    assert len(_loop_threads()) == before


def test_an_unclosed_client_does_not_hang_exit(tmp_path: Path) -> None:
    # A server that accepts and never answers keeps a call in flight at exit.
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import socket, threading, dxapi
            server = socket.socket()
            server.bind(("127.0.0.1", 0))
            server.listen()
            url = "http://127.0.0.1:%d" % server.getsockname()[1]
            sc = dxapi.SyncClient(token="t", base_url=url)
            threading.Thread(target=sc.teams.list, daemon=True).start()

            async def closed():
                print("closed at exit", sc._aio._session.transport._closed, flush=True)

            sc._loop.on_close(closed)  # runs after the client's own aclose
            threading.Event().wait(0.3)
            print("exiting", flush=True)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-X", "dev", str(script)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["exiting", "closed at exit True"]
    assert "Unclosed" not in done.stderr


def test_an_interrupt_cancels_the_call_in_the_loop(tmp_path: Path) -> None:
    # Ctrl-C in a script: the blocked call raises KeyboardInterrupt and its task is cancelled.
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, signal, socket, threading, dxapi
            server = socket.socket()
            server.bind(("127.0.0.1", 0))
            server.listen()
            url = "http://127.0.0.1:%d" % server.getsockname()[1]
            sc = dxapi.SyncClient(token="t", base_url=url, retries=0)

            async def tasks():
                await asyncio.sleep(0.2)  # let a cancellation land
                return len(asyncio.all_tasks())

            idle = sc._loop.call(tasks)
            main = threading.main_thread().ident
            threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT)).start()
            try:
                sc.teams.list()
            except KeyboardInterrupt:
                print("interrupted", sc._loop.call(tasks) - idle)
            sc.close()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.split() == ["interrupted", "0"], done.stderr


# ----------------------------------------------------------------------------- surface


def test_constructors_take_the_async_arguments_but_session() -> None:
    for sync, aio in (
        (dxapi.SyncClient, dxapi.Client),
        (dxapi.SyncDataCloudClient, dxapi.DataCloudClient),
    ):
        want = [p for n, p in inspect.signature(aio).parameters.items() if n != "session"]
        assert list(inspect.signature(sync).parameters.values()) == want


def test_every_async_helper_has_a_blocking_twin() -> None:
    from dxapi._batch import AiToolMetricsBatch, CustomDataBatch
    from dxapi._workflow_runs import WorkflowRunHelpers

    for aio, sync in (
        (QueryRunHelpers, SyncQueryRunHelpers),
        (WorkflowRunHelpers, SyncWorkflowRunHelpers),
        (CustomDataBatch, SyncCustomDataBatch),
        (AiToolMetricsBatch, SyncAiToolMetricsBatch),
    ):
        public = {n for n, v in vars(aio).items() if not n.startswith("_") and callable(v)}
        twins = {n: v for n, v in vars(sync).items() if isinstance(v, Blocking | BlockingIter)}
        assert set(twins) == public, aio.__name__
        for name, twin in twins.items():
            assert twin._fn is getattr(aio, name)
            is_gen = inspect.isasyncgenfunction(getattr(aio, name))
            assert isinstance(twin, BlockingIter) == is_gen, name


def test_namespaces_mirror_the_async_ones(sc: dxapi.SyncClient) -> None:
    ns = sc.snapshots.dxi_scores
    assert isinstance(ns, SyncNamespace) and callable(ns)  # a callable namespace
    assert callable(ns.breakdown)
    assert sc.studio.query_runs.run.__doc__ == QueryRunHelpers.run.__doc__
    params = inspect.signature(sc.studio.query_runs.run).parameters
    assert list(params) == ["sql", "variables", "timeout"]  # bound: no self
    assert "first()" in (type(sc.teams).audit_trail.__doc__ or "")


def test_signatures_are_precise_under_mypy(tmp_path: Path) -> None:
    mypy_api = pytest.importorskip("mypy.api")  # a dev dependency: present wherever CI runs
    script = tmp_path / "use.py"
    script.write_text(
        textwrap.dedent(
            """
            import dxapi

            sc = dxapi.SyncClient()
            reveal_type(sc.teams.info(team_id="x"))
            sc.teams.info(team_idd="x")
            sc.teams.info(team_id=1)
            sc.catalog.entities.info()
            for e in sc.catalog.entities.list():
                reveal_type(e)
            reveal_type(sc.catalog.entities.list().first())
            reveal_type(sc.studio.query_runs.run("select 1"))
            sc.studio.query_runs.run(sql=1)
            """
        )
    )
    out, _, _ = mypy_api.run(["--strict", "--cache-dir", str(tmp_path / "cache"), str(script)])
    lines: dict[int, str] = {}
    for line in out.splitlines():
        if "use.py:" in line:
            number = int(line.split("use.py:")[1].split(":")[0])
            lines[number] = lines.get(number, "") + line
    assert "TeamsInfoResult" in lines[5]
    assert 'Unexpected keyword argument "team_idd"' in lines[6]
    assert 'Argument "team_id" to "info" of "Teams" has incompatible type "int"' in lines[7]
    assert 'Missing named argument "identifier"' in lines[8]
    assert "dxapi._generated.shapes.Entity" in lines[10]
    assert "CatalogEntitiesListResult" in lines[11]
    assert "QueryResult" in lines[12]
    assert 'Argument "sql" has incompatible type "int"' in lines[13]
    assert out.count("error:") == 4


def test_sync_rendering_is_deterministic_and_mirrors_every_family() -> None:
    from codegen.__main__ import ROOT
    from codegen.load import load_files
    from codegen.render import render
    from codegen.render_sync import render_sync
    from codegen.validate import build

    registry = build(load_files(ROOT / "registry")).dx()  # the REST peers have no sync twins
    first, second = render_sync(registry), render_sync(registry)
    assert first == second
    families = {k for k in render(registry) if k.count("/") == 1}
    assert {k.removeprefix("sync/") for k in first if k.count("/") == 2} == families
    text = first["sync/web/catalog.py"]
    assert "await" not in text and "async" not in text  # blocking methods only
    assert "return self._loop.paginate(self._ns.list," in text


def test_escape_hatches_travel_through_the_sync_client(
    sc: dxapi.SyncClient, fake: dxapi.testing.FakeDX
) -> None:
    sc.teams.list(extra_query={"probe": "1"}, extra_headers={"X-Trace": "abc"})
    sc.catalog.entities.upsert(identifier="svc-x", type="service", extra_body={"tier": "gold"})
    listed, upserted = fake.requests[-2:]
    assert listed.query.get("probe") == "1"
    assert {k.lower(): v for k, v in listed.headers.items()}.get("x-trace") == "abc"
    assert upserted.body["tier"] == "gold"
