"""The blocking clients: an async client in a loop thread of its own, and its namespaces.

``SyncClient`` takes the arguments of :class:`~dxapi.Client` (but ``session``: an aiohttp
session belongs to one loop) and builds that client inside its loop thread
(:class:`~dxapi._sync.LoopThread`): the token bucket, retries, errors and redaction are the
async client's own, shared by every thread that calls this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar, cast, overload

import anyio.to_thread

from ._bulk import DEFAULT_CONCURRENCY, Bulk, Errors, Outcome
from ._client import Client, DataCloudClient
from ._config import DX_RATE_LIMIT, Limits, RateLimit, Timeout
from ._errors import DXError
from ._generated.sync.datacloud import SyncDataCloudAPI
from ._generated.sync.web import SyncWebAPI
from ._hooks import Hooks
from ._limiter import Limiter
from ._response import Response
from ._retry import RetryPolicy
from ._spec import MethodSpec
from ._sync import LoopThread, SyncCursorCall, SyncNamespace, SyncStream
from ._transport import SSLSetting, Transport
from ._wire import Encoding

__all__ = ["SyncBulk", "SyncClient", "SyncDataCloudClient"]

C = TypeVar("C", Client, DataCloudClient)
T = TypeVar("T")


class _SyncBase(Generic[C]):
    _async_class: ClassVar[type[Client] | type[DataCloudClient]]
    _loop: LoopThread
    _aio: C

    def _start(self, make: Callable[[], C]) -> None:
        loop = LoopThread()

        async def build() -> C:
            return make()

        try:
            self._aio = loop.call(build)
        except BaseException:
            loop.close()
            raise
        self._loop = loop
        loop.on_close(self._aio.aclose)

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the async client's connections and stop the loop thread (idempotent).

        Calls still running in other threads end with :class:`~dxapi.TransportError`.
        """
        self._loop.close()

    @property
    def closed(self) -> bool:
        return self._loop.closed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # ------------------------------------------------------------------ options

    @property
    def base_url(self) -> str:
        return self._aio.base_url

    @property
    def limiter(self) -> Limiter | None:
        """The limiter every thread of this client shares (None when limiting is off)."""
        return self._aio.limiter

    @property
    def stats(self) -> Mapping[str, int]:
        """Counters: requests sent, retries, 429 answers seen."""
        return self._aio.stats

    def with_options(
        self,
        *,
        timeout: Timeout | float | None = None,
        retries: RetryPolicy | int | None = None,
        encoding: Encoding | None = None,
    ) -> Self:
        """A client sharing this one's loop, connections and rate limit, with other settings.

        Closing either closes both, as with the async clients.
        """

        async def evolve() -> C:
            return self._aio.with_options(timeout=timeout, retries=retries, encoding=encoding)

        clone = object.__new__(type(self))
        clone._loop = self._loop
        clone._aio = self._loop.call(evolve)  # it may open the shared pool: in the loop
        return clone

    # ------------------------------------------------------------- escape hatches

    @classmethod
    def methods(cls) -> dict[str, MethodSpec]:
        """Every method this client can call, by name."""
        return cls._async_class.methods()

    def call(self, name: str, /, **args: Any) -> dict[str, Any]:
        """Call any method by name with wire-named arguments; returns the raw payload."""
        return self._loop.run(self._aio.call, name, **args)

    def call_response(self, name: str, /, **args: Any) -> Response:
        """Like :meth:`call`, with the status and headers of the answer."""
        return self._loop.run(self._aio.call_response, name, **args)

    def paginate(self, name: str, /, **args: Any) -> SyncCursorCall[dict[str, Any], Any]:
        """Raw pagination of a list method: pages and items as the API returned them."""
        return self._loop.paginate(self._aio.paginate, name, **args)

    @overload
    def bulk(
        self,
        method: str,
        arg_sets: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = ...,
        errors: Errors = ...,
    ) -> SyncBulk[dict[str, Any]]: ...
    @overload
    def bulk(
        self,
        method: Callable[..., T],
        arg_sets: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = ...,
        errors: Errors = ...,
    ) -> SyncBulk[T]: ...
    def bulk(
        self,
        method: str | Callable[..., Any],
        arg_sets: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        errors: Errors = DXError,
    ) -> SyncBulk[Any]:
        """``Client.bulk``, blocking: iterate the outcomes as the calls finish.

        ``method`` is a method name or a typed method of this client (``sc.teams.info``),
        which runs as its async twin. ``arg_sets`` is read in a worker thread, one set when a
        slot is free, so it may itself call this client (``for e in sc....list()``).
        """
        target = method if isinstance(method, str) else _async_twin(method)

        async def make() -> Bulk[Any]:
            return self._aio.bulk(
                target, _pulled(arg_sets), concurrency=concurrency, errors=errors
            )

        return SyncBulk(self._loop, self._loop.call(make))


