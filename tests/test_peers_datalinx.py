"""Datalinx on the fake built from its registry: envelope, page/page_size, X-API-Key,
X-Workspace, and a limiter that learns from X-RateLimit-Remaining/Reset."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest

from dxapi import APIError, ArgumentError, response_of
from dxapi._dialect import decode_answer, rate_limit_pause
from dxapi._generated.specs import TEAMS_LIST as DX_SPEC
from dxapi.peers import DatalinxClient
from dxapi.testing import FakePeer

SEED = Path(__file__).resolve().parent / "fixtures" / "peers" / "datalinx-rest-overview.txt"


def test_every_seed_endpoint_and_category_is_a_typed_method() -> None:
    text = SEED.read_text()
    methods = DatalinxClient.methods()
    routes = {(s.http, s.path) for s in methods.values()}
    for verb, url in re.findall(
        r'-X (GET|POST) "https://your-instance\.datalinx\.ai/api(/[^"?]+)', text
    ):
        assert (verb, url) in routes
    assert ("GET", "/mappings") in routes  # GET /api/mappings?page=1&page_size=50
    block = text.split("API Categories", 1)[1].split("SDK and Tools", 1)[0]
    categories = re.findall(r"^- ([A-Za-z ]+?) - ", block, re.M)
    assert len(categories) == 14
    families = {name.split(".")[0].lower() for name in methods}
    for category in categories:
        assert category.replace(" ", "").lower() in families, category


async def test_mappings_page_by_page_run_a_pipeline_read_rate_headers() -> None:
    async with FakePeer("datalinx", rate_limit=(100, 60.0)) as fake:
        fake.add("mappings", *({"name": f"m{n}"} for n in range(7)))
        fake.add("pipelines", {"id": "pl_123", "name": "nightly"})
        fake.handle(
            "pipelines.run",
            lambda call: {"pipeline_id": call.args["pipeline_id"], "status": "running"},
        )
        async with fake.client() as dlx:
            pages = [
                p async for p in dlx.mappings.list(page_size=3, workspace="production").pages()
            ]
            assert [len(p.data) for p in pages] == [3, 3, 1]
            assert [p.pagination.page for p in pages] == [1, 2, 3]
            assert pages[0].pagination.total_pages == 3 and pages[0].pagination.total_items == 7
            headers = response_of(pages[-1]).headers
            assert headers["X-RateLimit-Limit"] == "100"
            assert headers["X-RateLimit-Remaining"] == "97"
            assert int(headers["X-RateLimit-Reset"]) >= time.time()
            run = await dlx.pipelines.run(pipeline_id="pl_123", workspace="production")
            assert run == {"pipeline_id": "pl_123", "status": "running"}  # unwrapped from data
    sent = [r for r in fake.requests if r.path.startswith("/mappings")]
    assert [r.query.get("page") for r in sent] == [None, "2", "3"]
    assert all(r.headers["X-Workspace"] == "production" for r in fake.requests)


async def test_api_key_auth_and_failed_envelope() -> None:
    async with (
        FakePeer("datalinx") as fake,
        DatalinxClient(fake.token, base_url=fake.url, auth="X-API-Key") as dlx,
    ):
        ws = await dlx.workspaces.create(name="my-workspace", config={"description": "Prod"})
        assert ws.name == "my-workspace" and ws.config == {"description": "Prod"}
        with pytest.raises(APIError) as err:
            await dlx.workspaces.info(workspace_id="nope")
    assert err.value.status == 404 and err.value.error == "NOT_FOUND"
    assert "Authorization" not in fake.requests[0].headers
    assert fake.requests[0].headers["X-API-Key"] == "***"
    async with DatalinxClient(fake.token, base_url=fake.url, auth="X-API-Key") as dlx:
        with pytest.raises(ArgumentError, match="carries the credentials"):
            await dlx.workspaces.list(extra_headers={"x-api-key": "another"})
        with pytest.raises(ArgumentError, match="carries the credentials"):
            await dlx.request("GET", "/workspaces", headers={"X-API-Key": "another"})
    with pytest.raises(ValueError, match="auth must be one of"):
        DatalinxClient("t", base_url=fake.url, auth="X-Token")


def test_a_status_failed_body_is_an_error_even_with_200() -> None:
    spec = DatalinxClient.methods()["analytics.query"]
    body = (
        b'{"status": "failed", "message": "Workspace not found",'
        b' "error_code": "WORKSPACE_NOT_FOUND"}'
    )
    with pytest.raises(APIError) as err:
        decode_answer(spec, 200, body)
    assert err.value.error == "WORKSPACE_NOT_FOUND" and err.value.message == "Workspace not found"
    ok = b'{"status": "success", "data": [1, 2], "pagination": {"page": 1}}'
    assert decode_answer(spec, 200, ok) == {"data": [1, 2], "pagination": {"page": 1}}
    obj = b'{"status": "success", "data": {"id": "ws_1"}, "request_id": "r"}'
    assert decode_answer(spec, 201, obj) == {"id": "ws_1", "request_id": "r"}


def test_rate_limit_pause_reads_remaining_and_reset() -> None:
    spec = DatalinxClient.methods()["workspaces.list"]
    now = 1_705_320_000.0
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + 2)}
    assert rate_limit_pause(spec, spent, now) == pytest.approx(2.0, abs=0.1)
    assert rate_limit_pause(spec, {**spent, "X-RateLimit-Remaining": "4"}, now) is None
    assert rate_limit_pause(spec, {**spent, "X-RateLimit-Reset": "soon"}, now) is None
    assert rate_limit_pause(spec, {"X-RateLimit-Remaining": "0"}, now) is None
    assert rate_limit_pause(DX_SPEC, spent, now) is None  # DX declares no rate headers


async def test_remaining_zero_holds_requests_until_reset_without_a_429() -> None:
    """3 requests per window: the third answer says Remaining 0 and Reset ~2 s away; the
    fourth request waits for the reset instead of earning a 429."""
    async with FakePeer("datalinx", rate_limit=(3, 2.0)) as fake, fake.client() as dlx:
        for _ in range(5):
            await dlx.workspaces.list()
    assert fake.refused_429 == 0
    times = [r.time for r in fake.requests]
    assert len(times) == 5
    reset = math.ceil(times[0] + 2.0)  # the fake's first window ends on a whole second
    assert all(t < reset for t in times[:3])
    assert times[3] >= reset  # held back until the announced reset, not sent early
    assert times[3] - times[2] > 0.5


async def test_escape_hatches_raw_paths_and_bulk_share_one_runtime() -> None:
    async with FakePeer("datalinx") as fake:
        fake.add("workspaces", {"id": "ws_1", "name": "a"}, {"id": "ws_2", "name": "b"})
        async with fake.client() as dlx:
            await dlx.workspaces.list(extra_query={"sort": "name"}, extra_headers={"X-Trace": "7"})
            raw = await dlx.request("PUT", "/workspaces/ws_1", body={"name": "renamed"})
            assert raw == {"id": "ws_1", "name": "renamed"}
            with pytest.raises(ArgumentError, match="no body"):
                await dlx.request("DELETE", "/workspaces/ws_1", body={"x": 1})
            outcomes = await dlx.bulk(
                "workspaces.info", [{"workspace_id": "ws_1"}, {"workspace_id": "nope"}]
            ).collect()
            by_index = sorted(outcomes, key=lambda o: o.index)
            assert by_index[0].result == {"id": "ws_1", "name": "renamed"}
            assert isinstance(by_index[1].error, APIError) and by_index[1].error.status == 404
            clone = dlx.with_options(timeout=5)
            assert (await clone.workspaces.info(workspace_id="ws_2")).name == "b"
    first = fake.requests[0]
    assert first.query == {"sort": "name"} and first.headers["X-Trace"] == "7"
    assert fake.requests[1].http == "PUT" and fake.requests[1].body == {"name": "renamed"}
    assert len(fake.requests) == 5  # the refused DELETE never left the client
