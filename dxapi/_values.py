"""Whether a value can travel exactly as given: in JSON, query or form text, or a header.

Pure checks with no knowledge of methods; :func:`dxapi._spec.check_args` names the argument.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

__all__ = ["RESERVED_HEADERS", "header_problems", "unencodable"]

#: Headers ``extra_headers`` may not set: the credentials (another token is another client),
#: the host they go to, and the framing of the body, which the encoding decides.
RESERVED_HEADERS: Final = frozenset(
    {"authorization", "host", "content-length", "content-type", "transfer-encoding"}
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # an HTTP field name (RFC 9110)
_FIELD_VALUE = re.compile(r"[\x20-\x7e\t]*\Z")  # visible ASCII, space and tab


def header_problems(name: str, value: Any) -> list[str]:
    """Why a header cannot be sent per call as given (empty: it can)."""
    where = f"extra_headers[{name!r}]"
    if not _TOKEN.match(name):
        return [f"extra_headers has {name!r}, which is not an HTTP header name"]
    if name.lower() in RESERVED_HEADERS:
        return [f"{where} cannot be set per call: dxapi sets {name} itself"]
    if not isinstance(value, str):
        return [f"{where} must be str, got {type(value).__name__}"]
    if not _FIELD_VALUE.match(value):
        return [f"{where} has a line break, control or non-ASCII character (percent-encode it)"]
    return []


def unencodable(value: Any) -> str | None:
    """Why ``value`` cannot travel exactly as given, as JSON, query or form text; else None.

    Refused anywhere inside a value: a str with a lone surrogate (UTF-8 cannot carry it), a
    non-str or surrogate-bearing mapping key, NaN and infinities, a naive datetime (attach a
    tzinfo: dxapi does not guess the zone), and anything JSON has no form for (sets, bytes,
    arbitrary objects). Input shapes (attrs classes) are checked field by field. The reason
    starts with the path inside the value (``['x'][0]``), empty at the top.
    """
    kind = type(value)
    if kind is str:  # the common case first, with no call
        return None if value.isascii() else _problem(value)
    if kind is int or kind is bool or value is None:
        return None
    return _problem(value)


def _problem(value: Any) -> str | None:
    found = _find(value)
    return None if found is None else "".join(reversed(found))


def _find(value: Any) -> list[str] | None:
    """The reason, then the path steps innermost first (built only when something is wrong)."""
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            return [f" has a lone surrogate {bad!r} at index {exc.start}: not valid Unicode"]
        return None
    if value is None or isinstance(value, int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else [f" is {value!r}: JSON has no such number"]
    if isinstance(value, dt.datetime):
        if value.utcoffset() is None:
            return [" is a naive datetime: attach a tzinfo (e.g. tzinfo=datetime.UTC)"]
        return None
    if isinstance(value, dt.date):
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if (found := _find(item)) is not None:
                return [*found, f"[{i}]"]
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return [f" has the key {key!r}, not a str"]
            if (found := _find(key)) is not None:
                return [*found, " key"]
            if (found := _find(item)) is not None:
                return [*found, f"[{key!r}]"]
        return None
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            if (found := _find(getattr(value, field.name))) is not None:
                return [*found, f".{field.name}"]
        return None
    return [f" is a {type(value).__name__}, which JSON has no form for"]
