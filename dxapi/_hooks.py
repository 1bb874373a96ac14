"""Observability: event callbacks of the request loop, and the ``$DX_LOG`` switch.

A :class:`Hooks` value holds up to four callbacks, each sync or async, each given one frozen
:class:`HookEvent`. Events carry the method's name, the attempt, the HTTP verb, the status,
durations and waits: never a header, a URL's query, an argument or the token. A callback
that raises is logged on the ``dxapi`` logger and the call goes on: observing a call never
changes its outcome.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs

from ._redact import RedactFilter

__all__ = ["HookEvent", "Hooks", "configure_log"]

log = logging.getLogger("dxapi")

EventKind = Literal["request", "response", "retry", "end"]


@attrs.frozen
class HookEvent:
    """One moment of one call.

    - ``kind``: ``"request"`` (an attempt is about to be sent), ``"response"`` (it has an
      answer or failed), ``"retry"`` (the loop waits ``wait`` seconds before asking again),
      ``"end"`` (the call returns or raises; ``duration`` is the whole call's).
    - ``method``: the DX method (``"teams.info"``); ``http``: the verb sent.
    - ``call``: a number shared by every event of one call, and by no other call's (to
      pair a call's ``end`` with its first ``request``, e.g. for one span per call).
    - ``attempt``: 1 for the first send of the call, counting every send (retries, polls of a
      job not ready yet, download hops).
    - ``status``: the HTTP status, or None when there was no answer (connection failure,
      timeout). ``error``: the class name of the failure, if any (``"RateLimitError"``).
    - ``duration``: seconds of the attempt (``response``) or of the call (``end``).
    - ``wait``: seconds before the next attempt (``retry``).
    """

    kind: EventKind
    method: str
    http: str
    call: int
    attempt: int
    status: int | None = None
    error: str | None = None
    duration: float | None = None
    wait: float | None = None


Callback = Callable[[HookEvent], Awaitable[None] | None]


def _callback(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"Hooks.{attribute.name} must be callable, got {type(value).__name__}")


@attrs.frozen
class Hooks:
    """Callbacks a client calls from its request loop (``Client(hooks=Hooks(...))``).

    ``on_request`` before each attempt, ``on_response`` after it, ``on_retry`` before each
    wait, ``on_end`` once per call. Each takes one :class:`HookEvent` and may be async. Keep
    them quick: they run inside the call (an attempt's timer does not include them).
    """

    on_request: Callback | None = attrs.field(default=None, validator=_callback)
    on_response: Callback | None = attrs.field(default=None, validator=_callback)
    on_retry: Callback | None = attrs.field(default=None, validator=_callback)
    on_end: Callback | None = attrs.field(default=None, validator=_callback)

    async def emit(self, event: HookEvent) -> None:
        callback = getattr(self, f"on_{event.kind}")
        if callback is None:
            return
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("%s: the on_%s hook failed", event.method, event.kind)


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``$DX_LOG`` adds (marked by its class, so it is added once)."""


def configure_log(env: dict[str, str] | None = None) -> None:
    """With ``$DX_LOG=debug|info``, log the ``dxapi`` logger to stderr at that level.

    Done once per process; the handler redacts as the logger does, and no dxapi line
    formats headers. Any other value is refused with the accepted ones named.
    """
    value = (os.environ if env is None else env).get("DX_LOG", "").strip().lower()
    if not value:
        return
    level = LEVELS.get(value)
    if level is None:
        raise ValueError(f"DX_LOG must be 'debug' or 'info', got {value!r}")
    if any(isinstance(h, _Handler) for h in log.handlers):
        return
    handler = _Handler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter())  # child loggers' records pass here, not the logger's
    log.addHandler(handler)
    log.setLevel(level)
