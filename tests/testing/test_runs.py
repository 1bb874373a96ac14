"""Query runs (202 → 409 → 200/303 → 410, the CSV host) and workflow runs."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

import dxapi
from dxapi.testing import FakeDX, QueryPlan
from dxapi.testing._runs import csv_chunks, rows


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _get(
    http: aiohttp.ClientSession, fake: FakeDX, method: str, **params: str
) -> tuple[int, Mapping[str, str], Any]:
    headers = {"Authorization": f"Bearer {fake.token}"}
    async with http.get(
        f"{fake.url}/{method}", params=params, headers=headers, allow_redirects=False
    ) as resp:
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, resp.headers, body


async def _execute(http: aiohttp.ClientSession, fake: FakeDX, sql: str) -> Any:
    headers = {"Authorization": f"Bearer {fake.token}"}
    url = f"{fake.url}/studio.queryRuns.execute"
    async with http.post(url, json={"sql": sql}, headers=headers) as resp:
        assert resp.status == 202
        assert resp.headers["Retry-After"] == "1"
        body = await resp.json()
        assert resp.headers["Location"] == body["query_run"]["info_url"]
        return body["query_run"]


async def test_query_run_lifecycle_and_csv_on_a_second_host(http: aiohttp.ClientSession) -> None:
    async with FakeDX(query_run_seconds=0.3, query_rows=2500, rate_limit=None) as fake:
        run = await _execute(http, fake, "SELECT id, name FROM things")
        assert run["status"] == "queued" and run["finished_at"] is None
        status, headers, body = await _get(http, fake, "studio.queryRuns.results", id=run["id"])
        assert (status, body["error"], headers["Retry-After"]) == (
            409,
            "execution_not_complete",
            "1",
        )
        seen = set()
        while True:
            status, headers, body = await _get(http, fake, "studio.queryRuns.info", id=run["id"])
            seen.add(body["query_run"]["status"])
            if body["query_run"]["status"] == "succeeded":
                assert "Retry-After" not in headers
                break
            assert headers["Retry-After"] == "1"
            await asyncio.sleep(0.04)
        assert {"running", "succeeded"} <= seen <= {"queued", "running", "succeeded"}
        assert body["query_run"]["finished_at"] is not None

        status, _, body = await _get(http, fake, "studio.queryRuns.results", id=run["id"])
        assert status == 200 and body["ok"] is True
        assert body["results"]["columns"] == ["id", "name", "value", "created_on"]
        assert len(body["results"]["rows"]) == 1000
        assert body["results"]["rows"][0][:2] == [1, "name-1"]

        status, headers, _ = await _get(
            http, fake, "studio.queryRuns.results", id=run["id"], format="csv"
        )
        assert status == 303
        where = URL(headers["Location"])
        assert where.port == URL(fake.csv_url).port != URL(fake.url).port

        token = {"Authorization": f"Bearer {fake.token}"}
        async with http.get(where, headers=token) as resp:
            assert resp.status == 400  # a presigned URL refuses a second credential
        async with http.get(where) as resp:
            assert resp.status == 200
            text = await resp.text()
        lines = text.splitlines()
        assert lines[0] == "id,name,value,created_on"
        assert len(lines) == 2501
        assert lines[1].startswith("1,name-1,")
        with_auth, without = fake.csv_requests
        assert with_auth.headers["Authorization"] == "Bearer ***"
        assert "Authorization" not in without.headers


async def test_failed_sql_and_expired_results(http: aiohttp.ClientSession) -> None:
    async with FakeDX(query_run_seconds=0.05, results_ttl=0.2, rate_limit=None) as fake:
        bad = await _execute(http, fake, "SELECT FAIL")
        good = await _execute(http, fake, "SELECT 1")
        await asyncio.sleep(0.1)
        _, _, body = await _get(http, fake, "studio.queryRuns.info", id=bad["id"])
        assert body["query_run"]["status"] == "failed"
        assert set(body["query_run"]["error"]) == {"code", "message"}
        status, _, body = await _get(http, fake, "studio.queryRuns.results", id=bad["id"])
        assert status == 422 and body["ok"] is False
        await asyncio.sleep(0.2)
        _, _, body = await _get(http, fake, "studio.queryRuns.info", id=good["id"])
        assert body["query_run"]["status"] == "expired"
        status, _, body = await _get(http, fake, "studio.queryRuns.results", id=good["id"])
        assert (status, body) == (
            410,
            {
                "ok": False,
                "error": "results_expired",
                "message": body["message"],
                "error_details": {"message": body["message"]},
            },
        )


async def test_info_polling_is_limited_per_run(http: aiohttp.ClientSession) -> None:
    async with FakeDX(query_run_seconds=10, rate_limit=None) as fake:
        one = await _execute(http, fake, "SELECT 1")
        two = await _execute(http, fake, "SELECT 2")
        statuses = [
            (await _get(http, fake, "studio.queryRuns.info", id=one["id"]))[0] for _ in range(11)
        ]
        assert statuses == [200] * 10 + [429]
        status, headers, body = await _get(http, fake, "studio.queryRuns.info", id=one["id"])
        assert status == 429 and body["error"] == "rate_limited"
        assert 1 <= int(headers["Retry-After"]) <= 5
        assert (await _get(http, fake, "studio.queryRuns.info", id=two["id"]))[0] == 200


async def test_sql_hook_decides_rows_and_columns() -> None:
    def hook(sql: str, variables: Mapping[str, Any]) -> QueryPlan | None:
        return (
            QueryPlan(rows=3, seconds=0.0, columns=("team", "count")) if "teams" in sql else None
        )

    async with FakeDX(query_hook=hook, query_run_seconds=0.0) as fake, fake.client() as dx:
        result = await dx.studio.query_runs.run("SELECT * FROM teams", timeout=10)
    assert result.columns == ["team", "count"]
    assert result.rows == [["team-1", 0], ["team-2", 7919 % 1000], ["team-3", 15838 % 1000]]


async def test_sdk_run_and_download_strip_the_token(tmp_path: Path) -> None:
    async with FakeDX(query_rows=1500, query_run_seconds=0.1) as fake, fake.client() as dx:
        result = await dx.studio.query_runs.run("SELECT 1", timeout=10)
        assert len(result.rows) == 1000 and result.truncated
        target = await dx.studio.query_runs.download(result.query_run.id, tmp_path / "out.csv")
        with pytest.raises(dxapi.QueryRunFailedError):
            await dx.studio.query_runs.run("SELECT FAIL", timeout=10)
    assert len(target.read_text().splitlines()) == 1501
    [download] = fake.csv_requests
    assert "Authorization" not in download.headers


async def test_a_million_csv_rows_stream_in_small_chunks(http: aiohttp.ClientSession) -> None:
    plan = QueryPlan(rows=1_000_000, seconds=0.0)
    assert max(len(c) for c in itertools.islice(csv_chunks(plan), 50)) < 256 * 1024
    async with FakeDX(query_rows=1_000_000, query_run_seconds=0.0, rate_limit=None) as fake:
        run = await _execute(http, fake, "SELECT big")
        _, headers, _ = await _get(
            http, fake, "studio.queryRuns.results", id=run["id"], format="csv"
        )
        lines = 0
        async with http.get(headers["Location"]) as resp:
            assert resp.headers.get("Transfer-Encoding") == "chunked"
            async for chunk in resp.content.iter_chunked(1 << 16):
                lines += chunk.count(b"\n")
    assert lines == 1_000_001


def test_csv_rows_match_json_rows() -> None:
    plan = QueryPlan(rows=5000, columns=("id", "repo", "count", "merged_at"))
    text = b"".join(csv_chunks(plan)).decode().splitlines()
    assert text[0] == "id,repo,count,merged_at"
    assert text[1:] == [",".join(map(str, r)) for r in rows(plan)]


# -------------------------------------------------------------------------- workflow runs


async def _statuses(dx: dxapi.Client, run_id: str, until: float) -> list[str]:
    seen: list[str] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + until
    while loop.time() < end:
        status = (await dx.call("workflowRuns.info", id=run_id))["workflow_run"]["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        await asyncio.sleep(0.02)
    return seen


async def test_workflow_run_moves_to_its_terminal_status() -> None:
    async with (
        FakeDX(
            workflow_run_seconds=0.3,
            workflow_approval=True,
            workflow_outcomes={"deploy": "REJECTED"},
        ) as fake,
        fake.client() as dx,
    ):
        ok = await dx.call("workflowRuns.trigger", workflow_identifier="greet", data={"a": 1})
        bad = await dx.call("workflowRuns.trigger", workflow_identifier="deploy")
        seen = await _statuses(dx, ok["workflow_run"]["id"], 0.45)
        assert seen == ["PENDING_RUN", "IN_PROGRESS", "WAITING_FOR_APPROVAL", "SUCCEEDED"]
        info = await dx.call("workflowRuns.info", id=bad["workflow_run"]["id"])
        assert info["workflow_run"]["status"] == "REJECTED"


async def test_workflow_events_and_sdk_wait() -> None:
    async with FakeDX(workflow_run_seconds=5) as fake, fake.client() as dx:
        run_id = (await dx.call("workflowRuns.trigger", workflow_identifier="w"))["workflow_run"][
            "id"
        ]
        await dx.call("workflowRuns.postMessage", workflow_run_id=run_id, message="hi")
        await dx.call(
            "workflowRuns.addLink",
            workflow_run_id=run_id,
            link={"url": "https://example.com", "label": "Example"},
        )
        changed = await dx.call(
            "workflowRuns.changeStatus", workflow_run_id=run_id, status="FAILED"
        )
        assert changed["event"]["type"] == "CHANGE_STATUS"
        info = await dx.call("workflowRuns.info", id=run_id)
        assert info["workflow_run"]["status"] == "FAILED"
        assert info["workflow_run"]["links"] == [
            {"url": "https://example.com", "label": "Example"}
        ]
        with pytest.raises(dxapi.WorkflowRunError):
            await dx.workflow_runs.wait(run_id, timeout=5)

    async with FakeDX(workflow_run_seconds=0.1) as fake, fake.client() as dx:
        run = await dx.workflow_runs.trigger_and_wait(workflow_identifier="w", timeout=10)
        assert run.status == "SUCCEEDED"
