"""pytest fixtures for code that uses dxapi (registered through the ``pytest11`` entry point).

- ``dx_fake``: a started :class:`~dxapi.testing.FakeDX`; configure it per test with
  ``@pytest.mark.dx_fake(entities=10_000, rate_limit=(200, 2.0))``.
- ``dx_client`` / ``dx_datacloud_client``: a ``dxapi.Client`` / ``dxapi.DataCloudClient``
  pointed at ``dx_fake``.

The async fixtures need pytest-asyncio; without it the plugin registers only the marker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from .._client import Client, DataCloudClient
from ._fake import FakeDX

__all__ = ["pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dx_fake(**options): options for the dx_fake fixture's FakeDX(...)"
    )


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("dx_fake")
    return dict(marker.kwargs) if marker is not None else {}


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - fixtures need pytest-asyncio
    pass
else:

    @pytest_asyncio.fixture
    async def dx_fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeDX]:
        """A fake DX server on 127.0.0.1 (options from ``@pytest.mark.dx_fake``)."""
        async with FakeDX(**_options(request)) as fake:
            yield fake

    @pytest_asyncio.fixture
    async def dx_client(dx_fake: FakeDX) -> AsyncIterator[Client]:
        """A ``dxapi.Client`` for ``dx_fake``."""
        async with dx_fake.client() as client:
            yield client

    @pytest_asyncio.fixture
    async def dx_datacloud_client(dx_fake: FakeDX) -> AsyncIterator[DataCloudClient]:
        """A ``dxapi.DataCloudClient`` for ``dx_fake``'s ``/api`` prefix."""
        async with dx_fake.datacloud_client() as client:
            yield client
