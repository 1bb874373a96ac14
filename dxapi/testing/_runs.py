"""The Data Studio query-run lifecycle, and the CSV host its results redirect to.

``execute`` answers 202 with a ``Location`` and ``Retry-After: 1``; a run is ``queued`` for
the first third of its duration, ``running`` until it ends, then ``succeeded`` or ``failed``,
and ``expired`` once ``results_ttl`` has passed. ``results`` answers 409
``execution_not_complete`` while pending, at most 1000 rows as JSON, a 303 to the CSV host
for ``format=csv``, and 410 ``results_expired`` at the end. The CSV is generated row by row
while it streams, so a million-row result never sits in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeAlias

import attrs
from aiohttp import web

from ._reply import Answer, Call, Fail, Handler, Reply, not_found
from ._store import encode_id, stamp

__all__ = ["QueryPlan", "QueryRuns", "csv_app", "rows"]

MAX_JSON_ROWS = 1000
_PENDING = {"Retry-After": "1"}
_CHUNK_ROWS = 4096


@attrs.frozen
class QueryPlan:
    """How a query run behaves: its result size, duration, columns, or failure."""

    rows: int = 100
    seconds: float = 0.2
    columns: tuple[str, ...] = ("id", "name", "value", "created_on")
    #: (code, message) makes the run end ``failed``.
    error: tuple[str, str] | None = None


#: Decides a run's plan from its SQL and variables (None: the default plan, which fails
#: for SQL containing ``FAIL``).
QueryHook: TypeAlias = Callable[[str, Mapping[str, Any]], "QueryPlan | None"]


def default_plan(plan: QueryPlan, sql: str) -> QueryPlan:
    """SQL containing ``FAIL`` ends failed, as a broken query would."""
    if "FAIL" in sql.upper():
        return attrs.evolve(plan, error=("sql_error", "Query failed: syntax error near FAIL"))
    return plan


def _value(column: str, i: int) -> str | int:
    if column == "id":
        return i + 1
    if column in ("value", "count", "amount"):
        return (i * 7919) % 1000
    if column.endswith(("_on", "_at", "date")):
        return f"2024-{1 + i // 28 % 12:02d}-{1 + i % 28:02d}"
    return f"{column}-{i + 1}"


def rows(plan: QueryPlan, start: int = 0, stop: int | None = None) -> Iterator[list[Any]]:
    """The deterministic rows ``start..stop`` of a run's result."""
    for i in range(start, plan.rows if stop is None else min(stop, plan.rows)):
        yield [_value(c, i) for c in plan.columns]


def _column_text(column: str, start: int, stop: int) -> list[str]:
    """One column of rows ``start..stop`` as CSV text (the same values as :func:`rows`)."""
    span = range(start, stop)
    if column == "id":
        return [str(i + 1) for i in span]
    if column in ("value", "count", "amount"):
        return [str((i * 7919) % 1000) for i in span]
    if column.endswith(("_on", "_at", "date")):
        return [f"2024-{1 + i // 28 % 12:02d}-{1 + i % 28:02d}" for i in span]
    return [f"{column}-{i + 1}" for i in span]


def csv_chunks(plan: QueryPlan) -> Iterator[bytes]:
    """The result as CSV, a few thousand rows per chunk, built column by column."""
    yield (",".join(plan.columns) + "\n").encode()
    for start in range(0, plan.rows, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, plan.rows)
        columns = [_column_text(c, start, stop) for c in plan.columns]
        yield ("\n".join(map(",".join, zip(*columns, strict=True))) + "\n").encode()


@attrs.define
class _Run:
    id: str
    plan: QueryPlan
    started: float  # fake's monotonic clock
    wall: float  # seconds after the store's epoch, for timestamps


