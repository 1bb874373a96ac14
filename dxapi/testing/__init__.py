"""A fake DX server built from the registry, for tests, benchmarks and the CLI's offline mode.

::

    async with dxapi.testing.FakeDX(entities=10_000, rate_limit=(200, 2.0)) as fake:
        async with dxapi.Client(token=fake.token, base_url=fake.url) as dx:
            async for entity in dx.catalog.entities.list():
                ...
"""

from ._app import Recorded
from ._fake import FakeDX
from ._faults import Fault
from ._mock import MockResponse, MockTransport
from ._runs import QueryPlan
from ._store import Store
from ._window import Counters, max_in_window

__all__ = ["Counters", "FakeDX", "Fault", "QueryPlan", "Recorded", "Store", "max_in_window"]
__all__ += ["MockResponse", "MockTransport"]
