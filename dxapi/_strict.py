"""The strict rules, as a cattrs converter: what msgspec refuses is decided here.

A value must be of its declared JSON type (``registry/README.md``, "How answers are read").
The same hooks, with cattrs' per-field notes kept, explain a refusal: the field path, what
was declared and what came. The converter also turns shapes back into payloads (arguments,
the CLI's output). Loaded only when needed: msgspec reads most answers alone.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.cols import list_structure_factory, mapping_structure_factory
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import ResponseValidationError
from ._spec import MethodSpec
from ._timestamps import Mismatch, parse_date, parse_datetime

__all__ = ["converter", "describe", "explain", "type_text"]

Hook = Callable[[Any, Any], Any]


# --------------------------------------------------------------------------- the scalars


def _str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise Mismatch


def _int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise Mismatch


def _float(value: Any, _: Any) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # JSON has one number type: 3 is a valid float
    raise Mismatch


def _bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return value
    raise Mismatch


# --------------------------------------------------------------------- the containers


def _is_union(t: Any) -> bool:
    return typing.get_origin(t) in (types.UnionType, typing.Union)


def _is_literal(t: Any) -> bool:
    return typing.get_origin(t) is typing.Literal


def _is(origin: type) -> Callable[[Any], bool]:
    return lambda t: typing.get_origin(t) is origin


def _union_hook(conv: cattrs.Converter, t: Any) -> Hook:
    """``X | None`` (and wider unions): the member hooks are looked up once, not per value."""
    members = [a for a in typing.get_args(t) if a is not type(None)]
    nullable = len(members) < len(typing.get_args(t))
    if len(members) == 1:
        inner, hook = members[0], conv.get_structure_hook(members[0])
        if inner in (str, int, float, bool):  # most fields: a value of the right type as is
            return lambda value, _: (
                value if value is None or value.__class__ is inner else hook(value, inner)
            )
        return lambda value, _: None if value is None else hook(value, inner)
    # The first member that accepts the value (ints before floats, as msgspec reads them).
    hooks = [(m, conv.get_structure_hook(m)) for m in sorted(members, key=lambda m: m is float)]

    def union(value: Any, _: Any) -> Any:
        if value is None and nullable:
            return None
        for member, member_hook in hooks:
            try:
                return member_hook(value, member)
            except Exception:
                continue
        raise Mismatch

    return union


def _literal_hook(conv: cattrs.Converter, t: Any) -> Hook:
    """Result enums are open: an enum of strings accepts any string DX sends."""
    allowed = typing.get_args(t)
    if all(isinstance(a, str) for a in allowed):
        return _str

    def closed(value: Any, _: Any) -> Any:
        if value in allowed and type(value) in {type(a) for a in allowed}:
            return value
        raise Mismatch

    return closed


def _typed(check: type, make: Callable[[Any, cattrs.Converter], Hook]) -> Any:
    """A factory whose hooks refuse any value that is not a ``check`` before ``make``'s hook."""

    def factory(t: Any, conv: cattrs.Converter) -> Hook:
        inner = make(t, conv)

        def hook(value: Any, _: Any) -> Any:
            if isinstance(value, check):
                return inner(value, t)
            raise Mismatch

        return hook

    return factory


def _renames(cls: type) -> dict[str, Any]:
    return {a.name: override(rename=a.alias) for a in attrs.fields(cls) if a.alias != a.name}


def _object(cls: type, conv: cattrs.Converter) -> Hook:
    return make_dict_structure_fn(cls, conv, **_renames(cls))


