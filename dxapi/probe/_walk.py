"""JSON answers read through the generated result classes' type hints.

The runtime knows a result's shape only from ``dxapi._generated``: each ``<Name>Result`` and
shape class is a frozen attrs class whose type hints say what every field holds. These helpers
walk a payload by those hints (for the probe's observations and the fake's drift alike) and
turn a hint back into the registry's type text (``list<Ref>``, ``map<json>``, ``int | str``).
"""

from __future__ import annotations

import datetime as dt
import functools
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs

from .. import types as types_module
from .._spec import MethodSpec

__all__ = [
    "classes",
    "fits",
    "hints",
    "map_shapes",
    "members",
    "required",
    "result_class",
    "type_text",
]

#: fn(object, its class) → the object to keep, applied to every object of a known shape.
ShapeFn = Callable[[dict[str, Any], type], dict[str, Any]]


@functools.cache
def classes() -> dict[str, type]:
    """Every generated attrs class (shapes and per-method results), by class name."""
    found: dict[str, type] = {}
    for name in types_module.__all__:
        value = getattr(types_module, name, None)
        if isinstance(value, type) and attrs.has(value):
            found[name] = value
    return found


def result_class(spec: MethodSpec) -> type | None:
    """The method's generated result class (None for a loose ``map<json>`` result)."""
    return classes().get(spec.result or "")


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    """Field name (as on the wire) → type hint."""
    return typing.get_type_hints(cls)


@functools.cache
def required(cls: type) -> frozenset[str]:
    """Fields the registry marks ``!`` (DX always sends them)."""
    return frozenset(f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING)


def members(hint: Any) -> tuple[Any, ...]:
    """The non-None members of a union hint (the hint itself when it is no union)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(a for a in typing.get_args(hint) if a is not type(None))
    return (hint,)


def _is_shape(hint: Any) -> bool:
    return isinstance(hint, type) and attrs.has(hint)


def _args(hint: Any) -> tuple[Any, ...]:
    return typing.get_args(hint) or (Any, Any)


def map_shapes(value: Any, hint: Any, fn: ShapeFn) -> Any:
    """``value`` with ``fn`` applied to every object of a known shape (innermost first).

    Objects are rebuilt, never changed in place; keys a class does not declare are kept
    as they are and not walked into.
    """
    for member in members(hint):
        origin = typing.get_origin(member)
        if _is_shape(member) and isinstance(value, dict):
            declared = hints(member)
            walked = {
                k: map_shapes(v, declared[k], fn) if k in declared else v for k, v in value.items()
            }
            return fn(walked, member)
        if origin is list and isinstance(value, list):
            inner = _args(member)[0]
            return [map_shapes(v, inner, fn) for v in value]
        if origin is dict and isinstance(value, dict):
            inner = _args(member)[-1]
            return {k: map_shapes(v, inner, fn) for k, v in value.items()}
    return value


def fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value is one the declared type admits (``None`` only if optional)."""
    if value is None:
        return hint is Any or type(None) in typing.get_args(hint)
    return any(_fits_member(value, m) for m in members(hint))


def _fits_member(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin is list:
        return isinstance(value, list) and all(fits(v, _args(hint)[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(fits(v, _args(hint)[-1]) for v in value.values())
    if _is_shape(hint):
        return isinstance(value, dict)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return number
    if hint is str:
        return isinstance(value, str)
    if hint is dt.datetime:
        return number or (isinstance(value, str) and _parses(value, dt.datetime))
    if hint is dt.date:
        return isinstance(value, str) and _parses(value, dt.date)
    return False


def _parses(text: str, kind: type[dt.date]) -> bool:
    try:
        kind.fromisoformat(text.replace("Z", "+00:00") if kind is dt.datetime else text)
    except ValueError:
        return False
    return True


_SCALAR_TEXT = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    dt.datetime: "datetime",
    dt.date: "date",
}


def type_text(hint: Any) -> str:
    """The registry's spelling of a type hint (``None`` dropped: optional is the ``!``)."""
    parts = members(hint)
    if len(parts) > 1:
        return " | ".join(type_text(p) for p in parts)
    hint = parts[0]
    if hint is Any:
        return "json"
    origin = typing.get_origin(hint)
    if origin is list:
        return f"list<{type_text(_args(hint)[0])}>"
    if origin is dict:
        return f"map<{type_text(_args(hint)[-1])}>"
    if origin is typing.Literal:
        return "str"
    if _is_shape(hint):
        return str(hint.__name__)
    return _SCALAR_TEXT.get(hint, "json")
