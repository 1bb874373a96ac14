"""DataGalaxy v2 on the fake built from its registry: the guide's create-a-source workflow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dxapi import ArgumentError
from dxapi.peers import DataGalaxyClient
from dxapi.testing import FakePeer

SEED = Path(__file__).resolve().parent / "fixtures" / "peers" / "datagalaxy-v2-getting-started.txt"


def test_every_seed_route_is_a_typed_method() -> None:
    routes = set(re.findall(r"Call the (GET|POST) /v2(/\w+) route", SEED.read_text()))
    assert len(routes) == 4
    declared = {(s.http, "/" + s.path.split("/")[1]) for s in DataGalaxyClient.methods().values()}
    assert routes <= declared


async def test_workspaces_users_tags_then_create_a_source_with_upsert() -> None:
    async with FakePeer("datagalaxy") as fake:
        fake.add(
            "workspaces",
            {"id": "ws-1", "name": "My Workspace", "defaultVersionId": "v-1", "description": None},
        )
        fake.add(
            "users",
            {"userId": "u1", "email": "john.doe@example.com", "licenseLevel": "Admin"},
            {"userId": "u2", "email": "jane.doe@example.com", "licenseLevel": "Steward"},
            *({"userId": f"u{n}", "email": f"user{n}@example.com"} for n in range(3, 18)),
        )
        fake.add(
            "tags", {"name": "GDPR", "description": "General Data Protection"}, {"name": "CRM"}
        )
        async with fake.client() as dg:
            workspaces = await dg.workspaces.list()
            version = workspaces.projects[0].default_version_id
            assert version == "v-1" and workspaces.projects[0].description is None
            first = await dg.users.list(version_id=version, module="catalog", limit=10)
            assert first.pages == 2 and first.total == 17
            emails = [u.email async for u in dg.users.list(version_id=version, limit=10)]
            assert len(emails) == 17 and emails[:2] == [
                "john.doe@example.com",
                "jane.doe@example.com",
            ]
            tags = [t.name async for t in dg.tags.list()]
            assert tags == ["GDPR", "CRM"]
            created = await dg.sources.create(
                version_id=version, name="My NoSQL source", type="NoSql", tags=["GDPR"],
                owners=[emails[0]], stewards=[emails[1]], technical_name="nosql-1",
            )  # fmt: skip
            assert created.location == f"sources/{version}/{created.id}"
            again = await dg.sources.create(
                version_id=version, name="My NoSQL source", type="NoSql", upsert=True,
                technical_name="nosql-1", summary="updated",
            )  # fmt: skip
            assert again.id == created.id  # upsert: the same object, updated
            with pytest.raises(ArgumentError, match="must be one of"):
                await dg.sources.create(version_id=version, name="x", type="Graph")  # type: ignore[arg-type]
    assert len(fake.store["sources"]) == 1
    assert fake.store["sources"][created.id]["summary"] == "updated"
    post = next(r for r in fake.requests if r.http == "POST")
    assert post.path == f"/sources/{version}"
    assert post.body == {
        "name": "My NoSQL source", "type": "NoSql", "tags": ["GDPR"],
        "owners": ["john.doe@example.com"], "stewards": ["jane.doe@example.com"],
        "technicalName": "nosql-1",
    }  # fmt: skip
    users = [r for r in fake.requests if r.path.startswith("/users/")]
    assert users[0].query == {"module": "catalog", "limit": "10"}
