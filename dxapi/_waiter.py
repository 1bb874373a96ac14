"""Wait for asynchronous jobs the way the registry's ``waiters:`` describe them.

One mechanism serves every kind of job (Data Studio query runs, workflow runs): a
:class:`~dxapi._spec.WaiterSpec` names the method to poll, the argument carrying the job id,
where the state is in the payload and what each state means. :class:`Waiter` starts a job
(reading its id, ``Location`` and ``Retry-After`` from the 202), polls with the server's
Retry-After or the spec's backoff, and ends with the job's payload or the typed error the
registry names. Polls go through the session, so they count against the account's bucket and
any per-job limit (``rate_limit: {key: id}``) of the polled method.

The decisions (what a state means, how long to wait, which error to raise) are pure functions;
only :class:`Waiter` does I/O, through the session. Cancellation (a cancel scope, a task
cancel, a deadline) stops a wait at once: nothing is left running and no connection is held.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit

import anyio
import attrs

from . import _errors
from ._errors import JobError
from ._methods import spec_of
from ._spec import MethodSpec, WaiterSpec
from ._wire import dig

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["Started", "Waiter", "classify", "job_error", "next_delay", "timeout_error"]

Verdict = Literal["pending", "success", "failure", "unknown"]
T = TypeVar("T")
#: What a finished wait does next with the job id and the last payload (e.g. fetch results).
Then = Callable[[str, dict[str, Any]], Awaitable[T]]


def classify(spec: WaiterSpec, state: Any) -> Verdict:
    """What a job state means under ``spec``."""
    if isinstance(state, str):
        if state in spec.success:
            return "success"
        if state in spec.pending:
            return "pending"
        if spec.failure_error(state) is not None:
            return "failure"
    return "unknown"


def next_delay(
    spec: WaiterSpec, polls: int, retry_after: float | None, cap: float = math.inf
) -> float:
    """Seconds before the next poll: the server's Retry-After wins, else the spec's backoff;
    never over ``cap`` (the client's ``RetryPolicy.max_poll_interval``)."""
    if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
        return min(retry_after, cap)
    return min(spec.delay.after(polls), cap)


def noun(spec: WaiterSpec) -> str:
    """``queryRun`` → ``query run`` (for messages)."""
    return "".join(" " + c.lower() if c.isupper() else c for c in spec.name).strip()


def _error_class(name: str) -> type[JobError]:
    cls = getattr(_errors, name, None)
    if isinstance(cls, type) and issubclass(cls, JobError):
        return cls
    return JobError


def job_error(
    spec: WaiterSpec, job_id: str, payload: Mapping[str, Any], *, status: int = 200
) -> JobError:
    """The typed error for a job that ended in a failure state (or an unexpected one)."""
    state = dig(payload, spec.status)
    job = dig(payload, spec.job)
    job = job if isinstance(job, Mapping) else None
    server = dig(payload, spec.error)
    details: dict[str, Any] = dict(server) if isinstance(server, Mapping) else {}
    name = spec.failure_error(state) if isinstance(state, str) else None
    cls = _error_class(name) if name else JobError
    code = details.get("code")
    message = details.get("message")
    what = f"{noun(spec)} {job_id}"
    if name is None:
        code, message = "unexpected_state", f"{what} is in an unexpected state {state!r}"
    elif issubclass(cls, _errors.QueryRunExpiredError):
        when = (job or {}).get("expires_at")
        code = code or "expired"
        message = f"{what} expired" + (f" at {when}" if when else "") + "; run the query again"
    else:
        code = code if isinstance(code, str) and code else str(state)
        head = f"{what} ended {state}"
        message = f"{head}: {message}" if isinstance(message, str) and message else head
    return cls(
        str(code),
        status=status,
        method=spec.poll,
        message=str(message),
        details=details,
        job_id=job_id,
        state=state if isinstance(state, str) else None,
        job=job,
    )


def timeout_error(spec: WaiterSpec, job_id: str | None, timeout: float) -> JobError:
    """The error raised when a wait's deadline runs out (also a TimeoutError)."""
    what = f"{noun(spec)} {job_id}" if job_id else f"starting a {noun(spec)}"
    return _error_class(spec.timeout_error)(
        "wait_timeout",
        status=0,
        method=spec.poll,
        message=f"{what} did not finish within {timeout:g} s",
        job_id=job_id,
    )


@attrs.frozen
class Started:
    """A job the server accepted: its id, where to poll (``Location``) and when (Retry-After).

    Only ``id`` is needed to resume waiting later, in this process or another.
    """

    id: str
    payload: dict[str, Any] = attrs.field(repr=False)
    location: str | None = None
    retry_after: float | None = None
    http_status: int = 202


def _id_from_location(location: str | None, arg: str) -> str | None:
    if not location:
        return None
    values = parse_qs(urlsplit(location).query).get(arg)
    return values[0] if values else None


def _seconds(timeout: float | None) -> float:
    return math.inf if timeout is None else timeout


@attrs.frozen
class Waiter:
    """Start and wait for one kind of job, as its :class:`WaiterSpec` describes.

    ``poll`` and ``start`` are the generated methods the spec names (``dx.studio.query_runs.info``
    and ``.execute``); the waiter sends their specs itself, because it reads what their typed
    results leave out: the ``Location`` and the ``Retry-After`` of each answer.
    """

    session: Session
    spec: WaiterSpec
    poll_method: Callable[..., Any] = attrs.field(alias="poll")
    start_method: Callable[..., Any] | None = attrs.field(default=None, alias="start")

    def __attrs_post_init__(self) -> None:
        for method, name in (
            (self.poll_method, self.spec.poll),
            (self.start_method, self.spec.start),
        ):
            if method is not None and spec_of(method).name != name:
                got = spec_of(method).name
                raise TypeError(f"waiter {self.spec.name!r} calls {name}, not {got}")

    async def start(self, args: Mapping[str, Any]) -> Started:
        """Call the start method; read the id from the payload or the ``Location``."""
        if self.start_method is None:
            raise TypeError(f"waiter {self.spec.name!r} has no start method")
        spec: MethodSpec = spec_of(self.start_method)
        resp = await self.session.send(spec, args)
        location = resp.headers.get("location")
        job_id = dig(resp.payload, self.spec.start_id)
        if not isinstance(job_id, str) or not job_id:
            job_id = _id_from_location(location, self.spec.id_arg)
        if not job_id:
            raise _errors.TransportError(
                f"{spec.name}: the answer names no {noun(self.spec)} id",
                method=spec.name,
                status=resp.status,
            )
        return Started(job_id, resp.payload, location, resp.retry_after, resp.status)

    async def start_and_wait(
        self,
        args: Mapping[str, Any],
        then: Then[T],
        *,
        timeout: float | None,  # noqa: ASYNC109 - the whole job's deadline
    ) -> T:
        """Start a job, wait for it to succeed and run ``then``, all within ``timeout``.

        The start answer's Retry-After is the wait before the first poll; if that answer
        already shows a finished job, no poll is made.
        """
        job_id: str | None = None
        with anyio.move_on_after(_seconds(timeout)):
            started = await self.start(args)
            job_id = started.id
            first = started.retry_after
            delay = self.spec.delay.initial if first is None else first
            payload = await self._wait(job_id, delay, started.payload)
            return await then(job_id, payload)
        raise timeout_error(self.spec, job_id, timeout or 0.0)

    async def wait_then(
        self,
        job_id: str,
        then: Then[T],
        *,
        timeout: float | None,  # noqa: ASYNC109 - the whole job's deadline
    ) -> T:
        """Wait for a job started earlier (or elsewhere), then run ``then``, within ``timeout``."""
        with anyio.move_on_after(_seconds(timeout)):
            return await then(job_id, await self._wait(job_id, None, None))
        raise timeout_error(self.spec, job_id, timeout or 0.0)

    async def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a wait's own deadline
        first_delay: float | None = None,
        known: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job succeeds; return the last poll's payload.

        ``first_delay`` is waited before the first poll (e.g. the 202's Retry-After);
        ``known`` is a payload already in hand (e.g. the start answer): if it shows a finished
        job, no poll is made. Raises the registry's failure error, or its timeout error
        (also a ``TimeoutError``) when ``timeout`` seconds pass first.
        """
        with anyio.move_on_after(_seconds(timeout)):
            return await self._wait(job_id, first_delay, known)
        raise timeout_error(self.spec, job_id, timeout or 0.0)

    async def _wait(
        self, job_id: str, first_delay: float | None, known: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        spec = self.spec
        if known is not None:
            verdict = classify(spec, dig(known, spec.status))
            if verdict == "success":
                return dict(known)
            if verdict == "failure":
                raise job_error(spec, job_id, known)
        poll = spec_of(self.poll_method)
        clock = self.session.clock
        cap = self.session.retry.max_poll_interval  # a day's Retry-After is not waited out
        if first_delay:
            await clock.sleep(min(first_delay, cap))
        polls = 0
        while True:
            polls += 1
            try:
                resp = await self.session.send(poll, {spec.id_arg: job_id})
            except _errors.RateLimitError as exc:
                # The session's retries are spent (another client shares the account): a
                # wait has its own deadline, so keep the job and ask again later.
                await clock.sleep(next_delay(spec, polls, exc.retry_after, cap))
                continue
            verdict = classify(spec, dig(resp.payload, spec.status))
            if verdict == "success":
                return resp.payload
            if verdict != "pending":
                raise job_error(spec, job_id, resp.payload, status=resp.status)
            await clock.sleep(next_delay(spec, polls, resp.retry_after, cap))
