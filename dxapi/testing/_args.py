"""Server-side argument parsing and checking, as DX does it (422 ``invalid_arguments``).

Query and form values are text (booleans ``true``/``false``, lists comma-joined or a JSON
array, objects JSON text); JSON bodies carry native values and are checked strictly.
Arguments the registry does not know are ignored, as a lenient server would.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from .._spec import ArgSpec, MethodSpec, TypeRef

__all__ = ["parse_args"]

_INT = re.compile(r"-?\d+\Z")
_MISSING = object()


class _Bad(ValueError):
    pass


def parse_args(
    spec: MethodSpec, text: Mapping[str, Any], native: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Values by argument name, and every problem found (missing, mistyped, not in enum).

    ``text`` holds query/form values (strings, or upload descriptions for a file argument),
    ``native`` the decoded JSON body; a name in both takes the JSON value.
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for arg in spec.args:
        raw: Any = native.get(arg.name, _MISSING)
        if arg.prefix is not None and raw is _MISSING:
            raw = _spread(arg.prefix, text, native) or _MISSING  # values stay text: map<str>
        is_text = raw is _MISSING
        if is_text:
            raw = text.get(arg.name, _MISSING)
        if arg.nullable and (raw is None or (is_text and raw == "")):
            values[arg.name] = None  # an explicit null: "clear this field"
            continue
        if raw is _MISSING or raw is None:
            if arg.required:
                problems.append(f"missing required argument {arg.name!r}")
            continue
        try:
            value = _from_text(raw, arg.type, arg) if is_text else _native(raw, arg.type, arg)
        except _Bad as exc:
            problems.append(f"argument {arg.name!r}: {exc}")
            continue
        bad = _enum_problem(value, arg)
        if bad:
            problems.append(bad)
            continue
        values[arg.name] = value
    return values, problems


def _spread(prefix: str, *sources: Mapping[str, Any]) -> dict[str, Any]:
    """Gather ``prefix``-named parameters (``var-repo=x``) into one map."""
    return {k[len(prefix) :]: v for src in sources for k, v in src.items() if k.startswith(prefix)}


def _enum_problem(value: Any, arg: ArgSpec) -> str | None:
    if not arg.enum:
        return None
    members = value if isinstance(value, list) else [value]
    wrong = [v for v in members if v not in arg.enum]
    if wrong:
        return f"argument {arg.name!r} must be one of {list(arg.enum)}, got {wrong[0]!r}"
    return None


def _kind(t: TypeRef) -> str:
    return t if isinstance(t, str) else str(t[0])


def _from_text(raw: Any, t: TypeRef, arg: ArgSpec) -> Any:
    """Parse query/form text ``raw`` as type ``t``."""
    kind = _kind(t)
    if kind == "file":
        if isinstance(raw, Mapping) and "filename" in raw:
            return raw
        raise _Bad("must be an uploaded file")
    if not isinstance(raw, str):
        raise _Bad(f"must be {kind} text")
    if kind == "union":
        return _first_fit(raw, t, arg, _from_text)
    if kind == "list":
        if raw.startswith("["):
            return _native(_json(raw), t, arg)
        parts = [p for p in raw.split(",") if p != ""]
        return [_from_text(p, t[1], arg) for p in parts]
    if kind in ("map", "shape"):
        return _native(_json(raw), t, arg)
    if kind == "json":
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    if kind == "int":
        if not _INT.match(raw):
            raise _Bad(f"must be an integer, got {raw!r}")
        return int(raw)
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise _Bad(f"must be a number, got {raw!r}") from None
    if kind == "bool":
        low = raw.lower()
        if low not in ("true", "false", "1", "0"):
            raise _Bad(f"must be true or false, got {raw!r}")
        return low in ("true", "1")
    if kind == "datetime" and _INT.match(raw):
        return int(raw)
    return _native(raw, t, arg)


def _native(raw: Any, t: TypeRef, arg: ArgSpec) -> Any:
    """Check a JSON value ``raw`` against type ``t``; return it (dates stay text)."""
    kind = _kind(t)
    if kind == "union":
        return _first_fit(raw, t, arg, _native)
    if kind == "json":
        return raw
    if kind == "list":
        if not isinstance(raw, list):
            raise _Bad(f"must be an array, got {_name(raw)}")
        return [_native(v, t[1], arg) for v in raw]
    if kind in ("map", "shape"):
        if not isinstance(raw, dict):
            raise _Bad(f"must be an object, got {_name(raw)}")
        if kind == "map":
            return {k: _native(v, t[1], arg) for k, v in raw.items()}
        return raw
    if kind == "str":
        if not isinstance(raw, str):
            raise _Bad(f"must be a string, got {_name(raw)}")
        return raw
    if kind == "bool":
        if not isinstance(raw, bool):
            raise _Bad(f"must be a boolean, got {_name(raw)}")
        return raw
    if kind in ("int", "float"):
        ok = isinstance(raw, int) or (kind == "float" and isinstance(raw, float))
        if not ok or isinstance(raw, bool):
            raise _Bad(
                f"must be {'an integer' if kind == 'int' else 'a number'}, got {_name(raw)}"
            )
        return raw
    if kind in ("datetime", "date"):
        return _when(raw, kind)
    raise _Bad(f"cannot be sent as {kind}")


def _when(raw: Any, kind: str) -> Any:
    if kind == "datetime" and isinstance(raw, int | float) and not isinstance(raw, bool):
        return raw
    if kind == "datetime" and isinstance(raw, str) and _INT.match(raw):
        return int(raw)  # Unix seconds written as text
    if not isinstance(raw, str):
        raise _Bad(f"must be an ISO-8601 {kind}, got {_name(raw)}")
    try:
        if kind == "date":
            dt.date.fromisoformat(raw)
        else:
            dt.datetime.fromisoformat(raw)
    except ValueError:
        raise _Bad(f"must be an ISO-8601 {kind}, got {raw!r}") from None
    return raw


def _first_fit(raw: Any, t: TypeRef, arg: ArgSpec, parse: Any) -> Any:
    for member in t[1:]:
        try:
            return parse(raw, member, arg)
        except _Bad:
            continue
    raise _Bad(f"does not match any of {list(t[1:])}")


def _json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise _Bad(f"must be JSON text, got {raw[:40]!r}") from None


def _name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )
