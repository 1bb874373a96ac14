"""Injected faults: error statuses, slow answers, dropped connections, malformed bodies.

Each :class:`Fault` matches a method name (or ``"*"`` for every method) and is consumed by
one matching request per ``times``; the oldest matching fault is used first. A fault for a
method the fake does not serve is refused (it would never fire).
"""

from __future__ import annotations

import asyncio
import difflib
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

import attrs
from aiohttp import web

from .._generated.specs import METHODS

__all__ = ["Fault", "Faults"]


@attrs.define
class Fault:
    """What to do to the next ``times`` requests of ``method``.

    ``delay`` alone slows the normal answer down. ``status``/``body``/``headers`` replace
    the answer (a ``str`` body starting with ``<`` is sent as HTML, a mapping as JSON).
    ``drop_connection`` closes the connection without answering; ``truncate`` sends the
    headers and half the body, then closes it.
    """

    method: str
    status: int | None = None
    times: int = 1
    delay: float = 0.0
    drop_connection: bool = False
    truncate: bool = False
    body: bytes | str | Mapping[str, Any] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    #: How many requests this fault has been applied to.
    hits: int = 0

    @property
    def remaining(self) -> int:
        return self.times - self.hits

    @property
    def replaces_answer(self) -> bool:
        return bool(
            self.drop_connection
            or self.truncate
            or self.status is not None
            or self.body is not None
        )

    def body_bytes(self) -> tuple[bytes, str]:
        """The replacement body and its content type."""
        if isinstance(self.body, Mapping):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            kind = "text/html" if self.body.lstrip().startswith("<") else "text/plain"
            return self.body.encode(), kind
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        status = self.status or 200
        code = "internal_error" if status >= 500 else f"http_{status}"
        payload = {"ok": status < 400, **({"error": code} if status >= 400 else {})}
        return json.dumps(payload).encode(), "application/json"

    async def respond(self, request: web.Request) -> web.StreamResponse:
        """Apply this fault's answer (after the delay, which the caller has slept)."""
        body, kind = self.body_bytes()
        headers = {"Content-Type": kind, **self.headers}
        if self.drop_connection:
            _close(request)
            return web.Response(status=500)
        if self.truncate:
            resp = web.StreamResponse(status=self.status or 200, headers=headers)
            resp.content_length = len(body)
            await resp.prepare(request)
            await resp.write(body[: len(body) // 2])
            _close(request)
            return resp
        return web.Response(status=self.status or 200, body=body, headers=headers)


def _close(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


@attrs.define
class Faults:
    """The queue of pending faults."""

    pending: list[Fault] = attrs.field(factory=list)
    #: The method names the fake serves now (the registry's, and those added since).
    served: Callable[[], Collection[str]] = lambda: METHODS.keys()

    def add(self, fault: Fault) -> Fault:
        if fault.times < 1:
            raise ValueError("times must be 1 or more")
        served = self.served()
        if fault.method != "*" and fault.method not in served:
            close = difflib.get_close_matches(fault.method, list(served), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ValueError(
                f"inject: the fake serves no method {fault.method!r}, so the fault would "
                f"never fire{hint} (add_method() serves a new one)"
            )
        self.pending.append(fault)
        return fault

    def take(self, method: str) -> Fault | None:
        """The fault for this request of ``method`` (consuming one of its times), or None."""
        for fault in self.pending:
            if fault.method in (method, "*"):
                fault.hits += 1
                if fault.remaining <= 0:
                    self.pending.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.pending.clear()


async def sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
