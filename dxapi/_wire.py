"""Pure wire encoding and decoding: arguments → a prepared request; a body → a dict or an error.

Rules (the same for every method, driven by its :class:`~dxapi._spec.ArgSpec` facts):

- GET arguments, and POST arguments the registry places in the query, travel as query text:
  booleans as ``true``/``false``, arrays comma-joined, objects as JSON text.
- POST arguments travel as a JSON object (``encoding="json"``) or as URL-encoded form fields
  (``encoding="form"``): scalars as in the query, but arrays and objects as JSON text, so a
  form field carries exactly what the JSON body would (comma-joining is lossy).
- A ``nullable`` argument given as ``None`` is a JSON null, or an empty query/form value.
- Datetimes become ISO-8601 text or Unix seconds, as the argument's ``format`` says; a naive
  datetime is taken as UTC (as the naive ISO text it would otherwise become).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from ._errors import ArgumentError, TransportError, error_from_response
from ._spec import ArgSpec, MethodSpec

__all__ = ["Encoding", "Prepared", "decode_json_body", "encode_request", "excerpt"]

Encoding = Literal["json", "form"]


@attrs.frozen
class Prepared:
    """A request ready for the transport, with no I/O done yet."""

    method: Literal["GET", "POST"]
    path: str
    query: tuple[tuple[str, str], ...] = ()
    json: Mapping[str, Any] | None = None
    form: tuple[tuple[str, str], ...] | None = None
    #: (field name, file input) for a multipart upload; other body fields travel in ``form``.
    file: tuple[str, Any] | None = None


def encode_request(
    spec: MethodSpec, args: Mapping[str, Any], encoding: Encoding = "json"
) -> Prepared:
    """Turn checked arguments into a :class:`Prepared` request."""
    query: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    file: tuple[str, Any] | None = None
    for name, value in args.items():
        arg = spec.arg(name)
        assert arg is not None, name  # check_args ran first
        if spec.upload == name:
            file = (name, value)
        elif arg.prefix is not None:  # a map spread into one parameter per entry
            for key, item in value.items():
                if _location(spec, arg) == "query":
                    query.append((arg.prefix + key, encode_text(item, arg)))
                else:
                    body[arg.prefix + key] = item
        elif _location(spec, arg) == "query":
            query.append((name, encode_text(value, arg)))
        else:
            body[name] = value
    if spec.http == "GET" or (not body and file is None):
        return Prepared(spec.http, spec.path, tuple(query))
    if file is not None or encoding == "form":
        form = tuple((k, encode_form_value(v, _arg(spec, k))) for k, v in body.items())
        return Prepared(spec.http, spec.path, tuple(query), form=form, file=file)
    payload = {k: encode_json(v, _arg(spec, k)) for k, v in body.items()}
    return Prepared(spec.http, spec.path, tuple(query), json=payload)


def _arg(spec: MethodSpec, name: str) -> ArgSpec:
    arg = spec.arg(name)
    if arg is None:  # a spread map's entry: find the argument by its prefix
        arg = next(a for a in spec.args if a.prefix is not None and name.startswith(a.prefix))
    return arg


def _location(spec: MethodSpec, arg: ArgSpec) -> str:
    if arg.location != "auto":
        return arg.location
    return "query" if spec.http == "GET" else "body"


def encode_json(value: Any, arg: ArgSpec) -> Any:
    """A value as it goes into a JSON body."""
    if isinstance(value, dt.datetime):
        return encode_datetime(value, arg)
    if isinstance(value, dt.date):
        return value.isoformat()
    if (
        arg.format == "unix_text"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return str(int(value))
    if isinstance(value, list | tuple):
        return [encode_json(v, arg) for v in value]
    if isinstance(value, Mapping):
        return {k: encode_json(v, arg) for k, v in value.items()}
    if attrs.has(type(value)):
        # An input shape's unset optional fields are left out, never sent as nulls.
        from ._convert import converter

        data = converter.unstructure(value)
        return {k: v for k, v in data.items() if v is not None}
    return value


def encode_text(value: Any, arg: ArgSpec) -> str:
    """A value as query text (and form text for scalars)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.datetime):
        return str(encode_datetime(value, arg))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple) and all(
        isinstance(v, str | int | float | bool) for v in value
    ):
        items = [encode_text(v, arg) for v in value]
        if any("," in item for item in items):  # "a,b" would arrive as two items
            raise ValueError(f"argument {arg.name!r}: a list item contains a comma")
        return ",".join(items)
    return json.dumps(encode_json(value, arg), separators=(",", ":"))


def encode_form_value(value: Any, arg: ArgSpec) -> str:
    """A value as a URL-encoded form field: scalars as text, arrays and objects as JSON text."""
    if isinstance(value, list | tuple | Mapping) or attrs.has(type(value)):
        return json.dumps(encode_json(value, arg), separators=(",", ":"))
    return encode_text(value, arg)


def encode_datetime(value: dt.datetime, arg: ArgSpec) -> str | int:
    if arg.format == "unix":
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp())
    if arg.format == "unix_text":
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return str(int(value.timestamp()))
    return value.isoformat()


def excerpt(body: bytes, limit: int = 200) -> str:
    """The start of a body, as text, for error messages."""
    text = body[:limit].decode("utf-8", "replace")
    return text + ("…" if len(body) > limit else "")


def decode_json_body(
    method: str,
    status: int,
    body: bytes,
    retry_after: float | None = None,
    *,
    bare_array: str | None = None,
) -> dict[str, Any]:
    """The payload of a DX answer, or the error it stands for.

    A JSON object with ``ok`` not false and a 2xx status is success. ``ok: false`` or a
    non-2xx status becomes the matching :class:`~dxapi.APIError`; anything that is not a
    JSON object becomes a :class:`~dxapi.TransportError` naming the status and the body's start.
    For a method whose answer is a bare JSON array (``bare_array``), a 2xx array becomes
    ``{bare_array: [...]}``.
    """
    payload: Any = None
    if body.strip():
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
    if bare_array is not None and isinstance(payload, list) and 200 <= status < 300:
        payload = {bare_array: payload}
    if not isinstance(payload, dict):
        what = "an empty body" if not body.strip() else f"a non-JSON body: {excerpt(body)!r}"
        raise TransportError(f"{method}: HTTP {status} with {what}", method=method, status=status)
    if 200 <= status < 300 and payload.get("ok") is not False:
        return payload
    return _raise(method, status, payload, retry_after)


def _raise(
    method: str, status: int, payload: Mapping[str, Any], retry_after: float | None
) -> dict[str, Any]:
    raise error_from_response(method, status, payload, retry_after)


def check_json_body(spec: MethodSpec, prepared: Prepared) -> None:
    """Refuse a JSON body that is not strict JSON (NaN, infinity, sets, objects) before sending."""
    problems: list[str] = []
    for name, value in (prepared.json or {}).items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            problems.append(f"argument {name!r} cannot be sent as JSON: {exc}")
    if problems:
        raise ArgumentError(spec.name, problems)


def dig(payload: Any, path: str | None) -> Any:
    """The value at a dotted path (``response_metadata.next_cursor``, ``checks.0.id``) of a
    payload, or None when any step is missing."""
    if path is None:
        return None
    value = payload
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value
