"""The exceptions dxapi raises.

::

    DXError
    ├── ArgumentError (also TypeError)   a missing/unknown/mistyped argument, before any request
    ├── PaginationError                  the server repeated a cursor (would loop forever)
    ├── ResponseValidationError          a successful answer that does not fit its declared
    │                                    result: .path .declared .got .payload .accepted
    ├── TransportError                   connection failures, non-JSON or truncated bodies
    │   ├── RequestTimeoutError (also TimeoutError)  an attempt or a call's deadline ran out
    │   └── ResponseTooLargeError        an answer larger than the client's Limits allow
    └── APIError                         .error .status .method .retry_after .details
        ├── AuthError                    not_authed, invalid_auth, missing scopes, 401/403
        ├── NotFoundError                not_found and *_not_found codes, 404
        ├── RateLimitError               429 once retries are spent, or Retry-After beyond the cap
        └── JobError                     an asynchronous job ended badly
            ├── QueryRunError            Data Studio query runs
            │   ├── QueryRunFailedError      the run failed; .details holds the server's error
            │   ├── QueryRunExpiredError     410 / expired: results are gone, re-execute
            │   └── QueryRunTimeoutError     (also TimeoutError) the wait's deadline ran out
            └── WorkflowRunError         a workflow run ended FAILED/REJECTED/TIMEOUT/CANCELLED
                └── WorkflowRunTimeoutError  (also TimeoutError) the wait's deadline ran out

Every exception carries facts as attributes. None of them ever formats request headers, so
the token cannot leak through a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIError",
    "ArgumentError",
    "AuthError",
    "DXError",
    "JobError",
    "NotFoundError",
    "PaginationError",
    "QueryRunError",
    "QueryRunExpiredError",
    "QueryRunFailedError",
    "QueryRunTimeoutError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "TransportError",
    "WorkflowRunError",
    "WorkflowRunTimeoutError",
    "error_from_response",
]


class DXError(Exception):
    """Base class of every error dxapi raises.

    Every dxapi error pickles and deep-copies with its attributes (process pools, Celery and
    Dask move exceptions between processes), although most take keyword-only arguments.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class ArgumentError(DXError, TypeError):
    """Arguments that cannot be sent: every problem is listed in ``.problems``."""

    def __init__(self, method: str, problems: list[str]) -> None:
        self.method = method
        self.problems = problems
        super().__init__(f"{method}: " + "; ".join(problems))


class PaginationError(DXError):
    """The server broke the pagination contract (e.g. repeated a cursor)."""


class ResponseValidationError(DXError):
    """DX answered with success, but the payload does not fit the method's declared result.

    ``.path`` names the field (``entities[3].owner_teams[0].name``; empty for the payload
    itself), ``.declared`` and ``.got`` say what was expected and what came. ``.payload`` is
    the whole payload, with ``.status`` and ``.headers`` of the answer (None when a helper
    read part of an answer). ``.accepted`` is True when the call was a write that DX answered
    with ``ok: true``: the write took effect, so sending it again would repeat it.
    """

    def __init__(
        self,
        method: str,
        *,
        result: str,
        path: str,
        declared: str,
        got: str,
        payload: Any,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        accepted: bool = False,
    ) -> None:
        self.method = method
        self.result = result
        self.path = path
        self.declared = declared
        self.got = got
        self.payload = payload
        self.status = status
        self.headers = headers
        self.accepted = accepted
        where = f"at {path}" if path else "as a whole"
        text = (
            f"{method}: the answer does not fit {result} {where}: declared {declared}, got {got}"
        )
        if accepted:
            text += " (DX accepted the write: ok is true; do not send it again)"
        super().__init__(text)


class TransportError(DXError):
    """The request failed below the API: network, timeout, or a body that is not the API's."""

    def __init__(
        self, message: str, *, method: str | None = None, status: int | None = None
    ) -> None:
        self.method = method
        self.status = status
        super().__init__(message)


class RequestTimeoutError(TransportError, TimeoutError):
    """An attempt's timeout or a call's overall deadline ran out."""


class ResponseTooLargeError(TransportError):
    """The answer exceeded ``Limits.max_response_bytes`` (or ``max_download_bytes``)."""


