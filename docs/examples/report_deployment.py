"""Report a deployment to DX Data Cloud from a CI step.

    python docs/examples/report_deployment.py --service payments-api

In GitHub Actions, after the deploy step (other CI systems: pass the flags)::

    - run: python report_deployment.py --service payments-api
      env:
        DX_DATACLOUD_TOKEN: ${{ secrets.DX_DATACLOUD_TOKEN }}
        DX_DATACLOUD_INSTANCE: acme

Retries and idempotency:

- ``deployments.create`` is not idempotent, so dxapi resends it only when DX cannot have acted
  on it (a 429, a refused connection), never after a 5xx or a timeout that may have recorded it.
- The ``reference_id`` names this deploy (repository, workflow run, attempt, service; a
  re-run of the job is a new attempt, so a new deploy), so running the step again in the same
  job sends the same key. DX refuses a key it holds with other values (here a later
  ``deployed_at``; 422 in DX's current docs, 409 in older ones), and the record under this
  key is this deploy's, so the script then sends the report as an upsert, which patches it.
- When the outcome is unknown (a 5xx or a network failure after the safe retries), the report
  is repeated the same way: ``deployments.upsert`` on the same key may be sent any number of
  times. The step fails (exit 1) only when DX refused the report or could not be reached.

``$DX_DATACLOUD_BASE_URL``, when set, replaces the instance URL (a proxy, or a test server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from typing import Any

import dxapi


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    repo = env("GITHUB_REPOSITORY")
    run_id, attempt = env("GITHUB_RUN_ID"), env("GITHUB_RUN_ATTEMPT")
    parser = argparse.ArgumentParser(description="Report a deployment to DX Data Cloud.")
    parser.add_argument("--service", required=True, help="the service's DX identifier")
    parser.add_argument("--repository", default=repo, help="org/repo (default $GITHUB_REPOSITORY)")
    parser.add_argument("--commit", default=env("GITHUB_SHA"), help="default $GITHUB_SHA")
    parser.add_argument(
        "--reference-id",
        help="a key unique to this deploy (default: repository/run id/attempt/service)",
    )
    args = parser.parse_args(argv)
    if args.reference_id is None and repo and run_id and attempt:
        args.reference_id = f"{repo}/{run_id}/{attempt}/{args.service}"
    for name in ("repository", "reference_id"):
        if not getattr(args, name):
            parser.error(f"--{name.replace('_', '-')} is required outside GitHub Actions")
    return args


async def report(dc: dxapi.DataCloudClient, args: argparse.Namespace) -> str:
    """Record the deployment; return how: "created" or "upserted"."""
    fields: dict[str, Any] = {
        "service": args.service,
        "repository": args.repository,
        "deployed_at": datetime.now(UTC),
    }
    if args.commit:
        fields["commit_sha"] = args.commit
    try:
        await dc.deployments.create(reference_id=args.reference_id, **fields)
        return "created"
    except (dxapi.TransportError, dxapi.APIError) as exc:
        status = exc.status if isinstance(exc, dxapi.APIError) else None
        if status is not None and status < 500 and status not in (409, 422):
            raise  # refused for another reason (the token, a scope): resending cannot help
        # Recorded already under this key, or perhaps recorded: the upsert is safe either way.
        await dc.deployments.upsert(reference_id=args.reference_id, **fields)
        return "upserted"


async def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    base_url = os.environ.get("DX_DATACLOUD_BASE_URL")
    try:
        async with dxapi.DataCloudClient(base_url=base_url) as dc:  # $DX_DATACLOUD_TOKEN
            how = await report(dc, args)
    except dxapi.DXError as exc:
        print(f"deployment not reported: {exc}", file=sys.stderr)
        return 1
    print(f"deployment {args.reference_id} of {args.service}: {how}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
