"""Shared fixtures: a token that is easy to search for in logs and errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aioresponses import aioresponses

SECRET = "dx-test-token-3f9a1c"


@pytest.fixture
def token() -> str:
    return SECRET


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """aioresponses for the whole test: nothing leaves the process."""
    with aioresponses() as m:
        yield m
