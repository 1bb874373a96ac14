"""Observations against the registry: what DX sent that the registry does not say.

Four kinds of difference, each a :class:`Finding`: a field the registry lacks (``new_field``),
a field marked ``!`` that was absent or null (``absent``), a value the declared type does not
admit (``type``), and a job state no waiter lists (``enum``: the registry's enumerations of
result values are its waiters' ``pending``/``success``/``failure`` states). A declared optional
field that never appeared is no difference: DX leaves optional fields out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import attrs

from .._generated.specs import METHODS, WAITERS
from ._infer import FieldStats, Observations, registry_type
from ._walk import classes, hints, members, required, result_class, type_text

__all__ = ["Finding", "compare", "known_values"]


@attrs.frozen
class Finding:
    """One difference seen in one method's answers."""

    kind: str  # new_field | absent | type | enum
    method: str
    #: The shape's class name (a ``<Name>Result`` class for a top-level key).
    shape: str
    field: str
    declared: str = ""
    #: The proposed registry type (or, for ``enum``, the new value).
    proposed: str = ""
    count: int = 0
    total: int = 0
    example: Any = None
    #: For ``enum``: the waiter whose states miss the value.
    waiter: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What the registry change is about (the same for every method showing it)."""
        return (self.kind, self.shape, self.field, self.proposed)

    def describe(self) -> str:
        seen = f"{self.count} of {self.total}"
        if self.kind == "new_field":
            return f"not in the registry; sent in {seen} objects, as {self.proposed}"
        if self.kind == "absent":
            return f"declared {self.declared}! (always sent) but absent or null in {seen} objects"
        if self.kind == "type":
            return f"declared {self.declared}, but {seen} values do not fit; as {self.proposed}"
        return f"state {self.proposed!r} is in none of waiter {self.waiter}'s lists"


def known_values() -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    """(shape, field) → (waiter, states) for every waiter's status path."""
    out: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    for waiter in WAITERS.values():
        cls = result_class(METHODS[waiter.poll])
        *parents, last = waiter.status.split(".")
        for part in parents:
            nested = [m for m in members(hints(cls).get(part)) if m in classes().values()]
            cls = nested[0] if cls is not None and nested else None
            if cls is None:
                break
        if cls is not None:
            states = waiter.pending + waiter.success + tuple(s for s, _ in waiter.failure)
            out[(cls.__name__, last)] = (waiter.name, states)
    return out


def compare(obs: Observations) -> list[Finding]:
    """Every difference, sorted by method, shape, field."""
    found: list[Finding] = []
    enums = known_values()
    for (method, shape), stats in sorted(obs.shapes.items()):
        cls = classes()[shape]
        declared = hints(cls)
        make = functools.partial(Finding, method=method, shape=shape, total=stats.objects)
        for name, field in sorted(stats.fields.items()):
            if name not in declared:
                example = next(iter(field.examples.values()))
                proposed = registry_type(field, field.types)
                found.append(make("new_field", field=name, proposed=proposed,
                                  count=field.present, example=example))  # fmt: skip
            elif field.misfits:
                found.append(_retyped(make, name, declared[name], field))
        for name in sorted(required(cls)):
            field = stats.fields.get(name, FieldStats())
            missing = stats.objects - (field.present - field.nulls)
            if missing:
                text = type_text(declared[name])
                found.append(make("absent", field=name, declared=text, count=missing))
        for name, field in sorted(stats.fields.items()):
            waiter, states = enums.get((shape, name), ("", ()))
            for value in sorted(set(field.strings) - set(states)) if waiter else ():
                found.append(make("enum", field=name, proposed=value, example=value,
                                  count=field.strings[value], waiter=waiter))  # fmt: skip
    return found


def _retyped(make: Callable[..., Finding], name: str, hint: Any, field: FieldStats) -> Finding:
    declared = type_text(hint)
    wrong = registry_type(field, field.misfits)
    fitting = field.present - field.nulls - sum(field.misfits.values())
    proposed = f"{declared} | {wrong}" if fitting > 0 else wrong
    return make("type", field=name, declared=declared, proposed=proposed,
                example=field.misfit_example, total=field.present - field.nulls,
                count=sum(field.misfits.values()))  # fmt: skip
