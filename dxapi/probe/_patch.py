"""The proposed registry change: a unified diff of minimal text edits to ``registry/*.yaml``.

Each difference becomes one line-level edit, so comments, anchors and formatting stay as
they are: a new field is one line appended to its shape's ``fields:`` (or the method's
``result:``, following ``alias_of``), a contradicted type has its type token replaced, a
required field seen absent loses its ``!``, and a new job state is added to its waiter's
``failure:`` as a generic ``JobError`` with a comment asking the reviewer to place it. New
fields are proposed optional: a sample cannot prove DX always sends them. The result is
checked to still parse as YAML (PyYAML, the codegen-time dependency, imported lazily).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from .._generated.specs import METHODS
from ._compare import Finding

__all__ = ["PatchError", "registry_patch"]

FILES = ("shapes.yaml", "web.yaml", "datacloud.yaml")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PatchError(ValueError):
    """The registry text could not be edited as the findings need (names what and where)."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#")


class _RegistryFile:
    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.lines = text.splitlines(keepends=True)

    def block(self, start: int, end: int, key: str, indent: int) -> tuple[int, int] | None:
        """Lines (header, end) of ``key:`` at ``indent`` within lines start..end."""
        for i in range(start, end):
            line = self.lines[i]
            if _indent(line) == indent and line.strip().startswith(f"{key}:"):
                j = i + 1
                while j < end and (not _content(self.lines[j]) or _indent(self.lines[j]) > indent):
                    j += 1
                while j > i + 1 and not _content(self.lines[j - 1]):
                    j -= 1  # trailing blank lines and comments belong to what follows
                return i, j
        return None

    def entry(self, section: str, key: str) -> tuple[int, int] | None:
        top = self.block(0, len(self.lines), section, 0)
        return self.block(top[0] + 1, top[1], key, 2) if top else None


class _Registry:
    def __init__(self, root: Path) -> None:
        present = [n for n in FILES if (root / n).exists()]
        self.files = {n: _RegistryFile(n, (root / n).read_text("utf-8")) for n in present}
        if not self.files:
            raise PatchError(f"no registry files ({', '.join(FILES)}) in {root}")
        self.before = {n: "".join(f.lines) for n, f in self.files.items()}

    def find(self, section: str, key: str) -> tuple[_RegistryFile, int, int]:
        for f in self.files.values():
            span = f.entry(section, key)
            if span:
                return f, *span
        raise PatchError(f"{section}: {key} not found in the registry files")

    def fields(self, shape: str) -> tuple[_RegistryFile, int, int]:
        """The ``fields:`` block of a shape, or the ``result:`` block of a result class."""
        try:
            f, start, end = self.find("shapes", shape)
            key = "fields"
        except PatchError:
            f, start, end = self._method(shape)
            key = "result"
        span = f.block(start + 1, end, key, 4)
        if span is None:
            raise PatchError(f"{f.name}: {shape}: no '{key}:' block to edit")
        return f, *span

    def _method(self, result: str) -> tuple[_RegistryFile, int, int]:
        names = sorted(n for n, s in METHODS.items() if s.result == result)
        for name in names:
            f, start, end = self.find("methods", name)
            alias = f.block(start + 1, end, "alias_of", 4)
            if f.block(start + 1, end, "result", 4) is None and alias:
                target = f.lines[alias[0]].split(":", 1)[1].strip()
                return self.find("methods", target)
            return f, start, end
        raise PatchError(f"no method has the result class {result}")

    def diff(self, prefix: str) -> str:
        out: list[str] = []
        for name, f in self.files.items():
            after = "".join(f.lines)
            if after != self.before[name]:
                _check_yaml(name, after)
                out += difflib.unified_diff(
                    self.before[name].splitlines(keepends=True),
                    f.lines,
                    f"a/{prefix}/{name}",
                    f"b/{prefix}/{name}",
                )
        return "".join(out)


