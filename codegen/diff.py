"""``python -m codegen --diff REV``: what changed in the registry, and what breaks callers.

Compares the registry at a git revision (``git show REV:registry/<file>``), or in another
registry folder, with the working tree's. Prints every method, argument, result key, shape
field, waiter and REST dialect added, removed or changed (every field of a method's spec:
pagination, retry safety, rate limit, pending error, file transfer, deprecation …), marking
the changes that break existing callers:

- a removed method (or one that stopped paginating, or changed its HTTP verb, API, path,
  file transfer or result class), or one whose "not ready" error is no longer waited out;
- a removed argument, a new required argument, an optional argument made required, an
  argument type or enum that accepts less than before;
- a removed result key or shape field, a result type that may now hold values old code
  does not expect (including a key DX no longer always sends).
- a removed waiter, or one that no longer knows a state it knew (or fails it with another
  error class), returns another job object or times out with another error class.

Exit status: 0 when nothing breaks, 1 when something does, 2 when a registry cannot be read.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .diff_specs import (
    Change,
    accepts,
    dialect_changes,
    method_changes,
    shape_changes,
    waiter_changes,
)
from .load import PEERS_DIR, REGISTRY_FILES, load_files, parse_text
from .model import Method, Registry, RegistryError, arg_type
from .validate import build

__all__ = ["Change", "accepts", "diff_registries", "format_changes", "load_at", "run_diff"]


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
            changes += list(method_changes(subject, before, after))
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
                shape_changes(
                    subject,
                    before_shape,
                    after_shape,
                    in_args=name in arg_shapes,
                    in_results=name in result_shapes,
                )
            )
    changes += list(_named_changes("waiter", old.waiters, new.waiters, waiter_changes))
    changes += list(_named_changes("dialect", old.dialects, new.dialects, dialect_changes))
    return changes


def _named_changes(
    kind: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    compare: Callable[[str, Any, Any], Iterator[Change]],
) -> Iterator[Change]:
    """Added, removed (breaking: code using it stops working) and changed entries."""
    for name in sorted(set(old) | set(new)):
        subject = f"{kind} {name}"
        if name not in old:
            yield Change("+", subject, "added")
        elif name not in new:
            yield Change("-", subject, "removed", breaking=True)
        else:
            yield from compare(subject, old[name], new[name])


def _method_summary(m: Method) -> str:
    required = [a.name for a in m.spec.args if a.required]
    return f"added ({m.spec.http}" + (f"; requires {', '.join(required)})" if required else ")")


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
