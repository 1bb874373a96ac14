"""What the answers hold: per method and shape, each field's JSON types, presence and values."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs

from .._generated.specs import METHODS
from ._record import Record
from ._walk import fits, hints, map_shapes, result_class

__all__ = ["FieldStats", "Observations", "ShapeStats", "json_type", "registry_type"]

MAX_VALUES = 50  # distinct strings remembered per field
_ENUM_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,31}$")
_LONG_HEX = re.compile(r"[0-9a-fA-F]{12}")
_DATA_NAME = re.compile(
    r"(^|_)(id|ids|identifier|name|title|email|url|username|login|description|prompt|message"
    r"|comment|text|token|secret|key|value|label|path|sha)s?$"
)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


@attrs.define
class FieldStats:
    """One field of one shape, over every object of that shape seen."""

    present: int = 0
    nulls: int = 0
    types: Counter[str] = attrs.field(factory=Counter)
    #: The first value seen of each JSON type.
    examples: dict[str, Any] = attrs.field(factory=dict)
    strings: Counter[str] = attrs.field(factory=Counter)
    every_datetime: bool = True
    every_date: bool = True
    #: Values the declared type does not admit (None: the field is not declared).
    misfits: Counter[str] = attrs.field(factory=Counter)
    misfit_example: Any = None

    def observe(self, value: Any, hint: Any) -> None:
        kind = json_type(value)
        self.present += 1
        self.nulls += value is None
        self.types[kind] += 1
        self.examples.setdefault(kind, value)
        if isinstance(value, str):
            if value in self.strings or len(self.strings) < MAX_VALUES:
                self.strings[value] += 1
            self.every_datetime &= _iso(value, dt.datetime)
            self.every_date &= _iso(value, dt.date)
        if hint is not None and value is not None and not fits(value, hint):
            self.misfits[kind] += 1
            if self.misfit_example is None:
                self.misfit_example = value

    def enum_like(self, name: str) -> bool:
        """Few distinct, repeated, identifier-like strings (shown unmasked in reports), in a
        field whose name does not say it holds data (ids, names, emails, links, text)."""
        values = list(self.strings)
        seen = sum(self.strings.values())
        return (
            not _DATA_NAME.search(name)
            and 0 < len(values) <= 12
            and seen >= 2 * len(values)
            and all(_ENUM_TOKEN.match(v) and not _LONG_HEX.search(v) for v in values)
        )


def _iso(text: str, kind: type[dt.date]) -> bool:
    if kind is dt.date and len(text) != 10:
        return False
    try:
        kind.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return kind is dt.date or "T" in text or " " in text


def registry_type(stats: FieldStats, kinds: Iterable[str]) -> str:
    """The registry type that admits the values of these JSON ``kinds`` (null left out)."""
    found = set(kinds) - {"null"}
    parts: list[str] = []
    if "string" in found:
        date = stats.every_date and not stats.every_datetime
        parts.append("datetime" if stats.every_datetime else "date" if date else "str")
    if "number" in found:
        parts.append("float")
    elif "integer" in found:
        parts.append("int")
    parts += [t for k, t in (("boolean", "bool"), ("array", "list<json>")) if k in found]
    if "object" in found:
        parts.append("map<json>")
    return " | ".join(parts) or "json"


@attrs.define
class ShapeStats:
    method: str
    shape: str
    objects: int = 0
    fields: dict[str, FieldStats] = attrs.field(factory=dict)


@attrs.define
class Observations:
    """Every answer's objects, by (method, shape class name)."""

    shapes: dict[tuple[str, str], ShapeStats] = attrs.field(factory=dict)
    answers: Counter[str] = attrs.field(factory=Counter)
    #: Methods answered whose result the registry leaves untyped (``map<json>``).
    untyped: set[str] = attrs.field(factory=set)
    #: Recorded method names the registry does not have.
    unknown: set[str] = attrs.field(factory=set)

    def add(self, record: Record) -> None:
        spec = METHODS.get(record.method)
        cls = result_class(spec) if spec else None
        if record.answer is None:
            return
        if spec is None:
            self.unknown.add(record.method)
            return
        if cls is None:
            self.untyped.add(record.method)
            return
        self.answers[record.method] += 1
        payload = {k: v for k, v in record.answer.items() if k != "ok"}

        def seen(obj: dict[str, Any], shape: type) -> dict[str, Any]:
            key = (record.method, shape.__name__)
            stats = self.shapes.setdefault(key, ShapeStats(record.method, shape.__name__))
            stats.objects += 1
            declared = hints(shape)
            for name, value in obj.items():
                field = stats.fields.setdefault(name, FieldStats())
                field.observe(value, declared.get(name))
            return obj

        map_shapes(payload, cls, seen)
