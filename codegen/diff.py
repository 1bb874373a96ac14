"""``python -m codegen --diff REV``: what changed in the registry, and what breaks callers.

Compares the registry at a git revision (``git show REV:registry/<file>``), or in another
registry folder, with the working tree's. Prints every method, argument, result key and
shape field added, removed or changed, marking the changes that break existing callers:

- a removed method (or one that stopped paginating, or changed its HTTP verb);
- a removed argument, a new required argument, an optional argument made required, an
  argument type or enum that accepts less than before;
- a removed result key or shape field, a result type that may now hold values old code
  does not expect (including a key DX no longer always sends).

Exit status: 0 when nothing breaks, 1 when something does, 2 when a registry cannot be read.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs

from dxapi._spec import ArgSpec

from .load import PEERS_DIR, REGISTRY_FILES, load_files, parse_text
from .model import Field, Method, Registry, RegistryError, Shape, Type, arg_type
from .validate import build

__all__ = ["Change", "accepts", "diff_registries", "format_changes", "load_at", "run_diff"]


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


# ---------------------------------------------------------------------- loading


def load_at(ref: str, registry_dir: Path) -> Registry:
    """The registry in folder ``ref``, or at git revision ``ref`` (same relative folder)."""
    folder = Path(ref)
    if folder.is_dir():
        return build(load_files(folder))
    root = _git(["rev-parse", "--show-toplevel"], registry_dir).strip()
    rel = registry_dir.resolve().relative_to(Path(root).resolve()).as_posix()
    files = {}
    try:
        tree = f"{ref}:{rel}/{PEERS_DIR}"
        listed = _git(["ls-tree", "--full-tree", "--name-only", tree], registry_dir)
    except (FileNotFoundError, RegistryError):  # no peers/ folder at that revision
        listed = ""
    peers = sorted(f"{PEERS_DIR}/{name}" for name in listed.split() if name.endswith(".yaml"))
    for name in (*REGISTRY_FILES, *peers):
        try:
            text = _git(["show", f"{ref}:{rel}/{name}"], registry_dir)
        except FileNotFoundError:
            continue
        files[name] = parse_text(text)
    if not files:
        raise RegistryError([f"{ref}: no registry files under {rel}/ at this revision"])
    return build(files)


def _git(args: list[str], cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        message = done.stderr.strip()
        if "does not exist" in message or "exists on disk, but not in" in message:
            raise FileNotFoundError(message)
        raise RegistryError([f"git {' '.join(args)}: {message or 'failed'}"])
    return done.stdout


# ---------------------------------------------------------------------- types


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


# ---------------------------------------------------------------------- comparing


def diff_registries(old: Registry, new: Registry) -> list[Change]:
    """Every difference between two registries, methods first, then shapes."""
    changes: list[Change] = []
    for name in sorted(set(old.methods) | set(new.methods)):
        before, after = old.methods.get(name), new.methods.get(name)
        subject = f"method {name}"
        if before is None and after is not None:
            changes.append(Change("+", subject, _method_summary(after)))
        elif after is None:
            changes.append(Change("-", subject, "removed", breaking=True))
        elif before is not None:
            changes += list(_method_changes(subject, before, after))
    arg_shapes = _shapes_in(new, args=True) | _shapes_in(old, args=True)
    result_shapes = _shapes_in(new, args=False) | _shapes_in(old, args=False)
    for name in sorted(set(old.shapes) | set(new.shapes)):
        before_shape, after_shape = old.shapes.get(name), new.shapes.get(name)
        subject = f"shape {name}"
        if before_shape is None:
            changes.append(Change("+", subject, "added"))
        elif after_shape is None:
            changes.append(Change("-", subject, "removed", breaking=True))
        else:
            changes += list(
                _shape_changes(
                    subject,
                    before_shape,
                    after_shape,
                    in_args=name in arg_shapes,
                    in_results=name in result_shapes,
                )
            )
    return changes


def _method_summary(m: Method) -> str:
    required = [a.name for a in m.spec.args if a.required]
    return f"added ({m.spec.http}" + (f"; requires {', '.join(required)})" if required else ")")


def _method_changes(subject: str, old: Method, new: Method) -> Iterator[Change]:
    if old.spec.http != new.spec.http:
        yield Change("~", subject, f"HTTP {old.spec.http} → {new.spec.http}", breaking=True)
    if old.spec.path != new.spec.path:  # a REST method moved: old code calls the old path
        yield Change("~", subject, f"path {old.spec.path} → {new.spec.path}", breaking=True)
    if old.spec.success != new.spec.success:
        yield Change("~", subject, f"success statuses {old.spec.success} → {new.spec.success}")
    if old.spec.scope != new.spec.scope:
        yield Change(
            "~", subject, f"scope {old.spec.scope or 'none'} → {new.spec.scope or 'none'}"
        )
    if old.spec.idempotent != new.spec.idempotent:
        yield Change("~", subject, f"idempotent {old.spec.idempotent} → {new.spec.idempotent}")
    if (old.spec.page is None) != (new.spec.page is None):
        yield Change(
            "~",
            subject,
            "now paginated" if new.spec.page else "no longer paginated",
            breaking=new.spec.page is None,
        )
    elif old.spec.page and new.spec.page and old.spec.page != new.spec.page:
        yield Change("~", subject, "pagination changed")
    if old.spec.deprecated != new.spec.deprecated:
        yield Change("~", subject, f"deprecated: {new.spec.deprecated or 'no longer'}")
    if old.spec.download != new.spec.download or old.spec.upload != new.spec.upload:
        yield Change("~", subject, "file transfer changed", breaking=True)
    before, after = ({a.name: a for a in m.spec.args} for m in (old, new))
    yield from _arg_changes(subject, before, after)
    yield from _result_changes(subject, old, new)


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
            wire = ("location", "format", "prefix", "nullable")
            for key in wire:
                if getattr(before, key) != getattr(after, key):
                    yield Change(
                        "~", where, f"{key} {getattr(before, key)!r} → {getattr(after, key)!r}"
                    )


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


def _shape_changes(
    subject: str, old: Shape, new: Shape, *, in_args: bool, in_results: bool
) -> Iterator[Change]:
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
            if notes:
                yield Change("~", where, "; ".join(notes), breaking=breaking)


def _shapes_in(reg: Registry, *, args: bool) -> set[str]:
    """Shapes reachable from arguments (``args``) or from results, through other shapes."""
    seen: set[str] = set()
    todo: list[str] = []
    for m in reg.methods.values():
        types = [arg_type(a) for a in m.spec.args] if args else [f.type for f in m.fields]
        if not args and m.result_type is not None:
            types.append(m.result_type)
        for t in types:
            todo += sorted(t.shapes())
    while todo:
        name = todo.pop()
        if name in seen or name not in reg.shapes:
            continue
        seen.add(name)
        for f in reg.shapes[name].fields:
            todo += sorted(f.type.shapes())
    return seen


# ---------------------------------------------------------------------- reporting


def format_changes(changes: list[Change], before: str, after: str) -> str:
    lines = [f"registry diff: {before} → {after}"]
    lines += [c.line() for c in changes] or ["(no changes)"]
    breaking = sum(c.breaking for c in changes)
    added = sum(c.sign == "+" for c in changes)
    removed = sum(c.sign == "-" for c in changes)
    changed = sum(c.sign == "~" for c in changes)
    lines.append(
        f"{added} added, {removed} removed, {changed} changed; "
        + (f"{breaking} breaking change(s)" if breaking else "nothing breaks callers")
    )
    return "\n".join(lines) + "\n"


def run_diff(ref: str, registry_dir: Path) -> int:
    try:
        old = load_at(ref, registry_dir)
        new = build(load_files(registry_dir))
    except RegistryError as exc:
        print(exc, file=sys.stderr)
        return 2
    changes = diff_registries(old, new)
    sys.stdout.write(format_changes(changes, ref, str(registry_dir)))
    return 1 if any(c.breaking for c in changes) else 0
