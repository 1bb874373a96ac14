"""The one cattrs converter that turns DX payloads into shapes, and shapes back into payloads.

Unknown keys are ignored, so a field DX adds tomorrow never breaks today's client. Timestamps
are parsed leniently (DX writes both ``2025-01-02 20:48:45.77969`` and ``...T...Z``).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import cattrs

__all__ = ["converter", "parse_datetime", "structure"]

T = TypeVar("T")

# detailed_validation=False: structuring code without per-field error bookkeeping (several
# times faster); a mismatch still raises, and the session reports it as a TransportError.
converter = cattrs.Converter(
    forbid_extra_keys=False, omit_if_default=False, detailed_validation=False
)


def parse_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value  # milliseconds, by magnitude
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            # DX sometimes writes a one-digit hour ("2026-02-10 0:00:00"); ISO wants two.
            fixed = _ONE_DIGIT_HOUR.sub(r"\g<1>0\g<2>", value.strip())
            return dt.datetime.fromisoformat(fixed)
    raise TypeError(f"not a timestamp: {value!r}")


_ONE_DIGIT_HOUR = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T])(\d:)")


def _parse_date(value: Any, _: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip()[:10])
    raise TypeError(f"not a date: {value!r}")


def _is_optional(t: Any) -> bool:
    args = typing.get_args(t)
    return typing.get_origin(t) in (types.UnionType, typing.Union) and type(None) in args


def _optional_hook(t: Any) -> Callable[[Any, Any], Any]:
    """``X | None``: the inner hook is looked up once, not on every value (cattrs' default)."""
    members = tuple(a for a in typing.get_args(t) if a is not type(None))
    inner: Any = functools.reduce(operator.or_, members)  # X, or X | Y for wider unions
    hook = converter.get_structure_hook(inner)
    if inner in (str, int, float, bool):  # most fields: a value of the right type passes as is
        return lambda value, _: (
            value if value is None or value.__class__ is inner else hook(value, inner)
        )
    return lambda value, _: None if value is None else hook(value, inner)


converter.register_structure_hook_factory(_is_optional, _optional_hook)
converter.register_structure_hook(dt.datetime, lambda v, _: parse_datetime(v))
converter.register_structure_hook(dt.date, _parse_date)
converter.register_unstructure_hook(dt.datetime, lambda v: v.isoformat())
converter.register_unstructure_hook(dt.date, lambda v: v.isoformat())


def structure(payload: Any, cls: type[T]) -> T:
    return converter.structure(payload, cls)