def _build(*, detailed: bool) -> cattrs.Converter:
    """The strict converter; ``detailed`` keeps per-field error notes (for explaining only)."""
    conv = cattrs.Converter(
        forbid_extra_keys=False, omit_if_default=False, detailed_validation=detailed
    )
    for cls, hook in ((str, _str), (int, _int), (float, _float), (bool, _bool)):
        conv.register_structure_hook(cls, hook)
    conv.register_structure_hook(dt.datetime, lambda v, _: parse_datetime(v))
    conv.register_structure_hook(dt.date, lambda v, _: parse_date(v))
    conv.register_structure_hook_factory(_is(list), _typed(list, list_structure_factory))
    conv.register_structure_hook_factory(_is(dict), _typed(dict, mapping_structure_factory))
    conv.register_structure_hook_factory(attrs.has, _typed(dict, _object))
    conv.register_structure_hook_factory(_is_union, lambda t: _union_hook(conv, t))
    conv.register_structure_hook_factory(_is_literal, lambda t: _literal_hook(conv, t))
    conv.register_unstructure_hook(dt.datetime, lambda v: v.isoformat())
    conv.register_unstructure_hook(dt.date, lambda v: v.isoformat())
    conv.register_unstructure_hook_factory(
        attrs.has, lambda cls: make_dict_unstructure_fn(cls, conv, **_renames(cls))
    )
    return conv


#: Structures (strictly, as the fallback of msgspec) and unstructures (arguments, CLI output).
converter = _build(detailed=False)


@functools.cache
def _explainer() -> cattrs.Converter:
    return _build(detailed=True)


# ----------------------------------------------------------------------- explaining

_MISSING: Any = object()


def explain(
    spec: MethodSpec,
    cls: type[Any],
    payload: Any,
    status: int | None,
    headers: Mapping[str, str] | None,
) -> ResponseValidationError:
    path, declared, value = "", type_text(cls), payload
    try:
        _explainer().structure(payload, cls)
    except Exception as exc:
        path, t, value, leaf = _locate(exc, cls, payload)
        declared = type_text(t)
        if isinstance(leaf, KeyError) and value is _MISSING:
            declared += " (required)"
    accepted = spec.http != "GET" and isinstance(payload, Mapping) and payload.get("ok") is True
    return ResponseValidationError(
        spec.name,
        result=getattr(cls, "__name__", str(cls)),
        path=path,
        declared=declared,
        got=describe(value),
        payload=payload,
        status=status,
        headers=headers,
        accepted=accepted,
    )


def _locate(exc: BaseException, t: Any, value: Any) -> tuple[str, Any, Any, BaseException]:
    """Follow cattrs' error notes to the first failing value: (path, declared, value, leaf)."""
    path = ""
    while isinstance(exc, ClassValidationError | IterableValidationError):
        noted, bare = exc.group_exceptions()
        if not noted:
            exc = bare[0] if bare else exc
            break
        group, (exc, note) = exc, noted[0]
        t = note.type
        if isinstance(note, cattrs.AttributeValidationNote):
            key = _wire_name(group, note.name)
            path = f"{path}.{key}" if path else key
            value = value.get(key, _MISSING) if isinstance(value, Mapping) else _MISSING
        else:
            index = note.index
            path += f"[{index!r}]" if isinstance(index, str) else f"[{index}]"
            try:
                value = value[index]
            except (LookupError, TypeError):
                value = _MISSING
    return path, t, value, exc


def _wire_name(group: BaseException, name: str) -> str:
    cl = getattr(group, "cl", None)
    if cl is None or not attrs.has(cl):
        return name
    field = attrs.fields_dict(cl).get(name)
    return name if field is None or field.alias is None else field.alias


def type_text(t: Any) -> str:
    """A declared type as people read it: ``list[Ref] | None``, ``datetime``, ``Any``."""
    if t is type(None):
        return "None"
    if isinstance(t, type) and not typing.get_args(t):
        return t.__name__
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", str(t).replace("NoneType", "None"))


def describe(value: Any) -> str:
    """What came, briefly: ``null``, ``the string 'x'``, ``an array of 3 items``…"""
    if value is _MISSING:
        return "nothing (the key is absent)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        keys = ", ".join(repr(k) for k in list(value)[:5])
        return f"an object with keys {keys}" if value else "an empty object"
    if isinstance(value, list):
        return f"an array of {len(value)} item{'' if len(value) == 1 else 's'}"
    kind = {str: "the string", int: "the number", float: "the number"}.get(type(value), "")
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = "…"
    text = text if len(text) <= 60 else text[:57] + "…"
    return f"{kind} {text}".strip()
