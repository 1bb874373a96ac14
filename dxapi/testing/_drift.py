"""Answers that differ from the registry on purpose: ``FakeDX(drift=[Drift.add_field(...)])``.

Each :class:`Drift` names a shape (``Entity``, or a result class such as ``TeamsListResult``
for a top-level key) and one field, and changes every object of that shape in every answer,
whichever method sends it: a new field, a field left out, a value of another JSON type, or
another string value. It is applied once, where the fake serializes a successful answer, by
walking the payload through the method's generated result class; the stored data never
changes. Tests use it to check that code (``dxapi probe``, a caller's own) notices or copes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from .._spec import MethodSpec
from ..probe._walk import classes, hints, map_shapes, result_class

__all__ = ["Drift", "Drifts"]

Kind = Literal["add", "remove", "retype", "enum"]
_TYPES = ("str", "int", "float", "bool", "list", "object")


@attrs.frozen
class Drift:
    """One change to every object of ``shape``: build it with the class methods."""

    kind: Kind
    shape: str
    field: str
    value: Any = None

    @classmethod
    def add_field(cls, shape: str, field: str, value: Any) -> Drift:
        """Send ``field`` with ``value`` (a field the registry does not know)."""
        return cls("add", shape, field, value)

    @classmethod
    def remove_field(cls, shape: str, field: str) -> Drift:
        """Leave ``field`` out."""
        return cls("remove", shape, field)

    @classmethod
    def retype(cls, shape: str, field: str, to: str) -> Drift:
        """Send ``field``'s value as another JSON type: one of str, int, float, bool, list,
        object (``12`` → ``"12"`` for ``str``; a value that cannot convert is left as it is)."""
        if to not in _TYPES:
            raise ValueError(f"Drift.retype: 'to' must be one of {list(_TYPES)}, got {to!r}")
        return cls("retype", shape, field, to)

    @classmethod
    def enum_value(cls, shape: str, field: str, value: str) -> Drift:
        """Send ``value`` in ``field`` (e.g. a status the registry does not list)."""
        return cls("enum", shape, field, value)

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``obj`` with this change made."""
        out = dict(obj)
        if self.kind == "remove":
            out.pop(self.field, None)
        elif self.kind in ("add", "enum"):
            out[self.field] = self.value
        elif self.field in out:
            out[self.field] = _convert(out[self.field], self.value)
        return out


def _convert(value: Any, to: str) -> Any:
    try:
        if to == "str":
            return value if isinstance(value, str) else json.dumps(value)
        if to == "int":
            return int(value)
        if to == "float":
            return float(value)
        if to == "bool":
            return bool(value)
        if to == "list":
            return [value]
        return {"value": value}
    except (TypeError, ValueError):
        return value


class Drifts:
    """Every drift of one fake, applied to a method's successful payload."""

    def __init__(self, drifts: Iterable[Drift]) -> None:
        self.by_shape: dict[str, list[Drift]] = {}
        known = classes()
        for drift in drifts:
            if drift.shape not in known:
                raise ValueError(f"Drift: no generated shape or result class {drift.shape!r}")
            if drift.kind != "add" and drift.field not in hints(known[drift.shape]):
                raise ValueError(f"Drift: {drift.shape} has no field {drift.field!r} to change")
            self.by_shape.setdefault(drift.shape, []).append(drift)

    def __call__(self, spec: MethodSpec, payload: Mapping[str, Any]) -> dict[str, Any]:
        cls = result_class(spec)
        if cls is None or not self.by_shape:
            return dict(payload)
        return dict(map_shapes(dict(payload), cls, self._apply))

    def _apply(self, obj: dict[str, Any], cls: type) -> dict[str, Any]:
        for drift in self.by_shape.get(cls.__name__, ()):
            obj = drift.apply(obj)
        return obj
