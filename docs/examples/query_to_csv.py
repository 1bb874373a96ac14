"""Run a Data Studio query and save every row as CSV.

    DX_API_TOKEN=... python docs/examples/query_to_csv.py "SELECT * FROM github_repos" repos.csv

``query_runs.run`` starts the run, waits for it (honouring the server's Retry-After and the
per-run polling limit) and returns at most 1000 rows inline; ``download`` then streams the
full result to a file in constant memory, replacing the file only once it is complete.
"""

from __future__ import annotations

import asyncio
import sys

import dxapi


async def main(sql: str, out: str) -> None:
    async with dxapi.Client() as dx:  # $DX_API_TOKEN, $DX_BASE_URL
        result = await dx.studio.query_runs.run(sql, timeout=300)
        print(f"columns: {', '.join(result.columns)}")
        if result.truncated:
            print("more than the 1000 inline rows: the CSV has them all")
        path = await dx.studio.query_runs.download(result.query_run.id, out)
    print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: query_to_csv.py SQL OUT.csv")
    asyncio.run(main(sys.argv[1], sys.argv[2]))
