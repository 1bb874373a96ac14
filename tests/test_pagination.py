"""Pagination: ``.cursor`` after the first page, and no page kept alive across the next fetch."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Mapping
from typing import Any

import pytest

from dxapi import Client
from dxapi._generated import specs
from dxapi._pagination import CursorCall

PAGES = 4


class Page(dict[str, Any]):
    """A payload that can be weakly referenced (a plain dict cannot)."""


def page(n: int) -> Page:
    nxt = f"c{n + 1}" if n < PAGES else None
    entities = [{"identifier": f"e{n}-{i}", "name": "E"} for i in range(3)]
    return Page(ok=True, entities=entities, response_metadata={"next_cursor": nxt})


def handler_for_pages() -> Any:
    from dxapi.testing import MockResponse

    def handler(request: Any) -> MockResponse:
        cursor = dict(request.query).get("cursor", "c1")
        return MockResponse(json=page(int(cursor[1:])))

    return handler


async def test_cursor_is_set_after_awaiting_the_first_page(token: str) -> None:
    from dxapi.testing import MockTransport

    async with Client(token, transport=MockTransport(handler_for_pages())) as dx:
        call = dx.catalog.entities.list()
        first = await call
        assert [e.identifier for e in first.entities][:1] == ["e1-0"]
        assert call.cursor == "c2"  # resume from here with list(cursor=call.cursor)
        assert call.pages_fetched == 1
        resumed = dx.catalog.entities.list(cursor=call.cursor)
        second = await resumed
        assert second.entities[0].identifier == "e2-0" and resumed.cursor == "c3"


class Recorder:
    """A fetch that checks, while page n+1 is being fetched, that page n can be collected."""

    def __init__(self) -> None:
        self.refs: list[weakref.ref[Page]] = []
        self.alive_during_next_fetch: list[bool] = []

    async def fetch(self, spec: Any, args: Mapping[str, Any]) -> dict[str, Any]:
        if self.refs:
            gc.collect()
            self.alive_during_next_fetch.append(self.refs[-1]() is not None)
        payload = page(int(str(args.get("cursor", "c1"))[1:]))
        self.refs.append(weakref.ref(payload))
        return payload


def call_with(recorder: Recorder, structure: Any = lambda p: p) -> CursorCall[Any, Any]:
    return CursorCall(recorder.fetch, specs.CATALOG_ENTITIES_LIST, {}, structure)


@pytest.mark.parametrize("how", ["items", "pages", "raw_pages"])
async def test_no_page_is_kept_alive_while_the_next_is_fetched(how: str) -> None:
    recorder = Recorder()
    call = call_with(recorder, structure=lambda p: {"entities": list(p["entities"])})
    seen = 0
    if how == "items":
        async for item in call:
            seen += 1
            assert item["identifier"].startswith("e")
    else:
        async for payload in getattr(call, how)():
            seen += len(payload["entities"])
            del payload  # the consumer lets go; the generator must not hold on
    assert seen == 3 * PAGES
    assert recorder.alive_during_next_fetch == [False] * (PAGES - 1)


async def test_typed_pages_let_go_of_the_previous_page(token: str) -> None:
    from dxapi.testing import MockTransport

    refs: list[weakref.ref[Any]] = []
    alive: list[bool] = []
    handler = handler_for_pages()

    def watching(request: Any) -> Any:
        if refs:
            gc.collect()
            alive.append(refs[-1]() is not None)
        return handler(request)

    async with Client(token, transport=MockTransport(watching)) as dx:
        async for typed in dx.catalog.entities.list().pages():
            refs.append(weakref.ref(typed))
            del typed
    assert alive == [False] * (PAGES - 1)
