"""Which methods probe may call, with which minimal arguments, and calling them.

**Safe** means free of effects, not merely safe to resend: upserts and deletes are idempotent
writes. Probe calls a method only when its HTTP verb is safe (``GET``/``HEAD``, RFC 9110) and
it uploads nothing; downloads are skipped (a file, no JSON shape to compare). An unsafe
method named explicitly is refused with :class:`UnsafeMethodError` before any request.

**Arguments.** A list method gets a small page (its ``limit`` argument). A required argument
gets, in order: a value the caller gave (``args={"studio.queryRuns.info": {"id": ...}}``,
which also serves the namespace's other methods that require an argument of that name);
the first value of its enum; or a value from the first item of a *source*: a safe method of
the same API without required arguments whose result holds a ``list<Shape>`` (its page
items, else its first such key). An argument ``a`` takes field ``a`` of a source's items when
the source shares the method's namespace (``catalog.entities.info(identifier)`` ←
``catalog.entities.list`` items' ``identifier``), and field ``f`` of any source's items when
``a`` is ``<noun>_<f>`` and the noun names those items (their shape, or a ``*.list``'s
namespace in the singular: ``snapshot_id`` ← ``snapshots.list`` items' ``id``,
``relation_identifier`` ← ``catalog.relations.list``). Sources named ``*.list`` and not
deprecated are preferred. A method that is no list and takes no required argument, when
given none, fills its first optional argument that has a source (``teams.info(team_id)``).
A method whose required argument has no value is not called, and the report says why.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from .._errors import APIError, AuthError, DXError
from .._spec import MethodSpec
from ._record import Record
from ._walk import classes, hints, members, result_class, type_text

__all__ = ["Planned", "Source", "UnsafeMethodError", "call_all", "is_safe", "plan"]

SAFE_VERBS = frozenset({"GET", "HEAD"})
DEFAULT_LIMIT = 5


class UnsafeMethodError(ValueError):
    """A method probe must not call (a write), or one the registry does not have."""


def is_safe(spec: MethodSpec) -> bool:
    """Whether calling ``spec`` cannot change anything on the server."""
    return spec.http in SAFE_VERBS and spec.upload is None


@attrs.frozen
class Source:
    """Argument ``arg`` takes field ``field`` of the first item under ``key`` of ``method``."""

    arg: str
    method: str
    key: str
    field: str


@attrs.frozen
class Planned:
    spec: MethodSpec
    args: Mapping[str, Any]
    sources: tuple[Source, ...] = ()


def _items(spec: MethodSpec) -> tuple[str, type] | None:
    """(result key, item class) of a method that returns a list of shaped items."""
    cls = result_class(spec)
    if cls is None:
        return None
    keys = [spec.page.items] if spec.page else list(hints(cls))
    for key in keys:
        for member in members(hints(cls).get(key)):
            text = type_text(member)
            if text.startswith("list<") and text[5:-1] in classes():
                return key, classes()[text[5:-1]]
    return None


def _snake(text: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text).lower()


def _nouns(spec: MethodSpec, item: type) -> set[str]:
    """What a source's items are called: their shape, and a ``*.list``'s namespace, singular."""
    nouns = {_snake(item.__name__)}
    parts = spec.name.split(".")
    if len(parts) > 1 and parts[-1] == "list":
        last = _snake(parts[-2])
        nouns.add(last[:-3] + "y" if last.endswith("ies") else last.removesuffix("s"))
    return nouns


def _namespace(name: str) -> str:
    return name.rpartition(".")[0]


def _source_for(arg: str, spec: MethodSpec, sources: Sequence[MethodSpec]) -> Source | None:
    ranked: list[tuple[int, str, Source]] = []
    for src in sources:
        found = _items(src)
        if found is None or src.name == spec.name or src.api != spec.api:
            continue
        key, item = found
        fields = {f.name for f in attrs.fields(item)}
        rank = (src.deprecated is not None) + (not src.name.endswith(".list"))
        if arg in fields and _namespace(src.name) == _namespace(spec.name):
            ranked.append((rank, src.name, Source(arg, src.name, key, arg)))
        for noun in _nouns(src, item):
            field = arg.removeprefix(noun + "_")
            if field != arg and field in fields:
                ranked.append((rank + 3, src.name, Source(arg, src.name, key, field)))
    return min(ranked, key=lambda r: r[:2])[2] if ranked else None


def _shared(spec: MethodSpec, given: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Values given for another method of the namespace, for this one's required arguments
    of the same name (a run id given for ``studio.queryRuns.info`` serves ``results`` too)."""
    needed = {a.name for a in spec.args if a.required}
    out: dict[str, Any] = {}
    for name, values in sorted(given.items()):
        if name != spec.name and _namespace(name) == _namespace(spec.name):
            out.update({k: v for k, v in values.items() if k in needed and k not in out})
    return out


