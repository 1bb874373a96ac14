"""Shared fixtures: a token that is easy to search for in logs and errors."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import ClientResponse, StreamReader
from aiohttp.client_proto import ResponseHandler
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core

SECRET = "dx-test-token-3f9a1c"


class _SentResponse(ClientResponse):
    """aioresponses builds responses without ``stream_writer`` (required since aiohttp 3.14):
    its request is already sent (``writer=None``), so the writer only reports the size sent."""

    class _Sent:
        output_size = 0

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", self._Sent())
        super().__init__(method, url, **kwargs)


class _InMemory(ResponseHandler):
    """The whole body is fed at once and no transport is behind it: nothing to pause
    (aiohttp 3.14 asserts a parser is set when a big body asks to pause)."""

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


def _stream_reader(loop: asyncio.AbstractEventLoop | None = None) -> StreamReader:
    return StreamReader(_InMemory(loop=loop), limit=2**16, loop=loop)  # type: ignore[arg-type]


# aioresponses 0.7.x predates aiohttp 3.14; both changes arrived with it.
if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:
    aioresponses_core.ClientResponse = _SentResponse  # type: ignore[attr-defined]
    aioresponses_core.stream_reader_factory = _stream_reader  # type: ignore[attr-defined]


@pytest.fixture
def token() -> str:
    return SECRET


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """aioresponses for the whole test: nothing leaves the process."""
    with aioresponses() as m:
        yield m
