"""Bulk export: the scorecards of every catalog entity, as JSON Lines, 16 calls at a time.

    DX_API_TOKEN=... python docs/examples/bulk_export.py scorecards.jsonl

``dx.bulk`` calls one function for every input, at most ``concurrency`` at a time, all within
the client's rate limit; inputs are pulled only as slots free up, and a failed call is kept
as ``outcome.error`` instead of stopping the others. The CLI does the same job with a progress
display and a checkpoint that resumes after a crash (``--resume``):

    dxapi export catalog.entities.list --each catalog.entities.scorecards --out scorecards.jsonl
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio

import dxapi


async def export(dx: dxapi.Client, out: str) -> list[dxapi.Outcome[list[dict[str, Any]]]]:
    """Write one line per (entity, scorecard) to ``out``; return the calls that failed."""

    async def identifiers() -> AsyncIterator[dict[str, Any]]:
        async for entity in dx.catalog.entities.list():
            yield {"identifier": entity.identifier}

    async def scorecards(identifier: str) -> list[dict[str, Any]]:
        # Every page of this entity's scorecards, as the payloads DX sent.
        return [s async for s in dx.paginate("catalog.entities.scorecards", identifier=identifier)]

    failed = []
    async with (
        await anyio.open_file(out, "w", encoding="utf-8") as f,
        dx.bulk(scorecards, identifiers(), concurrency=16) as outcomes,
    ):
        async for outcome in outcomes:  # in the order the calls finish
            if outcome.error is not None or outcome.result is None:
                failed.append(outcome)
                continue
            entity = outcome.args["identifier"]
            lines = [json.dumps({"entity": entity, "scorecard": c}) for c in outcome.result]
            await f.write("".join(line + "\n" for line in lines))
    return failed


async def main(out: str = "scorecards.jsonl") -> int:
    async with dxapi.Client() as dx:  # $DX_API_TOKEN, $DX_BASE_URL
        failed = await export(dx, out)
    for outcome in failed:
        print(f"{outcome.args['identifier']}: {outcome.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:])))
