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
    TransportError,
    WorkflowRunError,
    WorkflowRunTimeoutError,
)
from ._limiter import TokenBucket
from ._pagination import CursorCall
from ._retry import RetryPolicy
from ._session import Response
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
    "JobError",
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
    "RequestTimeoutError",
    "Response",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Timeout",
    "TokenBucket",
    "Transport",
    "TransportError",
    "Unset",
    "WorkflowRunError",
    "WorkflowRunTimeoutError",
    "__version__",
    "fan_out",
    "scopes",
]

if _TYPE_CHECKING:
    from . import scopes
    from ._batch import BatchReport, ChunkFailure, ChunkSuccess
    from ._bulk import Bulk, Outcome, fan_out
    from ._query_runs import QueryResult

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
