"""dxapi: an async, fully typed SDK for the DX Web API and the DX Data Cloud API.

::

    async with dxapi.Client() as dx:                       # token from $DX_API_TOKEN
        async for entity in dx.catalog.entities.list():   # every item of every page
            print(entity.identifier)
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._client import Client, DataCloudClient
from ._config import Limits, RateLimit, Timeout
from ._errors import (
    APIError,
    ArgumentError,
    AuthError,
    DXError,
    JobError,
    NotFoundError,
    PaginationError,
    QueryRunError,
    QueryRunExpiredError,
    QueryRunFailedError,
    QueryRunTimeoutError,
    RateLimitError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ResponseValidationError,
    TransportError,
    WorkflowRunError,
    WorkflowRunTimeoutError,
)
from ._hooks import HookEvent, Hooks
from ._limiter import Limiter, LimiterClosedError, LimiterUnavailableError, TokenBucket
from ._pagination import CursorCall
from ._response import Response
from ._result import raw, response_of
from ._retry import RetryPolicy
from ._spec import UNSET, MethodSpec, Unset
from ._transport import Transport
from ._version import __version__

__all__ = [
    "UNSET",
    "APIError",
    "ArgumentError",
    "AuthError",
    "BatchReport",
    "Bulk",
    "ChunkFailure",
    "ChunkSuccess",
    "Client",
    "CursorCall",
    "DXError",
    "DataCloudClient",
    "HookEvent",
    "Hooks",
    "JobError",
    "Limiter",
    "LimiterClosedError",
    "LimiterUnavailableError",
    "Limits",
    "MethodSpec",
    "NotFoundError",
    "Outcome",
    "PaginationError",
    "QueryResult",
    "QueryRunError",
    "QueryRunExpiredError",
    "QueryRunFailedError",
    "QueryRunTimeoutError",
    "RateLimit",
    "RateLimitError",
    "RedisLimiter",
    "RequestTimeoutError",
    "Response",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "RetryPolicy",
    "SyncClient",
    "SyncCursorCall",
    "SyncDataCloudClient",
    "Timeout",
    "TokenBucket",
    "Transport",
    "TransportError",
    "Unset",
    "WorkflowRunError",
    "WorkflowRunTimeoutError",
    "__version__",
    "arrow_schema",
    "fan_out",
    "raw",
    "response_of",
    "scopes",
    "to_arrow",
    "to_dicts",
]

if _TYPE_CHECKING:
    from . import scopes
    from ._arrow import arrow_schema, to_arrow, to_dicts
    from ._batch import BatchReport, ChunkFailure, ChunkSuccess
    from ._bulk import Bulk, Outcome, fan_out
    from ._query_runs import QueryResult
    from ._redis_limiter import RedisLimiter
    from ._sync import SyncCursorCall
    from ._sync_client import SyncClient, SyncDataCloudClient

# Loaded on first use, so `import dxapi` stays cheap: name → module.
_LAZY = {
    "scopes": "dxapi.scopes",
    "BatchReport": "dxapi._batch",
    "ChunkFailure": "dxapi._batch",
    "ChunkSuccess": "dxapi._batch",
    "Bulk": "dxapi._bulk",
    "Outcome": "dxapi._bulk",
    "fan_out": "dxapi._bulk",
    "QueryResult": "dxapi._query_runs",
    "arrow_schema": "dxapi._arrow",
    "to_arrow": "dxapi._arrow",
    "to_dicts": "dxapi._arrow",
    "SyncClient": "dxapi._sync_client",
    "SyncCursorCall": "dxapi._sync",
    "SyncDataCloudClient": "dxapi._sync_client",
    "RedisLimiter": "dxapi._redis_limiter",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dxapi' has no attribute {name!r}")
    import importlib

    loaded = importlib.import_module(module)
    value = loaded if name == "scopes" else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
