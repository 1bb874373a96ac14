"""Structuring cost of a typed list page: ``python -m benchmarks.structuring``.

Times ``Session.structure`` of a ``catalog.entities.list`` page of 100 entities (the entity of
the per-call workload) into ``CatalogEntitiesListResult``, and the first call's cost in a fresh
interpreter (imports and hook building). Prints microseconds.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import timeit

from benchmarks._mini import ENTITY

PAGE = {
    "ok": True,
    "entities": [{**copy.deepcopy(ENTITY["entity"]), "identifier": f"e{i}"} for i in range(100)],
    "response_metadata": {"next_cursor": "abc"},
}
BODY = json.dumps(PAGE).encode()

FIRST_CALL = """
import json, sys, time
t0 = time.perf_counter()
import dxapi
from dxapi._generated import specs
from dxapi._generated.web.catalog import CatalogEntitiesListResult
from dxapi._session import Session
t1 = time.perf_counter()
Session.structure(specs.CATALOG_ENTITIES_LIST, json.loads(sys.argv[1]), CatalogEntitiesListResult)
t2 = time.perf_counter()
print(round((t1 - t0) * 1e3, 1), round((t2 - t1) * 1e3, 1))
"""


def main() -> None:
    from dxapi._generated import specs
    from dxapi._generated.web.catalog import CatalogEntitiesListResult
    from dxapi._session import Session

    spec = specs.CATALOG_ENTITIES_LIST

    def page() -> object:
        return Session.structure(spec, json.loads(BODY), CatalogEntitiesListResult)

    def decode_only() -> object:
        return json.loads(BODY)

    page()
    number = 200
    structure = min(timeit.repeat(page, number=number, repeat=7)) / number * 1e6
    decode = min(timeit.repeat(decode_only, number=number, repeat=7)) / number * 1e6
    print(f"page of 100 entities: {structure:.0f} µs (json.loads alone {decode:.0f} µs)")
    small = json.dumps({"ok": True, "entities": [PAGE["entities"][0]]})
    runs = [
        subprocess.run(
            [sys.executable, "-c", FIRST_CALL, small], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(5)
    ]
    imports = min(float(r[0]) for r in runs)
    first = min(float(r[1]) for r in runs)
    print(f"import dxapi and a result module: {imports} ms; first typed answer: {first} ms")


if __name__ == "__main__":
    main()
