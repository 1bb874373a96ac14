"""Structuring cost of a typed list page: ``python -m benchmarks.structuring`` runs it alone.

Derived from the list-page workload (:mod:`benchmarks.listpage`): the client CPU per typed
``catalog.entities.list`` page of 100 entities minus that of the same page through
``dx.call`` (a dict), same run, same server, same default client. That difference is what
typing the page costs (decoding into attrs ``Entity`` objects and whatever else the typed
path adds), per page and per entity. It uses the public API only, so it measures whatever
decoder the installed dxapi has. Inside ``python -m benchmarks`` it reads the list-page
results; run alone it measures them first (about 30 s) and prints the figures.
"""

from __future__ import annotations

from typing import Any

from ._mini import PAGE_SIZE


def derive(listpage: Any) -> dict[str, Any] | None:
    """Typed minus raw CPU per page, per entity; None without both measurements."""
    cells = listpage.get("clients") if isinstance(listpage, dict) else None
    if not cells:
        return None
    typed, raw, floor = (cells.get(c, {}).get("64", {}).get("cpu_us") for c in
                         ("dxapi", "dxapi-raw", "floor"))  # fmt: skip
    if typed is None or raw is None:
        return None
    return {
        "typed_cpu_us": typed,
        "raw_cpu_us": raw,
        "floor_cpu_us": floor,
        "per_page_us": typed - raw,
        "per_entity_us": (typed - raw) / PAGE_SIZE,
        "share_of_typed": (typed - raw) / typed,
    }


def main() -> None:
    from . import listpage
    from ._common import Ctx, pinning

    server_cpu, client_cpu = pinning()
    ctx = Ctx(runs=3, server_cpu=server_cpu, client_cpu=client_cpu)
    d = derive(listpage.run(ctx))
    if d is None:
        print("not measured: the list-page workload failed (see the log above)")
        return
    print(
        f"typed page {d['typed_cpu_us']:.0f} µs CPU, raw {d['raw_cpu_us']:.0f} µs, floor "
        f"{d['floor_cpu_us'] or 0:.0f} µs: typing costs {d['per_page_us']:.0f} µs per page of "
        f"{PAGE_SIZE} ({d['per_entity_us']:.1f} µs per entity, {d['share_of_typed']:.0%} of "
        "the typed page)"
    )


if __name__ == "__main__":
    main()
