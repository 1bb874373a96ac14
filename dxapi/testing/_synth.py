"""Deterministic, type-correct payloads built from the generated result classes.

A method the fake has no special handler for still answers something of its documented shape:
every field of its ``<Name>Result`` class (recursively, to a small depth), with values derived
from the field name and an item number, so the same request always gets the same answer.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs

import dxapi.types

from .._generated.results import RESULTS
from .._spec import MethodSpec

__all__ = [
    "fill_required",
    "item_type",
    "result_class",
    "set_path",
    "synthesize",
    "synthesize_value",
    "warm_up",
]

_EPOCH = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
_MAX_DEPTH = 3


def warm_up() -> None:
    """Import every generated result class now (not during the first request)."""
    for name in RESULTS:
        getattr(dxapi.types, name)


def result_class(spec: MethodSpec) -> type | None:
    """The generated result class of ``spec`` (None for a loose ``map<json>`` result)."""
    if spec.result not in RESULTS:
        return None
    cls = dxapi.types.result_type(spec)
    return cls if isinstance(cls, type) and attrs.has(cls) else None


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def item_type(cls: type, key: str) -> Any:
    """The element type of the list field ``key`` of ``cls`` (Any if unknown)."""
    hint = _strip_optional(_hints(cls).get(key, Any))
    args = typing.get_args(hint)
    return args[0] if typing.get_origin(hint) is list and args else Any


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        return members[0] if members else Any
    return hint


def synthesize(cls: type, n: int = 1, depth: int = 0) -> dict[str, Any]:
    """A JSON-ready payload for the attrs class ``cls``; ``n`` varies the values."""
    hints = _hints(cls)
    out: dict[str, Any] = {}
    for field in attrs.fields(cls):
        required = field.default is attrs.NOTHING
        if required or depth < _MAX_DEPTH:
            out[field.name] = synthesize_value(hints[field.name], field.name, n, depth + 1)
    return out


def synthesize_value(hint: Any, name: str, n: int, depth: int) -> Any:
    """A JSON value of type ``hint`` for a field called ``name``."""
    hint = _strip_optional(hint)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        return args[0]
    if origin is list:
        if depth > _MAX_DEPTH:
            return []
        return [synthesize_value(args[0] if args else Any, name, n, depth + 1)]
    if origin is dict:
        if depth > _MAX_DEPTH:
            return {}
        return {f"{name}_key": synthesize_value(args[1] if args else Any, name, n, depth + 1)}
    if isinstance(hint, type) and attrs.has(hint):
        return synthesize(hint, n, depth)
    return _scalar(hint, name, n)


def _scalar(hint: Any, name: str, n: int) -> Any:
    if hint is bool:
        return n % 2 == 0
    if hint is int:
        return n
    if hint is float:
        return n + 0.5
    if hint is dt.datetime:
        return (_EPOCH + dt.timedelta(hours=n)).isoformat().replace("+00:00", "Z")
    if hint is dt.date:
        return (_EPOCH.date() + dt.timedelta(days=n)).isoformat()
    if name.endswith("_at"):
        return (_EPOCH + dt.timedelta(hours=n)).isoformat().replace("+00:00", "Z")
    if name == "email" or name.endswith("_email"):
        return f"user{n}@example.com"
    if name == "url" or name.endswith("_url"):
        return f"https://example.com/{name}/{n}"
    return f"{name}-{n}"


def fill_required(payload: dict[str, Any], cls: type | None) -> dict[str, Any]:
    """Add any field ``cls`` requires that a handler's ``payload`` left out."""
    if cls is None:
        return payload
    hints = _hints(cls)
    for field in attrs.fields(cls):
        if field.default is attrs.NOTHING and field.name not in payload:
            payload[field.name] = synthesize_value(hints[field.name], field.name, 1, 1)
    return payload


def set_path(payload: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted ``path`` in ``payload``, creating objects on the way."""
    *parents, last = path.split(".")
    node = payload
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
