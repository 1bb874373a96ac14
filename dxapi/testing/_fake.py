"""``FakeDX``: the fake DX server on 127.0.0.1, with its CSV download host beside it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, Self

from aiohttp import web

from .._client import Client, DataCloudClient
from ._adhoc import AdHocMethod, Respond
from ._app import Recorded, Server, _mask
from ._catalog import Catalog
from ._datacloud import DataCloud
from ._drift import Drift, Drifts
from ._faults import Fault
from ._runs import QueryHook, QueryPlan, QueryRuns, csv_app
from ._store import Store, stamp
from ._synth import warm_up
from ._window import Counters, SlidingWindow
from ._workflows import WorkflowRuns

__all__ = ["FakeDX"]

_EPOCH_2024 = 1_704_067_200.0


class FakeDX:
    """A fake DX Web + Data Cloud API on loopback, built from the registry.

    ``async with FakeDX(entities=10_000, rate_limit=(200, 2.0)) as fake:`` then
    ``dxapi.Client(token=fake.token, base_url=fake.url)`` or
    ``dxapi.DataCloudClient(token=fake.token, base_url=fake.url + "/api")``.

    Data: ``seed`` and the sizes (``entities``, ``teams``, ``users``) fix the synthetic
    account. Auth: ``token`` (default derived from the seed) has every scope; ``tokens`` maps
    more tokens to their scopes (None: all). ``rate_limit`` is (requests, seconds) per token
    over a sliding window of accepted arrivals, or None. ``max_page_size`` bounds ``limit``.
    Query runs last ``query_run_seconds`` and return ``query_rows`` rows unless
    ``query_hook(sql, variables)`` returns another :class:`QueryPlan`; results expire after
    ``results_ttl``. Workflow runs last ``workflow_run_seconds`` and end ``workflow_status``
    (or ``workflow_outcomes[workflow_identifier]``), via WAITING_FOR_APPROVAL when
    ``workflow_approval``. ``drift`` (:class:`Drift` values) makes answers differ from the
    registry. ``clock`` is the monotonic clock of windows and runs.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        entities: int = 100,
        teams: int = 12,
        users: int = 40,
        rate_limit: tuple[int, float] | None = (1000, 60.0),
        token: str | None = None,
        tokens: Mapping[str, Iterable[str] | None] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        csv_port: int = 0,
        max_page_size: int = 100,
        query_run_seconds: float = 0.2,
        query_rows: int = 100,
        query_hook: QueryHook | None = None,
        results_ttl: float = 3600.0,
        workflow_run_seconds: float = 0.2,
        workflow_status: str = "SUCCEEDED",
        workflow_outcomes: Mapping[str, str] | None = None,
        workflow_approval: bool = False,
        drift: Iterable[Drift] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token or "dxfake_" + hashlib.sha256(f"fake:{seed}".encode()).hexdigest()[:32]
        all_tokens: dict[str, frozenset[str] | None] = {self.token: None}
        for value, scopes in (tokens or {}).items():
            all_tokens[value] = None if scopes is None else frozenset(scopes)
        self.store = Store.seeded(seed, entities=entities, teams=teams, users=users)

        def wall() -> float:
            return time.time() - _EPOCH_2024

        def now_iso() -> str:
            return stamp(wall())

        self.query_runs = QueryRuns(
            clock,
            wall,
            plan=QueryPlan(rows=query_rows, seconds=query_run_seconds),
            hook=query_hook,
            results_ttl=results_ttl,
            secret=self.token,
        )
        self.workflow_runs = WorkflowRuns(
            clock,
            wall,
            seconds=workflow_run_seconds,
            outcome=workflow_status,
            outcomes=workflow_outcomes or {},
            approval=workflow_approval,
        )
        handlers = {
            **Catalog(self.store, now_iso).handlers(),
            **DataCloud(self.store, now_iso).handlers(),
            **self.query_runs.handlers(),
            **self.workflow_runs.handlers(),
        }
        window = SlidingWindow(*rate_limit) if rate_limit is not None else None
        self.server = Server(
            tokens=all_tokens,
            handlers=handlers,
            window=window,
            max_limit=max_page_size,
            clock=clock,
            reshape=Drifts(drift) if drift else None,
        )
        #: Requests the CSV download host received (Authorization masked).
        self.csv_requests: list[Recorded] = []
        self.host, self.port, self.csv_port = host, port, csv_port
        self.url = ""
        self.csv_url = ""
        self._runners: list[web.AppRunner] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Self:
        """Bind both sites (random free ports unless given) and start serving."""
        warm_up()  # import every result class now, not during the first request
        self.url = await self._serve(self.server.app(), self.port)
        self.csv_url = await self._serve(csv_app(self.query_runs, self._record_csv), self.csv_port)
        self.query_runs.csv_url = self.csv_url
        return self

    async def _serve(self, app: web.Application, port: int) -> str:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, self.host, port)
        await site.start()
        host, bound = runner.addresses[0][:2]
        return f"http://{host}:{bound}"

    async def close(self) -> None:
        while self._runners:
            await self._runners.pop().cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"FakeDX(url={self.url!r})"

    # ------------------------------------------------------------ observations

    @property
    def requests(self) -> list[Recorded]:
        """Every request the API host received, in arrival order."""
        return self.server.requests

    def requests_for(self, method: str) -> list[Recorded]:
        return [r for r in self.server.requests if r.method == method]

    @property
    def counters(self) -> Counters:
        """Accepted and refused (429) counts, per-method counts and accepted arrival times."""
        return self.server.counters

    def reset(self) -> None:
        """Forget recorded requests, counters and the rate window (not the data)."""
        self.server.requests.clear()
        self.csv_requests.clear()
        self.server.counters.reset()
        if self.server.window is not None:
            self.server.window.reset()

    def _record_csv(self, request: web.Request) -> None:
        headers, query = _mask(request.headers), dict(request.query)
        seen = Recorded(
            request.method, request.path, None, headers, query, None, self.server.clock()
        )
        self.csv_requests.append(seen)

    # ----------------------------------------------------------------- control

    def add_token(self, token: str, scopes: Iterable[str] | None = None) -> None:
        """Accept ``token`` from now on, for ``scopes`` (None: every scope)."""
        self.server.tokens[token] = None if scopes is None else frozenset(scopes)

    def inject(
        self,
        method: str,
        *,
        status: int | None = None,
        times: int = 1,
        delay: float = 0.0,
        drop_connection: bool = False,
        truncate: bool = False,
        body: bytes | str | Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Make the next ``times`` requests of ``method`` (or ``"*"``) misbehave; see Fault."""
        fault = Fault(
            method, status, times, delay, drop_connection, truncate, body, dict(headers or {})
        )
        return self.server.faults.add(fault)

    def clear_faults(self) -> None:
        self.server.faults.clear()

    def add_method(
        self,
        name: str,
        *,
        http: Literal["GET", "POST"] = "POST",
        api: Literal["web", "datacloud"] = "web",
        answer: Mapping[str, Any] | None = None,
        handler: Respond | None = None,
        scope: str | None = None,
    ) -> None:
        """Serve ``name``, a method the registry lacks, from now on (e.g. DX's newest).

        ``handler(args)`` gets the request's arguments as they arrived (JSON values decoded,
        query and form values as text) and returns the payload; or every call answers
        ``answer`` (default ``{}``); ``ok: true`` is added. Calls need ``scope`` if given,
        count in the rate window and are recorded like any other.
        """
        method = AdHocMethod.make(
            name, http=http, api=api, scope=scope, answer=answer, handler=handler
        )
        self.server.adhoc[(api, name)] = method

    # ------------------------------------------------------------------ clients

    def client(self, **options: Any) -> Client:
        """A ``dxapi.Client`` for this fake (options are passed through)."""
        return Client(token=self.token, base_url=self.url, **options)

    def datacloud_client(self, **options: Any) -> DataCloudClient:
        """A ``dxapi.DataCloudClient`` for this fake's ``/api`` prefix."""
        return DataCloudClient(token=self.token, base_url=self.url + "/api", **options)