class SyncBulk(Generic[T]):
    """A fan-out run from blocking code: iterate it (once) or ``collect()`` it."""

    def __init__(self, loop: LoopThread, bulk: Bulk[T]) -> None:
        self._loop = loop
        self._bulk = bulk

    def __iter__(self) -> SyncStream[Outcome[T]]:
        """The outcomes in the order the calls finish; closing it early cancels the rest."""
        return self._loop.stream(self._bulk.__aiter__)

    def collect(self) -> list[Outcome[T]]:
        """Run to the end and return every outcome, in input order."""
        return self._loop.run(self._bulk.collect)

    @property
    def submitted(self) -> int:
        return self._bulk.submitted

    @property
    def completed(self) -> int:
        return self._bulk.completed

    @property
    def failed(self) -> int:
        return self._bulk.failed


def _async_twin(method: Callable[..., Any]) -> Callable[..., Any]:
    """The async method a typed sync method calls (a fan-out runs in the loop)."""
    if isinstance(method, SyncNamespace):  # a callable namespace
        return method._ns
    owner = getattr(method, "__self__", None)
    if isinstance(owner, SyncNamespace):
        return getattr(owner._ns, method.__name__)  # type: ignore[no-any-return]
    raise TypeError(f"bulk takes a method name or a typed method of a sync client, got {method!r}")


_END = object()


async def _pulled(source: Iterable[Mapping[str, Any]]) -> AsyncIterator[Mapping[str, Any]]:
    """Each argument set, taken in a worker thread (the source may block or call the client)."""
    iterator = iter(source)
    while (item := await anyio.to_thread.run_sync(next, iterator, _END)) is not _END:
        yield cast(Mapping[str, Any], item)


class SyncClient(_SyncBase[Client], SyncWebAPI):
    """Blocking client of the DX Web API: ``sc.teams.info(team_id=...)`` returns the result.

    Takes the arguments of :class:`~dxapi.Client` but ``session``. Use it in a ``with``
    block or call :meth:`close`; one client serves any number of threads.
    """

    _async_class = Client
    _aio: Client

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: Timeout | float = Timeout(),
        rate_limit: RateLimit | tuple[int, float] | None = DX_RATE_LIMIT,
        retries: RetryPolicy | int = RetryPolicy(),
        limiter: Limiter | None = None,
        max_connections: int = 100,
        transport: Transport | None = None,
        limits: Limits | None = None,
        proxy: str | None = None,
        ssl: SSLSetting = None,
        default_headers: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self._start(
            lambda: Client(
                token,
                base_url=base_url,
                timeout=timeout,
                rate_limit=rate_limit,
                retries=retries,
                limiter=limiter,
                max_connections=max_connections,
                transport=transport,
                limits=limits,
                proxy=proxy,
                ssl=ssl,
                default_headers=default_headers,
                hooks=hooks,
            )
        )


class SyncDataCloudClient(_SyncBase[DataCloudClient], SyncDataCloudAPI):
    """Blocking client of the DX Data Cloud API: ``sdc.deployments.create(...)``.

    Takes the arguments of :class:`~dxapi.DataCloudClient` but ``session`` (an aiohttp
    session belongs to one event loop; pass a ``transport`` instead).
    """

    _async_class = DataCloudClient
    _aio: DataCloudClient

    def __init__(
        self,
        token: str | None = None,
        *,
        instance: str | None = None,
        base_url: str | None = None,
        encoding: Encoding = "json",
        timeout: Timeout | float = Timeout(),
        rate_limit: RateLimit | tuple[int, float] | None = DX_RATE_LIMIT,
        retries: RetryPolicy | int = RetryPolicy(),
        limiter: Limiter | None = None,
        max_connections: int = 100,
        transport: Transport | None = None,
        limits: Limits | None = None,
        proxy: str | None = None,
        ssl: SSLSetting = None,
        default_headers: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self._start(
            lambda: DataCloudClient(
                token,
                instance=instance,
                base_url=base_url,
                encoding=encoding,
                timeout=timeout,
                rate_limit=rate_limit,
                retries=retries,
                limiter=limiter,
                max_connections=max_connections,
                transport=transport,
                limits=limits,
                proxy=proxy,
                ssl=ssl,
                default_headers=default_headers,
                hooks=hooks,
            )
        )
