"""What ``--each`` needs: item fields → per-item arguments, and outcomes → records.

Pure functions: the export runner (:mod:`dxapi._export`) does the I/O.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from .._errors import APIError, ArgumentError, RequestTimeoutError, TransportError
from .._naming import snake
from .._spec import MethodSpec
from .._wire import dig

__all__ = [
    "auto_mapping",
    "check_names",
    "clean_result",
    "error_record",
    "input_key",
    "item_kinds",
    "map_args",
]


def input_key(args: Any) -> str:
    return json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)


def clean_result(payload: dict[str, Any], spec: MethodSpec) -> dict[str, Any]:
    """The payload without ``ok`` or the (run-specific) next-page position."""
    out = {k: v for k, v in payload.items() if k != "ok"}
    if spec.page is not None:
        head, _, leaf = spec.page.output.rpartition(".")
        parent: Any = out
        if head:
            parent = out.get(head.split(".")[0])
            if isinstance(parent, dict):
                parent = out[head.split(".")[0]] = dict(parent)
                for part in head.split(".")[1:]:
                    parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(leaf, None)
        meta = head.split(".")[0] if head else None
        if meta and out.get(meta) == {}:
            del out[meta]
    return out


def error_record(error: BaseException) -> dict[str, Any]:
    """What an error record says: the API's code, HTTP status and message (None if none)."""
    if isinstance(error, APIError):
        return {"error": error.error, "status": error.status, "message": error.message}
    if isinstance(error, ArgumentError):
        return {"error": "invalid_arguments", "status": None, "message": "; ".join(error.problems)}
    if isinstance(error, RequestTimeoutError):
        code = "timeout"
    elif isinstance(error, TransportError):
        code = "transport_error"
    else:  # PaginationError and any other DXError: named after its class
        code = re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()
    return {"error": code, "status": getattr(error, "status", None), "message": str(error)}


def check_names(spec: MethodSpec, names: list[str], option: str) -> None:
    """Refuse argument names ``spec`` does not take, naming each and what is close."""
    known = [a.name for a in spec.args]
    problems = []
    for name in names:
        if spec.arg(name) is None:
            close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            problems.append(
                f"{option} {name!r}: {spec.name} has no argument {name!r}{hint}; "
                f"it takes {', '.join(known) or 'none'}"
            )
    if problems:
        raise ArgumentError(spec.name, problems)


def map_args(item: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Per-item arguments: each argument's value read at a dotted path of the item."""
    args: dict[str, Any] = {}
    for name, path in mapping.items():
        value = dig(item, path)
        if value is not None:
            args[name] = value
    return args


def item_kinds(listing: MethodSpec) -> frozenset[str]:
    """What a list method's items are, singular snake_case: its items key (``groups`` →
    ``group``) and, for a ``FAMILY.list`` method, its family (``userGroups.list`` →
    ``user_group``)."""
    kinds = {_singular(listing.page.items)} if listing.page else set()
    *family, verb = listing.name.split(".")
    if verb == "list" and family:
        kinds.add(_singular(family[-1]))
    return frozenset(kinds)


def auto_mapping(
    spec: MethodSpec,
    item: Mapping[str, Any],
    kinds: Collection[str],
    fixed: Collection[str] = (),
) -> dict[str, str]:
    """Map the per-item method's arguments to fields of a listed item (of ``kinds``).

    An argument maps to the field of the same name, or to the field naming the same thing:
    ``<thing>_id`` to the item's own ``id`` only when the items are ``<thing>``s
    (``team_id`` → ``id`` of teams), and the method's own ``id``/``identifier`` to the item's
    own one only when the items are what the method is about (``scorecards.info``'s ``id`` →
    ``id`` of scorecards, or ``scorecard_id`` of initiatives); ``id`` and ``identifier`` stand
    in for each other when the item has only the other. Every required argument must map (but
    those in ``fixed``, the ``--each-param`` ones); a method with no required argument maps
    the optional identifiers that fit (``teams.info``'s ``team_id``), and at least one must.
    An argument that several fields fit, or a field that several arguments would take, is
    refused: ``--each-arg`` says which.
    """
    paging = {spec.page.input, spec.page.limit} if spec.page else set()
    open_args = [a for a in spec.args if a.name not in paging and a.name not in fixed]
    required = [a.name for a in open_args if a.required]
    wanted = required or [a.name for a in open_args if _refers(a.name) is not None]
    subject = _subject(spec)
    mapping: dict[str, str] = {}
    problems: list[str] = []
    fields = ", ".join(sorted(item)) or "none"
    what = f"the listed items are {' or '.join(sorted(kinds)) or 'of no known kind'}"
    for name in wanted:
        found = _candidates(name, subject, item, kinds)
        if len(found) > 1:
            problems.append(
                f"argument {name!r} fits several fields of the listed items "
                f"({', '.join(found)}); pass --each-arg {name}=FIELD"
            )
        elif found:
            mapping[name] = found[0]
        elif required:
            problems.append(
                f"cannot tell which field of the listed items gives argument {name!r} "
                f"(fields: {fields}; {what}); pass --each-arg {name}=FIELD"
            )
    if not required and not mapping and not problems:
        names = ", ".join(wanted) or "none"
        problems.append(
            f"no identifier argument of {spec.name} ({names}) matches a field of the listed "
            f"items ({fields}; {what}); pass --each-arg ARG=FIELD"
        )
    taken: dict[str, list[str]] = {}
    for name, source in mapping.items():
        taken.setdefault(source, []).append(name)
    for source, takers in taken.items():
        if len(takers) > 1:
            problems.append(
                f"arguments {' and '.join(map(repr, takers))} would all come from field "
                f"{source!r}; pass --each-arg ARG={source} for the one it gives"
            )
    if problems:
        raise ArgumentError(spec.name, problems)
    return mapping


_OWN = ("id", "identifier")


def _refers(name: str) -> tuple[str | None, str] | None:
    """The thing an identifier's name refers to and its form: ``team_id`` → ("team", "id"),
    ``id`` → (None, "id"): the thing itself; None for a name that is no identifier."""
    if name in _OWN:
        return None, name
    for form in _OWN:
        if name.endswith("_" + form) and len(name) > len(form) + 1:
            return name[: -len(form) - 1], form
    return None


def _candidates(
    name: str, subject: str | None, item: Mapping[str, Any], kinds: Collection[str]
) -> list[str]:
    """The fields of ``item`` that give argument ``name``, the best fitting ones only."""
    ref = _refers(name)
    if (ref is None or ref[0] is not None) and name in item:
        return [name]
    if ref is None:
        return []
    thing = ref[0] or subject
    if thing is None:
        return []
    same: list[str] = []
    other: list[str] = []  # the thing's identifier in the other form (id for identifier)
    for field in item:
        of = _refers(field)
        if of is not None and (thing in kinds if of[0] is None else of[0] == thing):
            (same if of[1] == ref[1] else other).append(field)
    return same or other


def _subject(spec: MethodSpec) -> str | None:
    """What a method is about: its family, singular (``teams.info`` → ``team``)."""
    *family, _ = spec.name.split(".")
    return _singular(family[-1]) if family else None


def _singular(word: str) -> str:
    word = snake(word)
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word