def _check_yaml(name: str, text: str) -> None:
    try:
        import yaml
    except ImportError:
        raise PatchError("writing a registry patch needs PyYAML: pip install pyyaml") from None
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PatchError(f"{name}: the edited registry is no longer valid YAML: {exc}") from None


def _field_line(f: _RegistryFile, start: int, end: int, field: str) -> int:
    for i in range(start + 1, end):
        line = f.lines[i]
        if _indent(line) == 6 and line.strip().startswith(f"{field}:"):
            return i
    raise PatchError(f"{f.name}: field {field!r} not found under line {start + 1}")


_TYPE_FLOW = re.compile(r"(\btype:\s*)([^,}#]+?)(\s*[,}])")
_TYPE_PLAIN = re.compile(r"^(\s*[^:]+:\s+)([^{\s#][^#]*?)(\s*(?:#.*)?\n?)$")


def _retype(f: _RegistryFile, i: int, end: int, edit: str, proposed: str = "") -> None:
    """Change the type token of the field at line ``i`` (``drop!``: only remove the ``!``)."""
    candidates = [i] + [j for j in range(i + 1, end) if _indent(f.lines[j]) > 6]
    for j in candidates:
        line = f.lines[j]
        if j > i:
            match = re.match(r"^(\s*type:\s*)([^#]+?)(\s*(?:#.*)?\n?)$", line)
        elif line.split(":", 1)[1].lstrip().startswith("{"):
            match = _TYPE_FLOW.search(line, line.index("{"))
        else:
            match = _TYPE_PLAIN.match(line)
        if match:
            token = match.group(2).strip()
            bang = "!" if token.endswith("!") and edit != "drop!" else ""
            new = token.rstrip("!") if edit == "drop!" else proposed + bang
            f.lines[j] = line[: match.start(2)] + new + line[match.end(2) :]
            return
    raise PatchError(f"{f.name}:{i + 1}: no type token found for this field")


def _union(texts: Iterable[str]) -> str:
    parts: list[str] = []
    for text in texts:
        parts += [p.strip() for p in text.split("|") if p.strip() not in parts]
    return " | ".join(dict.fromkeys(parts))


def registry_patch(findings: Iterable[Finding], registry: Path, prefix: str = "registry") -> str:
    """The unified diff that makes the registry say what the findings saw ('' if none)."""
    reg = _Registry(registry)
    changes: dict[tuple[str, str, str], list[Finding]] = {}
    for finding in findings:
        changes.setdefault((finding.kind, finding.shape, finding.field), []).append(finding)
    for (kind, shape, field), group in sorted(changes.items()):
        if kind == "enum":
            for value in sorted({g.proposed for g in group}):
                _add_state(reg, group[0].waiter, value)
            continue
        f, start, end = reg.fields(shape)
        if kind == "new_field":
            key = field if _PLAIN_KEY.match(field) else json.dumps(field)
            f.lines.insert(end, f"      {key}: {_union(g.proposed for g in group)}\n")
        elif kind == "type":
            line = _field_line(f, start, end, field)
            _retype(f, line, end, "type", _union(g.proposed for g in group))
        elif kind == "absent":
            _retype(f, _field_line(f, start, end, field), end, "drop!")
    return reg.diff(prefix)


def _add_state(reg: _Registry, waiter: str, value: str) -> None:
    f, start, end = reg.find("waiters", waiter)
    note = "  # seen by dxapi probe: a pending, success or failure state?"
    span = f.block(start + 1, end, "failure", 4)
    if span is None:
        f.lines[end:end] = ["    failure:\n", f"      {value}: JobError{note}\n"]
    elif span[1] == span[0] + 1 and "{" in f.lines[span[0]]:
        line = f.lines[span[0]].replace("}", f", {value}: JobError}}", 1)
        f.lines[span[0]] = line.rstrip("\n") + note + "\n"
    else:
        f.lines.insert(span[1], f"      {value}: JobError{note}\n")
