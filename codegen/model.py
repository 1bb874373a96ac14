"""The registry as typed objects: methods, arguments, shapes, waiters, and the type language.

:mod:`codegen.validate` builds them from the YAML and refuses what is inconsistent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from .naming import class_name, py_name

__all__ = [
    "SCALARS",
    "Arg",
    "Field",
    "Method",
    "Page",
    "Registry",
    "RegistryError",
    "Shape",
    "Type",
    "Waiter",
    "parse_type",
]

#: Scalar type names of the registry's little type language.
SCALARS = frozenset({"str", "int", "float", "bool", "json", "datetime", "date", "file"})
_SHAPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


class RegistryError(Exception):
    """The registry is inconsistent; ``problems`` lists every ``file: where: key: what``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid registry:\n  " + "\n  ".join(problems))


@attrs.frozen
class Type:
    """A registry type: ``kind`` is a scalar name, "list", "map", "union" or "shape"."""

    kind: str
    items: tuple[Type, ...] = ()
    name: str = ""

    def canonical(self) -> Any:
        """The runtime form used in :class:`dxapi._spec.ArgSpec` (plain strings and tuples)."""
        if self.kind in SCALARS:
            return self.kind
        if self.kind == "shape":
            return ("shape", self.name)
        return (self.kind, *(t.canonical() for t in self.items))

    def text(self) -> str:
        if self.kind in ("list", "map"):
            return f"{self.kind}<{self.items[0].text()}>"
        if self.kind == "union":
            return " | ".join(t.text() for t in self.items)
        return self.name or self.kind

    def shapes(self) -> set[str]:
        found = {self.name} if self.kind == "shape" else set()
        for t in self.items:
            found |= t.shapes()
        return found


def parse_type(text: str) -> Type:
    """Parse ``list<Entity> | str`` and friends; raise ValueError naming what is wrong.

    Angle brackets keep types plain YAML scalars, even inside ``{flow: mappings}``.
    """
    text = text.strip()
    parts = _split_union(text)
    if len(parts) > 1:
        return Type("union", tuple(parse_type(p) for p in parts))
    for kind in ("list", "map"):
        if text.startswith(kind + "<") and text.endswith(">"):
            return Type(kind, (parse_type(text[len(kind) + 1 : -1]),))
    if text in SCALARS:
        return Type(text)
    if _SHAPE_NAME.match(text):
        return Type("shape", name=text)
    raise ValueError(f"unknown type {text!r}")


def _split_union(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "|" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


@attrs.frozen
class Field:
    name: str
    type: Type
    required: bool = False
    doc: str = ""

    @property
    def py_name(self) -> str:
        return py_name(self.name)


@attrs.frozen
class Shape:
    name: str
    file: str
    doc: str
    fields: tuple[Field, ...]


@attrs.frozen
class Arg:
    name: str
    type: Type
    required: bool = False
    doc: str = ""
    location: str = "auto"
    enum: tuple[str, ...] = ()
    format: str = "iso"
    default: Any = None
    nullable: bool = False
    prefix: str | None = None

    @property
    def py_name(self) -> str:
        return py_name(self.name)


@attrs.frozen
class Page:
    items: str
    input: str = "cursor"
    output: str = "response_metadata.next_cursor"
    total: str | None = None
    style: str = "cursor"
    limit: str | None = "limit"


@attrs.frozen
class RateRule:
    requests: int
    per: float
    key: str


@attrs.frozen
class Method:
    name: str
    api: str
    file: str
    http: str
    scope: str | None
    summary: str
    args: tuple[Arg, ...]
    result: tuple[Field, ...]
    idempotent: bool
    page: Page | None = None
    deprecated: str | None = None
    rate_limit: RateRule | None = None
    upload: str | None = None
    download: bool = False
    pending_error: str | None = None
    idempotent_when: str | None = None
    example: Mapping[str, Any] | None = None
    bare_array: str | None = None
    #: A loose result (``result: map<json>``): the payload as a plain mapping, no class.
    result_type: Type | None = None

    @property
    def parts(self) -> list[str]:
        return self.name.split(".")

    @property
    def namespace(self) -> str:
        return ".".join(self.parts[:-1])

    @property
    def family(self) -> str:
        return self.parts[0]

    @property
    def result_class(self) -> str:
        return class_name(self.name) + "Result"

    def item_type(self) -> Type | None:
        if self.page is None:
            return None
        for f in self.result:
            if f.name == self.page.items and f.type.kind == "list":
                return f.type.items[0]
        return None


@attrs.frozen
class Waiter:
    """How to wait for an asynchronous job (a ``waiters:`` entry; see registry/README.md)."""

    name: str
    file: str
    poll: str
    id_arg: str
    status: str
    pending: tuple[str, ...]
    success: tuple[str, ...]
    failure: tuple[tuple[str, str], ...]
    job: str | None = None
    error: str | None = None
    start: str | None = None
    start_id: str | None = None
    timeout_error: str = "JobError"
    delay: tuple[float, float, float] = (1.0, 10.0, 1.5)  # initial, max, multiplier
    doc: str = ""


@attrs.frozen
class Registry:
    shapes: Mapping[str, Shape]
    methods: Mapping[str, Method]
    helpers: Mapping[str, str]  # "api:namespace path" → "module:Class"
    waiters: Mapping[str, Waiter] = attrs.field(factory=dict)

    def apis(self) -> list[str]:
        return sorted({m.api for m in self.methods.values()})

    def methods_of(self, api: str) -> list[Method]:
        return [m for _, m in sorted(self.methods.items()) if m.api == api]
