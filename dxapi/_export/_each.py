"""What ``--each`` needs: item fields → per-item arguments, and outcomes → records.

Pure functions: the export runner (:mod:`dxapi._export`) does the I/O.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from .._errors import APIError, ArgumentError, RequestTimeoutError, TransportError
from .._spec import MethodSpec
from .._wire import dig

__all__ = [
    "auto_mapping",
    "check_names",
    "clean_result",
    "error_record",
    "input_key",
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


def auto_mapping(spec: MethodSpec, item: Mapping[str, Any]) -> dict[str, str]:
    """Map the per-item method's arguments to fields of a listed item.

    Every required argument must map (same name first, ``identifier`` → ``identifier``;
    then ``<thing>_id`` → ``id``); a method with no required argument maps the optional
    ones that fit (``teams.info``: ``team_id`` → ``id``), and at least one must.
    """
    paging = {spec.page.input, spec.page.limit} if spec.page else set()
    required = [a for a in spec.args if a.required and a.name not in paging]
    mapping: dict[str, str] = {}
    problems: list[str] = []
    fields = ", ".join(sorted(item))
    for arg in required:
        source = _guess(arg.name, item)
        if source is None:
            problems.append(
                f"cannot tell which field of the listed items gives argument {arg.name!r} "
                f"(fields: {fields}); pass --each-arg {arg.name}=FIELD"
            )
        else:
            mapping[arg.name] = source
    if not required:
        for arg in spec.args:
            source = _guess(arg.name, item) if arg.name not in paging else None
            if source is not None:
                mapping[arg.name] = source
        if not mapping:
            names = ", ".join(a.name for a in spec.args if a.name not in paging)
            problems.append(
                f"no argument ({names}) matches a field of the listed items ({fields}); "
                "pass --each-arg ARG=FIELD"
            )
    if problems:
        raise ArgumentError(spec.name, problems)
    return mapping


def _guess(name: str, item: Mapping[str, Any]) -> str | None:
    if name in item:
        return name
    if name.endswith("_id") and "id" in item:
        return "id"
    if name == "id":
        ids = [k for k in item if k.endswith("_id")]
        if len(ids) == 1:
            return ids[0]
        if "identifier" in item:
            return "identifier"
    if name == "identifier" and "id" in item:
        return "id"
    return None
