"""Shared fixtures: a token that is easy to search for in logs and errors."""

from __future__ import annotations

import pytest

SECRET = "dx-test-token-3f9a1c"


@pytest.fixture
def token() -> str:
    return SECRET