class QueryRuns:
    """Query runs by id; ``clock`` is monotonic seconds, ``wall`` seconds for timestamps."""

    def __init__(
        self,
        clock: Callable[[], float],
        wall: Callable[[], float],
        *,
        plan: QueryPlan,
        hook: QueryHook | None,
        results_ttl: float,
        secret: str,
    ) -> None:
        self.clock, self.wall = clock, wall
        self.plan, self.hook, self.results_ttl = plan, hook, results_ttl
        self.secret = secret
        self.runs: dict[str, _Run] = {}
        #: Base URL of the CSV host (set when it starts).
        self.csv_url = ""

    def handlers(self) -> dict[str, Handler]:
        return {
            "studio.queryRuns.execute": self.execute,
            "studio.queryRuns.info": self.info,
            "studio.queryRuns.results": self.results,
        }

    def status(self, run: _Run) -> str:
        elapsed = self.clock() - run.started
        if elapsed < run.plan.seconds / 3:
            return "queued"
        if elapsed < run.plan.seconds:
            return "running"
        if elapsed >= run.plan.seconds + self.results_ttl:
            return "expired"
        return "failed" if run.plan.error else "succeeded"

    def describe(self, run: _Run) -> dict[str, Any]:
        status = self.status(run)
        done = status not in ("queued", "running")
        obj: dict[str, Any] = {
            "id": run.id,
            "status": status,
            "submitted_at": stamp(run.wall),
            "finished_at": stamp(run.wall + run.plan.seconds) if done else None,
            "expires_at": stamp(run.wall + run.plan.seconds + self.results_ttl),
            "info_url": f"/studio.queryRuns.info?id={run.id}",
            "results_url": f"/studio.queryRuns.results?id={run.id}",
        }
        if status == "failed" and run.plan.error:
            obj["error"] = {"code": run.plan.error[0], "message": run.plan.error[1]}
        return obj

    def execute(self, call: Call) -> Reply:
        sql, variables = call.args["sql"], call.args.get("variables") or {}
        run_id = encode_id(700_000 + len(self.runs)).lower()
        plan = self.hook(sql, variables) if self.hook else None
        plan = plan or default_plan(self.plan, sql)
        run = self.runs[run_id] = _Run(run_id, plan, self.clock(), self.wall())
        obj = self.describe(run)
        return Answer({"query_run": obj}, 202, {"Location": obj["info_url"], **_PENDING})

    def _run(self, call: Call) -> _Run:
        run = self.runs.get(str(call.args["id"]))
        if run is None:
            raise not_found("query run", call.args["id"])
        return run

    def info(self, call: Call) -> Reply:
        obj = self.describe(self._run(call))
        pending = obj["status"] in ("queued", "running")
        return Answer({"query_run": obj}, headers=_PENDING if pending else {})

    def results(self, call: Call) -> Reply:
        run = self._run(call)
        status = self.status(run)
        if status in ("queued", "running"):
            raise Fail(409, "execution_not_complete", "the run has not finished", headers=_PENDING)
        if status == "expired":
            raise Fail(410, "results_expired", "the results expired; execute the query again")
        if status == "failed":
            raise Fail(422, "execution_failed", run.plan.error[1] if run.plan.error else None)
        if call.args.get("format") == "csv":
            where = f"{self.csv_url}/results/{run.id}.csv?signature={self.sign(run.id)}"
            return Answer({}, 303, {"Location": where})
        data = {"columns": list(run.plan.columns), "rows": list(rows(run.plan, 0, MAX_JSON_ROWS))}
        return {"results": data}

    def sign(self, run_id: str) -> str:
        return hashlib.sha256(f"{self.secret}:{run_id}".encode()).hexdigest()[:32]


#: Receives (path, headers) of every request the CSV host gets.
CsvRecorder: TypeAlias = Callable[[web.Request], None]


def csv_app(runs: QueryRuns, record: CsvRecorder) -> web.Application:
    """The presigned-download host: refuses an Authorization header, as S3 does."""

    async def download(request: web.Request) -> web.StreamResponse:
        record(request)
        run_id = request.match_info["run_id"]
        run = runs.runs.get(run_id)
        if "Authorization" in request.headers:
            return _xml(400, "InvalidArgument", "Only one auth mechanism allowed")
        if run is None or request.query.get("signature") != runs.sign(run_id):
            return _xml(403, "SignatureDoesNotMatch", "The request signature is invalid")
        if runs.status(run) != "succeeded":
            return _xml(403, "AccessDenied", "Request has expired")
        resp = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for chunk in csv_chunks(run.plan):
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/results/{run_id}.csv", download)
    return app


def _xml(status: int, code: str, message: str) -> web.Response:
    body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return web.Response(status=status, text=body, content_type="application/xml")
