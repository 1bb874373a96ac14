"""The client end to end over aioresponses: wire format, retries, pagination, errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult

import dxapi
from dxapi import RetryPolicy

BASE = "https://api.getdx.com"


@pytest.fixture
async def dx(token: str) -> AsyncIterator[dxapi.Client]:
    async with dxapi.Client(
        token=token, retries=RetryPolicy(backoff=0.001, max_backoff=0.01)
    ) as client:
        yield client


def _sent(mocked: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (str(k[0]), str(k[1]), call.kwargs)
        for k, calls in mocked.requests.items()
        for call in calls
    ]


async def test_list_sends_get_with_query_and_bearer(
    mocked: Any, dx: dxapi.Client, token: str
) -> None:
    mocked.get(
        f"{BASE}/catalog.entities.list?limit=1",
        payload={
            "ok": True,
            "entities": [{"identifier": "a"}],
            "response_metadata": {"next_cursor": None},
        },
    )
    page = await dx.catalog.entities.list(limit=1)
    assert [e.identifier for e in page.entities] == ["a"]
    [(verb, url, kwargs)] = _sent(mocked)
    assert (verb, url) == ("GET", f"{BASE}/catalog.entities.list?limit=1")
    assert kwargs["headers"]["Authorization"] == f"Bearer {token}"
    assert kwargs["headers"]["Accept"] == "application/json"


async def test_iterating_follows_next_cursor(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(
        f"{BASE}/catalog.entities.list?limit=2",
        payload={
            "ok": True,
            "entities": [{"identifier": "a"}, {"identifier": "b"}],
            "response_metadata": {"next_cursor": "c2"},
        },
    )
    mocked.get(
        f"{BASE}/catalog.entities.list?limit=2&cursor=c2",
        payload={"ok": True, "entities": [], "response_metadata": {"next_cursor": "c3"}},
    )
    mocked.get(
        f"{BASE}/catalog.entities.list?limit=2&cursor=c3",
        payload={
            "ok": True,
            "entities": [{"identifier": "c"}],
            "response_metadata": {"next_cursor": ""},
        },
    )
    call = dx.catalog.entities.list(limit=2)
    assert [e.identifier async for e in call] == ["a", "b", "c"]  # an empty page does not stop it
    assert call.cursor is None


async def test_missing_metadata_ends_pagination(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(
        f"{BASE}/catalog.entityTypes.list",
        payload={"ok": True, "entity_types": [{"identifier": "t"}]},
    )
    assert [t.identifier async for t in dx.catalog.entity_types.list()] == ["t"]


async def test_repeated_cursor_is_an_error_not_a_loop(mocked: Any, dx: dxapi.Client) -> None:
    page = {
        "ok": True,
        "relations": [{"identifier": "r"}],
        "response_metadata": {"next_cursor": "same"},
    }
    mocked.get(re.compile(r".*/catalog\.relations\.list.*"), payload=page, repeat=True)
    seen = []
    with pytest.raises(dxapi.PaginationError, match="repeated"):
        async for relation in dx.catalog.relations.list():
            seen.append(relation.identifier)
    assert seen == ["r", "r"]


async def test_pages_and_max_items(mocked: Any, dx: dxapi.Client) -> None:
    def page(n: int, nxt: str | None) -> dict[str, Any]:
        return {
            "ok": True,
            "relations": [{"identifier": f"r{n}"}],
            "response_metadata": {"next_cursor": nxt},
        }

    mocked.get(f"{BASE}/catalog.relations.list", payload=page(1, "p2"))
    mocked.get(f"{BASE}/catalog.relations.list?cursor=p2", payload=page(2, None))
    pages = [p async for p in dx.catalog.relations.list().pages()]
    assert [p.relations[0].identifier for p in pages] == ["r1", "r2"]
    mocked.get(f"{BASE}/catalog.relations.list", payload=page(1, "p2"))
    items = [r async for r in dx.catalog.relations.list().items(max_items=1)]
    assert [r.identifier for r in items] == ["r1"]


async def test_429_backs_off_then_succeeds(mocked: Any, dx: dxapi.Client) -> None:
    url = f"{BASE}/catalog.entities.info?identifier=x"
    mocked.get(
        url,
        status=429,
        headers={"Retry-After": "0"},
        payload={"ok": False, "error": "rate_limited"},
    )
    mocked.get(url, payload={"ok": True, "entity": {"identifier": "x"}})
    result = await dx.catalog.entities.info(identifier="x")
    assert result.entity.identifier == "x"
    assert dx.stats["429"] == 1 and dx.stats["retries"] == 1


async def test_429_retries_exhausted_raise_rate_limit_error(mocked: Any, token: str) -> None:
    url = f"{BASE}/catalog.entities.info?identifier=x"
    mocked.get(url, status=429, headers={"Retry-After": "0"}, payload={"ok": False}, repeat=True)
    async with dxapi.Client(token=token, retries=RetryPolicy(max_retries=2)) as dx:
        with pytest.raises(dxapi.RateLimitError) as info:
            await dx.catalog.entities.info(identifier="x")
    assert info.value.retry_after == 0.0
    assert len(_sent(mocked)) == 3


async def test_5xx_is_retried_for_reads_but_not_for_creates(mocked: Any, dx: dxapi.Client) -> None:
    info = f"{BASE}/catalog.entities.info?identifier=x"
    mocked.get(info, status=503, body="<html>busy</html>")
    mocked.get(info, payload={"ok": True, "entity": {"identifier": "x"}})
    assert (await dx.catalog.entities.info(identifier="x")).entity.identifier == "x"
    mocked.post(
        f"{BASE}/catalog.entities.create",
        status=503,
        payload={"ok": False, "error": "unavailable"},
    )
    with pytest.raises(dxapi.APIError) as err:
        await dx.catalog.entities.create(identifier="y", type="service")
    assert (err.value.status, err.value.error) == (503, "unavailable")
    creates = [s for s in _sent(mocked) if s[1].endswith("catalog.entities.create")]
    assert len(creates) == 1


async def test_ok_false_maps_to_typed_error(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(
        f"{BASE}/catalog.entities.info?identifier=x",
        payload={"ok": False, "error": "invalid_auth"},
    )
    with pytest.raises(dxapi.AuthError) as info:
        await dx.catalog.entities.info(identifier="x")
    assert (info.value.error, info.value.status, info.value.method) == (
        "invalid_auth",
        200,
        "catalog.entities.info",
    )


async def test_non_json_success_is_a_transport_error(mocked: Any, token: str) -> None:
    mocked.get(f"{BASE}/catalog.entities.info?identifier=x", body="<html>oops</html>", repeat=True)
    async with dxapi.Client(token=token, retries=0) as dx:
        with pytest.raises(dxapi.TransportError, match="non-JSON body") as info:
            await dx.catalog.entities.info(identifier="x")
    assert info.value.status == 200 and "oops" in str(info.value)


async def test_bad_arguments_fail_before_any_request(mocked: Any, dx: dxapi.Client) -> None:
    with pytest.raises(dxapi.ArgumentError, match="missing required argument 'identifier'"):
        await dx.call("catalog.entities.info")
    with pytest.raises(dxapi.ArgumentError, match="'identifier' must be str, got int"):
        await dx.catalog.entities.info(identifier=7)  # type: ignore[arg-type]
    with pytest.raises(dxapi.ArgumentError, match="unknown argument 'nope'"):
        await dx.call("catalog.entities.info", identifier="x", nope=1)
    with pytest.raises(dxapi.ArgumentError, match="no such web method"):
        await dx.call("catalog.entities.explode")
    assert _sent(mocked) == []


async def test_call_escape_hatch_posts_json(mocked: Any, dx: dxapi.Client) -> None:
    mocked.post(f"{BASE}/catalog.relationEdges.add", payload={"ok": True, "extra": 1})
    raw = await dx.call(
        "catalog.relationEdges.add",
        relation_identifier="r",
        source_entity_identifier="a",
        target_entity_identifier="b",
    )
    assert raw == {"ok": True, "extra": 1}
    [(_, _, kwargs)] = _sent(mocked)
    assert kwargs["json"] == {
        "relation_identifier": "r",
        "source_entity_identifier": "a",
        "target_entity_identifier": "b",
    }


async def test_unknown_response_keys_are_ignored(mocked: Any, dx: dxapi.Client) -> None:
    mocked.get(
        f"{BASE}/catalog.relations.info?identifier=r",
        payload={
            "ok": True,
            "brand_new": [1],
            "relation": {"identifier": "r", "new_field": {"x": 1}},
        },
    )
    assert (await dx.catalog.relations.info(identifier="r")).relation.identifier == "r"


def test_token_from_env_and_never_in_repr(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("DX_API_TOKEN", token)
    monkeypatch.setenv("DX_BASE_URL", "https://api.acme.getdx.io/")
    client = dxapi.Client()
    assert client.base_url == "https://api.acme.getdx.io"
    assert token not in repr(client) and token not in repr(client._session)
    monkeypatch.delenv("DX_API_TOKEN")
    with pytest.raises(ValueError, match="DX_API_TOKEN"):
        dxapi.Client()


def test_plain_http_is_refused_except_loopback(token: str) -> None:
    with pytest.raises(ValueError, match="unencrypted"):
        dxapi.Client(token=token, base_url="http://api.getdx.com")
    assert (
        dxapi.Client(token=token, base_url="http://127.0.0.1:8080").base_url
        == "http://127.0.0.1:8080"
    )


async def test_caller_owned_session_is_used_and_left_open(mocked: Any, token: str) -> None:
    mocked.get(
        f"{BASE}/catalog.entities.info?identifier=x",
        payload={"ok": True, "entity": {"identifier": "x"}},
    )
    async with aiohttp.ClientSession() as http:
        async with dxapi.Client(token=token, session=http) as dx:
            await dx.catalog.entities.info(identifier="x")
        assert not http.closed


async def test_with_options_shares_the_bucket(mocked: Any, dx: dxapi.Client) -> None:
    fast = dx.with_options(retries=0, timeout=5)
    assert fast.limiter is dx.limiter
    assert fast._session.retry.max_retries == 0 and fast._session.timeout.read == 5


async def test_callback_sees_each_page_request(mocked: Any, dx: dxapi.Client) -> None:
    seen: list[str] = []

    def cb(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(str(url))
        return CallbackResult(
            payload={"ok": True, "tasks": [], "response_metadata": {"next_cursor": None}}
        )

    mocked.get(re.compile(r".*catalog\.entities\.tasks.*"), callback=cb)
    assert [t async for t in dx.catalog.entities.tasks(identifier="app", limit=10)] == []
    assert seen == [f"{BASE}/catalog.entities.tasks?identifier=app&limit=10"]


async def test_a_call_checks_nothing_until_it_is_awaited() -> None:
    # Every call is a coroutine: a bad name or argument is raised by the await, so
    # gather(..., return_exceptions=True) collects it beside the other answers.
    import asyncio

    from dxapi.testing import MockResponse, MockTransport

    transport = MockTransport(lambda request: MockResponse(json={"ok": True, "entity": {}}))
    async with dxapi.Client("t", base_url="https://x.test", transport=transport) as dx:
        calls = [
            dx.call("no.such_method"),
            dx.call("catalog.entities.info"),  # missing its identifier
            dx.catalog.entities.info(identifier=7),  # type: ignore[arg-type]
            dx.call("catalog.entities.info", identifier="a"),
        ]
        got = await asyncio.gather(*calls, return_exceptions=True)
    assert [type(g).__name__ for g in got] == ["ArgumentError"] * 3 + ["dict"]
    assert "no such web method 'no.such_method'" in str(got[0])
    assert len(transport.requests) == 1
