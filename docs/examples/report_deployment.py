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
- The ``reference_id`` names this deploy (repository, workflow run, attempt: a re-run of the
  job is a new deploy), so running the
  step again in the same job sends the same key: DX refuses a key it already holds with other
  values (``reference_id_taken``), and a record under this key is this deploy's, so the
  script counts that as already reported rather than recording a second deployment.
- When the outcome is unknown (a 5xx or a network failure after the safe retries), the report
  is repeated with ``deployments.upsert`` on the same key, which may be sent any number of
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
    run = "/".join(filter(None, [repo, env("GITHUB_RUN_ID"), env("GITHUB_RUN_ATTEMPT")]))
    parser = argparse.ArgumentParser(description="Report a deployment to DX Data Cloud.")
    parser.add_argument("--service", required=True, help="the service's DX identifier")
    parser.add_argument("--repository", default=repo, help="org/repo (default $GITHUB_REPOSITORY)")
    parser.add_argument("--commit", default=env("GITHUB_SHA"), help="default $GITHUB_SHA")
    parser.add_argument(
        "--reference-id",
        default=run or None,
        help="a key unique to this deploy (default: repository/run id/attempt)",
    )
    args = parser.parse_args(argv)
    for name in ("repository", "reference_id"):
        if not getattr(args, name):
            parser.error(f"--{name.replace('_', '-')} is required outside GitHub Actions")
    return args


async def report(dc: dxapi.DataCloudClient, args: argparse.Namespace) -> str:
    """Record the deployment; return how: "created", "already reported" or "upserted"."""
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
        if isinstance(exc, dxapi.APIError) and exc.error == "reference_id_taken":
            return "already reported"
        if isinstance(exc, dxapi.APIError) and (exc.status or 0) < 500:
            raise  # DX answered and refused: resending cannot help
        # It may or may not have been recorded: the upsert is safe either way.
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
