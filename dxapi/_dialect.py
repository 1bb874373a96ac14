"""What differs between the APIs dxapi speaks, as data, and the pure functions that read it.

DX's RPC dialect (``/FAMILY.method``, an ``ok``/``error`` envelope) is the default. A REST API
(Sigma, DataGalaxy, Datalinx: ``registry/peers/``) is a :class:`Dialect`: how a request
authenticates, where an answer's payload and an error's code and message live, and which
headers announce the rate limit. Each REST :class:`~dxapi._spec.MethodSpec` carries its API's
dialect; the session, limiter, retry policy, errors and pagination are the same for all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import attrs

from ._errors import TransportError, error_from_response

if TYPE_CHECKING:
    from ._spec import MethodSpec

__all__ = [
    "API_KEY",
    "BEARER",
    "DX_ENVELOPE",
    "Auth",
    "Dialect",
    "Envelope",
    "RateHeaders",
    "auth_headers",
    "decode_answer",
    "decode_body",
    "encode_path",
    "rate_limit_pause",
]


@attrs.frozen
class Auth:
    """How the token travels: ``Authorization: Bearer <token>`` or ``<header>: <token>``."""

    scheme: Literal["bearer", "header"] = "bearer"
    header: str = "Authorization"


BEARER = Auth()
API_KEY = Auth("header", "X-API-Key")


@attrs.frozen
class Envelope:
    """Where an answer's parts live.

    ``data``: the key holding a success's payload (None: the body is the payload). When it
    holds an object, that object is the payload and the body's other keys (``pagination``)
    join it unless they clash; any other value (a list) stays under its key beside them.
    ``status``/``success``: a key naming the outcome and the values meaning success (a body
    with another value is an error whatever its HTTP status); or ``failure``, the values
    meaning an error. ``code``/``message``: dotted paths to an error's code and message.
    """

    data: str | None = None
    status: str | None = None
    success: tuple[str, ...] = ()
    #: Values of ``status`` meaning failure (DX: ``ok: false``), whatever the HTTP status.
    failure: tuple[Any, ...] = ()
    code: str | None = None
    message: str | None = None


#: DX's RPC envelope: ``ok: false`` is an error; ``error`` holds its code (or ``{code,
#: message}``), ``message`` or ``error_details.message`` its message; the payload is the body.
DX_ENVELOPE = Envelope(status="ok", failure=(False,), code="error", message="message")


@attrs.frozen
class RateHeaders:
    """Headers announcing the rate limit; ``reset`` is Unix seconds (``epoch``) or a delay."""

    remaining: str
    reset: str
    limit: str | None = None
    reset_kind: Literal["epoch", "seconds"] = "epoch"


@attrs.frozen
class Dialect:
    """One REST API: its name, base URL shape, auth schemes, envelope and rate headers."""

    name: str
    #: The base URL, ``{placeholders}`` filled by the client (``https://{instance}.datalinx.ai/api``).
    base_url: str
    #: The schemes the API accepts; the first is the client's default.
    auth: tuple[Auth, ...] = (BEARER,)
    envelope: Envelope = Envelope()
    rate_headers: RateHeaders | None = None
    #: (argument name, header name) of arguments sent as headers (``workspace``, ``X-Workspace``).
    headers: tuple[tuple[str, str], ...] = ()
    #: The client's default bucket, (requests, seconds), when the API documents a limit.
    rate_limit: tuple[int, float] | None = None
    doc: str = ""

    def header_name(self, arg: str) -> str:
        return dict(self.headers).get(arg, arg)


def auth_headers(auth: Auth, token: str) -> dict[str, str]:
    """The header that carries ``token`` under ``auth``."""
    if auth.scheme == "bearer":
        return {"Authorization": f"Bearer {token}"}
    return {auth.header: token}


def encode_path(spec: MethodSpec, args: Mapping[str, Any]) -> str:
    """The method's path with each ``{name}`` replaced by its argument, URL-quoted whole
    (``quote(safe="")``: a ``/`` in an id never reaches another route)."""
    path = spec.path_template or spec.path
    for arg in spec.args:
        if arg.location == "path":
            value = args[arg.name]
            text = str(value).lower() if isinstance(value, bool) else str(value)
            if text in ("", ".", ".."):  # a dot segment would be resolved away: another route
                raise ValueError(f"path argument {arg.name!r} is {text!r}, not a path segment")
            path = path.replace("{" + arg.name + "}", quote(text, safe=""))
    return path


def _dig(payload: Any, path: str | None) -> Any:
    if path is None:
        return None
    for part in path.split("."):
        payload = payload.get(part) if isinstance(payload, Mapping) else None
    return payload


def excerpt(body: bytes, limit: int = 200) -> str:
    """The start of a body, as text, for error messages."""
    text = body[:limit].decode("utf-8", "replace")
    return text + ("…" if len(body) > limit else "")


def decode_answer(
    spec: MethodSpec, status: int, body: bytes, retry_after: float | None = None
) -> dict[str, Any]:
    """The payload of an answer to ``spec``, or the error it stands for, read by its API's
    envelope (DX's :data:`DX_ENVELOPE` for a spec without a dialect)."""
    envelope = spec.dialect.envelope if spec.dialect is not None else DX_ENVELOPE
    return decode_body(
        spec.name, envelope, status, body, retry_after, success=spec.success, bare=spec.bare_array
    )


def decode_body(
    method: str,
    env: Envelope,
    status: int,
    body: bytes,
    retry_after: float | None = None,
    *,
    success: tuple[int, ...] = (),
    bare: str | None = None,
) -> dict[str, Any]:
    """A body read by ``env``: the payload of a success, else the typed error it stands for.

    An empty body is ``{}`` for a status in ``success`` (a 204); a 2xx JSON array is
    ``{bare: [...]}`` when the method declares ``bare``; anything else that is not a JSON
    object is a :class:`~dxapi.TransportError` naming the status and the body's start.
    """
    ok = 200 <= status < 300
    if not body.strip():
        if ok and status in success:
            return {}
        what = "an empty body"
    else:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if ok and isinstance(payload, list) and bare is not None:
            return {bare: payload}
        if isinstance(payload, dict):
            return _unwrap(method, env, status, payload, retry_after)
        what = f"a non-JSON body: {excerpt(body)!r}"
    raise TransportError(f"{method}: HTTP {status} with {what}", method=method, status=status)


def _unwrap(
    method: str,
    env: Envelope,
    status: int,
    payload: dict[str, Any],
    retry_after: float | None,
) -> dict[str, Any]:
    said = payload.get(env.status) if env.status else None
    failed = (
        env.status is not None
        and env.status in payload
        and (_among(said, env.failure) or (bool(env.success) and not _among(said, env.success)))
    )
    if not (200 <= status < 300) or failed:
        # error_from_response reads "error" and "message": the envelope's own paths go there
        normal = dict(payload)
        if env.code != "error":
            code = _dig(payload, env.code)
            normal["error"] = code if isinstance(code, str) and code else f"http_{status}"
        if env.message != "message":
            message = _dig(payload, env.message)
            normal["message"] = message if isinstance(message, str) else None
        error = error_from_response(method, status, normal, retry_after)
        error.details = payload  # the body as the API sent it
        raise error
    if env.data is None or env.data not in payload:
        return payload
    rest = {k: v for k, v in payload.items() if k not in (env.data, env.status)}
    data = payload[env.data]
    if isinstance(data, dict):
        return {**rest, **data}
    return {**rest, env.data: data}


def _among(value: Any, values: tuple[Any, ...]) -> bool:
    """``value`` is one of ``values``, of the same type (``0`` is not ``false``)."""
    return any(type(value) is type(v) and value == v for v in values)


def rate_limit_pause(spec: MethodSpec, headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to send nothing, when the answer says the budget is spent (``Remaining: 0``)
    until its ``Reset``; None otherwise. ``now`` is Unix time, for an epoch reset."""
    rate = spec.dialect.rate_headers if spec.dialect is not None else None
    if rate is None:
        return None
    remaining, reset = headers.get(rate.remaining), headers.get(rate.reset)
    try:
        if remaining is None or reset is None or float(remaining) > 0:
            return None
        wait = float(reset) - now if rate.reset_kind == "epoch" else float(reset)
    except ValueError:
        return None
    if not math.isfinite(wait) or wait <= 0:
        return None
    return min(wait, 3600.0)  # a reset an hour away is a server's mistake, not a plan
