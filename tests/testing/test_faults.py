"""Every injected fault kind, as a dxapi client observes it over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import dxapi
from dxapi.testing import FakeDX

NO_RETRY = dxapi.RetryPolicy(max_retries=0)
QUICK_RETRY = dxapi.RetryPolicy(max_retries=3, backoff=0.001, max_backoff=0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDX]:
    async with FakeDX(entities=20, rate_limit=None) as server:
        yield server


async def test_5xx_then_success_for_an_idempotent_read(fake: FakeDX) -> None:
    fault = fake.inject("catalog.entities.list", status=503, times=2)
    async with fake.client(retries=QUICK_RETRY) as dx:
        page = await dx.catalog.entities.list(limit=5)
    assert len(page.entities) == 5
    assert [r.status for r in fake.requests] == [503, 503, 200]
    assert (fault.hits, fault.remaining) == (2, 0)


async def test_5xx_on_a_write_is_not_resent(fake: FakeDX) -> None:
    fake.inject("catalog.entities.create", status=500)
    async with fake.client(retries=QUICK_RETRY) as dx:
        with pytest.raises(dxapi.APIError) as failed:
            await dx.catalog.entities.create(identifier="x", type="service")
    assert failed.value.status == 500
    assert len(fake.requests_for("catalog.entities.create")) == 1
    assert "x" not in fake.store.entities


async def test_slow_answer_times_out_or_arrives(fake: FakeDX) -> None:
    fake.inject("auth.info", delay=0.5)
    async with fake.client(retries=NO_RETRY, timeout=dxapi.Timeout(read=0.1)) as dx:
        with pytest.raises(dxapi.RequestTimeoutError):
            await dx.call("auth.info")
    fake.inject("auth.info", delay=0.1)
    async with fake.client(retries=NO_RETRY) as dx:
        assert (await dx.call("auth.info"))["ok"] is True


async def test_dropped_connection_is_a_transport_error(fake: FakeDX) -> None:
    fake.inject("auth.info", drop_connection=True, times=10)
    async with fake.client(retries=NO_RETRY) as dx:
        with pytest.raises(dxapi.TransportError):
            await dx.call("auth.info")
    assert all(r.status == 0 for r in fake.requests)


async def test_truncated_body_is_a_transport_error(fake: FakeDX) -> None:
    fake.inject("auth.info", truncate=True, body={"ok": True, "auth": {"scopes": ["*"] * 50}})
    async with fake.client(retries=NO_RETRY) as dx:
        with pytest.raises(dxapi.TransportError):
            await dx.call("auth.info")


async def test_html_body_is_a_transport_error_naming_the_status(fake: FakeDX) -> None:
    fake.inject("auth.info", status=502, body="<html><body>Bad gateway</body></html>")
    fake.inject("auth.info", body="<html>maintenance</html>")
    async with fake.client(retries=NO_RETRY) as dx:
        for status in (502, 200):
            with pytest.raises(dxapi.TransportError) as err:
                await dx.call("auth.info")
            assert err.value.status == status
            assert "non-JSON" in str(err.value)


async def test_injected_429_with_retry_after_and_wildcard(fake: FakeDX) -> None:
    fake.inject("*", status=429, headers={"Retry-After": "30"})
    patient = dxapi.RetryPolicy(max_retries=2, max_retry_after=5.0)
    async with fake.client(retries=patient) as dx:
        with pytest.raises(dxapi.RateLimitError) as limited:
            await dx.call("teams.list")
        assert limited.value.retry_after == 30
        assert (await dx.call("teams.list"))["ok"] is True  # consumed: one request per time
    fake.inject("*", status=418, times=3)
    fake.clear_faults()
    async with fake.client(retries=NO_RETRY) as dx:
        assert (await dx.call("auth.info"))["ok"] is True
