"""Data Studio query runs end to end: ``run``, ``wait``, ``fetch``, ``download``, ``stream_csv``.

The protocol (design.md, "Async query runs"): ``execute`` answers 202 with the run, a
``Location`` and ``Retry-After``; ``info`` is polled until the run succeeds or fails (at most
10 polls per 5 s per run, enforced client-side from the registry's ``rate_limit``);
``results`` answers 409 ``execution_not_complete`` until the run is done, then at most 1000
rows as JSON, or a 303 to a presigned CSV of every row; 410 once the results expired.

Nothing here knows those numbers or states: the polling comes from the registry's
``queryRun`` waiter (:mod:`dxapi._waiter`), the 409 and 303 handling from the session
reading the method specs. This module only ties the steps together and shapes the answers,
through the namespace's own generated methods (``execute``, ``info``, ``results``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.to_thread
import attrs

from ._errors import APIError, QueryRunExpiredError
from ._methods import spec_of
from ._session import Session
from ._spec import UNSET, Unset, WaiterSpec
from ._waiter import Waiter
from ._wire import dig
from .types import QueryRun

__all__ = ["INLINE_ROW_LIMIT", "QueryResult", "QueryRunHelpers"]

#: The most rows ``studio.queryRuns.results`` returns as JSON; the CSV download has them all.
INLINE_ROW_LIMIT = 1000
_CHUNK = 1 << 16


@attrs.frozen
class QueryResult:
    """The rows of a finished query run, and the run itself.

    ``truncated`` is true when the inline answer holds :data:`INLINE_ROW_LIMIT` rows: DX
    sends no total, so the run *may* have more rows than these. ``download()`` or
    ``stream_csv()`` fetch every row.
    """

    columns: list[str]
    rows: list[list[Any]]
    query_run: QueryRun
    truncated: bool

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]


class QueryRunHelpers:
    """Hand-written helpers of ``dx.studio.query_runs`` (beside execute, info, results)."""

    _session: Session
    _waiters: ClassVar[Mapping[str, WaiterSpec]]
    # The generated methods of the namespace class this mixin is part of.
    execute: Callable[..., Awaitable[Any]]
    info: Callable[..., Awaitable[Any]]
    results: Callable[..., Awaitable[Any]]

    def _waiter(self) -> Waiter:
        spec = self._waiters["queryRun"]
        return Waiter(self._session, spec, poll=self.info, start=self.execute)

    async def run(
        self,
        sql: str,
        *,
        variables: Mapping[str, Any] | Unset = UNSET,
        timeout: float | None = 300.0,  # noqa: ASYNC109 - the whole run's deadline
    ) -> QueryResult:
        """Run a query and return its rows (at most 1000; see ``QueryResult.truncated``).

        Executes ``sql``, polls the run with the server's Retry-After (else a growing delay)
        and fetches the inline results. ``timeout`` bounds all of it, in seconds.

        Raises:
            QueryRunFailedError: the run failed; ``.details`` holds the server's error.
            QueryRunExpiredError: the results expired before they were fetched.
            QueryRunTimeoutError: ``timeout`` passed first (``.job_id`` names the run).
        """
        args = {"sql": sql, "variables": variables}
        return await self._waiter().start_and_wait(args, self._inline_results, timeout=timeout)

    async def wait(
        self,
        run_id: str,
        *,
        timeout: float | None = 300.0,  # noqa: ASYNC109 - the wait's own deadline
    ) -> QueryRun:
        """Wait for a run (started here or elsewhere) to succeed; return the final run.

        Raises ``QueryRunFailedError``, ``QueryRunExpiredError`` or ``QueryRunTimeoutError``.
        """
        payload = await self._waiter().wait(run_id, timeout=timeout)
        return self._query_run(payload)

    async def fetch(
        self,
        run_id: str,
        *,
        timeout: float | None = 300.0,  # noqa: ASYNC109 - the wait's own deadline
    ) -> QueryResult:
        """Wait for a run to succeed, then return its inline rows (at most 1000)."""
        return await self._waiter().wait_then(run_id, self._inline_results, timeout=timeout)

    async def stream_csv(
        self,
        run_id: str,
        *,
        timeout: float | None = 300.0,  # noqa: ASYNC109 - the wait's own deadline
        chunk_size: int = _CHUNK,
    ) -> AsyncGenerator[bytes, None]:
        """Yield every row of a run as CSV bytes, in chunks of at most ``chunk_size``.

        Waits for the run first (``timeout``), then follows the results' redirect to the
        presigned download without the token. Memory stays constant whatever the size.
        Close the iterator (``contextlib.aclosing``) if you stop early.
        """
        run = await self.wait(run_id, timeout=timeout)
        args = {"id": run_id, "format": "csv"}
        chunks = self._session.stream(spec_of(self.results), args, chunk_size=chunk_size)
        try:
            async with contextlib.aclosing(chunks):  # stopping early closes the download
                async for chunk in chunks:
                    yield chunk
        except QueryRunExpiredError as exc:
            raise _expired(run_id, run, exc) from None

    async def download(
        self,
        run_id: str,
        path: str | os.PathLike[str],
        *,
        timeout: float | None = 300.0,  # noqa: ASYNC109 - the wait's own deadline
        chunk_size: int = _CHUNK,
    ) -> Path:
        """Write every row of a run as CSV to ``path``, atomically, in constant memory.

        The bytes go to a temporary file beside ``path`` that replaces it only once complete;
        a failure or a cancellation leaves ``path`` as it was and no temporary file behind.
        """
        target = Path(path)
        part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        with anyio.CancelScope(shield=True):  # an opened file is always closed below
            f = await anyio.open_file(part, "wb")
        try:
            try:
                chunks = self.stream_csv(run_id, timeout=timeout, chunk_size=chunk_size)
                async with contextlib.aclosing(chunks):
                    async for chunk in chunks:
                        await f.write(chunk)
                await f.flush()
                await anyio.to_thread.run_sync(os.fsync, f.wrapped.fileno())
            finally:  # shielded: a cancellation must not skip the close
                with anyio.CancelScope(shield=True):
                    await f.aclose()
            os.replace(part, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(part)
            raise
        return target

    # ------------------------------------------------------------------ helpers

    def _query_run(self, payload: Mapping[str, Any]) -> QueryRun:
        job = dig(payload, self._waiters["queryRun"].job)
        return Session.structure(spec_of(self.info), job, QueryRun)

    async def _inline_results(self, run_id: str, payload: dict[str, Any]) -> QueryResult:
        run = self._query_run(payload)
        try:
            answer = await self.results(id=run_id)
        except QueryRunExpiredError as exc:
            raise _expired(run_id, run, exc) from None
        results = answer.results
        return QueryResult(
            columns=results.columns,
            rows=results.rows,
            query_run=run,
            truncated=len(results.rows) >= INLINE_ROW_LIMIT,
        )


def _expired(run_id: str, run: QueryRun | None, cause: APIError) -> QueryRunExpiredError:
    """A 410 (or an expiry code) as an error naming the run and when its results expired."""
    when = run.expires_at.isoformat() if run is not None and run.expires_at else None
    message = f"query run {run_id} expired" + (f" at {when}" if when else "")
    return QueryRunExpiredError(
        cause.error,
        status=cause.status,
        method=cause.method,
        message=message + "; run the query again",
        retry_after=cause.retry_after,
        details=cause.details,
        job_id=run_id,
        state="expired",
        job={"id": run_id, "expires_at": when} if when else None,
    )