class APIError(DXError):
    """The API answered with an error (``ok: false`` or a non-2xx status)."""

    def __init__(
        self,
        error: str,
        *,
        status: int,
        method: str,
        message: str | None = None,
        retry_after: float | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.error = error
        self.status = status
        self.method = method
        self.message = message
        self.retry_after = retry_after
        self.details = dict(details or {})
        text = f"{method} failed: {error} (HTTP {status})"
        if message:
            text += f": {message}"
        super().__init__(text)


class AuthError(APIError):
    """The token is missing or invalid, lacks the method's scope, or may not see the object.

    ``.reason`` says which: ``"token"`` (DX did not accept the token: ``not_authed``,
    ``invalid_auth``, ``token_revoked``…, or any 401), ``"scope"`` (``missing_scope``, or a
    403 whose answer names a scope) or ``"forbidden"`` (another refusal, e.g. of one object).
    The message says it too, and keeps the server's own message.
    """

    reason: str  #: "token", "scope" or "forbidden"
    _TOKEN_CODES = frozenset(
        {"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired"}
    )
    _SAYS = {
        "token": "the token was not accepted",
        "scope": "the token lacks a scope",
        "forbidden": "access was refused",
    }

    def __init__(self, error: str, *, status: int, method: str, **facts: Any) -> None:
        super().__init__(error, status=status, method=method, **facts)
        if error in self._TOKEN_CODES or (status == 401 and error != "missing_scope"):
            self.reason = "token"
        elif error == "missing_scope" or _names_scope(self.details):
            self.reason = "scope"
        else:
            self.reason = "forbidden"
        text = f"{method} failed: {self._SAYS[self.reason]}: {error} (HTTP {status})"
        self.args = (f"{text}: {self.message}" if self.message else text,)


def _names_scope(details: Mapping[str, Any]) -> bool:
    return any(key in details for key in ("needed", "scope", "required_scope", "scopes"))


class NotFoundError(APIError):
    """The object named by the arguments does not exist."""


class RateLimitError(APIError):
    """DX refused the request for rate limiting and retrying was not possible."""


class JobError(APIError):
    """An asynchronous job (query run, workflow run) ended in a state that is not success.

    ``.job_id`` names the job, ``.state`` is its last known status (``failed``, ``expired``,
    ``CANCELLED``…; None when unknown) and ``.job`` the last job object the server sent.
    """

    def __init__(
        self,
        error: str,
        *,
        status: int,
        method: str,
        message: str | None = None,
        retry_after: float | None = None,
        details: Mapping[str, Any] | None = None,
        job_id: str | None = None,
        state: str | None = None,
        job: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            error,
            status=status,
            method=method,
            message=message,
            retry_after=retry_after,
            details=details,
        )
        self.job_id = job_id
        self.state = state
        self.job = dict(job) if job is not None else None
        if job_id is not None:  # about the job, not about the HTTP call that reported it
            self.args = (f"{message} ({error})" if message else f"job {job_id}: {error}",)


class QueryRunError(JobError):
    """A Data Studio query run did not produce results."""


class QueryRunFailedError(QueryRunError):
    """The query run failed; ``.details`` holds the server's error object."""


class QueryRunExpiredError(QueryRunError):
    """The query run's results expired; execute the query again."""


class QueryRunTimeoutError(QueryRunError, TimeoutError):
    """Waiting for a query run exceeded its deadline."""


class WorkflowRunError(JobError):
    """A workflow run ended FAILED, REJECTED, TIMEOUT or CANCELLED (``.error``)."""


class WorkflowRunTimeoutError(WorkflowRunError, TimeoutError):
    """Waiting for a workflow run exceeded its deadline."""


# One table from error code to class; status decides when the code is unknown.
_BY_CODE: dict[str, type[APIError]] = {
    "not_authed": AuthError,
    "invalid_auth": AuthError,
    "account_inactive": AuthError,
    "token_revoked": AuthError,
    "token_expired": AuthError,
    "missing_scope": AuthError,
    "not_authorized": AuthError,
    "forbidden": AuthError,
    "not_found": NotFoundError,
    "ratelimited": RateLimitError,
    "rate_limited": RateLimitError,
    "execution_expired": QueryRunExpiredError,
    "results_expired": QueryRunExpiredError,
}
_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    410: QueryRunExpiredError,
    429: RateLimitError,
}


def error_class(status: int, code: str) -> type[APIError]:
    """Pick the exception class for an error answer."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code.endswith("_not_found"):
        return NotFoundError
    return _BY_STATUS.get(status, APIError)


def error_from_response(
    method: str,
    status: int,
    payload: Mapping[str, Any] | None,
    retry_after: float | None = None,
) -> APIError:
    """Build the typed error for an error answer (``ok: false`` or a non-2xx status)."""
    payload = payload or {}
    raw_code = payload.get("error")
    details = payload.get("error_details")
    message: str | None = None
    if isinstance(raw_code, Mapping):  # some endpoints nest {code, message}
        message = _str_or_none(raw_code.get("message"))
        raw_code = raw_code.get("code")
    code = raw_code if isinstance(raw_code, str) and raw_code else f"http_{status}"
    if isinstance(details, Mapping):
        message = _str_or_none(details.get("message")) or message
    message = message or _str_or_none(payload.get("message"))
    cls = error_class(status, code)
    return cls(
        code,
        status=status,
        method=method,
        message=message,
        retry_after=retry_after,
        details=payload,
    )


def _rebuild(cls: type[DXError], args: tuple[Any, ...], state: dict[str, Any]) -> DXError:
    """Unpickle a dxapi error without calling its ``__init__`` (whose signature varies)."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
