"""Sigma v2 on the fake built from its registry: the seed's endpoints and its workflow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dxapi import APIError, ArgumentError
from dxapi.peers import SigmaClient
from dxapi.testing import FakePeer

SEED = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "fixtures"
    / "peers"
    / "sigma-rest-v2-endpoints.txt"
)


def seed_endpoints() -> set[tuple[str, str]]:
    """(verb, path with every placeholder as {}) for each endpoint line of the seed."""
    out = set()
    for verb, path in re.findall(r"^(GET|POST|PUT|PATCH|DELETE) (/\S+)", SEED.read_text(), re.M):
        path = path.split("?")[0]
        path = re.sub(r"\{[^}]+\}|:[A-Za-z]+", "{}", path)
        out.add((verb, path))
    return out


def test_every_seed_endpoint_is_a_typed_method() -> None:
    declared = {
        (s.http, re.sub(r"\{[^}]+\}", "{}", s.path)) for s in SigmaClient.methods().values()
    }
    endpoints = seed_endpoints()
    assert len(endpoints) >= 35
    assert endpoints - declared == set()
    assert declared - endpoints == set()


async def test_teams_workflow_list_pages_create_patch_members_delete() -> None:
    async with FakePeer("sigma") as fake:
        fake.add("teams", *({"name": f"team {n}"} for n in range(5)))
        async with fake.client() as sigma:
            first = await sigma.teams.list(limit=2)
            assert len(first.entries) == 2 and first.next_page == "2" and first.has_more
            names = [t["name"] async for t in sigma.teams.list(limit=2)]
            assert names == [f"team {n}" for n in range(5)]
            team = await sigma.teams.create(name="analysts", description="BI")
            team_id = team["teamId"]
            done = await sigma.teams.members.update(team_id=team_id, add=["m1", "m2"])
            assert done == {}  # Sigma: "Returns an empty object"
            await sigma.teams.delete(team_id=team_id)
            with pytest.raises(APIError) as err:
                await sigma.teams.info(team_id=team_id)
            assert err.value.status == 404 and err.value.error == "NOT_FOUND"
    verbs = [(r.http, r.path) for r in fake.requests]
    assert ("PATCH", f"/v2/teams/{team_id}/members") in verbs
    assert ("DELETE", f"/v2/teams/{team_id}") in verbs
    patch = next(r for r in fake.requests if r.http == "PATCH")
    assert patch.body == {"add": ["m1", "m2"]}  # the path argument is not in the body
    assert all(r.headers["Authorization"] == "***" for r in fake.requests)


async def test_path_arguments_are_quoted_whole() -> None:
    async with FakePeer("sigma") as fake:
        fake.add("teams", {"teamId": "a/b c", "name": "odd"})
        async with fake.client() as sigma:
            team = await sigma.teams.info(team_id="a/b c")
    assert team["name"] == "odd"
    assert fake.requests[-1].path == "/v2/teams/a%2Fb%20c"  # one segment, as sent


async def test_bad_input_is_refused_before_sending() -> None:
    async with FakePeer("sigma") as fake, fake.client() as sigma:
        with pytest.raises(ArgumentError, match="teamId"):
            await sigma.teams.info()  # type: ignore[call-arg]
        for bad in ("", ".", ".."):  # "..": /v2/teams/.. would become /v2
            with pytest.raises(ArgumentError, match="not a path segment"):
                await sigma.teams.delete(team_id=bad)
        with pytest.raises(ArgumentError, match="no body"):
            await sigma.teams.delete(team_id="x", extra_body={"a": 1})
    assert fake.requests == []


async def test_wrong_token_is_a_typed_error() -> None:
    async with FakePeer("sigma") as fake, SigmaClient("wrong", base_url=fake.url) as sigma:
        with pytest.raises(APIError) as err:
            await sigma.whoami.info()
    assert err.value.status == 401 and err.value.error == "UNAUTHORIZED"


async def test_query_download_streams_the_answer_with_the_token() -> None:
    async with FakePeer("sigma") as fake:
        fake.handle("queries.download", lambda call: f"id,name\n{call.args['queryId']},a\n")
        async with fake.client() as sigma:
            body = b"".join([chunk async for chunk in sigma.queries.download(query_id="q 1")])
    assert body == b"id,name\nq 1,a\n"
    assert fake.requests[-1].path == "/v2/query/q%201/download"
