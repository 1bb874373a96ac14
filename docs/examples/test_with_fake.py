"""Test code that uses dxapi against FakeDX, with the pytest fixtures dxapi ships.

    pip install 'dxapi[pytest]'
    pytest docs/examples/test_with_fake.py

``dx_fake`` is a fake DX server on 127.0.0.1 (the ``dx_fake`` marker passes options to it);
``dx_client`` and ``dx_datacloud_client`` are open clients pointed at it. These tests use
pytest-asyncio's marker; with anyio's plugin instead, mark them ``@pytest.mark.anyio``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import dxapi
from dxapi.testing import FakeDX

pytestmark = pytest.mark.dx_fake(seed=7, entities=30, rate_limit=None)


# The code under test: your own functions, taking a client.
async def unowned_services(dx: dxapi.Client) -> list[str]:
    services = dx.catalog.entities.list(type="service")
    return [e.identifier async for e in services if not (e.owner_teams or e.owner_users)]


async def record_deploy(dc: dxapi.DataCloudClient, service: str, ref: str) -> None:
    await dc.deployments.create(reference_id=ref, service=service, deployed_at=datetime.now(UTC))


@pytest.mark.asyncio
async def test_finds_the_unowned_service(dx_fake: FakeDX, dx_client: dxapi.Client) -> None:
    # The fake is stateful: what a test writes, later calls read back.
    await dx_client.catalog.entities.create(identifier="orphan", type="service", name="Orphan")
    assert await unowned_services(dx_client) == ["orphan"]
    # Every request is recorded (with the token masked).
    assert [r.method for r in dx_fake.requests] == [
        "catalog.entities.create",
        "catalog.entities.list",
    ]


@pytest.mark.asyncio
@pytest.mark.dx_fake(entities=300)  # replaces the module's marker: seed 0, rate limit on
async def test_reads_every_page(dx_fake: FakeDX, dx_client: dxapi.Client) -> None:
    assert await unowned_services(dx_client) == []
    assert len(dx_fake.requests_for("catalog.entities.list")) == 2  # 60 services: 2 pages of 50


@pytest.mark.asyncio
async def test_survives_a_503(dx_fake: FakeDX, dx_client: dxapi.Client) -> None:
    dx_fake.inject("catalog.entities.list", status=503, times=1)
    assert await unowned_services(dx_client) == []  # a GET is safe to repeat, so it was
    assert len(dx_fake.requests_for("catalog.entities.list")) == 2


@pytest.mark.asyncio
async def test_deploy_is_recorded(
    dx_fake: FakeDX, dx_datacloud_client: dxapi.DataCloudClient
) -> None:
    await record_deploy(dx_datacloud_client, "payments-api", "ci/42/1")
    assert dx_fake.store.deployments["ci/42/1"]["service"] == "payments-api"
