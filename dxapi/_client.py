"""The clients users hold: one HTTP session, one token bucket and one retry policy each.

The method namespaces (``dx.catalog.entities.list``) come from generated mixins; this module
adds lifecycle, the raw escape hatches and options.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from ._bulk import BulkMixin
from ._config import DEFAULT_WEB_URL, DX_RATE_LIMIT, Limits, RateLimit, Timeout, resolve_base_url
from ._config import resolve_token as _resolve_token
from ._errors import ArgumentError
from ._generated.datacloud import DataCloudAPI
from ._generated.web import WebAPI
from ._hooks import Hooks, configure_log
from ._limiter import Limiter, TokenBucket
from ._pagination import CursorCall
from ._prepare import check_default_headers
from ._response import Response
from ._retry import RetryPolicy
from ._session import Session
from ._spec import MethodSpec, adhoc_spec
from ._transport import AiohttpTransport, CallerSession, SSLSetting, Transport
from ._wire import Encoding

if TYPE_CHECKING:
    from ._redis_limiter import RedisLimiter

__all__ = ["Client", "DataCloudClient"]

_DEFAULT = object()


class _BaseClient(BulkMixin):
    _api: ClassVar[str]
    _token_env: ClassVar[str]
    _session: Session
    _owned_limiter: Limiter | None = None  # made here (not passed in): closed with the client

    def _setup(
        self,
        *,
        token: str | None,
        base_url: str,
        timeout: Timeout | float,
        rate_limit: RateLimit | tuple[int, float] | None,
        retries: RetryPolicy | int,
        session: CallerSession | None,
        limiter: Limiter | None,
        encoding: Encoding,
        max_connections: int,
        transport: Transport | None,
        limits: Limits | None,
        proxy: str | None = None,
        ssl: SSLSetting = None,
        default_headers: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        configure_log()
        if hooks is not None and not isinstance(hooks, Hooks):
            raise TypeError(f"hooks must be a dxapi.Hooks, got {type(hooks).__name__}")
        headers = check_default_headers(default_headers)
        if encoding not in ("json", "form"):
            raise ValueError(f"encoding must be 'json' or 'form', got {encoding!r}")
        base_url, token = resolve_base_url(base_url), _resolve_token(token, self._token_env)
        timeout = Timeout.coerce(timeout)
        limits = Limits() if limits is None else limits
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a dxapi.Limits, got {type(limits).__name__}")
        if session is not None:
            if transport is not None:
                raise ValueError("pass session= or transport=, not both")
            transport = AiohttpTransport(session, proxy=proxy, ssl=ssl)
        elif transport is not None and (proxy is not None or ssl is not None):
            raise ValueError("proxy= and ssl= set up the default transport; not with transport=")
        if transport is None:
            transport = AiohttpTransport(max_connections=max_connections, proxy=proxy, ssl=ssl)
        if limiter is None and rate_limit is not None:
            shared = os.environ.get("DX_RATE_LIMIT_URL")
            rate = RateLimit.coerce(rate_limit)
            limiter = _redis().from_url(shared, rate) if shared else TokenBucket(rate)
            self._owned_limiter = limiter
        # A RedisLimiter learns the account it limits; if its module was never imported,
        # no limiter can be one (so `import dxapi` does not load it).
        redis = sys.modules.get("dxapi._redis_limiter")
        if redis is not None and isinstance(limiter, redis.RedisLimiter):
            limiter.bind(base_url, token, timeout)
        self._session = Session(
            base_url=base_url,
            token=token,
            timeout=timeout,
            retry=RetryPolicy.coerce(retries),
            bucket=limiter,
            encoding=encoding,
            max_connections=max_connections,
            transport=transport,
            limits=limits,
            default_headers=headers,
            hooks=hooks,
        )

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self._session.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport (a caller's own aiohttp session stays open) and a limiter made
        here."""
        await self._session.aclose()
        if self._owned_limiter is not None:
            await self._owned_limiter.aclose()  # fails calls still queued for a permit

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._session.base_url!r})"

    # ----------------------------------------------------------------- options

    @property
    def base_url(self) -> str:
        return self._session.base_url

    @property
    def limiter(self) -> Limiter | None:
        """The rate limiter every task of this client shares (None when limiting is off)."""
        return self._session.bucket

    @property
    def stats(self) -> Mapping[str, int]:
        """Counters: requests sent, retries, 429 answers seen."""
        return self._session.stats

    def with_options(
        self,
        *,
        timeout: Timeout | float | None = None,
        retries: RetryPolicy | int | None = None,
        encoding: Encoding | None = None,
    ) -> Self:
        """A client sharing this one's connections and rate limit, with other call settings."""
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["timeout"] = Timeout.coerce(timeout)
        if retries is not None:
            changes["retry"] = RetryPolicy.coerce(retries)
        if encoding is not None:
            if encoding not in ("json", "form"):
                raise ValueError(f"encoding must be 'json' or 'form', got {encoding!r}")
            changes["encoding"] = encoding
        clone = object.__new__(type(self))
        clone.__dict__.update({k: v for k, v in self.__dict__.items() if k == "_session"})
        clone._session = self._session.evolve(**changes)
        return clone

    # ------------------------------------------------------------- escape hatches

    @classmethod
    def methods(cls) -> dict[str, MethodSpec]:
        """Every method this client can call, by name."""
        from ._generated.specs import METHODS  # loaded on first use: it is the whole registry

        return {name: spec for name, spec in METHODS.items() if spec.api == cls._api}

    def _spec(self, name: str) -> MethodSpec:
        spec = _registry().get(name)
        if spec is None or spec.api != self._api:
            where = f"; it is a {spec.api} method" if spec is not None else ""
            raise ArgumentError(
                name,
                [
                    f"no such {self._api} method {name!r}{where}; to call a method dxapi does "
                    "not know yet, use dx.get(name, params) or dx.post(name, body)"
                ],
            )
        return spec

    async def get(
        self,
        name: str,
        /,
        params: Mapping[str, Any] | None = None,
        *,
        extra_headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """GET a method by name, registered or not, with ``params`` as its query, as given.

        No argument is checked against the registry; every value is still checked to travel
        exactly (``ArgumentError`` otherwise). The call shares the limiter, retries, errors
        and redaction of every other; it is retried after a possible arrival (5xx, timeout)
        only while ``idempotent``. Returns the raw payload.
        """
        spec = self._adhoc(name, "GET", idempotent)
        args = {"extra_query": params, "extra_headers": extra_headers}
        return await self._session.payload(spec, args)

    async def post(
        self,
        name: str,
        /,
        body: Mapping[str, Any] | None = None,
        *,
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """POST to a method by name, registered or not, with ``body`` sent as given (JSON, or
        a form for a client with ``encoding="form"``); see :meth:`get`. A write is retried
        after a possible arrival only with ``idempotent=True``."""
        spec = self._adhoc(name, "POST", idempotent)
        args = {"extra_body": body, "extra_query": extra_query, "extra_headers": extra_headers}
        return await self._session.payload(spec, args)

    def _adhoc(self, name: str, http: Literal["GET", "POST"], idempotent: bool) -> MethodSpec:
        known = _registry().get(name) if isinstance(name, str) else None
        like = known if known is not None and known.api == self._api else None
        return adhoc_spec(self._api, name, http, idempotent=idempotent, like=like)

    async def call(self, name: str, /, **args: Any) -> dict[str, Any]:
        """Call any method by name with wire-named arguments; returns the raw payload."""
        return await self._session.payload(self._spec(name), args)

    async def call_response(self, name: str, /, **args: Any) -> Response:
        """Like :meth:`call`, with the status and headers of the answer."""
        return await self._session.send(self._spec(name), args)

    def paginate(self, name: str, /, **args: Any) -> CursorCall[dict[str, Any], Any]:
        """Raw pagination of a list method: pages and items as the API returned them."""
        spec = self._spec(name)
        if spec.page is None:
            raise ArgumentError(name, ["this method is not paginated"])
        return self._session.paginate_raw(spec, args)


class Client(_BaseClient, WebAPI):
    """Async client of the DX Web API (``https://api.getdx.com``).

    ``token`` defaults to ``$DX_API_TOKEN`` and ``base_url`` to ``$DX_BASE_URL`` (dedicated
    deployments use ``https://api.<account>.getdx.io``). ``rate_limit`` is ``(requests,
    seconds)`` or a :class:`RateLimit`; ``None`` turns client-side limiting off.
    ``limiter`` is any :class:`Limiter` (e.g. a :class:`RedisLimiter` shared by processes);
    without one, ``$DX_RATE_LIMIT_URL=redis://...`` makes a RedisLimiter of ``rate_limit``.
    ``max_connections`` caps the connection pool (ignored when you pass ``session``).
    ``transport`` replaces the HTTP layer (e.g. ``dxapi.testing.MockTransport``); ``limits``
    bounds the size of answers (:class:`Limits`).

    Network: ``$HTTPS_PROXY``/``$HTTP_PROXY``/``$NO_PROXY`` are honoured, and ``proxy``
    (``"http://[user:password@]host:port"``) overrides them. ``ssl`` is an
    ``ssl.SSLContext`` or the path of a CA bundle (PEM) to trust instead of the system's.
    ``default_headers`` go with every DX request (under a call's ``extra_headers``; never
    the reserved ones). ``hooks`` (:class:`Hooks`) observe every attempt.
    """

    _api = "web"
    _token_env = "DX_API_TOKEN"

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: Timeout | float = Timeout(),
        rate_limit: RateLimit | tuple[int, float] | None = DX_RATE_LIMIT,
        retries: RetryPolicy | int = RetryPolicy(),
        session: CallerSession | None = None,
        limiter: Limiter | None = None,
        max_connections: int = 100,
        transport: Transport | None = None,
        limits: Limits | None = None,
        proxy: str | None = None,
        ssl: SSLSetting = None,
        default_headers: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self._setup(
            token=token,
            base_url=base_url or os.environ.get("DX_BASE_URL") or DEFAULT_WEB_URL,
            timeout=timeout,
            rate_limit=rate_limit,
            retries=retries,
            session=session,
            limiter=limiter,
            encoding="json",
            max_connections=max_connections,
            transport=transport,
            limits=limits,
            proxy=proxy,
            ssl=ssl,
            default_headers=default_headers,
            hooks=hooks,
        )


class DataCloudClient(_BaseClient, DataCloudAPI):
    """Async client of the DX Data Cloud API (``https://<instance>.getdx.net/api``).

    ``token`` defaults to ``$DX_DATACLOUD_TOKEN``; give ``instance`` (or
    ``$DX_DATACLOUD_INSTANCE``) or a full ``base_url`` ending before the method name.
    ``encoding`` picks JSON bodies (default) or URL-encoded forms. The other options are
    those of :class:`Client`.
    """

    _api = "datacloud"
    _token_env = "DX_DATACLOUD_TOKEN"

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
        session: CallerSession | None = None,
        limiter: Limiter | None = None,
        max_connections: int = 100,
        transport: Transport | None = None,
        limits: Limits | None = None,
        proxy: str | None = None,
        ssl: SSLSetting = None,
        default_headers: Mapping[str, str] | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        if base_url is None:
            instance = instance or os.environ.get("DX_DATACLOUD_INSTANCE")
            if not instance:
                raise ValueError(
                    "no Data Cloud instance: pass instance=..., base_url=... "
                    "or set $DX_DATACLOUD_INSTANCE"
                )
            if not instance.replace("-", "").isalnum():
                raise ValueError(f"instance must be a host label like 'acme', got {instance!r}")
            base_url = f"https://{instance}.getdx.net/api"
        self._setup(
            token=token,
            base_url=base_url,
            timeout=timeout,
            rate_limit=rate_limit,
            retries=retries,
            session=session,
            limiter=limiter,
            encoding=encoding,
            max_connections=max_connections,
            transport=transport,
            limits=limits,
            proxy=proxy,
            ssl=ssl,
            default_headers=default_headers,
            hooks=hooks,
        )


@functools.cache
def _registry() -> Mapping[str, MethodSpec]:
    """Every method by name, loaded with the first call by name (it is the whole registry)."""
    from ._generated.specs import METHODS

    return METHODS


def _redis() -> type[RedisLimiter]:
    from ._redis_limiter import RedisLimiter

    return RedisLimiter
