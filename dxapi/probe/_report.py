"""The probe's Markdown report: differences per method and shape, values masked.

Answers carry people's names, emails, ids and links: data, not schema. A string is shown
only when its field is enum-like (a few short identifier-like values, each seen repeatedly)
or it is a new job state; any other string becomes a placeholder such as ``<email>`` or
``<text, 12 chars>``. Numbers and booleans are shown; objects and lists keep their keys and
first element, masked the same way.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ._compare import Finding
from ._infer import FieldStats
from ._walk import classes, hints, required

if TYPE_CHECKING:
    from . import ProbeReport

__all__ = ["enum_fields", "mask", "render_report"]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_RULE = "|---|---|---|---|"
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def mask(value: Any, *, depth: int = 0) -> Any:
    """A JSON value with every string replaced by a description of it."""
    if isinstance(value, str):
        if _EMAIL.search(value):
            return "<email>"
        if _URL.match(value):
            return "<url>"
        if re.fullmatch(r"-?\d+(\.\d+)?", value):
            return "<number as text>"
        if re.match(r"^\d{4}-\d{2}-\d{2}", value):
            return "<date/time text>"
        return f"<text, {len(value)} chars>"
    if isinstance(value, list):
        if not value:
            return []
        return [mask(value[0], depth=depth + 1)] + (["…"] if len(value) > 1 else [])
    if isinstance(value, dict):
        if depth >= 2:
            return "{…}"
        shown = dict(list(value.items())[:6])
        out = {str(k): mask(v, depth=depth + 1) for k, v in shown.items()}
        return {**out, "…": "…"} if len(value) > len(shown) else out
    return value


def enum_fields(report: ProbeReport) -> dict[tuple[str, str], set[str]]:
    """(shape, field) → values, for fields enum-like over every method's answers."""
    merged: dict[tuple[str, str], FieldStats] = {}
    for stats in report.observations.shapes.values():
        for name, field in stats.fields.items():
            merged.setdefault((stats.shape, name), FieldStats()).strings.update(field.strings)
    return {k: set(f.strings) for k, f in merged.items() if f.enum_like(k[1])}


def _example(finding: Finding, enums: dict[tuple[str, str], set[str]]) -> str:
    if finding.kind == "absent":
        return ""
    value = finding.example
    known = enums.get((finding.shape, finding.field), set())
    shown = value if finding.kind == "enum" or value in known else mask(value)
    return f"`{json.dumps(shown, ensure_ascii=False)}`"


def _shape_label(shape: str, method: str) -> str:
    return f"{method} result" if shape.endswith("Result") else shape


def render_report(report: ProbeReport) -> str:
    answered = [r for r in report.records if r.answer is not None]
    lines = [
        "# dxapi probe report",
        "",
        f"{len(answered)} answers from {len({r.method for r in answered})} methods; "
        + (
            f"**{len({f.key for f in report.findings})} difference(s)** from the registry."
            if report.findings
            else "no differences from the registry."
        ),
        "",
    ]
    by_method: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_method[finding.method].append(finding)
    if by_method:
        lines += ["## Differences", ""]
    enums = enum_fields(report)
    for method, findings in sorted(by_method.items()):
        lines += [f"### {method}", "", "| shape | field | difference | example |", _RULE]
        for f in findings:
            where = _shape_label(f.shape, method)
            lines.append(f"| {where} | `{f.field}` | {f.describe()} | {_example(f, enums)} |")
        lines.append("")
    lines += _not_probed(report) + _enum_like(report, enums) + _unseen(report)
    return "\n".join(lines).rstrip() + "\n"


def _not_probed(report: ProbeReport) -> list[str]:
    rows = [f"- `{r.method}`: {r.error}" for r in report.records if r.error]
    rows += [
        f"- `{m}`: answered, but the registry types its result as `map<json>`"
        for m in report.observations.untyped
    ]
    rows += [
        f"- `{m}`: answered, but the registry has no such method"
        for m in report.observations.unknown
    ]
    return ["## Not probed or not compared", "", *sorted(rows), ""] if rows else []


def _enum_like(report: ProbeReport, enums: dict[tuple[str, str], set[str]]) -> list[str]:
    rows = [
        f"- `{shape}.{name}`: {', '.join(f'`{v}`' for v in sorted(values))}"
        for (shape, name), values in sorted(enums.items())
        if name in hints(classes()[shape])
    ]
    head = ["## Enum-like values seen (no difference)", ""]
    return [*head, *rows, ""] if rows else []


def _unseen(report: ProbeReport) -> list[str]:
    seen = {(s.shape, n) for s in report.observations.shapes.values() for n in s.fields}
    shapes = sorted({s.shape for s in report.observations.shapes.values()})
    rows = []
    for shape in shapes:
        cls = classes()[shape]
        optional = sorted(set(hints(cls)) - required(cls))
        missing = [n for n in optional if (shape, n) not in seen]
        if missing:
            rows.append(f"- `{shape}`: {', '.join(f'`{n}`' for n in missing)}")
    head = ["## Declared, never seen (optional fields; no difference)", ""]
    return [*head, *rows, ""] if rows else []
