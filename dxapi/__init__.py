"""dxapi: an async, fully typed SDK for the DX Web API and the DX Data Cloud API.

::

    async with dxapi.Client() as dx:                       # token from $DX_API_TOKEN
        async for entity in dx.catalog.entities.list():   # every item of every page
            print(entity.identifier)
"""

from . import scopes
from ._batch import BatchReport, ChunkFailure, ChunkSuccess
from ._bulk import Bulk, Outcome, fan_out
from ._client import Client, DataCloudClient
from ._config import RateLimit, Timeout
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
    TransportError,
    WorkflowRunError,
    WorkflowRunTimeoutError,
)
from ._limiter import TokenBucket
from ._pagination import CursorCall
from ._query_runs import QueryResult
from ._retry import RetryPolicy
from ._session import Response
from ._spec import UNSET, MethodSpec, Unset
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
    "RetryPolicy",
    "Timeout",
    "TokenBucket",
    "TransportError",
    "Unset",
    "WorkflowRunError",
    "WorkflowRunTimeoutError",
    "__version__",
    "fan_out",
    "scopes",
]
