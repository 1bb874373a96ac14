"""Cursor (and page-number) pagination, read from a method's :class:`~dxapi._spec.PageSpec`.

A paginated call is a :class:`CursorCall`: ``await`` it for the first page, ``async for`` it
for every item of every page, or use :meth:`CursorCall.pages`. Each page is a new object.
Iteration stops when the next position is null, missing or empty (never merely because a
page was empty); a repeated cursor raises :class:`~dxapi.PaginationError` instead of looping.
Each page fetch goes through the session, so rate limiting and retries apply per page.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Mapping
from contextlib import aclosing
from typing import Any, Generic, TypeVar

from ._errors import PaginationError
from ._spec import UNSET, MethodSpec, PageSpec
from ._wire import dig

__all__ = ["CursorCall", "next_position"]

R = TypeVar("R")
I = TypeVar("I")  # noqa: E741

#: Fetches one page's answer: its payload, or what ``payload_of`` and ``head_of`` read it from.
Fetch = Callable[[MethodSpec, Mapping[str, Any]], Awaitable[Any]]


def _same(answer: Any) -> Any:
    return answer


def next_position(page: PageSpec, payload: Mapping[str, Any], current: Any) -> Any:
    """The argument value that fetches the page after ``payload``, or None at the end.

    Page numbers and counts are read as numbers however JSON spells them (``3``, ``3.0``,
    ``"3"``); one that is not a whole number raises :class:`~dxapi.PaginationError`.
    """

    def count(value: Any, what: str) -> int | None:
        if value is None or value == "":
            return None
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError
            number = value if isinstance(value, int) else float(value)
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            return int(number)
        except (ValueError, OverflowError):
            raise PaginationError(f"{what} must be a whole number, got {value!r}") from None

    if page.total is not None:
        total = count(dig(payload, page.total), f"the page count {page.total!r}")
        number = count(current, f"the page number {page.input!r}") or 1
        return number + 1 if total is not None and number < total else None
    value = dig(payload, page.output)
    if value in (None, "") or isinstance(value, bool):
        return None
    return value


class CursorCall(Generic[R, I]):
    """A call to a paginated method: awaitable (first page) and async-iterable (all items)."""

    def __init__(
        self,
        fetch: Fetch,
        spec: MethodSpec,
        args: Mapping[str, Any],
        structure: Callable[[Any], R],
        *,
        payload_of: Callable[[Any], dict[str, Any]] = _same,
        head_of: Callable[[Any], Mapping[str, Any]] = _same,
    ) -> None:
        assert spec.page is not None, spec.name
        self._fetch = fetch
        self._payload_of = payload_of
        self._head_of = head_of
        self._spec = spec
        self._page: PageSpec = spec.page
        self._args = {k: v for k, v in args.items() if v is not UNSET}
        self._structure = structure
        #: The argument value that resumes after the last page fetched (None at the end).
        self.cursor: Any = self._args.get(self._page.input)
        #: How many pages this call has fetched.
        self.pages_fetched = 0

    def __await__(self) -> Generator[Any, None, R]:
        return self._first().__await__()

    async def _first(self) -> R:
        answer = await self._fetch(self._spec, self._args)
        self.pages_fetched += 1
        head = self._head_of(answer)
        self.cursor = next_position(self._page, head, self._args.get(self._page.input))
        return self._structure(answer)

    async def raw_pages(
        self, *, max_pages: int | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Yield each page's payload as the API returned it.

        No page is kept alive while the next one is fetched: only the caller holds it.
        """
        async with aclosing(self._answers(max_pages)) as answers:
            async for answer in answers:
                payload = self._payload_of(answer)
                del answer
                yield payload
                del payload

    async def _answers(self, max_pages: int | None) -> AsyncGenerator[Any, None]:
        args = dict(self._args)
        position = args.get(self._page.input)
        seen: set[Any] = set()
        fetched = 0
        while max_pages is None or fetched < max_pages:
            answer = await self._fetch(self._spec, args)
            fetched += 1
            self.pages_fetched += 1
            nxt = self.cursor = next_position(self._page, self._head_of(answer), position)
            yield answer
            del answer
            if nxt is None:
                return
            if nxt in seen or nxt == position:
                raise PaginationError(
                    f"{self._spec.name}: the server repeated the position {nxt!r}; "
                    "stopping instead of looping forever"
                )
            seen.add(nxt)
            position = args[self._page.input] = nxt

    async def pages(self, *, max_pages: int | None = None) -> AsyncGenerator[R, None]:
        """Yield each page, typed."""
        async with aclosing(self._answers(max_pages)) as answers:
            async for answer in answers:
                page = self._structure(answer)
                del answer
                yield page
                del page

    async def items(self, *, max_items: int | None = None) -> AsyncIterator[I]:
        """Yield every item of every page (at most ``max_items``)."""
        count = 0
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                items = _items_of(page, self._page.items)
                del page
                item: Any = None
                for item in items:
                    if max_items is not None and count >= max_items:
                        return
                    count += 1
                    yield item
                items, item = [], None  # nothing of this page waits on the next fetch
                if max_items is not None and count >= max_items:
                    return

    def __aiter__(self) -> AsyncIterator[I]:
        return self.items()


def _items_of(page: Any, key: str) -> list[Any]:
    items = page.get(key) if isinstance(page, Mapping) else getattr(page, key, None)
    return list(items or [])