def plan(
    specs: Iterable[MethodSpec],
    every: Mapping[str, MethodSpec],
    given: Mapping[str, Mapping[str, Any]],
    *,
    limit: int = DEFAULT_LIMIT,
) -> tuple[list[Planned], list[Record]]:
    """Calls to make (sources first) and the methods left out, with the reason."""
    sources = [
        s
        for s in every.values()
        if is_safe(s) and not s.download and not any(a.required for a in s.args)
    ]
    wanted: dict[str, Planned] = {}
    skipped: list[Record] = []
    for spec in specs:
        if spec.download:
            skipped.append(Record(spec.name, error="a file download: no JSON to compare"))
            continue
        args = {**_shared(spec, given), **given.get(spec.name, {})}
        if spec.page is not None and spec.page.limit and spec.arg(spec.page.limit):
            args.setdefault(spec.page.limit, limit)
        links: list[Source] = []
        missing: list[str] = []
        wanted_args = [a for a in spec.args if a.required and a.name not in args]
        optional = not any(a.required for a in spec.args) and spec.page is None and not args
        for a in wanted_args or (spec.args if optional else ()):
            if a.required and a.enum:
                args[a.name] = a.enum[0]
                continue
            link = _source_for(a.name, spec, sources)
            if link is not None:
                links.append(link)
                if optional:
                    break
            elif a.required:
                missing.append(a.name)
        if missing:
            need = ", ".join(missing)
            why = f"needs {need}, which no list answer provides (give it: --arg or args=)"
            skipped.append(Record(spec.name, error=why))
            continue
        wanted[spec.name] = Planned(spec, args, tuple(links))
    for item in list(wanted.values()):
        for link in item.sources:
            if link.method not in wanted:
                src = every[link.method]
                page_args = {src.page.limit: limit} if src.page and src.page.limit else {}
                wanted[link.method] = Planned(src, page_args)
    ordered = sorted(wanted.values(), key=lambda p: (bool(p.sources), p.spec.name))
    return ordered, skipped


Caller = Callable[[MethodSpec, dict[str, Any]], Awaitable[dict[str, Any]]]


async def call_all(planned: Sequence[Planned], call: Caller) -> list[Record]:
    """Call each method once, in order; sources' answers fill the later calls' arguments.

    A failed call is recorded (the method was not probed); a refused token (401) propagates.
    """
    records: list[Record] = []
    answers: dict[str, dict[str, Any]] = {}
    for item in planned:
        args = dict(item.args)
        for link in item.sources:
            value = _first_value(answers.get(link.method), link)
            if value is not None:
                args[link.arg] = value
        lacking = [s.arg for s in item.sources if s.arg not in args and _needed(item.spec, s)]
        if lacking:
            why = f"no {', '.join(lacking)} in the answers of its source"
            records.append(Record(item.spec.name, args, error=why))
            continue
        try:
            answer = await call(item.spec, args)
        except DXError as exc:
            if isinstance(exc, AuthError) and exc.status == 401:
                raise
            why = f"{exc.error} (HTTP {exc.status})" if isinstance(exc, APIError) else str(exc)
            records.append(Record(item.spec.name, args, error=why))
            continue
        answers[item.spec.name] = answer
        records.append(Record(item.spec.name, args, answer))
    return records


def _needed(spec: MethodSpec, link: Source) -> bool:
    arg = spec.arg(link.arg)
    return arg is not None and arg.required


def _first_value(answer: Mapping[str, Any] | None, link: Source) -> Any:
    items = answer.get(link.key) if answer else None
    for item in items if isinstance(items, list) else ():
        value = item.get(link.field) if isinstance(item, dict) else None
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return value
    return None
