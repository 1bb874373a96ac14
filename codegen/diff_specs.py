"""How ``python -m codegen --diff`` compares one registry entry with its older self.

Every field of a spec is compared (:func:`attr_changes` walks them all, nested ones too), so
a field added to :class:`~dxapi._spec.MethodSpec` or :class:`~dxapi._spec.WaiterSpec` is
reported without a new rule; the rules here only say which changes break callers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

import attrs

from dxapi._dialect import Dialect
from dxapi._spec import ArgSpec

from .model import Field, Method, Shape, Type, Waiter, arg_type

__all__ = [
    "Change",
    "accepts",
    "attr_changes",
    "dialect_changes",
    "method_changes",
    "shape_changes",
    "waiter_changes",
]


@attrs.frozen
class Change:
    """One difference: ``sign`` is + (added), - (removed) or ~ (changed)."""

    sign: str
    subject: str  # "method catalog.entities.list", "shape Entity"
    detail: str = ""
    breaking: bool = False

    def line(self) -> str:
        mark = "  BREAKING" if self.breaking else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.sign} {self.subject}{detail}{mark}"


def accepts(new: Type, old: Type) -> bool:
    """Whether every value of type ``old`` is also a value of type ``new``."""
    if old.kind == "union":
        return all(accepts(new, t) for t in old.items)
    if new.kind == "union":
        return any(accepts(t, old) for t in new.items)
    if new.kind == "json":
        return True
    if new.kind != old.kind:
        return new.kind == "float" and old.kind == "int"
    if new.kind in ("list", "map"):
        return accepts(new.items[0], old.items[0])
    return new.name == old.name


#: MethodSpec fields whose change breaks callers: another verb, API or path is another
#: endpoint; a file transfer or a bare-array answer another return value; a result class
#: another type.
_METHOD_BREAKING = frozenset(
    {"http", "api", "path_template", "download", "upload", "result", "bare_array"}
)
#: Compared by their own rules below (``dialect``: once per API, in ``diff_registries``).
_METHOD_OWN = frozenset({"name", "args", "page", "deprecated", "pending_error", "dialect"})
#: How a field is named in a change line.
_LABELS = {"http": "HTTP", "success": "success statuses", "path_template": "path"}
#: Prose: a change is reported, not quoted.
_PROSE = frozenset({"summary", "doc"})


def method_changes(subject: str, old: Method, new: Method) -> Iterator[Change]:
    before, after = old.spec, new.spec
    if (before.page is None) != (after.page is None):
        yield Change(
            "~",
            subject,
            "now paginated" if after.page else "no longer paginated",
            breaking=after.page is None,
        )
    elif before.page is not None and after.page is not None:
        yield from attr_changes(subject, before.page, after.page, prefix="pagination ")
    if before.deprecated != after.deprecated:
        yield Change("~", subject, f"deprecated: {after.deprecated or 'no longer'}")
    if before.pending_error != after.pending_error:  # a "not ready" answer old code waited out
        yield Change(
            "~",
            subject,
            f"pending_error {_show(before.pending_error)} → {_show(after.pending_error)}",
            breaking=before.pending_error is not None,
        )
    yield from attr_changes(subject, before, after, skip=_METHOD_OWN, breaking=_METHOD_BREAKING)
    if old.example != new.example:
        yield Change("~", subject, "example changed")
    args_before, args_after = ({a.name: a for a in m.spec.args} for m in (old, new))
    yield from _arg_changes(subject, args_before, args_after)
    yield from _result_changes(subject, old, new)


def attr_changes(
    subject: str,
    old: Any,
    new: Any,
    *,
    skip: Collection[str] = (),
    breaking: Collection[str] = (),
    prefix: str = "",
) -> Iterator[Change]:
    """A change line for every attrs field (but ``skip``) that differs, nested ones by path."""
    for field in attrs.fields(type(old)):
        if field.name in skip or not field.init:  # init=False fields are derived
            continue
        before, after = getattr(old, field.name), getattr(new, field.name)
        if before == after:
            continue
        key = _LABELS.get(field.name, field.name)
        if attrs.has(type(before)) and type(before) is type(after):
            yield from attr_changes(subject, before, after, prefix=f"{prefix}{key}.")
        elif field.name in _PROSE:
            yield Change("~", subject, f"{prefix}{key} changed")
        else:
            yield Change(
                "~",
                subject,
                f"{prefix}{key} {_show(before)} → {_show(after)}",
                breaking=field.name in breaking,
            )


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if attrs.has(type(value)):
        fields = attrs.asdict(value, recurse=False).items()
        return f"{type(value).__name__}({', '.join(f'{k}={_show(v)}' for k, v in fields)})"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(_show, value)) + "]"
    return repr(value)


def waiter_changes(subject: str, old: Waiter, new: Waiter) -> Iterator[Change]:
    """A state the old wait knew that the new one does not (pending, success, or failing
    with another error class) ends old code's waits otherwise: breaking; so are another
    job path (what the wait returns) and another timeout error class."""
    before, after = old.spec, new.spec
    for key in ("pending", "success"):
        was, now = getattr(before, key), getattr(after, key)
        if was != now:
            yield Change(
                "~",
                subject,
                f"{key} states {_show(was)} → {_show(now)}",
                breaking=bool(set(was) - set(now)),
            )
    if before.failure != after.failure:
        was_f, now_f = dict(before.failure), dict(after.failure)
        yield Change(
            "~",
            subject,
            f"failure states {_show(before.failure)} → {_show(after.failure)}",
            breaking=any(now_f.get(state) != cls for state, cls in was_f.items()),
        )
    skip = {"name", "pending", "success", "failure"}
    yield from attr_changes(subject, before, after, skip=skip, breaking={"job", "timeout_error"})


def dialect_changes(subject: str, old: Dialect, new: Dialect) -> Iterator[Change]:
    yield from attr_changes(subject, old, new, skip={"name"})


def _arg_changes(
    subject: str, old: Mapping[str, ArgSpec], new: Mapping[str, ArgSpec]
) -> Iterator[Change]:
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        where = f"{subject} arg {name}"
        if before is None and after is not None:
            need = "required" if after.required else "optional"
            yield Change("+", where, f"{arg_type(after).text()} ({need})", breaking=after.required)
        elif after is None:
            yield Change("-", where, "removed", breaking=True)
        elif before is not None:
            if not before.required and after.required:
                yield Change("~", where, "now required", breaking=True)
            elif before.required and not after.required:
                yield Change("~", where, "now optional")
            if before.type != after.type:
                narrowed = not accepts(arg_type(after), arg_type(before))
                what = "narrowed" if narrowed else "widened"
                yield Change(
                    "~",
                    where,
                    f"type {arg_type(before).text()} → {arg_type(after).text()} ({what})",
                    breaking=narrowed,
                )
            if before.enum != after.enum:
                dropped = (set(before.enum) - set(after.enum)) if before.enum else {"(any)"}
                narrowed = bool(after.enum) and bool(dropped)
                yield Change(
                    "~",
                    where,
                    f"allowed values {list(before.enum) or 'any'} → {list(after.enum) or 'any'}",
                    breaking=narrowed,
                )
            own = {"name", "type", "required", "enum"}  # compared above
            yield from attr_changes(where, before, after, skip=own)


def _result_changes(subject: str, old: Method, new: Method) -> Iterator[Change]:
    if old.result_type != new.result_type:
        before = old.result_type.text() if old.result_type else "typed result"
        after = new.result_type.text() if new.result_type else "typed result"
        yield Change("~", f"{subject} result", f"{before} → {after}", breaking=True)
    yield from _field_changes(
        f"{subject} result",
        {f.name: f for f in old.fields},
        {f.name: f for f in new.fields},
        in_args=False,
        in_results=True,
    )


def shape_changes(
    subject: str, old: Shape, new: Shape, *, in_args: bool, in_results: bool
) -> Iterator[Change]:
    if old.doc != new.doc:
        yield Change("~", subject, "doc changed")
    yield from _field_changes(
        subject,
        {f.name: f for f in old.fields},
        {f.name: f for f in new.fields},
        in_args=in_args,
        in_results=in_results or not in_args,
    )


def _field_changes(
    subject: str,
    old: Mapping[str, Field],
    new: Mapping[str, Field],
    *,
    in_args: bool,
    in_results: bool,
) -> Iterator[Change]:
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        where = f"{subject} field {name}" if subject.startswith("shape") else f"{subject} {name}"
        if before is None and after is not None:
            yield Change("+", where, after.type.text(), breaking=in_args and after.required)
        elif after is None:
            yield Change("-", where, "removed", breaking=True)
        elif before is not None:
            breaking = False
            notes = []
            if before.type != after.type:
                widened = not accepts(before.type, after.type)  # new values old code can't read
                narrowed = not accepts(after.type, before.type)  # old inputs now refused
                breaking |= (in_results and widened) or (in_args and narrowed)
                notes.append(f"type {before.type.text()} → {after.type.text()}")
            if before.required and not after.required:
                breaking |= in_results
                notes.append("may now be missing or null")
            elif after.required and not before.required:
                breaking |= in_args
                notes.append("now always sent" if in_results else "now required")
            if before.doc != after.doc:
                notes.append("doc changed")
            if notes:
                yield Change("~", where, "; ".join(notes), breaking=breaking)
