"""Pure wire encoding and decoding: arguments → a prepared request; a body → a dict or an error.

Rules (the same for every method, driven by its :class:`~dxapi._spec.ArgSpec` facts):

- GET arguments, and POST arguments the registry places in the query, travel as query text:
  booleans as ``true``/``false``, arrays comma-joined, objects as JSON text.
- POST arguments travel as a JSON object (``encoding="json"``) or as URL-encoded form fields
  (``encoding="form"``): scalars as in the query, but arrays and objects as JSON text, so a
  form field carries exactly what the JSON body would (comma-joining is lossy).
- A ``nullable`` argument given as ``None`` is a JSON null, or an empty query/form value.
- Datetimes become ISO-8601 text or Unix seconds, as the argument's ``format`` says. A naive
  datetime is refused with an ``ArgumentError`` (attach a tzinfo, e.g. ``datetime.UTC``):
  Python's own ``timestamp()`` would read it as local time and its ISO text carries no zone,
  so DX would guess; dxapi does not.
- Every value travels exactly as given or not at all (:func:`dxapi._values.unencodable`): a
  lone surrogate, NaN or infinity, a non-str key, a set or bytes is an ``ArgumentError`` before
  anything is sent, as is a URL over :data:`MAX_TARGET_BYTES` encoded.
- The escape hatches (``extra_query``, ``extra_body``, ``extra_headers``) travel as untyped
  values after the declared arguments; a name a declared argument already sends is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

import attrs

from ._dialect import DX_ENVELOPE, decode_body, encode_path
from ._errors import ArgumentError
from ._spec import NO_EXTRAS, ArgSpec, Extras, MethodSpec, Verb, split_extras
from ._values import header_problems

__all__ = [
    "MAX_TARGET_BYTES",
    "Encoding",
    "Prepared",
    "decode_json_body",
    "encode_request",
    "merge_headers",
]

Encoding = Literal["json", "form"]


@attrs.define(slots=True)
class Prepared:
    """A request ready for the transport, with no I/O done yet (made once per call, so not
    frozen: a frozen class's ``__init__`` costs a call per field)."""

    method: Verb
    path: str
    query: tuple[tuple[str, str], ...] = ()
    json: Mapping[str, Any] | None = None
    form: tuple[tuple[str, str], ...] | None = None
    #: (field name, file input) for a multipart upload; other body fields travel in ``form``.
    file: tuple[str, Any] | None = None
    #: Per-call headers (``extra_headers``), sent over the client's own (see merge_headers).
    headers: tuple[tuple[str, str], ...] = ()


def encode_request(
    spec: MethodSpec, args: Mapping[str, Any], encoding: Encoding = "json"
) -> Prepared:
    """Turn checked arguments (and their escape hatches) into a :class:`Prepared` request.

    Anything that cannot be encoded exactly is an :class:`ArgumentError`, raised before any
    I/O (e.g. a query list item holding a comma, which would arrive as two items).
    """
    try:
        return _encode(spec, args, encoding)
    except ValueError as exc:
        raise ArgumentError(spec.name, [str(exc)]) from None


def _encode(spec: MethodSpec, args: Mapping[str, Any], encoding: Encoding) -> Prepared:
    extras = NO_EXTRAS
    if "extra_query" in args or "extra_body" in args or "extra_headers" in args:  # EXTRAS
        args, extras, problems = split_extras(spec, args)
        if problems:
            raise ArgumentError(spec.name, problems)
    query: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    file: tuple[str, Any] | None = None
    path = spec.path
    headers = extras.headers
    if spec.path_template is not None:  # a REST method: path and header arguments
        path = encode_path(spec, args)
        named = tuple(
            (spec.dialect.header_name(a.name) if spec.dialect else a.name, encode_text(v, a))
            for a in spec.args
            if a.location == "header" and (v := args.get(a.name)) is not None
        )
        if problems := [p for n, v in named for p in header_problems(n, v)]:
            raise ArgumentError(spec.name, problems)
        taken = {n.lower() for n, _ in headers}
        headers = tuple(h for h in named if h[0].lower() not in taken) + headers
    by_name, where = spec.args_by_name, spec.locations
    for name, value in args.items():
        arg = by_name[name]  # check_args ran first
        location = where[name]
        if location == "path" or location == "header":
            continue
        if spec.upload == name:
            file = (name, value)
        elif arg.prefix is not None:  # a map spread into one parameter per entry
            for key, item in value.items():
                if location == "query":
                    query.append((arg.prefix + key, encode_text(item, arg)))
                else:
                    body[arg.prefix + key] = item
        elif location == "query":
            query.append((name, encode_text(value, arg)))
        else:
            body[name] = value
    extra_body: dict[str, Any] = {}
    if extras is not NO_EXTRAS:
        extra_body = _merge_extras(spec, extras, query, body)
    if query and sum(len(k) + len(v) + 2 for k, v in query) * 12 + len(path) > MAX_TARGET_BYTES:
        check_target(spec, query)  # (12: the most one character can take, %XX x 4 bytes)
    if spec.http == "GET" or (not body and not extra_body and file is None):
        return Prepared(spec.http, path, tuple(query), headers=headers)
    if file is not None or encoding == "form":
        form = [(k, encode_form_value(v, _arg(spec, k))) for k, v in body.items()]
        form += [(k, encode_form_value(v, _open(k))) for k, v in extra_body.items()]
        return Prepared(
            spec.http, path, tuple(query), form=tuple(form), file=file, headers=headers
        )
    payload = {k: encode_json(v, _arg(spec, k)) for k, v in body.items()}
    payload.update((k, encode_json(v, _open(k))) for k, v in extra_body.items())
    return Prepared(spec.http, path, tuple(query), json=payload, headers=headers)


def _merge_extras(
    spec: MethodSpec, extras: Extras, query: list[tuple[str, str]], body: Mapping[str, Any]
) -> dict[str, Any]:
    """Append ``extra_query`` to ``query``; return ``extra_body``. A key that a declared
    argument of the same call already sends is refused: one value per name, never two."""
    taken = {name for name, _ in query}
    problems = [
        f"extra_query[{k!r}] is also sent by the arguments; give it once" for k in extras.query
        if k in taken
    ] + [
        f"extra_body[{k!r}] is also sent by the arguments; give it once" for k in extras.body
        if k in body
    ]  # fmt: skip
    if problems:
        raise ArgumentError(spec.name, problems)
    query.extend((k, encode_text(v, _open(k))) for k, v in extras.query.items())
    return dict(extras.body)


def _open(name: str) -> ArgSpec:
    """How an escape hatch's value travels: as an untyped argument (ISO datetimes)."""
    return ArgSpec(name, "json")


#: The most a request's path and query string may take, percent-encoded. nginx reads a
#: request line into 8 KiB by default and many proxies and servers stop there (414/400);
#: the margin leaves room for the method, a base path and the HTTP version.
MAX_TARGET_BYTES = 8000


def check_target(spec: MethodSpec, query: list[tuple[str, str]]) -> None:
    """Refuse a URL too long for servers to take, naming the parameter that weighs most."""
    raw = sum(len(k) + len(v) + 2 for k, v in query)
    if (raw * 12 + len(spec.path)) <= MAX_TARGET_BYTES:  # 12: a char's most, %XX x 4 bytes
        return
    sizes = [(len(quote(k, safe="")) + len(quote(v, safe="")) + 2, k) for k, v in query]
    total = len(spec.path) + sum(size for size, _ in sizes)
    if total <= MAX_TARGET_BYTES:
        return
    size, name = max(sizes)
    if spec.arg(name) is not None:
        who = f"argument {name!r}"
    else:
        spread = next((a for a in spec.args if a.prefix and name.startswith(a.prefix)), None)
        who = f"argument {spread.name!r}" if spread else f"extra_query[{name!r}]"
    raise ArgumentError(
        spec.name,
        [
            f"{who} makes the URL {total} bytes long once encoded ({size} of them its own), "
            f"over the {MAX_TARGET_BYTES}-byte cap servers and proxies accept; send less per call"
            + ("" if spec.http == "GET" else ", or send it in the body")
        ],
    )


def merge_headers(base: dict[str, str], extra: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The client's headers with a call's ``extra_headers`` over them (names match in any
    case; the reserved ones never reach here, see :data:`dxapi._values.RESERVED_HEADERS`)."""
    if not extra:
        return base
    replaced = {name.lower() for name, _ in extra}
    merged = {k: v for k, v in base.items() if k.lower() not in replaced}
    merged.update(extra)
    return merged


def _arg(spec: MethodSpec, name: str) -> ArgSpec:
    arg = spec.arg(name)
    if arg is None:  # a spread map's entry: find the argument by its prefix
        arg = next(a for a in spec.args if a.prefix is not None and name.startswith(a.prefix))
    return arg


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
    if value.utcoffset() is None:  # check_args refuses these first: a zone is never guessed
        raise ValueError(f"argument {arg.name!r} is a naive datetime")
    if arg.format == "iso":
        return value.isoformat()
    seconds = int(value.timestamp())
    return seconds if arg.format == "unix" else str(seconds)


def decode_json_body(
    method: str,
    status: int,
    body: bytes,
    retry_after: float | None = None,
    *,
    bare_array: str | None = None,
) -> dict[str, Any]:
    """The payload of a DX answer, or the error it stands for (:data:`~dxapi._dialect.
    DX_ENVELOPE` read by :func:`~dxapi._dialect.decode_body`).

    A JSON object with ``ok`` not false and a 2xx status is success. ``ok: false`` or a
    non-2xx status becomes the matching :class:`~dxapi.APIError`; anything that is not a
    JSON object becomes a :class:`~dxapi.TransportError` naming the status and the body's start.
    For a method whose answer is a bare JSON array (``bare_array``), a 2xx array becomes
    ``{bare_array: [...]}``.
    """

    return decode_body(method, DX_ENVELOPE, status, body, retry_after, bare=bare_array)


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
