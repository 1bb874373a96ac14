"""A successful answer as the request loop returns it (a value: no I/O, no transport)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

from ._retry import parse_retry_after

__all__ = ["Response"]


@attrs.frozen
class Response:
    """A successful answer: status, headers (case-insensitive) and the JSON payload."""

    status: int
    headers: Mapping[str, str]
    payload: dict[str, Any]

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"), time.time())
