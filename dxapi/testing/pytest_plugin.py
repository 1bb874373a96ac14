"""pytest fixtures for code that uses dxapi (registered through the ``pytest11`` entry point).

Fixtures, each set up for one test and closed after it:

- ``dx_fake``: a started :class:`~dxapi.testing.FakeDX` on 127.0.0.1. Configure it per test
  (or module, with ``pytestmark``) with the marker, whose keywords go to ``FakeDX(...)``:
  ``@pytest.mark.dx_fake(entities=10_000, rate_limit=(200, 2.0))``. Only the closest
  marker counts: a test's replaces its module's, keywords are not merged.
- ``dx_client``: an open ``dxapi.Client`` pointed at ``dx_fake``.
- ``dx_datacloud_client``: an open ``dxapi.DataCloudClient`` for ``dx_fake``'s ``/api`` prefix.

They run in the event loop of the test that asks for them, whichever plugin drives it:

- anyio's pytest plugin (installed with anyio): ``@pytest.mark.anyio`` tests, or every async
  test with ``anyio_mode = "auto"``. dxapi runs on asyncio (aiohttp), so ``anyio_backend``
  must be ``"asyncio"``: define that fixture, as anyio's own also picks trio when installed.
- pytest-asyncio, in auto mode or in strict mode with ``@pytest.mark.asyncio``. The fixtures
  use the loop of ``asyncio_default_fixture_loop_scope`` (the test's own loop by default),
  so a test on a wider ``loop_scope`` needs that setting to match. To mix anyio tests with
  pytest-asyncio ones, use strict mode: in auto mode pytest-asyncio claims every async test.

A plain (sync) test may ask for ``dx_fake`` too: it is then served from an event loop in a
background thread, for clients that block. The async clients need an async test.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

from .._client import Client, DataCloudClient
from ._fake import FakeDX

__all__ = ["dx_client", "dx_datacloud_client", "dx_fake", "pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dx_fake(**options): keyword arguments for the dx_fake fixture's FakeDX"
    )


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("dx_fake")
    return dict(marker.kwargs) if marker is not None else {}


def _runner(request: pytest.FixtureRequest, *, sync_ok: bool = False) -> str | None:
    """Which plugin runs the test: "anyio", "asyncio" (pytest-asyncio), or None (a sync test)."""
    name = request.fixturename
    if "anyio_backend" in request.fixturenames:
        backend = request.getfixturevalue("anyio_backend_name")
        if backend != "asyncio":
            pytest.fail(
                f"{name}: dxapi runs on asyncio, not {backend}; define an anyio_backend "
                'fixture returning "asyncio"',
                pytrace=False,
            )
        return "anyio"
    if _ASYNCIO_FIXTURES and request.node.get_closest_marker("asyncio") is not None:
        return "asyncio"
    if not inspect.iscoroutinefunction(request.function):
        if sync_ok:
            return None
        pytest.fail(
            f"{name} is an open async client: ask for it from an async test", pytrace=False
        )
    pytest.fail(
        f"{name}: no plugin runs this async test; mark it @pytest.mark.anyio "
        "(anyio's plugin) or @pytest.mark.asyncio (pytest-asyncio installed)",
        pytrace=False,
    )


@pytest.fixture
def dx_fake(request: pytest.FixtureRequest) -> Iterator[FakeDX]:
    """A started FakeDX on 127.0.0.1 (keywords from ``@pytest.mark.dx_fake``)."""
    runner = _runner(request, sync_ok=True)
    if runner is not None:
        yield request.getfixturevalue(f"_dx_fake_{runner}")
        return
    with start_blocking_portal("asyncio") as portal:
        fake = portal.call(functools.partial(FakeDX, **_options(request)))
        with portal.wrap_async_context_manager(fake):
            yield fake


@pytest.fixture
def dx_client(request: pytest.FixtureRequest, dx_fake: FakeDX) -> Client:
    """An open ``dxapi.Client`` for ``dx_fake``."""
    client: Client = request.getfixturevalue(f"_dx_client_{_runner(request)}")
    return client


@pytest.fixture
def dx_datacloud_client(request: pytest.FixtureRequest, dx_fake: FakeDX) -> DataCloudClient:
    """An open ``dxapi.DataCloudClient`` for ``dx_fake``'s ``/api`` prefix."""
    client: DataCloudClient = request.getfixturevalue(f"_dx_datacloud_client_{_runner(request)}")
    return client


# The async halves, one set per plugin: anyio's runs plain async fixtures of tests that use
# anyio_backend; pytest-asyncio's strict mode runs only those made with its own decorator.


@pytest.fixture
async def _dx_fake_anyio(request: pytest.FixtureRequest) -> AsyncIterator[FakeDX]:
    async with FakeDX(**_options(request)) as fake:
        yield fake


@pytest.fixture
async def _dx_client_anyio(dx_fake: FakeDX) -> AsyncIterator[Client]:
    async with dx_fake.client() as client:
        yield client


@pytest.fixture
async def _dx_datacloud_client_anyio(dx_fake: FakeDX) -> AsyncIterator[DataCloudClient]:
    async with dx_fake.datacloud_client() as client:
        yield client


try:
    import pytest_asyncio
except ImportError:
    _ASYNCIO_FIXTURES = False
else:
    _ASYNCIO_FIXTURES = True

    @pytest_asyncio.fixture
    async def _dx_fake_asyncio(request: pytest.FixtureRequest) -> AsyncIterator[FakeDX]:
        async with FakeDX(**_options(request)) as fake:
            yield fake

    @pytest_asyncio.fixture
    async def _dx_client_asyncio(dx_fake: FakeDX) -> AsyncIterator[Client]:
        async with dx_fake.client() as client:
            yield client

    @pytest_asyncio.fixture
    async def _dx_datacloud_client_asyncio(dx_fake: FakeDX) -> AsyncIterator[DataCloudClient]:
        async with dx_fake.datacloud_client() as client:
            yield client
