"""The Data Cloud client end to end against FakeDX: state, both encodings, faults, batches."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

import dxapi
import dxapi.testing
from dxapi import RetryPolicy

DEPLOYED = dt.datetime(2023, 4, 5, 19, 34, 47, tzinfo=dt.UTC)


@pytest.fixture
async def fake() -> AsyncIterator[dxapi.testing.FakeDX]:
    async with dxapi.testing.FakeDX() as fake:
        yield fake


def datacloud(fake: dxapi.testing.FakeDX, **options: object) -> dxapi.DataCloudClient:
    return dxapi.DataCloudClient(
        token=fake.token,
        base_url=fake.url + "/api",
        retries=RetryPolicy(max_retries=3, backoff=0.01),
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("encoding", ["json", "form"])
async def test_deployment_create_round_trips(fake: dxapi.testing.FakeDX, encoding: str) -> None:
    async with datacloud(fake, encoding=encoding) as dc:
        result = await dc.deployments.create(
            service="api",
            deployed_at=DEPLOYED,
            reference_id="release-1",
            merge_commit_shas=["a0e61dfff93b", "07788cacf2c"],
            metadata={"version": "v1.11.23"},
        )
    assert type(result).__name__ == "DeploymentsCreateResult"
    (seen,) = fake.requests_for("deployments.create")
    assert (seen.http, seen.path, seen.status) == ("POST", "/api/deployments.create", 200)
    content_type = {k.lower(): v for k, v in seen.headers.items()}["content-type"]
    expected = "application/json" if encoding == "json" else "application/x-www-form-urlencoded"
    assert content_type.startswith(expected)
    stored = fake.store.deployments["release-1"]
    assert stored["service"] == "api"
    assert stored["deployed_at"] == 1680723287
    assert stored["merge_commit_shas"] == ["a0e61dfff93b", "07788cacf2c"]
    assert stored["metadata"] == {"version": "v1.11.23"}


async def test_deployment_lifecycle(fake: dxapi.testing.FakeDX) -> None:
    async with datacloud(fake) as dc:
        await dc.deployments.upsert(reference_id="r2", deployed_at=DEPLOYED, service="web")
        await dc.with_options(encoding="form").deployments.update(
            reference_id="r2", environment="production"
        )
        assert fake.store.deployments["r2"]["environment"] == "production"
        with pytest.raises(dxapi.NotFoundError):
            await dc.deployments.update(reference_id="missing", environment="staging")
        first = await dc.deployments.delete(reference_id="r2")
        again = await dc.deployments.delete(reference_id="r2")  # idempotent
    assert (first.action, first.reference_id) == ("deleted", "r2")
    assert again.reference_id == "r2"
    assert "r2" not in fake.store.deployments


async def test_custom_data_is_stateful(fake: dxapi.testing.FakeDX) -> None:
    async with datacloud(fake) as dc:
        when = dt.datetime(2024, 1, 1, 11, 22, 33, tzinfo=dt.UTC)
        stored = await dc.custom_data.set(
            reference="org/repo", key="version", value={"v": "1.2.3"}, timestamp=when
        )
        assert stored.data is not None and stored.data.value == {"v": "1.2.3"}
        got = await dc.with_options(encoding="form").custom_data.get(
            reference="org/repo", key="version"
        )
        assert got.data is not None
        assert (got.data.id, got.data.timestamp) == (stored.data.id, when)
        report = await dc.custom_data.set_all_chunked(
            ({"reference": "org/repo", "key": f"k{i}", "value": {"i": i}} for i in range(25)),
            chunk_size=10,
            concurrency=3,
        )
        assert report.ok and report.chunks == 3 and report.sent == 25
        every = await dc.custom_data.get_all_by_reference(reference="org/repo")
        assert every.data is not None and len(every.data) == 26
        await dc.custom_data.delete(reference="org/repo", key="version")
        with pytest.raises(dxapi.NotFoundError):
            await dc.custom_data.get(reference="org/repo", key="version")
        await dc.custom_data.delete_all_by_reference(reference="org/repo")
        left = await dc.custom_data.get_all_by_reference(reference="org/repo")
    assert not left.data
    (deleted,) = fake.requests_for("customData.deleteAllByReference")
    assert deleted.query == {"reference": "org/repo"}


async def test_incident_upsert_keeps_and_clears(fake: dxapi.testing.FakeDX) -> None:
    async with datacloud(fake) as dc:
        await dc.incidents.upsert(
            reference_id="inc-1",
            started_at=dt.datetime(2024, 1, 1, 11, 22, 33, tzinfo=dt.UTC),
            services=[{"identifier": "payments-service", "name": "Payments"}],
            metadata={"sev": 1},
            resolved_at=None,
        )
        stored = fake.store.incidents["inc-1"]
        assert stored["started_at"] == "2024-01-01T11:22:33+00:00"
        assert stored["services"] == [{"identifier": "payments-service", "name": "Payments"}]
        await dc.incidents.upsert(reference_id="inc-1", started_at="2024-01-01T11:22:33", name="x")
        assert fake.store.incidents["inc-1"]["metadata"] == {"sev": 1}  # left out: kept
        await dc.incidents.upsert(
            reference_id="inc-1", started_at="2024-01-01T11:22:33", services=[]
        )
        assert "services" not in fake.store.incidents["inc-1"]  # []: cleared
        await dc.with_options(encoding="form").incidents.upsert(
            reference_id="inc-1", started_at="2024-01-01T11:22:33", metadata=None
        )
        assert "metadata" not in fake.store.incidents["inc-1"]  # None: cleared
        gone = await dc.incidents.delete(reference_id="inc-1")
    assert gone.action == "deleted" and "inc-1" not in fake.store.incidents


async def test_dropped_connection_create_not_retried_upsert_retried(
    fake: dxapi.testing.FakeDX,
) -> None:
    async with datacloud(fake) as dc:
        fake.inject("deployments.create", drop_connection=True)
        with pytest.raises(dxapi.TransportError):
            await dc.deployments.create(service="api", deployed_at=DEPLOYED)
        assert len(fake.requests_for("deployments.create")) == 1
        fake.inject("incidents.upsert", drop_connection=True)
        await dc.incidents.upsert(reference_id="inc-2", started_at="2024-01-01T11:22:33")
    assert len(fake.requests_for("incidents.upsert")) == 2
    assert "inc-2" in fake.store.incidents


async def test_batch_partial_failure_against_the_fake(fake: dxapi.testing.FakeDX) -> None:
    async with datacloud(fake) as dc:
        fake.inject(
            "customData.setAll", status=422, body={"ok": False, "error": "invalid_arguments"}
        )
        report = await dc.custom_data.set_all_chunked(
            [{"reference": "org/b", "key": f"k{i}", "value": {"i": i}} for i in range(9)],
            chunk_size=3,
            concurrency=1,
        )
    assert [c.index for c in report.failed] == [0]
    assert isinstance(report.failed[0].error, dxapi.APIError)
    assert report.failed[0].error.error == "invalid_arguments"
    assert report.sent == 6
    assert sorted(k for (ref, k) in fake.store.custom_data if ref == "org/b") == [
        f"k{i}" for i in range(3, 9)
    ]
