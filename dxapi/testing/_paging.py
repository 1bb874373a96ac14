"""Pages over a list of items, as any paginated method's PageSpec describes them.

Cursor style: opaque cursors bound to the method and its filters, ``next_cursor`` null on the
last page. Page style: 1-based page numbers, the next number (or null) at the output path and
the page count at the ``total`` path when the spec names one. Page sizes outside
``1..max_limit`` are refused with 422, as DX does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._spec import MethodSpec, PageSpec
from ._reply import Fail
from ._store import decode_cursor, encode_cursor
from ._synth import set_path

__all__ = ["DEFAULT_PAGE_SIZE", "page_payload"]

DEFAULT_PAGE_SIZE = 50


def _scope(spec: MethodSpec, page: PageSpec, args: Mapping[str, Any]) -> str:
    filters = sorted((k, str(v)) for k, v in args.items() if k not in (page.input, page.limit))
    return f"{spec.name}|{filters}"


def page_size(spec: MethodSpec, page: PageSpec, args: Mapping[str, Any], max_limit: int) -> int:
    if page.limit is None:
        return DEFAULT_PAGE_SIZE
    arg = spec.arg(page.limit)
    default = arg.default if arg is not None and isinstance(arg.default, int) else None
    limit = args.get(page.limit, default or DEFAULT_PAGE_SIZE)
    if not isinstance(limit, int) or not 1 <= limit <= max_limit:
        raise Fail(
            422,
            "invalid_arguments",
            f"argument {page.limit!r} must be between 1 and {max_limit}, got {limit!r}",
        )
    return limit


def page_payload(
    spec: MethodSpec,
    args: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    *,
    max_limit: int,
) -> dict[str, Any]:
    """The payload of one page of ``items`` for a call with ``args``."""
    page = spec.page
    assert page is not None, spec.name
    limit = page_size(spec, page, args, max_limit)
    position = args.get(page.input)
    payload: dict[str, Any] = {}
    if page.style == "page":
        number = _page_number(position)
        if number is None or number < 1:
            raise Fail(422, "invalid_arguments", f"argument {page.input!r} must be 1 or more")
        start = (number - 1) * limit
        more = start + limit < len(items)
        if page.total is not None:
            set_path(payload, page.total, max(1, math.ceil(len(items) / limit)))
        else:
            set_path(payload, page.output, number + 1 if more else None)
    else:
        scope = _scope(spec, page, args)
        start = 0
        if position not in (None, ""):
            decoded = decode_cursor(scope, str(position))
            if decoded is None:
                raise Fail(422, "invalid_cursor", f"{page.input} {position!r} is not valid here")
            start = decoded
        more = start + limit < len(items)
        set_path(payload, page.output, encode_cursor(scope, start + limit) if more else None)
    payload[page.items] = list(items[start : start + limit])
    return payload


def _page_number(position: Any) -> int | None:
    if position in (None, ""):
        return 1
    try:
        return int(position)
    except (TypeError, ValueError):
        return None
