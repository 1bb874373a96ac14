"""The clients of the REST APIs in ``registry/peers/``: DX's client machinery, another dialect.

Each is the shared client base (session, limiter, retry policy, errors, pagination, bulk, the
raw escape hatches) over a generated root of namespaces; what differs is the API's
:class:`~dxapi._dialect.Dialect` (auth, envelope, rate headers) carried by its specs.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from .._client import _BaseClient
from .._config import Limits, RateLimit, Timeout
from .._dialect import BEARER, Dialect
from .._errors import ArgumentError
from .._hooks import Hooks
from .._limiter import Limiter
from .._retry import RetryPolicy
from .._spec import MethodSpec, Verb
from .._transport import CallerSession, SSLSetting, Transport

__all__ = ["PeerClient"]

_DEFAULT: Any = object()


class PeerClient(_BaseClient):
    """Base of the REST API clients: ``token``, ``base_url``, ``auth`` (a scheme the API
    accepts: ``"bearer"`` or the API-key header's name), and the same ``timeout``,
    ``rate_limit``, ``retries``, ``session``, ``limiter``, ``transport``, ``limits``,
    ``proxy``, ``ssl``, ``default_headers`` and ``hooks`` options as :class:`dxapi.Client`.
    ``rate_limit`` defaults to the limit the API documents, if any; the limiter also holds
    every call while the API's rate headers say its budget is spent. ``rate_limit=None``
    (with no ``limiter``) turns both off.
    """

    _api: ClassVar[str]
    _token_env: ClassVar[str]
    _url_env: ClassVar[str]

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        auth: str = "bearer",
        timeout: Timeout | float = Timeout(),
        rate_limit: RateLimit | tuple[int, float] | None = _DEFAULT,
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
        dialect = self.dialect()
        chosen = next(
            (a for a in dialect.auth if auth == ("bearer" if a == BEARER else a.header)), None
        )
        if chosen is None:
            offered = ["bearer" if a == BEARER else a.header for a in dialect.auth]
            raise ValueError(f"auth must be one of {offered} for {self._api}, got {auth!r}")
        base_url = base_url or os.environ.get(self._url_env)
        if not base_url:
            raise ValueError(
                f"no {self._api} base URL: pass base_url=... (shaped {dialect.base_url}) "
                f"or set ${self._url_env}"
            )
        if rate_limit is _DEFAULT:
            rate_limit = dialect.rate_limit
        self._setup(
            token=token,
            base_url=base_url,
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
        self._session.use_auth(chosen)

    @classmethod
    def _specs(cls) -> Any:
        return importlib.import_module(f"dxapi._generated.peers.{cls._api}.specs")

    @classmethod
    def dialect(cls) -> Dialect:
        """The API's auth schemes, envelope and rate headers, as the registry declares them."""
        dialect: Dialect = cls._specs().DIALECT
        return dialect

    @classmethod
    def methods(cls) -> dict[str, MethodSpec]:
        return dict(cls._specs().METHODS)

    def _spec(self, name: str) -> MethodSpec:
        spec = self.methods().get(name)
        if spec is None:
            raise ArgumentError(
                name,
                [
                    f"no such {self._api} method {name!r}; to call an endpoint dxapi does not "
                    "know yet, use .request(verb, path, ...) or .get(path)/.post(path)"
                ],
            )
        return spec

    def _adhoc(self, name: str, http: Literal["GET", "POST"], idempotent: bool) -> MethodSpec:
        return self._open_spec(http, name, idempotent)

    def _open_spec(self, http: Verb, path: str, idempotent: bool) -> MethodSpec:
        if not isinstance(path, str) or not path.startswith("/") or "{" in path:
            raise ArgumentError(str(path)[:80], ["a path starts with / and has no {placeholders}"])
        return MethodSpec(
            name=path,
            http=http,
            api=self._api,
            idempotent=idempotent,
            summary="an endpoint called by path, outside the registry",
            path_template=path,
            dialect=self.dialect(),
        )

    async def request(
        self,
        verb: Verb,
        path: str,
        /,
        *,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Send any verb to a path the registry lacks (``/v2/new/thing``), values as given.

        The answer is unwrapped by the API's envelope, errors typed as for every method.
        ``idempotent`` defaults to True for GET, PUT and DELETE.
        """
        if verb not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise ArgumentError(path, [f"unknown verb {verb!r}"])
        if idempotent is None:
            idempotent = verb in ("GET", "PUT", "DELETE")
        spec = self._open_spec(verb, path, idempotent)
        args = {"extra_query": query, "extra_body": body, "extra_headers": headers}
        return (await self._session.send(spec, args)).payload
