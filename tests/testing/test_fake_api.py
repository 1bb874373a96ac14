"""The fake's contract on real loopback HTTP: routes, auth, validation, data, paging, recording."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import dxapi
from dxapi._convert import structure
from dxapi._generated.specs import METHODS
from dxapi._spec import ArgSpec, TypeRef
from dxapi.testing import FakeDX
from dxapi.testing._synth import result_class

FAST = dxapi.RetryPolicy(max_retries=0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=300, rate_limit=None) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_pagination_yields_each_of_10000_entities_once() -> None:
    async with FakeDX(entities=10_000) as fake, fake.client() as dx:
        seen = [e.identifier async for e in dx.catalog.entities.list(limit=100)]
    assert len(seen) == 10_000
    assert len(set(seen)) == 10_000
    assert fake.counters.by_method["catalog.entities.list"] == 100


async def test_same_seed_same_data_and_last_page_has_null_cursor(fake: FakeDX) -> None:
    async with FakeDX(entities=300, seed=0) as twin:
        assert list(twin.store.entities) == list(fake.store.entities)
    async with fake.client() as dx:
        pages = [p async for p in dx.catalog.entities.list(limit=100).pages()]
    assert [len(p.entities) for p in pages] == [100, 100, 100]
    assert pages[-1].response_metadata is not None
    assert pages[-1].response_metadata.next_cursor is None


async def test_filters_and_search_term(fake: FakeDX) -> None:
    async with fake.client() as dx:
        libs = [e async for e in dx.catalog.entities.list(type="library")]
        hits = [e async for e in dx.catalog.entities.list(search_term="00042")]
    assert libs and all(e.type == "library" for e in libs)
    assert [e.identifier for e in hits] == [i for i in fake.store.entities if "00042" in i]


async def test_limit_bounds_and_foreign_cursor_are_422(fake: FakeDX, http: Any) -> None:
    url = fake.url + "/catalog.entities.list"
    for query in ({"limit": "101"}, {"limit": "0"}, {"cursor": "bogus"}):
        async with http.get(url, params=query, headers=bearer(fake.token)) as resp:
            body = await resp.json()
            assert resp.status == 422, query
            assert body["ok"] is False
            assert body["error"] in ("invalid_arguments", "invalid_cursor")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_every_paginated_method_pages_to_the_end(fake: FakeDX) -> None:
    styles = set()
    async with fake.client() as web, fake.datacloud_client() as dc:
        for name, spec in sorted(METHODS.items()):
            if spec.page is None or any(a.required for a in spec.args):
                continue
            client: Any = web if spec.api == "web" else dc
            call = client.paginate(name)
            items = [json.dumps(i, sort_keys=True) async for i in call]
            assert items, name
            assert len(set(items)) == len(items), name
            assert call.pages_fetched >= 2 or len(items) <= 50, name
            styles.add(spec.page.style)
    assert styles == {"cursor", "page"}


async def test_entity_writes_then_reads(fake: FakeDX) -> None:
    team = next(iter(fake.store.teams))
    async with fake.client(retries=FAST) as dx:
        made = await dx.catalog.entities.create(
            identifier="pay-api", type="service", name="Pay", owner_team_ids=[team]
        )
        assert made.entity.owner_teams and made.entity.owner_teams[0].id == team
        await dx.catalog.entities.update(identifier="pay-api", properties={"tier": "Tier-1"})
        got = await dx.catalog.entities.info(identifier="pay-api")
        assert got.entity.properties == {"tier": "Tier-1"}
        assert got.entity.name == "Pay"
        up = await dx.catalog.entities.upsert(identifier="pay-api", type="service", name="P2")
        assert up.result == "updated_existing_entity"
        with pytest.raises(dxapi.APIError) as conflict:
            await dx.catalog.entities.create(identifier="pay-api", type="service")
        assert conflict.value.status == 409
        await dx.catalog.entities.delete(identifier="pay-api")
        with pytest.raises(dxapi.NotFoundError):
            await dx.catalog.entities.info(identifier="pay-api")
        total = [e async for e in dx.catalog.entities.list(limit=100)]
    assert len(total) == 300


async def test_entity_type_and_relation_writes(fake: FakeDX) -> None:
    async with fake.client(retries=FAST) as dx:
        await dx.catalog.entity_types.create(identifier="queue", name="Queue")
        types = [t.identifier async for t in dx.catalog.entity_types.list()]
        assert "queue" in types
        await dx.catalog.relations.create(
            identifier="svc-q",
            source_entity_type_identifier="service",
            target_entity_type_identifier="queue",
            type="consumes",
            cardinality="many_to_many",
        )
        rel = await dx.catalog.relations.info(identifier="svc-q")
        assert rel.relation.target_entity_type_identifier == "queue"
        a, b = list(fake.store.entities)[:2]
        await dx.catalog.relation_edges.add(
            relation_identifier="svc-q", source_entity_identifier=a, target_entity_identifier=b
        )
        edges = [
            e
            async for e in dx.catalog.relation_edges.list(
                entity_identifier=a, relation_identifier="svc-q"
            )
        ]
        assert [e.target_entity_identifier for e in edges] == [b]
        await dx.catalog.relations.delete(identifier="svc-q")
        with pytest.raises(dxapi.NotFoundError):
            await dx.catalog.relations.info(identifier="svc-q")


async def test_scorecards_are_stateful(fake: FakeDX) -> None:
    async with fake.client(retries=FAST) as dx:
        published = [c.name async for c in dx.scorecards.list()]
        everything = [c.name async for c in dx.scorecards.list(include_unpublished=True)]
        made = await dx.scorecards.create(name="New", type="LEVEL", entity_filter_type="sql")
        assert made.scorecard is not None and made.scorecard.id
        await dx.scorecards.update(id=made.scorecard.id, name="Renamed")
        assert (await dx.scorecards.info(id=made.scorecard.id)).scorecard.name == "Renamed"
        await dx.scorecards.delete(id=made.scorecard.id)
        with pytest.raises(dxapi.NotFoundError):
            await dx.scorecards.info(id=made.scorecard.id)
    assert len(published) == 2 and len(everything) == 3


async def test_teams_and_users_are_seeded(fake: FakeDX) -> None:
    async with fake.client() as dx:
        teams = await dx.call("teams.list")
        first = teams["teams"][0]
        info = await dx.call("teams.info", team_id=first["id"])
        assert info["team"]["name"] == first["name"]
        users = [u async for u in dx.paginate("users.list")]
    assert len(users) == len(fake.store.users)


async def test_custom_data_and_deployments_are_stateful(fake: FakeDX) -> None:
    async with fake.datacloud_client(retries=FAST) as dc:
        await dc.call("customData.set", reference="acme/api", key="a", value={"v": 1})
        await dc.call("customData.set", reference="acme/api", key="a", value={"v": 2})
        await dc.call(
            "customData.setAll",
            data=[{"reference": "acme/api", "key": "b", "value": {"v": 3}}],
        )
        got = await dc.call("customData.get", reference="acme/api", key="a")
        assert got["data"]["value"] == {"v": 2}
        every = await dc.call("customData.getAllByReference", reference="acme/api")
        assert sorted(r["key"] for r in every["data"]) == ["a", "b"]
        await dc.call("customData.delete", reference="acme/api", key="a")
        with pytest.raises(dxapi.NotFoundError):
            await dc.call("customData.get", reference="acme/api", key="a")
        await dc.call("customData.deleteAllByReference", reference="acme/api")
        assert not fake.store.custom_data

        await dc.call(
            "deployments.create", service="api", deployed_at=1680723287, reference_id="r1"
        )
        await dc.call(
            "deployments.create", service="api", deployed_at=1680723287, reference_id="r1"
        )
        with pytest.raises(dxapi.APIError) as reused:
            await dc.call("deployments.create", service="web", deployed_at=1, reference_id="r1")
        assert reused.value.status == 422
        await dc.call("deployments.update", reference_id="r1", commit_sha="abcdef1")
        assert fake.store.deployments["r1"]["commit_sha"] == "abcdef1"
        await dc.call("incidents.upsert", reference_id="i1", started_at="2024-01-01T11:22:33")
        assert "i1" in fake.store.incidents
        await dc.call("incidents.delete", reference_id="i1")
        await dc.call("incidents.delete", reference_id="i1")  # idempotent
    assert fake.requests[0].path.startswith("/api/")


async def test_form_encoded_posts_are_read(fake: FakeDX) -> None:
    async with fake.datacloud_client(encoding="form") as dc:
        await dc.call("customData.set", reference="r", key="k", value={"x": [1, 2]})
    assert fake.store.custom_data[("r", "k")]["value"] == {"x": [1, 2]}
    assert fake.requests[-1].body == {"reference": "r", "key": "k", "value": '{"x":[1,2]}'}


async def test_upload_nullable_and_prefixed_arguments(fake: FakeDX) -> None:
    async with fake.client() as dx, fake.datacloud_client() as dc:
        await dx.call("orgfiles.upload", file=b"email,team\na@x.io,Core\n")
        await dx.call("queries.datafeed", feed_token="t", variables={"repo": "api", "n": "2"})
        await dc.call(
            "incidents.upsert",
            reference_id="i9",
            started_at="2024-01-01T11:22:33",
            services=[{"identifier": "api"}],
        )
        assert fake.store.incidents["i9"]["services"] == [{"identifier": "api"}]
        await dc.call(
            "incidents.upsert", reference_id="i9", started_at="2024-01-01", services=None
        )
    assert "services" not in fake.store.incidents["i9"]  # an explicit null clears
    upload = fake.requests_for("orgfiles.upload")[0].body["file"]
    assert (upload["size"], upload["content"]) == (23, b"email,team\na@x.io,Core\n")
    assert fake.requests_for("queries.datafeed")[0].query == {
        "feed_token": "t",
        "var-repo": "api",
        "var-n": "2",
    }


# ---------------------------------------------------------------------- auth, verbs, 422


async def test_auth_errors_map_to_auth_error(fake: FakeDX) -> None:
    fake.add_token("reader", scopes=["catalog:read"])
    async with dxapi.Client(token="wrong", base_url=fake.url, retries=FAST) as dx:
        with pytest.raises(dxapi.AuthError) as bad:
            await dx.catalog.entities.list()
    assert (bad.value.status, bad.value.error) == (401, "invalid_auth")
    async with dxapi.Client(token="reader", base_url=fake.url, retries=FAST) as dx:
        await dx.catalog.entities.list()
        with pytest.raises(dxapi.AuthError) as scope:
            await dx.catalog.entities.create(identifier="x", type="service")
    assert (scope.value.status, scope.value.error) == (403, "missing_scope")
    assert scope.value.details["needed"] == "catalog:write:entities"


async def test_missing_token_is_not_authed(fake: FakeDX, http: Any) -> None:
    async with http.get(fake.url + "/catalog.entities.list") as resp:
        assert resp.status == 401
        assert (await resp.json())["error"] == "not_authed"


async def test_wrong_verb_and_unknown_method(fake: FakeDX, http: Any) -> None:
    async with http.post(fake.url + "/catalog.entities.list", headers=bearer(fake.token)) as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET"
        assert (await resp.json())["ok"] is False
    async with http.get(fake.url + "/nope.nothing", headers=bearer(fake.token)) as resp:
        assert resp.status == 404
    async with http.get(fake.url + "/api/catalog.entities.list", headers=bearer(fake.token)) as r:
        assert r.status == 404  # a Web method is not served under the Data Cloud prefix


@pytest.mark.parametrize(
    ("path", "kwargs", "problem"),
    [
        ("/catalog.entities.info", {"params": {}}, "missing required argument 'identifier'"),
        ("/catalog.entities.list", {"params": {"limit": "ten"}}, "must be an integer"),
        (
            "/catalog.relations.create",
            {
                "json": {
                    "identifier": "r",
                    "source_entity_type_identifier": "service",
                    "target_entity_type_identifier": "service",
                    "type": "eats",
                    "cardinality": "one_to_one",
                }
            },
            "must be one of",
        ),
        ("/catalog.entities.create", {"json": {"identifier": 5, "type": "x"}}, "must be a string"),
    ],
)
async def test_bad_arguments_are_422(
    fake: FakeDX, http: Any, path: str, kwargs: dict[str, Any], problem: str
) -> None:
    verb = "GET" if "json" not in kwargs else "POST"
    async with http.request(verb, fake.url + path, headers=bearer(fake.token), **kwargs) as resp:
        body = await resp.json()
    assert resp.status == 422
    assert body["ok"] is False and body["error"] == "invalid_arguments"
    assert any(problem in p for p in body["problems"]), body


# ------------------------------------------------------------------ every method answers


def _value(t: TypeRef, arg: ArgSpec) -> Any:
    if arg.enum:
        return arg.enum[0]
    if isinstance(t, tuple):
        kind = t[0]
        if kind == "list":
            return [_value(t[1], arg)]
        if kind == "union":
            return _value(t[1], arg)
        return {}
    return {
        "str": "x",
        "int": 1,
        "float": 1.5,
        "bool": True,
        "json": {"a": 1},
        "datetime": "2024-01-01T00:00:00Z",
        "date": "2024-01-01",
        "file": b"a,b\n1,2\n",
    }[t]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_every_registry_method_answers_its_documented_shape(fake: FakeDX) -> None:
    handled = set(fake.server.handlers)
    refused: list[tuple[str, int]] = []
    async with fake.client(retries=FAST) as web, fake.datacloud_client(retries=FAST) as dc:
        for name, spec in sorted(METHODS.items()):
            args = {a.name: _value(a.type, a) for a in spec.args if a.required}
            client: Any = web if spec.api == "web" else dc
            try:
                payload = await client.call(name, **args)
            except dxapi.APIError as exc:
                refused.append((name, exc.status))
                continue
            cls = result_class(spec)
            if cls is not None:
                structure(payload, cls)
    # only stateful handlers may refuse made-up arguments, and never with a 5xx
    assert all(name in handled and status < 500 for name, status in refused), refused
    statuses = {r.status for r in fake.requests}
    assert statuses <= {200, 202, 400, 404, 409, 422}, statuses


# --------------------------------------------------------------------------- recording


async def test_requests_are_recorded_with_the_token_masked(fake: FakeDX) -> None:
    async with fake.client() as dx:
        await dx.catalog.entities.list(limit=3, type="service")
        await dx.catalog.entities.upsert(identifier="rec", type="service", name="R")
    listed, upserted = fake.requests
    assert (listed.method, listed.http, listed.status) == ("catalog.entities.list", "GET", 200)
    assert listed.query == {"limit": "3", "type": "service"}
    assert listed.headers["Authorization"] == "Bearer ***"
    assert fake.token not in repr(fake.requests)
    assert upserted.body == {"identifier": "rec", "type": "service", "name": "R"}
    assert fake.requests_for("catalog.entities.upsert") == [upserted]


@pytest.mark.dx_fake(entities=7, rate_limit=None)
async def test_plugin_fixtures(dx_fake: FakeDX, dx_client: dxapi.Client) -> None:
    assert len([e async for e in dx_client.catalog.entities.list()]) == 7
    assert dx_fake.counters.accepted == 1


def test_scopes_cover_sub_scopes_and_every_listed_scope_is_needed() -> None:
    from dxapi.testing._app import _has_scope

    assert _has_scope(None, "catalog:read")
    assert _has_scope(frozenset({"catalog:write"}), "catalog:write:entities")
    assert not _has_scope(frozenset({"catalog:read"}), "catalog:write:entities")
    both = "snapshots:admin snapshots:read"
    assert not _has_scope(frozenset({"snapshots:admin"}), both)
    assert _has_scope(frozenset({"snapshots:admin", "snapshots:read"}), both)
    assert _has_scope(frozenset({"catalog:read"}), None)


async def test_entity_scorecards_are_deterministic_and_need_the_entity(fake: FakeDX) -> None:
    async with fake.client() as dx:
        first = await dx.catalog.entities.scorecards(identifier="amber-falcon-00000")
        again = await dx.catalog.entities.scorecards(identifier="amber-falcon-00000")
        assert first == again
        assert {card.type for card in first.scorecards} == {"LEVEL", "POINTS"}
        for card in first.scorecards:
            assert [c.name for c in card.checks or []] == [
                "Has an owner", "Runbook linked", "On-call rotation", "Dependencies up to date",
            ]  # fmt: skip
        with pytest.raises(dxapi.NotFoundError):
            await dx.catalog.entities.scorecards(identifier="no-such-entity")
