"""Query-run helpers over aioresponses: 202 → poll → 200/409/303/410, download, limits."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from aioresponses import CallbackResult

import dxapi
from dxapi import RetryPolicy
from dxapi._query_runs import INLINE_ROW_LIMIT
from dxapi.types import QueryRun

BASE = "https://api.getdx.com"
EXECUTE = f"{BASE}/studio.queryRuns.execute"
INFO = re.compile(r"^https://api\.getdx\.com/studio\.queryRuns\.info\?id=r1$")
RESULTS = re.compile(r"^https://api\.getdx\.com/studio\.queryRuns\.results\?id=r1$")
CSV = re.compile(r"^https://api\.getdx\.com/studio\.queryRuns\.results\?format=csv&id=r1$")
NOW = {"Retry-After": "0"}
EXPIRES = "2026-05-13T20:10:05Z"


def run(status: str, **extra: Any) -> dict[str, Any]:
    body = {
        "id": "r1",
        "status": status,
        "submitted_at": "2026-04-13T20:10:05Z",
        "finished_at": None,
        "expires_at": EXPIRES,
        "info_url": "/studio.queryRuns.info?id=r1",
        "results_url": "/studio.queryRuns.results?id=r1",
    }
    return {"ok": True, "query_run": {**body, **extra}}


def rows_payload(n: int) -> dict[str, Any]:
    return {
        "ok": True,
        "results": {"columns": ["id", "name"], "rows": [[i, f"n{i}"] for i in range(n)]},
    }


@pytest.fixture
async def dx(token: str) -> AsyncIterator[dxapi.Client]:
    async with dxapi.Client(token=token, retries=RetryPolicy(backoff=0.001)) as client:
        yield client


def sent(mocked: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (str(k[0]), str(k[1]), c.kwargs) for k, calls in mocked.requests.items() for c in calls
    ]


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def accepted(mocked: Any, retry_after: str = "0") -> None:
    mocked.post(
        EXECUTE,
        status=202,
        payload=run("queued"),
        headers={"Retry-After": retry_after, "Location": "/studio.queryRuns.info?id=r1"},
    )


# ---------------------------------------------------------------------------------- run


async def test_run_executes_polls_and_returns_rows(mocked: Any, dx: dxapi.Client) -> None:
    accepted(mocked)
    mocked.get(INFO, payload=run("queued"), headers=NOW)
    mocked.get(INFO, payload=run("running"), headers=NOW)
    mocked.get(INFO, payload=run("succeeded", finished_at="2026-04-13T20:10:06Z"))
    mocked.get(RESULTS, payload=rows_payload(2))
    result = await dx.studio.query_runs.run("SELECT id, name FROM t", variables={"ids": [1, 2]})
    assert result.columns == ["id", "name"]
    assert result.rows == [[0, "n0"], [1, "n1"]]
    assert result.records() == [{"id": 0, "name": "n0"}, {"id": 1, "name": "n1"}]
    assert result.truncated is False
    assert result.query_run.status == "succeeded" and result.query_run.id == "r1"
    calls = sent(mocked)
    assert [c[1].split("/")[-1].split("?")[0] for c in calls] == [
        "studio.queryRuns.execute",
        "studio.queryRuns.info",
        "studio.queryRuns.info",
        "studio.queryRuns.info",
        "studio.queryRuns.results",
    ]
    assert calls[0][2]["json"] == {"sql": "SELECT id, name FROM t", "variables": {"ids": [1, 2]}}


async def test_run_marks_a_full_inline_page_as_truncated(mocked: Any, dx: dxapi.Client) -> None:
    accepted(mocked)
    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(RESULTS, payload=rows_payload(INLINE_ROW_LIMIT))
    result = await dx.studio.query_runs.run("SELECT *")
    assert len(result.rows) == INLINE_ROW_LIMIT and result.truncated is True


async def test_run_skips_polling_when_execute_says_done(mocked: Any, dx: dxapi.Client) -> None:
    mocked.post(EXECUTE, status=202, payload=run("succeeded"), headers=NOW)
    mocked.get(RESULTS, payload=rows_payload(1))
    assert (await dx.studio.query_runs.run("SELECT 1")).rows == [[0, "n0"]]
    assert len(sent(mocked)) == 2


async def test_failed_run_raises_with_the_server_error(mocked: Any, dx: dxapi.Client) -> None:
    accepted(mocked)
    mocked.get(
        INFO, payload=run("failed", error={"code": "sql_error", "message": "Query timeout."})
    )
    with pytest.raises(dxapi.QueryRunFailedError) as info:
        await dx.studio.query_runs.run("SELECT 1")
    exc = info.value
    assert exc.details == {"code": "sql_error", "message": "Query timeout."}
    assert exc.error == "sql_error" and exc.job_id == "r1" and exc.state == "failed"
    assert "Query timeout." in str(exc)


async def test_run_timeout_names_the_run(mocked: Any, dx: dxapi.Client) -> None:
    accepted(mocked)
    mocked.get(INFO, payload=run("running"), headers={"Retry-After": "10"}, repeat=True)
    with pytest.raises(dxapi.QueryRunTimeoutError) as info:
        await dx.studio.query_runs.run("SELECT 1", timeout=0.3)
    assert info.value.job_id == "r1"
    assert isinstance(info.value, TimeoutError)


async def test_cancelling_run_stops_polling_at_once(mocked: Any, dx: dxapi.Client) -> None:
    accepted(mocked)
    mocked.get(INFO, payload=run("running"), headers={"Retry-After": "10"}, repeat=True)
    with anyio.move_on_after(0.3) as scope:
        await dx.studio.query_runs.run("SELECT 1", timeout=None)
    assert scope.cancelled_caught
    polls = len(sent(mocked))
    await anyio.sleep(0.2)
    assert len(sent(mocked)) == polls == 2  # execute + one poll, and nothing after


async def test_task_cancel_stops_a_wait(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(INFO, payload=run("running"), headers={"Retry-After": "10"}, repeat=True)
    task = asyncio.create_task(dx.studio.query_runs.wait("r1", timeout=None))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    polls = len(sent(mocked))
    await asyncio.sleep(0.1)
    assert len(sent(mocked)) == polls == 1


# ----------------------------------------------------------------------- 409, 410, wait


async def test_results_waits_out_execution_not_complete(mocked: Any, dx: dxapi.Client) -> None:
    pending = {"ok": False, "error": "execution_not_complete"}
    mocked.get(RESULTS, status=409, payload=pending, headers=NOW)
    mocked.get(RESULTS, status=409, payload=pending, headers=NOW)
    mocked.get(RESULTS, payload=rows_payload(3))
    page = await dx.studio.query_runs.results(id="r1")
    assert len(page.results.rows) == 3
    assert len(sent(mocked)) == 3


async def test_results_409_with_another_code_is_a_plain_api_error(
    mocked: Any, dx: dxapi.Client
) -> None:
    mocked.get(RESULTS, status=409, payload={"ok": False, "error": "conflict"})
    with pytest.raises(dxapi.APIError) as info:
        await dx.studio.query_runs.results(id="r1")
    assert (type(info.value), info.value.error, info.value.status) == (
        dxapi.APIError,
        "conflict",
        409,
    )


async def test_409_on_an_ordinary_method_is_not_retried(mocked: Any, dx: dxapi.Client) -> None:
    mocked.post(
        f"{BASE}/catalog.entities.create",
        status=409,
        payload={"ok": False, "error": "execution_not_complete"},
        headers=NOW,
    )
    with pytest.raises(dxapi.APIError) as info:
        await dx.catalog.entities.create(identifier="a", type="service")
    assert type(info.value) is dxapi.APIError and info.value.status == 409
    assert len(sent(mocked)) == 1


async def test_results_410_names_the_run_and_expiry(mocked: Any, dx: dxapi.Client) -> None:
    accepted(mocked)
    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(RESULTS, status=410, payload={"ok": False, "error": "results_expired"})
    with pytest.raises(dxapi.QueryRunExpiredError) as info:
        await dx.studio.query_runs.run("SELECT 1")
    exc = info.value
    assert exc.job_id == "r1" and exc.status == 410
    assert "r1" in str(exc) and "2026-05-13" in str(exc)


async def test_wait_for_an_expired_run(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(INFO, payload=run("expired"))
    with pytest.raises(dxapi.QueryRunExpiredError) as info:
        await dx.studio.query_runs.wait("r1")
    assert info.value.job_id == "r1" and EXPIRES in str(info.value)


async def test_wait_returns_the_final_run(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(INFO, payload=run("started"), headers=NOW)
    mocked.get(INFO, payload=run("succeeded"))
    final = await dx.studio.query_runs.wait("r1", timeout=5)
    assert isinstance(final, QueryRun) and final.status == "succeeded"


# ------------------------------------------------------------------- 303 and downloads


async def test_download_follows_relative_303_without_the_token(
    mocked: Any, dx: dxapi.Client, tmp_path: Path, token: str
) -> None:
    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(CSV, status=303, headers={"Location": "/downloads/r1.csv?sig=a%2Fb"})
    mocked.get(
        f"{BASE}/downloads/r1.csv?sig=a%2Fb", body=b"id,name\n1,api\n", content_type="text/csv"
    )
    out = await dx.studio.query_runs.download("r1", tmp_path / "out.csv")
    assert out.read_bytes() == b"id,name\n1,api\n"
    assert listing(tmp_path) == ["out.csv"]
    calls = sent(mocked)
    assert calls[1][2]["headers"]["Authorization"] == f"Bearer {token}"
    assert "Authorization" not in calls[2][2]["headers"]
    assert all(token not in str(v) for v in calls[2][2].values())


async def test_stream_csv_from_another_host(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(INFO, payload=run("succeeded"))
    url = "https://storage.example.net/bucket/r1.csv?X-Amz-Signature=abc"
    mocked.get(CSV, status=303, headers={"Location": url})
    mocked.get(url, body=b"a,b\n" * 50_000, content_type="text/csv")
    chunks = [c async for c in dx.studio.query_runs.stream_csv("r1", chunk_size=4096)]
    assert b"".join(chunks) == b"a,b\n" * 50_000
    assert max(len(c) for c in chunks) <= 4096
    storage = [c for c in sent(mocked) if "storage.example.net" in c[1]]
    assert len(storage) == 1 and "Authorization" not in storage[0][2]["headers"]


async def test_stream_body_served_directly(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(CSV, body=b"x\n1\n", content_type="text/csv")
    assert b"".join([c async for c in dx.studio.query_runs.stream_csv("r1")]) == b"x\n1\n"


async def test_stale_download_link_is_refetched_once(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(CSV, status=303, headers={"Location": "https://s.example.net/old.csv"})
    mocked.get("https://s.example.net/old.csv", status=403, body=b"<Error>expired</Error>")
    mocked.get(CSV, status=303, headers={"Location": "https://s.example.net/new.csv"})
    mocked.get("https://s.example.net/new.csv", body=b"ok\n", content_type="text/csv")
    assert b"".join([c async for c in dx.studio.query_runs.stream_csv("r1")]) == b"ok\n"


async def test_download_csv_waits_out_409(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(INFO, payload=run("succeeded"))
    pending = {"ok": False, "error": "execution_not_complete"}
    mocked.get(CSV, status=409, payload=pending, headers=NOW)
    mocked.get(CSV, status=303, headers={"Location": "https://s.example.net/r1.csv"})
    mocked.get("https://s.example.net/r1.csv", body=b"ok\n", content_type="text/csv")
    assert b"".join([c async for c in dx.studio.query_runs.stream_csv("r1")]) == b"ok\n"


async def test_csv_410_is_expired_with_the_run(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(CSV, status=410, payload={"ok": False, "error": "results_expired"})
    with pytest.raises(dxapi.QueryRunExpiredError) as info:
        await dx.studio.query_runs.download("r1", "never-written.csv")
    assert info.value.job_id == "r1" and EXPIRES[:10] in str(info.value)
    assert "never-written.csv" not in listing(Path())


async def test_failed_download_leaves_the_old_file(
    mocked: Any, dx: dxapi.Client, tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")
    mocked.get(INFO, payload=run("succeeded"))
    mocked.get(CSV, status=303, headers={"Location": "https://s.example.net/r1.csv"})
    mocked.get("https://s.example.net/r1.csv", status=500, body=b"oops")
    with pytest.raises(dxapi.TransportError) as info:
        await dx.studio.query_runs.download("r1", target)
    assert info.value.status == 500 and "s.example.net" in str(info.value)
    assert target.read_bytes() == b"old"
    assert listing(tmp_path) == ["out.csv"]


async def test_refuses_non_http_and_plain_http_links(mocked: Any, dx: dxapi.Client) -> None:
    for location in ("file:///etc/passwd", "http://storage.example.net/r1.csv"):
        mocked.get(INFO, payload=run("succeeded"))
        mocked.get(CSV, status=303, headers={"Location": location})
        with pytest.raises(dxapi.TransportError, match="refusing"):
            async for _ in dx.studio.query_runs.stream_csv("r1"):
                pass


async def test_redirect_on_a_json_call_is_an_error(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(RESULTS, status=303, headers={"Location": "https://s.example.net/x"})
    with pytest.raises(dxapi.TransportError, match="redirect"):
        await dx.studio.query_runs.results(id="r1")


# -------------------------------------------------------------------- per-run polling limit


class FakeClock:
    """Time that moves only when someone sleeps (so the test does not)."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


async def test_polls_of_one_run_stay_within_its_limit(mocked: Any, dx: dxapi.Client) -> None:
    clock = FakeClock()
    dx._session.clock = clock
    seen: list[float] = []

    def record(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(clock.now())
        status = "succeeded" if len(seen) == 35 else "running"
        return CallbackResult(payload=run(status), headers=NOW)

    mocked.get(INFO, callback=record, repeat=True)
    mocked.get(RESULTS, callback=record, repeat=True)
    await dx.studio.query_runs.wait("r1", timeout=None)
    assert len(seen) == 35
    for i, t in enumerate(seen):  # never more than 10 in any 5 s window
        assert sum(1 for u in seen[i:] if u - t < 5.0) <= 10
    assert list(dx._session._keyed) == ["studio.queryRuns:id:10/5.0"]
