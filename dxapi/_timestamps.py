"""How answers' timestamps and dates are read, and the error for a value of another type.

Shared by both decoders (:mod:`dxapi._convert`'s msgspec path and :mod:`dxapi._strict`) and by
the Arrow export, so every reader agrees on what DX's timestamps mean.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec

__all__ = ["Mismatch", "parse_date", "parse_datetime"]


class Mismatch(TypeError):
    """A value that is not of its declared JSON type."""


def parse_datetime(value: Any) -> dt.datetime:
    """A timestamp in a form DX sends: RFC 3339 / ISO 8601 text (``T`` or a space, with or
    without a zone, a one-digit hour), or Unix seconds or milliseconds (by magnitude)."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value  # milliseconds, by magnitude
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    if isinstance(value, str):
        try:  # msgspec's reading first, so both decoders agree to the microsecond
            return msgspec.convert(value, dt.datetime)
        except msgspec.ValidationError:
            pass
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            # DX sometimes writes a one-digit hour ("2026-02-10 0:00:00"); ISO wants two.
            fixed = _ONE_DIGIT_HOUR.sub(r"\g<1>0\g<2>", value.strip())
            return dt.datetime.fromisoformat(fixed)
    raise Mismatch(f"not a timestamp: {value!r}")


_ONE_DIGIT_HOUR = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T])(\d:)")


def parse_date(value: Any) -> dt.date:
    """``YYYY-MM-DD``, or a timestamp's text (its date as written)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return msgspec.convert(value, dt.date)
        except msgspec.ValidationError:
            return parse_datetime(value).date()
    raise Mismatch(f"not a date: {value!r}")
