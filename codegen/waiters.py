"""``waiters:`` entries → :class:`~dxapi._spec.WaiterSpec`, checked against the methods."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dxapi._spec import WaitDelay, WaiterSpec

from .model import Method, Waiter
from .problems import Problems, squash

__all__ = ["check_waiters", "waiter"]

_WAITER_KEYS = {
    "doc",
    "poll",
    "id",
    "status",
    "job",
    "error",
    "start",
    "start_id",
    "pending",
    "success",
    "failure",
    "timeout_error",
    "delay",
}
_WAITER_NAME = re.compile(r"^[a-z][A-Za-z0-9]*$")
_ERROR_CLASS = re.compile(r"^[A-Z][A-Za-z0-9]*Error$")
_DOTTED = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


def _states(p: Problems, file: str, name: str, key: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not all(isinstance(s, str) and s for s in raw):
        p.add(file, name, key, "must be a list of state names")
        return ()
    return tuple(raw)


def waiter(p: Problems, file: str, name: str, body: Any) -> Waiter | None:
    if not _WAITER_NAME.match(name):
        p.add(file, name, "(waiter)", "waiter names are camelCase, e.g. queryRun")
        return None
    if not isinstance(body, Mapping):
        p.add(file, name, "(waiter)", "must be a mapping")
        return None
    for key in sorted(set(body) - _WAITER_KEYS):
        p.add(file, name, key, "unknown waiter key")
    for key in ("poll", "id", "status"):
        if not isinstance(body.get(key), str) or not body.get(key):
            p.add(file, name, key, "required")
    for key in ("status", "job", "error", "start_id"):
        value = body.get(key)
        if value is not None and not (isinstance(value, str) and _DOTTED.match(value)):
            p.add(file, name, key, "must be a dotted payload path like query_run.status")
    pending = _states(p, file, name, "pending", body.get("pending", []))
    success = _states(p, file, name, "success", body.get("success"))
    if not success:
        p.add(file, name, "success", "needs at least one state")
    raw_failure = body.get("failure") or {}
    failure: list[tuple[str, str]] = []
    if not isinstance(raw_failure, Mapping):
        p.add(file, name, "failure", "must map each failure state to an error class name")
        raw_failure = {}
    for state, cls in raw_failure.items():
        if not isinstance(cls, str) or not _ERROR_CLASS.match(cls):
            p.add(file, name, f"failure.{state}", "must name an error class (…Error)")
            continue
        failure.append((str(state), cls))
    seen: dict[str, str] = {}
    groups = (("pending", pending), ("success", success), ("failure", [s for s, _ in failure]))
    for group, states in groups:
        for s in states:
            if s in seen:
                p.add(file, name, group, f"state {s!r} is also listed under {seen[s]}")
            seen[s] = group
    timeout_error = body.get("timeout_error", "JobError")
    if not isinstance(timeout_error, str) or not _ERROR_CLASS.match(timeout_error):
        p.add(file, name, "timeout_error", "must name an error class (…Error)")
        timeout_error = "JobError"
    if (body.get("start") is None) != (body.get("start_id") is None):
        p.add(file, name, "start", "start and start_id go together")
    delay = _delay(p, file, name, body.get("delay") or {})
    spec = WaiterSpec(
        name=name,
        poll=str(body.get("poll", "")),
        id_arg=str(body.get("id", "")),
        status=str(body.get("status", "")),
        pending=pending,
        success=success,
        failure=tuple(failure),
        job=body.get("job"),
        error=body.get("error"),
        start=body.get("start"),
        start_id=body.get("start_id"),
        timeout_error=timeout_error,
        delay=delay,
        doc=squash(body.get("doc")),
    )
    return Waiter(spec, file)


def _delay(p: Problems, file: str, name: str, raw: Any) -> WaitDelay:
    problem = "needs initial, max (seconds) and multiplier, with initial <= max, multiplier >= 1"
    if not isinstance(raw, Mapping) or set(raw) - {"initial", "max", "multiplier"}:
        p.add(file, name, "delay", problem)
        return WaitDelay()
    try:
        initial = float(raw.get("initial", 1.0))
        cap = float(raw.get("max", 10.0))
        multiplier = float(raw.get("multiplier", 1.5))
    except (TypeError, ValueError):
        p.add(file, name, "delay", problem)
        return WaitDelay()
    if not (0 <= initial <= cap and multiplier >= 1):
        p.add(file, name, "delay", problem)
    return WaitDelay(initial, cap, multiplier)


def check_waiters(
    p: Problems, waiters: Mapping[str, Waiter], methods: Mapping[str, Method]
) -> None:
    for waiter in waiters.values():
        w, file = waiter.spec, waiter.file
        poll = methods.get(w.poll)
        if poll is None:
            p.add(file, w.name, "poll", f"unknown method {w.poll!r}")
        else:
            if w.id_arg not in {a.name for a in poll.spec.args}:
                p.add(file, w.name, "id", f"{w.poll} has no argument {w.id_arg!r}")
            if not poll.spec.idempotent:
                p.add(file, w.name, "poll", f"{w.poll} is not safe to repeat")
            keys = {f.name for f in poll.fields}
            for key in ("status", "job", "error"):
                path = getattr(w, key)
                if path and path.split(".")[0] not in keys:
                    p.add(file, w.name, key, f"{w.poll} has no result key {path!r}")
        if w.start is not None:
            start = methods.get(w.start)
            if start is None:
                p.add(file, w.name, "start", f"unknown method {w.start!r}")
            elif w.start_id and w.start_id.split(".")[0] not in {f.name for f in start.fields}:
                p.add(file, w.name, "start_id", f"{w.start} has no result key {w.start_id!r}")
