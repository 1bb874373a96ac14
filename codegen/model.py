"""The registry as typed objects, built on the runtime's own specs (botocore's way).

Methods and waiters are :mod:`dxapi._spec` objects (what ``specs.py`` emits), with the facts
only codegen needs kept beside them; shapes, result fields and the type language are
codegen's own. :mod:`codegen.validate` builds them from the YAML and refuses what is
inconsistent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from dxapi._dialect import Dialect
from dxapi._spec import ArgSpec, MethodSpec, WaiterSpec

from .naming import class_name, py_name

__all__ = [
    "SCALARS",
    "Field",
    "Method",
    "Registry",
    "RegistryError",
    "Shape",
    "Type",
    "Waiter",
    "arg_type",
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

    @classmethod
    def from_canonical(cls, ref: Any) -> Type:
        """The inverse of :meth:`canonical`."""
        if isinstance(ref, str):
            return cls(ref)
        if ref[0] == "shape":
            return cls("shape", name=ref[1])
        return cls(ref[0], tuple(cls.from_canonical(t) for t in ref[1:]))

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


def arg_type(arg: ArgSpec) -> Type:
    """An argument's type as a :class:`Type` (the spec keeps the canonical form)."""
    return Type.from_canonical(arg.type)


@attrs.frozen
class Method:
    """One registry method: the runtime's own :class:`MethodSpec`, and what only codegen needs.

    ``spec`` is exactly what ``specs.py`` emits; the rest (the file it came from, the result
    fields, a loose result type, the docs example) serves error messages, classes and docs.
    """

    spec: MethodSpec
    file: str
    #: The payload's keys (besides ``ok``) and their types: the ``<Name>Result`` class.
    fields: tuple[Field, ...] = ()
    #: A loose result (``result: map<json>``): the payload as a plain mapping, no class.
    result_type: Type | None = None
    example: Mapping[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

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
        """The class it returns: its own, or for an alias the class of its target."""
        return self.spec.result or class_name(self.name) + "Result"

    @property
    def own_class(self) -> str:
        """The name generated for this method's result (an alias assignment for an alias)."""
        return class_name(self.name) + "Result"

    def item_type(self) -> Type | None:
        if self.spec.page is None:
            return None
        for f in self.fields:
            if f.name == self.spec.page.items and f.type.kind == "list":
                return f.type.items[0]
        return None


@attrs.frozen
class Waiter:
    """A ``waiters:`` entry: the runtime's :class:`WaiterSpec` and the file it came from."""

    spec: WaiterSpec
    file: str

    @property
    def name(self) -> str:
        return self.spec.name


@attrs.frozen
class Registry:
    shapes: Mapping[str, Shape]
    methods: Mapping[str, Method]
    helpers: Mapping[str, str]  # "api:namespace path" → "module:Class"
    waiters: Mapping[str, Waiter] = attrs.field(factory=dict)
    #: REST APIs (``registry/peers/*.yaml``) by name: their auth, envelope and rate headers.
    dialects: Mapping[str, Dialect] = attrs.field(factory=dict)

    def dx(self) -> Registry:
        """DX's own APIs (web, datacloud): what ``dxapi/_generated/`` outside ``peers/`` holds."""
        return Registry(
            {n: s for n, s in self.shapes.items() if not s.file.startswith("peers/")},
            {k: m for k, m in self.methods.items() if m.spec.dialect is None},
            self.helpers,
            self.waiters,
        )

    def peer(self, api: str) -> Registry:
        """One REST API's methods and shapes (keyed by method name)."""
        methods = {m.name: m for m in self.methods.values() if m.spec.api == api}
        files = {m.file for m in methods.values()}
        shapes = {n: s for n, s in self.shapes.items() if s.file in files}
        return Registry(shapes, methods, {}, {}, {api: self.dialects[api]})

    def apis(self) -> list[str]:
        return sorted({m.spec.api for m in self.methods.values()})

    def methods_of(self, api: str) -> list[Method]:
        return [m for _, m in sorted(self.methods.items()) if m.spec.api == api]
