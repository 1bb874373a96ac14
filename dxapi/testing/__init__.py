"""A fake DX server built from the registry, for tests, benchmarks and the CLI's offline mode.

::

    async with dxapi.testing.FakeDX(entities=10_000, rate_limit=(200, 2.0)) as fake:
        async with dxapi.Client(token=fake.token, base_url=fake.url) as dx:
            async for entity in dx.catalog.entities.list():
                ...

Drift on purpose: ``FakeDX(drift=[Drift.add_field("Entity", "tier", "gold"),
Drift.remove_field("Team", "id"), Drift.retype("EntityType", "ordering", "str"),
Drift.enum_value("QueryRun", "status", "cancelled")])`` serves answers that differ from the
registry in every object of the named shape, whichever method sends it (see :class:`Drift`).

A method the registry lacks (DX's newest) is served once a test adds it, then called with
``dx.post``/``dx.get``; it is authenticated, rate-limited, recorded and faultable like any::

    fake.add_method("deployments.newThing", http="POST", handler=lambda args: {"id": 1})
    fake.add_method("insights.summary", http="GET", answer={"score": 7})

The REST APIs of ``dxapi.peers`` have their fake too, built from their registries:
``async with FakePeer("sigma") as fake: async with fake.client() as sigma: ...``.
"""

from ._app import Recorded
from ._drift import Drift
from ._fake import FakeDX
from ._faults import Fault
from ._mock import MockResponse, MockTransport
from ._peer import FakePeer, PeerCall
from ._runs import QueryPlan
from ._store import Store
from ._window import Counters, max_in_window

__all__ = [
    "Counters",
    "Drift",
    "FakeDX",
    "FakePeer",
    "Fault",
    "MockResponse",
    "MockTransport",
    "PeerCall",
    "QueryPlan",
    "Recorded",
    "Store",
    "max_in_window",
]
