"""Escape hatches: extra_query/extra_body/extra_headers on every call, and methods the registry
lacks, called by name and verb, served by FakeDX.add_method, end to end on the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import dxapi
from dxapi import APIError, ArgumentError
from dxapi._generated.shapes import ServiceRef
from dxapi._generated.specs import METHODS
from dxapi._retry import RetryPolicy
from dxapi._spec import UNSET, adhoc_spec
from dxapi._version import CLIENT_HEADERS, __version__
from dxapi._wire import encode_request
from dxapi.testing import FakeDX

FAST = RetryPolicy(backoff=0.001, max_backoff=0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=3) as fake:
        yield fake


@pytest.fixture
async def dx(fake: FakeDX) -> AsyncIterator[dxapi.Client]:
    async with fake.client(retries=FAST, rate_limit=(100, 60.0)) as client:
        yield client


def header(record: Any, name: str) -> list[str]:
    return [v for k, v in record.headers.items() if k.lower() == name.lower()]


# ------------------------------------------------------------------ per-call hatches


async def test_extra_query_is_appended_to_a_get(fake: FakeDX, dx: dxapi.Client) -> None:
    await dx.call("catalog.entities.list", limit=2, extra_query={"new_filter": "x", "deep": True})
    [sent] = fake.requests
    assert sent.query == {"limit": "2", "new_filter": "x", "deep": "true"}


async def test_extra_body_sends_what_the_registry_would_refuse(
    fake: FakeDX, dx: dxapi.Client
) -> None:
    # The registry types `services` as a list of objects; real clients send names.
    await dx.call(
        "catalog.entities.create",
        identifier="svc",
        type="service",
        extra_body={"environment": "prod", "services": ["svc-a", "svc-b"], "n": None},
    )
    [sent] = fake.requests_for("catalog.entities.create")
    assert sent.body == {
        "identifier": "svc",
        "type": "service",
        "environment": "prod",
        "services": ["svc-a", "svc-b"],
        "n": None,
    }


async def test_extra_body_on_a_form_client_travels_as_form_fields(fake: FakeDX) -> None:
    async with fake.datacloud_client(encoding="form") as dc:
        await dc.call(
            "deployments.create",
            service="api",
            deployed_at=1700000000,
            extra_body={"environment": "prod", "tags": ["a", "b"]},
        )
    [sent] = fake.requests_for("deployments.create")
    assert sent.body == {
        "service": "api",
        "deployed_at": "1700000000",
        "environment": "prod",
        "tags": '["a","b"]',
    }


async def test_extra_query_on_a_post_and_extra_headers(fake: FakeDX, dx: dxapi.Client) -> None:
    await dx.call(
        "catalog.entities.delete",
        identifier="amber-falcon-00000",
        extra_query={"dry_run": True},
        extra_headers={"X-DX-Agent-Name": "ci", "user-agent": "mytool/2"},
    )
    [sent] = fake.requests_for("catalog.entities.delete")
    assert sent.query == {"identifier": "amber-falcon-00000", "dry_run": "true"}
    assert header(sent, "X-DX-Agent-Name") == ["ci"]
    assert header(sent, "User-Agent") == ["mytool/2"]  # replaces ours, never sent twice
    assert header(sent, "X-Client-Type") == ["dxapi"]


async def test_extras_ride_along_every_page(fake: FakeDX, dx: dxapi.Client) -> None:
    pages = [p async for p in dx.paginate("catalog.entities.list", limit=1, extra_query={"x": 1})]
    assert len(pages) == 3
    assert [r.query.get("x") for r in fake.requests] == ["1", "1", "1"]
    assert [r.query.get("cursor") is None for r in fake.requests] == [True, False, False]


async def test_typed_methods_pass_extras_through_the_session(
    fake: FakeDX, dx: dxapi.Client
) -> None:
    # Generated methods hand the session their keyword arguments as one mapping; hatches not
    # given arrive as UNSET or None and change nothing.
    from dxapi._generated.web.catalog import CatalogEntitiesInfoResult

    spec = METHODS["catalog.entities.info"]
    session = dx._session
    args = {"identifier": "amber-falcon-00000", "extra_body": None, "extra_headers": UNSET}
    typed = await session.request(spec, CatalogEntitiesInfoResult, args)
    assert typed.entity.identifier
    extra = {**args, "extra_query": {"expand": "owners"}, "extra_headers": {"X-Trace": "t1"}}
    await session.request(spec, CatalogEntitiesInfoResult, extra)
    plain, hatched = fake.requests
    assert plain.query == {"identifier": "amber-falcon-00000"} and header(plain, "X-Trace") == []
    assert hatched.query == {"identifier": "amber-falcon-00000", "expand": "owners"}
    assert header(hatched, "X-Trace") == ["t1"]


def test_extras_encode_like_untyped_values_after_the_declared_ones() -> None:
    import datetime as dt

    spec = METHODS["deployments.create"]  # deployed_at is declared as Unix seconds
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    prepared = encode_request(
        spec,
        {
            "service": "api",
            "extra_body": {"deployed_at": when, "ref": ServiceRef(identifier="x")},
            "extra_headers": {"X-A": "1"},
        },
    )
    # sent as given: an extra datetime is ISO text, not the declared argument's Unix format
    assert prepared.json == {
        "service": "api",
        "deployed_at": "2024-01-01T00:00:00+00:00",
        "ref": {"identifier": "x"},
    }
    assert prepared.headers == (("X-A", "1"),)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"identifier": "a", "extra_body": {"identifier": "b"}}, ["extra_body['identifier']"]),
        ({"limit": 2, "extra_query": {"limit": "3"}}, ["extra_query['limit']", "once"]),
        ({"extra_body": {"x": 1}}, ["extra_body", "GET", "no body"]),
        ({"extra_query": ["a"]}, ["extra_query must be a mapping", "list"]),
        ({"extra_query": {"x": None}}, ["extra_query['x'] is None"]),
        ({"extra_query": {1: "x"}}, ["extra_query has the key 1"]),
        ({"extra_headers": {"Authorization": "Bearer other"}}, ["'Authorization'", "itself"]),
        ({"extra_headers": {"host": "evil.example"}}, ["'host'"]),
        ({"extra_headers": {"Content-Length": "0"}}, ["'Content-Length'"]),
        ({"extra_headers": {"X-A": "1\r\nX-B: 2"}}, ["'X-A'", "line break"]),
        ({"extra_headers": {"X A": "1"}}, ["not an HTTP header name"]),
        ({"extra_headers": {"X-A": 1}}, ["'X-A'", "must be str"]),
        ({"extra_headers": {"X-A": "1", "x-a": "2"}}, ["'x-a' twice"]),
        ({"extra_headers": {"X-A": "café"}}, ["non-ASCII"]),
    ],
)
async def test_bad_extras_are_refused_before_anything_is_sent(
    fake: FakeDX, dx: dxapi.Client, args: dict[str, Any], words: list[str]
) -> None:
    name = "catalog.entities.info" if "identifier" in args else "catalog.entities.list"
    if "identifier" in args and "extra_body" in args:
        name = "catalog.entities.create"
        args = {**args, "type": "service"}
    with pytest.raises(ArgumentError) as info:
        await dx.call(name, **args)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert fake.requests == []
    assert dx.limiter is not None and dx.limiter.granted == 0


# ------------------------------------------------------------------ who is calling


async def test_every_request_says_who_is_calling(fake: FakeDX) -> None:
    # a caller's own HTTP session carries no defaults of ours
    async with aiohttp.ClientSession() as own, fake.client(session=own) as dx:
        await dx.call("teams.list")
        with pytest.raises(dxapi.NotFoundError):  # an unknown method gets them too
            await dx.post("things.new")
    expected = {
        "User-Agent": f"dxapi/{__version__}",
        "X-Client-Type": "dxapi",
        "X-Client-Version": __version__,
    }
    assert expected == CLIENT_HEADERS
    for sent in fake.requests:
        for name, value in CLIENT_HEADERS.items():
            assert header(sent, name) == [value]


# -------------------------------------------------- methods the registry does not know


async def test_an_unregistered_post_end_to_end(fake: FakeDX, dx: dxapi.Client) -> None:
    seen: list[dict[str, Any]] = []

    def handler(args: dict[str, Any]) -> dict[str, Any]:
        seen.append(args)
        return {"thing": {"id": "t-1", "echo": args["name"]}}

    fake.add_method("deployments.newThing", handler=handler)
    assert "deployments.newThing" not in METHODS
    payload = await dx.post(
        "deployments.newThing",
        {"name": "n", "count": 2, "tags": ["a"]},
        extra_query={"v": 2},
        extra_headers={"X-Trace": "t"},
    )
    assert payload == {"ok": True, "thing": {"id": "t-1", "echo": "n"}}
    assert seen == [{"v": "2", "name": "n", "count": 2, "tags": ["a"]}]
    [sent] = fake.requests
    assert (sent.http, sent.path) == ("POST", "/deployments.newThing")
    assert sent.method == "deployments.newThing"
    assert sent.body == {"name": "n", "count": 2, "tags": ["a"]}
    assert header(sent, "X-Trace") == ["t"] and header(sent, "Authorization") == ["Bearer ***"]
    assert fake.counters.by_method["deployments.newThing"] == 1  # the fake's rate window
    assert dx.limiter is not None and dx.limiter.granted == 1  # and ours
    assert dx.stats["requests"] == 1


async def test_an_unregistered_get_with_a_fixed_answer(fake: FakeDX, dx: dxapi.Client) -> None:
    fake.add_method("insights.summary", http="GET", answer={"score": 7})
    assert await dx.get("insights.summary", {"team": "a b", "n": 3}) == {"ok": True, "score": 7}
    [sent] = fake.requests
    assert (sent.http, sent.query) == ("GET", {"team": "a b", "n": "3"})


async def test_an_unregistered_post_is_not_resent_after_a_5xx(
    fake: FakeDX, dx: dxapi.Client
) -> None:
    fake.add_method("deployments.newThing", answer={"id": 1})
    fake.inject("deployments.newThing", status=503, times=1)
    with pytest.raises(APIError) as info:
        await dx.post("deployments.newThing", {"a": 1})
    assert info.value.status == 503
    assert len(fake.requests) == 1  # it may have been acted on: a write is not repeated
    fake.inject("deployments.newThing", status=503, times=1)
    assert await dx.post("deployments.newThing", {"a": 1}, idempotent=True) == {
        "ok": True,
        "id": 1,
    }
    assert len(fake.requests) == 3  # told it is safe: retried once, then answered


async def test_an_unregistered_get_is_retried_and_429s_always_are(
    fake: FakeDX, dx: dxapi.Client
) -> None:
    fake.add_method("insights.summary", http="GET", answer={"score": 7})
    fake.add_method("deployments.newThing", answer={"id": 1})
    fake.inject("insights.summary", status=502, times=2)
    fake.inject("deployments.newThing", status=429, headers={"Retry-After": "0"}, times=1)
    assert (await dx.get("insights.summary"))["score"] == 7
    assert (await dx.post("deployments.newThing"))["id"] == 1  # a 429 was never acted on
    assert [r.status for r in fake.requests] == [502, 502, 200, 429, 200]
    assert dx.stats["retries"] == 3


async def test_unregistered_methods_on_data_cloud_and_their_scopes(fake: FakeDX) -> None:
    fake.add_method("incidents.archive", api="datacloud", answer={"n": 1}, scope="incidents:write")
    fake.add_token("narrow", scopes=["deployments:write"])
    async with fake.datacloud_client(encoding="form") as dc:
        assert await dc.post("incidents.archive", {"ids": ["a"], "all": False}) == {
            "ok": True,
            "n": 1,
        }
    [sent] = fake.requests
    assert sent.path == "/api/incidents.archive"
    assert sent.body == {"ids": '["a"]', "all": "false"}
    async with dxapi.DataCloudClient(token="narrow", base_url=fake.url + "/api") as dc:
        with pytest.raises(dxapi.APIError) as info:
            await dc.post("incidents.archive")
    assert info.value.status == 403
    async with fake.client() as web:  # the web API does not have it
        with pytest.raises(dxapi.NotFoundError):
            await web.post("incidents.archive")


@pytest.mark.parametrize(
    "name", ["teams/list", "../admin", "teams..list", "teams", "teams.list ", "", "a.b?c=1", "é.x"]
)
async def test_method_names_are_checked_before_sending(
    fake: FakeDX, dx: dxapi.Client, name: str
) -> None:
    with pytest.raises(ArgumentError, match=r"family\.method"):
        await dx.get(name)
    with pytest.raises(ArgumentError, match=r"family\.method"):
        await dx.post(name, {"a": 1})
    assert fake.requests == []


async def test_get_and_post_check_values_like_any_call(fake: FakeDX, dx: dxapi.Client) -> None:
    with pytest.raises(ArgumentError, match=r"extra_query\['q'\] has a lone surrogate"):
        await dx.get("insights.summary", {"q": "pay\udcffments"})
    with pytest.raises(ArgumentError, match=r"extra_body\['n'\] is nan"):
        await dx.post("insights.summary", {"n": float("nan")})
    assert fake.requests == [] and dx.limiter is not None and dx.limiter.granted == 0


async def test_call_of_an_unknown_name_points_at_get_and_post(dx: dxapi.Client) -> None:
    with pytest.raises(ArgumentError, match=r"dx\.get\(name, params\) or dx\.post\(name, body\)"):
        await dx.call("deployments.newThing")
    with pytest.raises(ArgumentError, match="it is a datacloud method"):
        await dx.call("deployments.create", service="x")


def test_an_open_spec_keeps_only_the_registry_facts_that_protect_the_exchange() -> None:
    known = METHODS["studio.queryRuns.info"]
    spec = adhoc_spec("web", known.name, "GET", idempotent=True, like=known)
    assert spec.args == () and spec.rate_limit == known.rate_limit and spec.idempotent
    assert adhoc_spec("web", "a.b", "POST", idempotent=False).rate_limit is None


def test_add_method_refuses_what_it_cannot_serve() -> None:
    fake = FakeDX()
    with pytest.raises(ValueError, match="registry method"):
        fake.add_method("teams.list", http="GET")
    with pytest.raises(ValueError, match="not both"):
        fake.add_method("a.b", answer={}, handler=lambda args: {})
    with pytest.raises(ValueError, match="http"):
        fake.add_method("a.b", http="PUT")  # type: ignore[arg-type]
    fake.add_method("deployments.create", api="web")  # a web method the registry lacks
