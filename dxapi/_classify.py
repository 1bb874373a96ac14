"""What one answer means, decided from its status, headers and body alone (pure).

:func:`classify` returns a :class:`Response` to hand back, or an
:class:`~dxapi._retry.AttemptFailed` naming the outcome (rate limited, a retryable status,
"not ready yet", a download's redirect, or fatal) and the error to raise if nothing more is
tried. The session's loop decides what happens next.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._dialect import decode_answer
from ._errors import APIError, DXError, RateLimitError, TransportError
from ._response import Response
from ._result import Result
from ._retry import RETRYABLE_STATUSES, AttemptFailed, Verdict, VerdictKind, parse_retry_after
from ._spec import MethodSpec

__all__ = ["REDIRECTS", "Response", "classify", "is_json"]

REDIRECTS = frozenset({301, 302, 303, 307, 308})


def classify(
    spec: MethodSpec,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_retry_after: float = 120.0,
    download: bool = False,
    into: type[Any] | None = None,
    bare: bool = False,
) -> Response | AttemptFailed | dict[str, Any] | Result:
    """The answer to return, or what went wrong with it; a redirect is an answer only for a
    ``download``. For a typed call (``into``, its result class) a success is an
    :class:`Undecoded` answer: decoded into ``into`` straight from the body when that is
    sure to be what DX meant, else with its head decoded, for the payload's way. For a
    ``bare`` call a success may be the value alone: a raw call's payload, or a typed call's
    result when it was decoded straight from the body."""
    if 200 <= status < 300 and spec.dialect is None:  # DX's common case, decided at once
        if into is not None and spec.bare_array is None:
            typed: Result | None = None if spec.page is not None else _typed(into, body)
            if typed is not None:
                if bare:  # the result itself, its answer made only if asked for (response_of)
                    object.__setattr__(typed, "_dx_response", (Undecoded, status, headers, body))
                    return typed
                return Undecoded(status, headers, body, _NO_HEAD, typed)
            if (head := _head(spec, body)) is not None:
                return Undecoded(status, headers, body, head)
        payload = loads(body)
        if type(payload) is list and spec.bare_array is not None:
            payload = {spec.bare_array: payload}
        if type(payload) is dict and payload.get("ok") is not False:
            return payload if bare and into is None else Response(status, headers, payload)
    raw_retry_after = headers.get("retry-after")
    retry_after = (
        None if raw_retry_after is None else parse_retry_after(raw_retry_after, time.time())
    )
    if status == 429:
        error = rate_limit_error(spec, body, retry_after, max_retry_after)
        return AttemptFailed(Verdict("rate_limited", retry_after), error)
    if status in REDIRECTS:
        return _redirect(spec, status, headers.get("location"), download)
    try:
        payload = decode_answer(spec, status, body, retry_after)
    except TransportError as exc:  # not the API's JSON: a proxy page, a cut or empty body
        if status in RETRYABLE_STATUSES:
            return AttemptFailed(Verdict("status", retry_after), exc)
        if 200 <= status < 300:
            return AttemptFailed(Verdict("sent"), exc)
        return AttemptFailed(Verdict("fatal"), exc)  # e.g. an HTML 404: asking again cannot help
    except APIError as exc:
        if spec.pending_error is not None and exc.error == spec.pending_error:
            return AttemptFailed(Verdict("pending", retry_after), exc)
        kind: VerdictKind = "status" if status in RETRYABLE_STATUSES else "fatal"
        return AttemptFailed(Verdict(kind, retry_after), exc)
    except DXError as exc:
        kind = "status" if status in RETRYABLE_STATUSES else "fatal"
        return AttemptFailed(Verdict(kind, retry_after), exc)
    return Response(status, headers, payload)


class Undecoded(Response):
    """A success whose payload is decoded from ``body`` when first read: a typed call builds
    its result from the body, and :func:`dxapi.raw` still gets the whole payload.

    ``head`` holds the payload's ``ok`` and pagination keys (what the loop and a page
    generator read), decoded at once; ``typed`` the result, when it was decoded in the loop.
    """

    __slots__ = ("_payload", "body", "head", "typed")
    body: bytes
    head: dict[str, Any]
    typed: Any
    _payload: dict[str, Any] | None

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        head: dict[str, Any],
        typed: Any = None,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "status", status)
        setattr_(self, "headers", headers)
        setattr_(self, "body", body)
        setattr_(self, "head", head)
        setattr_(self, "typed", typed)
        setattr_(self, "_payload", None)

    @property
    def payload(self) -> dict[str, Any]:
        payload = self._payload
        if payload is None:  # the head check, or the typed decode, proved it a JSON object
            payload = loads(self.body)
            object.__setattr__(self, "_payload", payload)
        return payload

    @property
    def decoded(self) -> bool:
        return self._payload is not None

    def __reduce__(self) -> tuple[Any, ...]:  # copied or pickled as the Response it stands for
        return Response, (self.status, self.headers, self.payload)


_NO_HEAD: dict[str, Any] = {}


def _typed(into: type[Any], body: bytes) -> Any:
    """``body`` decoded straight into ``into``, when it is valid UTF-8, a JSON object whose
    ``ok`` is not false, and msgspec accepts it whole; else None (see
    :func:`dxapi._convert.from_answer`). A body read this way is valid JSON, so reading its
    payload later cannot fail where :func:`loads` would not have."""
    if type(body) is not bytes:
        return None
    if not body.isascii():
        try:
            str(body, "utf-8")
        except UnicodeDecodeError:
            return None
    return (_from_answer or _load_from_answer())(into, body)


_from_answer: Callable[[type[Any], bytes], Any] | None = None


def _load_from_answer() -> Callable[[type[Any], bytes], Any]:
    """The typed decoder is imported with the first typed answer (msgspec, attrs classes)."""
    global _from_answer
    from ._convert import from_answer

    _from_answer = from_answer
    return from_answer


def _head(spec: MethodSpec, body: bytes) -> dict[str, Any] | None:
    """``ok`` and the pagination keys of a JSON object body whose ``ok`` is not false, or
    None (then the body is read whole). Valid UTF-8 and JSON syntax are checked here, so
    reading the payload later cannot fail where :func:`loads` would not have."""
    decoder = _HEADS.get(spec.name)
    if decoder is None:
        decoder = _HEADS[spec.name] = _head_decoder(spec)
    try:
        str(body, "utf-8")  # any buffer a transport returns
        head = decoder(body)
    except Exception:  # UnicodeDecodeError, or msgspec's refusal (no ValueError in 0.18)
        return None
    if head.ok is False:
        return None
    return {k: v for f, k in _KEYS[spec.name] if (v := getattr(head, f)) is not _MISSING}


_HEADS: dict[str, Callable[[bytes], Any]] = {}
_KEYS: dict[str, list[tuple[str, str]]] = {}
_MISSING: Any = object()


def _head_decoder(spec: MethodSpec) -> Callable[[bytes], Any]:
    import msgspec

    keys = dict.fromkeys(
        p.split(".", 1)[0] for p in (spec.page and (spec.page.output, spec.page.total)) or () if p
    )
    keys.pop("ok", None)
    rename = {f"f{i}": k for i, k in enumerate(keys)}
    _KEYS[spec.name] = list(rename.items())
    fields = [(f, Any, _MISSING) for f in rename]
    head = msgspec.defstruct("Head", [("ok", Any, None), *fields], rename=rename)
    return msgspec.json.Decoder(head).decode


def loads(body: bytes) -> Any:
    """``json.loads(body)``, or None where it refuses; msgspec first, as it is faster and
    gives the same values wherever it accepts (it refuses NaN, a BOM, a lone surrogate…)."""
    try:
        return (_decode or _load_decoder())(body)
    except Exception:  # msgspec's DecodeError (not a ValueError in msgspec 0.18)
        pass
    try:
        return json.loads(body)
    except ValueError:
        return None


_decode: Callable[[bytes], Any] | None = None


def _load_decoder() -> Callable[[bytes], Any]:
    """msgspec is imported with the first answer, so `import dxapi` stays cheap."""
    global _decode
    import msgspec

    _decode = msgspec.json.Decoder().decode
    return _decode


def _redirect(
    spec: MethodSpec, status: int, location: str | None, download: bool
) -> AttemptFailed:
    if not download:
        message = f"{spec.name}: unexpected redirect (HTTP {status}); use a download helper"
    elif not location:
        message = f"{spec.name}: redirect without a Location"
    else:
        error = TransportError(f"{spec.name}: too many redirects", method=spec.name, status=status)
        return AttemptFailed(Verdict("redirect", location=location), error)
    return AttemptFailed(
        Verdict("fatal"), TransportError(message, method=spec.name, status=status)
    )


def rate_limit_error(
    spec: MethodSpec, body: bytes, retry_after: float | None, cap: float
) -> RateLimitError:
    """A 429 as RateLimitError, keeping the server's code and message when it sent JSON."""
    code, message, details = "rate_limited", None, None
    try:
        decode_answer(spec, 429, body, retry_after)
    except APIError as exc:
        code, message, details = exc.error, exc.message, exc.details
    except DXError:
        pass
    if retry_after is not None and retry_after > cap:
        beyond = f"Retry-After of {retry_after:.0f} s is beyond max_retry_after={cap:g} s"
        message = f"{message}; {beyond}" if message else beyond
    return RateLimitError(
        code if code != "http_429" else "rate_limited",
        status=429,
        method=spec.name,
        message=message,
        retry_after=retry_after,
        details=details,
    )


def is_json(headers: Mapping[str, str]) -> bool:
    """Whether an answer says its body is JSON (a download's is a file)."""
    return headers.get("content-type", "").split(";", 1)[0].strip().lower() == "application/json"
